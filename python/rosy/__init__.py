"""rosy: not ROS, but ROS-y. The original rosy's Python API over rosy's Rust core.

    import asyncio, rosy

    async def main():
        async with await rosy.build_node("topic_sender") as node:
            await node.send("some-topic", "hello", name="world")

    asyncio.run(main())

Nodes find each other by themselves (same host: a registry in /dev/shm; other hosts: mDNS),
talk through shared memory on one host and TCP otherwise, and interoperate with Rust nodes and
the ``rosy`` command line. See ``rosy.node`` for the API, ``rosy.codec`` for codecs.
"""

from rosy._rosy import (
    Loan,
    NoProviderError,
    RosyError,
    ServiceResponseError,
    TimeoutError,
)
from rosy.argparse import get_node_arg_parser
from rosy.codec import Codec, json_codec, msgpack_codec, pickle_codec
from rosy.node import Node, ServiceProxy, TopicProxy, build_node, build_node_from_args

__all__ = [
    "Codec",
    "Loan",
    "NoProviderError",
    "Node",
    "RosyError",
    "ServiceProxy",
    "ServiceResponseError",
    "TimeoutError",
    "TopicProxy",
    "build_node",
    "build_node_from_args",
    "get_node_arg_parser",
    "json_codec",
    "msgpack_codec",
    "pickle_codec",
]
