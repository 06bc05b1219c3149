import asyncio

import rosy


async def main():
    async with await rosy.build_node(name="topic_listener") as node:
        await node.listen("some-topic", callback)
        print("Listening...", flush=True)
        await node.forever()


async def callback(topic, message, name=None):
    print(f'Received "{message} {name}" on topic={topic}', flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
