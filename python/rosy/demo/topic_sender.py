import asyncio

import rosy


async def main():
    async with await rosy.build_node(name="topic_sender") as node:
        await node.send("some-topic", "hello", name="world")


if __name__ == "__main__":
    asyncio.run(main())
