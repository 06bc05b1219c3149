"""A camera-like Python publisher for the tests: FRAMES frames of HEIGHT x WIDTH x 3 bytes on
camera/frames, frame i filled with the byte i % 256, written in place into loaned shared memory
(`loan`) or sent as a numpy array argument (`send`), PAUSE seconds apart.

    python frame_sender.py loan|send FRAMES [HEIGHT WIDTH PAUSE]
"""

import asyncio
import sys

import numpy as np

import rosy


async def main(mode, frames, height=1080, width=1920, pause=0.03):
    async with await rosy.build_node("camera") as node:
        await node.wait_for_listener("camera/frames", timeout=20)
        print("sending", flush=True)
        for i in range(frames):
            if mode == "loan":
                loan = node.loan("camera/frames", height * width * 3)
                image = np.frombuffer(loan, dtype=np.uint8).reshape(height, width, 3)
                image[:] = i % 256  # the camera writes its frame straight into the loan
                del image
                await loan.send()
            else:
                image = np.full((height, width, 3), i % 256, dtype=np.uint8)
                await node.send("camera/frames", image, index=i)
            await asyncio.sleep(pause)
        print("sent", flush=True)


if __name__ == "__main__":
    mode, frames, *rest = sys.argv[1:]
    h, w, p = (int(rest[0]), int(rest[1]), float(rest[2])) if rest else (1080, 1920, 0.03)
    asyncio.run(main(mode, int(frames), h, w, p))
