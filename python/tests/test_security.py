"""Secure mode from Python: a Python node with credentials from `rosy security` reaches a
secure `rosy topic echo` over TLS, a plain echo of the same domain gets nothing, and a node
asked to be secure without credentials refuses to start, saying what is missing."""

import asyncio
import subprocess

import pytest

import rosy
from conftest import rust_bin

pytestmark = pytest.mark.timeout(90)

T = 20.0


@pytest.fixture
def credentials(tmp_path, mesh_env):
    """A CA for this test's domain; a member identity for Python, `rosy-*` for the tools."""
    rosy_cli = str(rust_bin("rosy"))
    ca = tmp_path / "ca"
    subprocess.run([rosy_cli, "security", "create-domain", mesh_env, "--dir", ca], check=True, timeout=T)
    for name, out in (("*", "member"), ("rosy-*", "tools")):
        subprocess.run(
            [rosy_cli, "security", "issue", mesh_env, "--name", name, "--out", tmp_path / out, "--dir", ca],
            check=True,
            timeout=T,
        )
    return tmp_path


def test_a_python_node_talks_over_tls_and_a_plain_listener_gets_nothing(
    spawn, credentials, monkeypatch
):
    secure_tool = {"ROSY_SECURITY": "enforce", "ROSY_SECURITY_DIR": str(credentials / "tools"), "ROSY_MDNS": "0"}
    secure_echo = spawn(rust_bin("rosy"), "topic", "echo", "secret", "--count", "1", env=secure_tool)
    plain_echo = spawn(rust_bin("rosy"), "topic", "echo", "secret", env={"ROSY_SECURITY": "off"})
    monkeypatch.setenv("ROSY_SECURITY", "enforce")
    monkeypatch.setenv("ROSY_SECURITY_DIR", str(credentials / "member"))

    async def main():
        async with await rosy.build_node("py-secure") as node:
            await node.wait_for_listener("secret", timeout=T)
            await node.send("secret", "over tls")

    asyncio.run(main())
    assert secure_echo.finish() == 0, secure_echo.err
    assert any("over tls" in line for line in secure_echo.out), secure_echo.out
    plain_echo.stop()
    assert plain_echo.out == [], plain_echo.out


def test_enforce_without_credentials_refuses_to_start(monkeypatch):
    monkeypatch.setenv("ROSY_SECURITY", "enforce")
    monkeypatch.delenv("ROSY_SECURITY_DIR", raising=False)

    async def main():
        with pytest.raises(Exception) as refused:
            await rosy.build_node("py-secure")
        assert "ROSY_SECURITY_DIR" in str(refused.value)

    asyncio.run(main())
