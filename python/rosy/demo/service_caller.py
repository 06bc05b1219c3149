import asyncio

import rosy


async def main():
    async with await rosy.build_node(name="service_caller") as node:
        print("Calculating 2 * 2...", flush=True)
        result = await node.call("multiply", 2, 2)
        print(f"Result: {result}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
