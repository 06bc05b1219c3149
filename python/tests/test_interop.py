"""Python and Rust nodes on one mesh, both ways, and the `rosy` command line."""

import asyncio
import json

import pytest

import rosy
from conftest import rust_bin

pytestmark = pytest.mark.timeout(90)

T = 20.0


async def collect(node, topic, count):
    got = []
    done = asyncio.Event()

    async def callback(topic_, *args, **kwargs):
        got.append((topic_, args, kwargs))
        if len(got) >= count:
            done.set()

    await node.listen(topic, callback)

    async def wait():
        await asyncio.wait_for(done.wait(), T)
        return got

    return wait


def test_rust_tuples_reach_python_callbacks_as_positional_arguments(spawn):
    async def main():
        async with await rosy.build_node("py-listener") as node:
            wait = await collect(node, "some-topic", 3)
            sender = spawn(rust_bin("topic_sender"), "--count", "3", "--interval", "0.05")
            got = await wait()
            assert got == [("some-topic", ("hello", "world"), {})] * 3
            assert await asyncio.to_thread(sender.finish) == 0, sender.err

    asyncio.run(main())


def test_python_messages_reach_a_rust_subscriber_through_shared_memory(spawn):
    async def main():
        listener = spawn(rust_bin("topic_listener"))
        await asyncio.to_thread(listener.wait_for, r"^Listening")
        async with await rosy.build_node("py-sender") as node:
            await node.wait_for_listener("some-topic", timeout=T)
            end = asyncio.get_running_loop().time() + T
            i = 0
            # Same-host peers switch to shared memory once the listener reads our segment.
            while node._core.sent_by_transport()[0] == 0:
                assert asyncio.get_running_loop().time() < end, "never went by shared memory"
                await node.send("some-topic", "hello", f"python{i}")
                i += 1
                await asyncio.sleep(0.01)
            await asyncio.to_thread(listener.wait_for, rf'^Received "hello python{i - 1}"')
        listener.wait_for(r'^Received "hello python0" on topic=some-topic$')

    asyncio.run(main())


def test_services_both_ways(spawn):
    async def main():
        provider = spawn(rust_bin("service_provider"))
        await asyncio.to_thread(provider.wait_for, r"^Started service")
        async with await rosy.build_node("py-caller") as node:
            await node.wait_for_service_provider("multiply", timeout=T)
            assert await node.call("multiply", 6, 7) == 42
            # The Rust handler's error text comes back.
            with pytest.raises(rosy.ServiceResponseError, match="overflows a 64-bit integer"):
                await node.call("multiply", 2**62, 4)
        provider.stop()

        async with await rosy.build_node("py-provider") as node:

            async def multiply(service, a, b):
                return a * b

            await node.add_service("multiply", multiply)
            caller = spawn(rust_bin("service_caller"), "3", "5")
            assert await asyncio.to_thread(caller.finish) == 0, caller.err
            assert caller.out[-1] == "Result: 15", caller.out
            cli = spawn(rust_bin("rosy"), "service", "call", "multiply", "[4, 5]")
            assert await asyncio.to_thread(cli.finish) == 0, cli.err
            assert cli.out[-1].strip() == "20", cli.out

    asyncio.run(main())


def test_the_cli_echoes_python_messages_and_sends_to_python_listeners(spawn):
    async def main():
        async with await rosy.build_node("py") as node:
            echo = spawn(rust_bin("rosy"), "--json", "topic", "echo", "py-topic", "--count", "3")
            await node.wait_for_listener("py-topic", timeout=T)
            await node.send("py-topic", "hello", "world")
            await node.send("py-topic", "hello", name="world")
            await node.send("py-topic", 3.5)
            assert await asyncio.to_thread(echo.finish) == 0, echo.err
            values = [json.loads(line)["value"] for line in echo.out if line.startswith("{")]
            # How arguments travel (docs/architecture.md): a tuple, {args, kwargs}, a value.
            assert values == [
                ["hello", "world"],
                {"args": ["hello"], "kwargs": {"name": "world"}},
                3.5,
            ]
            codecs = {json.loads(line)["codec"] for line in echo.out if line.startswith("{")}
            assert codecs == {"msgpack"}

            wait = await collect(node, "to-python", 3)
            for value in ['[hello, cli]', '{"args": [1], "kwargs": {"k": "v"}}', '"alone"']:
                send = spawn(rust_bin("rosy"), "topic", "send", "to-python", value)
                assert await asyncio.to_thread(send.finish) == 0, send.err
            got = await wait()
            assert got == [
                ("to-python", ("hello", "cli"), {}),
                ("to-python", (1,), {"k": "v"}),
                ("to-python", ("alone",), {}),
            ]

    asyncio.run(main())


def test_pickle_messages_are_opaque_bytes_to_tools(spawn):
    async def main():
        async with await rosy.build_node("py", data_codec="pickle") as node:
            echo = spawn(rust_bin("rosy"), "--json", "topic", "echo", "pickled", "--count", "1")
            await node.wait_for_listener("pickled", timeout=T)
            await node.send("pickled", {1, 2, 3})
            assert await asyncio.to_thread(echo.finish) == 0, echo.err
            line = json.loads(next(line for line in echo.out if line.startswith("{")))
            assert line["codec"] == "custom"
            assert "bytes: " in line["value"]

            info = spawn(rust_bin("rosy"), "--json", "topic", "list")
            assert await asyncio.to_thread(info.finish) == 0, info.err
            assert "pickle" in "".join(info.out)

    asyncio.run(main())


def test_a_rust_listener_reads_the_python_demos_keyword_argument(spawn, python_module):
    # The Rust example reads `send("some-topic", "hello", name="world")` as
    # rosy::codec::ArgsKwargs<(String,), Name>.
    listener = spawn(rust_bin("kwargs_listener"))
    listener.wait_for(r"^Listening")
    sender = python_module("rosy.demo.topic_sender")
    assert sender.finish() == 0, sender.err
    listener.wait_for(r'^Received "hello world" on topic=some-topic$')


def test_a_json_python_node_reaches_a_rust_subscriber(spawn):
    async def main():
        listener = spawn(rust_bin("topic_listener"))
        await asyncio.to_thread(listener.wait_for, r"^Listening")
        async with await rosy.build_node("py-json", data_codec="json") as node:
            await node.wait_for_listener("some-topic", timeout=T)
            await node.send("some-topic", "hello", "json")
            await asyncio.to_thread(listener.wait_for, r'^Received "hello json" on topic=some-topic$')

    asyncio.run(main())
