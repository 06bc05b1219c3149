"""A listener of topic t in the load-balancing group "group": prints each message's value."""

import asyncio

import rosy


async def main():
    async with await rosy.build_node("group") as node:

        async def callback(topic, value):
            print(value, flush=True)

        await node.listen("t", callback)
        print("Listening...", flush=True)
        await node.forever()


if __name__ == "__main__":
    asyncio.run(main())
