"""`python -m rosy speedtest send|recv` runs and reports what the receiver received."""

import re

import pytest

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("extra", [[], ["--message-size", "1000000", "--codec", "pickle"], ["--message-size", "100000", "--loan"]])
def test_speedtest_send_and_recv(python_module, extra):
    recv = python_module("rosy", "speedtest", "recv", *extra)
    recv.wait_for(r"^Listening")
    send = python_module("rosy", "speedtest", "send", "--run-time", "1", *extra)
    assert send.finish() == 0, send.err
    sent = int(re.search(r"mps=(\d+)", send.wait_for(r"mps=")).group(1))
    assert sent > 0
    assert recv.finish() == 0, recv.err
    summary = recv.wait_for(r"received \d+ messages")
    count = int(re.search(r"received (\d+) messages", summary).group(1))
    assert count > 0
    assert re.search(r"latency p50 [\d.]+ ms, p99 [\d.]+ ms", summary), summary
    size = 0 if not extra else int(extra[1]) + (8 if "--loan" in extra else 0)
    assert f"of {size} B" in summary, summary
