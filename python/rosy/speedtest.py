"""``python -m rosy speedtest send|recv``: the original rosy's speed test, same options, run
over rosy's Rust core, so both can be run side by side.

The sender sends ``(send_time, payload)`` on ``--topic`` as fast as it can (or with
``--sleep-time`` pauses) for ``--run-time`` seconds after a 1 s warm-up, then ``stop``. The
receiver prints, each second, the messages received and ``mps=`` (as the original does), and at
the end the median messages/s, latency p50/p99 (from the sender's clock: same host) and MB/s.

Differences from the original, on purpose: the payload is ``bytes`` (the original sends a
``str``), so large payloads are received as memoryviews over shared memory; the sender does not
``await asyncio.sleep(0)`` between messages when ``--sleep-time`` is 0, and paces by a schedule
(message n at n x sleep-time, pauses under 2 ms slept precisely); the default codec is
msgpack (``--codec pickle`` is the original's). ``--loan`` writes each payload into a loaned
shared-memory buffer (raw bytes: the 8-byte send time, then the payload), the zero-copy way a
camera driver would.
"""

import asyncio
import statistics
import struct
import time
from argparse import ArgumentParser, Namespace

from rosy.argparse import add_domain_id_arg
from rosy.node import build_node


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("role", choices=("send", "recv"), help="sender or receiver")
    parser.add_argument("--message-size", type=int, default=0, help="payload bytes (default 0)")
    parser.add_argument(
        "--sleep-time", type=float, default=0.0, help="seconds between sends (default 0)"
    )
    parser.add_argument(
        "--run-time", type=float, default=10.0, help="seconds to send (default %(default)s)"
    )
    parser.add_argument("--topic", default="t", help="topic (default %(default)s)")
    parser.add_argument(
        "--codec", choices=("pickle", "json", "msgpack"), default="msgpack",
        help="codec (default %(default)s; the original's default is pickle)",
    )
    parser.add_argument(
        "--enable-load-balancer", action="store_true",
        help="round-robin among same-name receivers (off by default, as in the original)",
    )
    parser.add_argument("--disable-unix", action="store_true", help="accepted; see --tcp")
    parser.add_argument("--disable-tcp", action="store_true", help="accepted; ignored")
    parser.add_argument(
        "--loan", action="store_true",
        help="send: write each payload into a loaned shared-memory buffer (zero copy)",
    )
    parser.add_argument(
        "--pool-chunks", type=int, default=None,
        help="send: large messages kept in flight in shared memory (default 4, at most 64)",
    )
    add_domain_id_arg(parser)


async def main(args: Namespace) -> None:
    node = await build_node(
        name=f"rosy speedtest {args.role}",
        domain_id=args.domain_id,
        data_codec=args.codec,
        topic_load_balancer="round-robin" if args.enable_load_balancer else "none",
        shm_pool_chunks=args.pool_chunks,
    )
    async with node:
        if args.role == "recv":
            await receive(node, args.topic)
        else:
            print("Waiting for listeners...", flush=True)
            await node.wait_for_listener(args.topic)
            print(
                f"Running speed test for {args.run_time}s with message_size={args.message_size}...",
                flush=True,
            )
            mps = await send(node, args)
            dropped = node._core.dropped()
            print(f"[{node}] mps={round(mps)}" + (f" dropped={dropped}" if dropped else ""), flush=True)


async def send(node, args: Namespace) -> float:
    topic = node.get_topic(args.topic)
    size, sleep_time = args.message_size, args.sleep_time
    payload = b"A" * size
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        await node.send("warmup")
        await asyncio.sleep(max(sleep_time, 0.001))
    count = 0
    start = time.monotonic()

    async def pace():
        # Message n leaves at start + n * sleep_time: asyncio's timers cannot wait less than
        # about a millisecond, so shorter pauses sleep the thread (the sender has nothing else
        # to run meanwhile).
        delay = start + count * sleep_time - time.monotonic()
        if delay >= 0.002:
            await asyncio.sleep(delay)
        elif delay > 0:
            time.sleep(delay)

    if args.loan:
        import numpy  # only for --loan: fills the loaned buffer in place

        pack = struct.Struct("<d").pack_into
        while (now := time.monotonic()) - start < args.run_time:
            loan = node.loan(args.topic, 8 + size)
            view = numpy.frombuffer(loan, dtype=numpy.uint8)
            view[8:] = 65  # the "camera" writes its frame in place
            del view
            with memoryview(loan) as m:
                pack(m, 0, time.time())
            await loan.send()
            count += 1
            if sleep_time:
                await pace()
    else:
        send_ = topic.node.send
        name = args.topic
        while (now := time.monotonic()) - start < args.run_time:
            await send_(name, (time.time(), payload))
            count += 1
            if sleep_time:
                await pace()
    duration = now - start
    await node.send("stop", count)  # the receiver reports how many it lost
    return count / duration


async def receive(node, topic: str) -> None:
    count = 0
    size = 0
    latencies = []
    stop = asyncio.Event()
    sent = None
    unpack = struct.Struct("<d").unpack_from

    async def on_message(topic_, data):
        nonlocal count, size
        now = time.time()
        if isinstance(data, (tuple, list)):
            send_time, payload = data
        else:  # --loan: raw bytes, the send time first
            send_time, payload = unpack(data, 0)[0], data
        latencies.append(now - send_time)
        count += 1
        size = len(payload)

    async def on_warmup(topic_):
        pass

    async def on_stop(topic_, count_sent=None):
        nonlocal sent
        sent = count_sent
        print(f"[{node}] Received stop signal", flush=True)
        stop.set()

    await node.listen("warmup", on_warmup)
    await node.listen(topic, on_message)
    await node.listen("stop", on_stop)
    print("Listening...", flush=True)

    rates = []
    last = 0
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass
        if count != last:
            rates.append(count - last)
            behind = node._listeners[topic][0].lost()
            print(
                f"[{node}] Received message count: {count}; mps={count - last}"
                + (f"; lost={behind}" if behind else ""),
                flush=True,
            )
            last = count
    # "stop" travels on its own topic: let the last messages of the test topic come in.
    settled = time.monotonic() + 3.0
    while time.monotonic() < settled:
        before = count
        await asyncio.sleep(0.2)
        if count == before:
            break
    # The first and last windows are partial.
    full = rates[1:-1] or rates
    if latencies:
        ordered = sorted(latencies)
        p50 = ordered[len(ordered) // 2] * 1e3
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3
        median = statistics.median(full)
        lost = "" if sent is None else f", lost {sent - count} of {sent}"
        behind = node._listeners[topic][0].lost()
        if behind:
            lost += f" ({behind} by falling behind)"
        print(
            f"[{node}] received {count} messages of {size} B: median {median:.0f} msgs/s, "
            f"latency p50 {p50:.3f} ms, p99 {p99:.3f} ms, {median * size / 1e6:.1f} MB/s{lost}",
            flush=True,
        )
