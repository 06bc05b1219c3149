import asyncio

import rosy


async def main():
    async with await rosy.build_node(name="service_provider") as node:
        await node.add_service("multiply", multiply)
        print("Started service...", flush=True)
        await node.forever()


async def multiply(service, a, b):
    return a * b


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
