"""Zero copy from Python: frames written in place into loaned shared memory, received as
read-only buffers over that very memory, held (unchanging) while the reader keeps them."""

import asyncio
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import rosy
from conftest import rust_bin

pytestmark = pytest.mark.timeout(90)

SENDER = Path(__file__).parent / "peers" / "frame_sender.py"
FRAME = 1080 * 1920 * 3  # a 1080p RGB frame: 6,220,800 bytes
T = 20.0


def mapping_of(address: int) -> str:
    """The path of the mapping of this process that holds `address` ('' for anonymous)."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if start <= address < end:
                return fields[5] if len(fields) > 5 else ""
    raise AssertionError(f"{address:#x} is in no mapping of this process")


def address(buffer) -> int:
    return np.frombuffer(buffer, dtype=np.uint8).ctypes.data


@pytest.mark.parametrize("mode", ["loan", "send"])
def test_frames_reach_a_python_reader_in_shared_memory_and_stay_put(spawn, mode):
    frames, keep = 16, 6  # 6 frames held (37 MB) while 10 more flow through the pool

    async def main():
        kept = []  # the first frames' buffers, kept alive on purpose
        seen = []  # (index, value, mapping path) of every frame
        done = asyncio.Event()

        async def on_frame(topic, frame, index=None):
            assert isinstance(frame, memoryview) and frame.readonly
            assert len(frame) == FRAME
            array = np.frombuffer(frame, dtype=np.uint8)
            seen.append((index, int(array[0]), mapping_of(address(frame))))
            if len(kept) < keep:
                kept.append(frame)
            if len(seen) == frames:
                done.set()

        async with await rosy.build_node("viewer") as node:
            await node.listen("camera/frames", on_frame)
            sender = spawn(sys.executable, SENDER, mode, frames)
            await asyncio.wait_for(done.wait(), T)
            assert await asyncio.to_thread(sender.finish) == 0, sender.err
            # Every frame, in order; the later ones (once the publisher's segment is read) in a
            # shared-memory file the publisher wrote, read in place.
            assert [value for _, value, _ in seen] == list(range(frames))
            if mode == "send":
                assert [index for index, _, _ in seen] == list(range(frames))
            in_shm = [i for i, (_, _, path) in enumerate(seen) if path.startswith("/dev/shm/")]
            assert in_shm and in_shm[-1] == frames - 1, f"frames in shared memory: {seen}"
            assert any(i < keep for i in in_shm), f"no kept frame is in shared memory: {seen}"
            # The kept buffers never changed while later frames went through the same pool
            # (4 chunks in flight): each still holds its own value everywhere.
            for i, frame in enumerate(kept):
                array = np.frombuffer(frame, dtype=np.uint8)
                assert array[0] == i and array[-1] == i and (array == i).all(), f"frame {i}"
            with pytest.raises(TypeError):
                kept[0][0] = 1  # read-only

    asyncio.run(main())


def test_a_rust_reader_gets_the_python_frame(spawn):
    echo = spawn(rust_bin("rosy"), "--json", "topic", "echo", "camera/frames", "--count", "3")
    sender = spawn(sys.executable, SENDER, "loan", 3, 1080, 1920, 0.05)
    assert sender.finish() == 0, sender.err
    assert echo.finish() == 0, echo.err
    lines = [json.loads(line) for line in echo.out if line.startswith("{")]
    assert len(lines) == 3, echo.out
    for i, line in enumerate(lines):
        assert line["codec"] == "raw"
        assert line["size"] == FRAME
        assert line["value"].startswith(f"{FRAME} bytes: {i:02x} {i:02x}"), line["value"]


def test_a_loan_refuses_to_send_while_viewed():
    async def main():
        async with await rosy.build_node("loaner") as node:
            loan = node.loan("t", 1024)
            assert len(loan) == 1024
            view = np.frombuffer(loan, dtype=np.uint8)
            view[:] = 7
            with pytest.raises(BufferError, match="del it"):
                await loan.send()
            del view
            await loan.send()
            with pytest.raises(BufferError, match="already sent"):
                await loan.send()
            with pytest.raises(BufferError, match="sent"):
                memoryview(loan)

    asyncio.run(main())
