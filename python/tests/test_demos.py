"""The original README's four demos, run as written there, print what they print there."""

import signal

from conftest import sigint_ok


def test_topic_demo_prints_what_the_original_prints(python_module):
    listener = python_module("rosy.demo.topic_listener")
    listener.wait_for(r"^Listening\.\.\.$")
    sender = python_module("rosy.demo.topic_sender")
    assert sender.finish() == 0, sender.err
    assert sender.out == []
    listener.wait_for(r'^Received "hello world" on topic=some-topic$')
    # SIGTERM ends forever() and closes the node cleanly.
    assert listener.signal(signal.SIGTERM) == 0, listener.err
    assert listener.out == ["Listening...", 'Received "hello world" on topic=some-topic']


def test_service_demo_prints_what_the_original_prints(python_module):
    provider = python_module("rosy.demo.service_provider")
    provider.wait_for(r"^Started service\.\.\.$")
    caller = python_module("rosy.demo.service_caller")
    assert caller.finish() == 0, caller.err
    assert caller.out == ["Calculating 2 * 2...", "Result: 4"]
    # Ctrl-C stops it.
    assert sigint_ok(provider.signal(signal.SIGINT)), provider.err


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    import os

    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_an_idle_node_sleeps(python_module):
    import time

    listener = python_module("rosy.demo.topic_listener")
    listener.wait_for(r"^Listening\.\.\.$")
    time.sleep(0.5)  # past start-up work
    before = cpu_seconds(listener.proc.pid)
    time.sleep(3.0)
    used = cpu_seconds(listener.proc.pid) - before
    # No thread spins: asyncio, tokio and the shared-memory reader all sleep when idle.
    assert used < 0.15, f"an idle node used {used:.2f} s of CPU in 3 s"
    assert listener.signal(signal.SIGTERM) == 0, listener.err
