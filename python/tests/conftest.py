"""Shared helpers of the Python tests: a fresh domain per test, loopback only, processes whose
output is collected and whose every wait is bounded, Rust peers from the root crate's build."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Ctrl-C reaches a program in a terminal with SIGINT at its default, and the demos' tests send
# SIGINT to stand for it. A shell running pytest in the background without job control (a CI
# runner's `cmd &`) starts it with SIGINT ignored, and children inherit an ignored signal: the
# demos would then rightly ignore it. A Python handler here is reset to the default in each child.
signal.signal(signal.SIGINT, signal.default_int_handler)
WAIT = 20.0  # seconds: the bound of every wait for a process's line


def rust_bin(name: str) -> Path:
    """A binary of the root crate (`rosy`, or an example): $ROSY_BIN_DIR, else the cargo
    target dir's debug build (scripts/test-python builds them)."""
    base = os.environ.get("ROSY_BIN_DIR")
    if base is None:
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
        base = target / "debug"
    path = Path(base) / name
    if not path.exists():
        path = Path(base) / "examples" / name
    assert path.exists(), (
        f"{name} is not built in {base}: run `cargo build --examples --bins` at the repository's "
        "root (scripts/test-python does), or point $ROSY_BIN_DIR at the binaries"
    )
    return path


@pytest.fixture(autouse=True)
def mesh_env(monkeypatch):
    """Each test gets its own domain, stays on loopback and skips mDNS."""
    domain = "py-" + uuid.uuid4().hex[:12]
    monkeypatch.setenv("ROSY_DOMAIN_ID", domain)
    monkeypatch.setenv("ROSY_INTERFACES", "lo")
    monkeypatch.setenv("ROSY_MDNS", "0")
    return domain


class Proc:
    """A child process with its stdout and stderr lines collected; stopped when the test ends."""

    def __init__(self, args, env=None):
        self.args = [str(a) for a in args]
        self.proc = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            # Not python/: its rosy/ sources lack the built extension; the installed package runs.
            cwd=Path(__file__).parent,
        )
        self.out, self.err = [], []
        self._threads = [
            threading.Thread(target=self._collect, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._collect, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for t in self._threads:
            t.start()

    @staticmethod
    def _collect(stream, lines):
        for line in stream:
            lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = WAIT) -> str:
        """The first stdout line matching `pattern`, waiting at most `timeout` seconds."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in list(self.out):
                if rx.search(line):
                    return line
            if self.proc.poll() is not None and not any(t.is_alive() for t in self._threads[:1]):
                break
            time.sleep(0.02)
        raise AssertionError(
            f"{self.args} printed no line matching {pattern!r} within {timeout} s "
            f"(exit {self.proc.poll()}):\nstdout: {self.out}\nstderr: {self.err[-20:]}"
        )

    def finish(self, timeout: float = WAIT) -> int:
        """Waits for the process to end by itself; its exit code."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"{self.args} did not end within {timeout} s: {self.out} {self.err[-20:]}")
        for t in self._threads:
            t.join(5)
        return code

    def signal(self, sig) -> int:
        """Sends `sig` and waits (bounded) for the end; the exit code."""
        self.proc.send_signal(sig)
        return self.finish()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def spawn():
    """Starts processes (`spawn(args...)`) and stops whatever is left at the test's end."""
    procs = []

    def start(*args, env=None):
        p = Proc(args, env)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.stop()


@pytest.fixture
def python_module(spawn):
    """Runs `python -m MODULE ARGS...` with this interpreter."""

    def start(module, *args, env=None):
        return spawn(sys.executable, "-m", module, *args, env=env)

    return start


def sigint_ok(code: int) -> bool:
    return code in (0, -signal.SIGINT, 130)
