"""The ROS 2 side of the rosy-ros2 bridge benchmark (scripts/bench-ros2): unmodified rclpy
nodes (ROS 2 Jazzy, Fast DDS) publishing, subscribing and measuring.

    ros2_peer.py image_pub TOPIC FRAMES FPS SUBS W H
        waits until SUBS subscriptions match, sends 5 warm-up frames ("w<n>"), then FRAMES
        rgb8 W x H sensor_msgs/Image at FPS, each stamped with its send time (time.time_ns(),
        CLOCK_REALTIME) and numbered in frame_id ("f<seq>")
    ros2_peer.py image_sub TOPIC FRAMES [ACK_TOPIC]
        receives those frames: latency = arrival - stamp; lost by sequence number. With
        ACK_TOPIC, answers each warm-up frame with a std_msgs/String "ack" there (the rosy
        publisher of image-out waits for it). Ends at frame FRAMES - 1, or 5 s after the last
    ros2_peer.py string_pub TOPIC SECONDS SUBS
        waits until SUBS subscriptions match, then publishes std_msgs/String as fast as it can
        for SECONDS, each a 16-byte decimal sequence number
    ros2_peer.py string_sub TOPIC
        counts those messages. Ends 3 s after the last
    ros2_peer.py idle SECONDS
        an rclpy node with the idle bridge's four topics, spinning: its CPU use over SECONDS

All QoS is ROS 2's default (reliable, volatile, keep last 10). Each prints "ready" when its
entities exist, then "RESULT {json}". Every wait is bounded.
"""
import json
import math
import sys
import time

import rclpy
import rclpy.duration
import rclpy.task
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import String

START_BOUND = 120.0


def say(line):
    print(line, flush=True)


def percentiles(values):
    if not values:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}
    s = sorted(values)

    def rank(p):
        # Nearest rank, as the Rust side computes it.
        k = max(1, min(len(s), math.ceil(p / 100 * len(s))))
        return round(s[k - 1], 3)

    return {"p50_ms": rank(50), "p90_ms": rank(90), "p99_ms": rank(99), "max_ms": rank(100)}


def wait_for_subscribers(node, pub, count):
    deadline = time.monotonic() + START_BOUND
    while pub.get_subscription_count() < count:
        if time.monotonic() > deadline:
            sys.exit(f"only {pub.get_subscription_count()} of {count} subscriptions matched")
        rclpy.spin_once(node, timeout_sec=0.05)
    # Matched on this side; give the readers' side of discovery a moment too.
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)


def image_pub(node, topic, frames, fps, subs, width, height):
    pub = node.create_publisher(Image, topic, 10)
    msg = Image()
    msg.width, msg.height = width, height
    msg.encoding = "rgb8"
    msg.is_bigendian = 0
    msg.step = width * 3
    n = width * height * 3
    msg.data = (bytes(range(251)) * (n // 251 + 1))[:n]
    say("ready")
    wait_for_subscribers(node, pub, subs)
    period = 1.0 / fps
    late = 0

    def send(frame_id):
        msg.header.frame_id = frame_id
        now = time.time_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 1_000_000_000)
        pub.publish(msg)

    for i in range(5):
        send(f"w{i}")
        time.sleep(period)
    start = time.monotonic()
    for i in range(frames):
        due = start + i * period
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        elif wait < -period:
            late += 1
        send(f"f{i}")
    rate = frames / (time.monotonic() - start)
    say("RESULT " + json.dumps({"scenario": "image-pub", "side": "rclpy publisher",
                                "sent": frames, "late_ticks": late, "rate_hz": round(rate, 3)}))
    # Reliable: stay until the last frames are acknowledged (or 5 s).
    pub.wait_for_all_acked(rclpy.duration.Duration(seconds=5))


def image_sub(node, topic, frames, ack_topic):
    ack = node.create_publisher(String, ack_topic, 10) if ack_topic else None
    state = {"seen": set(), "lat": [], "warmup": 0, "dup": 0, "wrong_size": 0, "last": None,
             "done": False}
    expected_len = None

    def got(m):
        arrived = time.time_ns()
        fid = m.header.frame_id
        if not fid.startswith("f"):
            state["warmup"] += 1
            if ack is not None:
                ack.publish(String(data="ack"))
            return
        state["last"] = time.monotonic()
        seq = int(fid[1:])
        if len(m.data) != m.height * m.step:
            state["wrong_size"] += 1
        if seq in state["seen"]:
            state["dup"] += 1
        else:
            state["seen"].add(seq)
            stamp = m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec
            state["lat"].append((arrived - stamp) / 1e6)
        if seq + 1 >= frames:
            state["done"] = True

    node.create_subscription(Image, topic, got, 10)
    say("ready")
    start = time.monotonic()
    while not state["done"]:
        now = time.monotonic()
        if state["last"] is None and now - start > START_BOUND:
            break
        if state["last"] is not None and now - state["last"] > 5.0:
            break
        rclpy.spin_once(node, timeout_sec=0.1)
    received = len(state["seen"])
    result = {"scenario": "image-sub", "side": "rclpy subscriber", "expected": frames,
              "received": received, "lost": frames - received, "duplicates": state["dup"],
              "wrong_size": state["wrong_size"], "warmup": state["warmup"],
              "first_missing": [i for i in range(frames) if i not in state["seen"]][:10]}
    result.update(percentiles(state["lat"]))
    say("RESULT " + json.dumps(result))


def string_pub(node, topic, seconds, subs):
    pub = node.create_publisher(String, topic, 10)
    say("ready")
    wait_for_subscribers(node, pub, subs)
    msg = String()
    n = 0
    start = time.monotonic()
    end = start + seconds
    while True:
        # The clock is read every 256 messages: the loop is the publisher's top rate.
        if n & 255 == 0 and time.monotonic() >= end:
            break
        msg.data = "%016d" % n
        pub.publish(msg)
        n += 1
    elapsed = time.monotonic() - start
    say("RESULT " + json.dumps({"scenario": "string-pub", "side": "rclpy publisher", "sent": n,
                                "rate_hz": round(n / elapsed, 1), "seconds": round(elapsed, 3)}))
    pub.wait_for_all_acked(rclpy.duration.Duration(seconds=5))


def string_sub(node, topic):
    state = {"n": 0, "seen": set(), "max": -1, "first": None, "last": None}

    def got(m):
        now = time.monotonic()
        if state["first"] is None:
            state["first"] = now
        state["last"] = now
        state["n"] += 1
        seq = int(m.data)
        state["seen"].add(seq)
        if seq > state["max"]:
            state["max"] = seq

    node.create_subscription(String, topic, got, 10)
    say("ready")
    start = time.monotonic()
    while True:
        now = time.monotonic()
        if state["last"] is None and now - start > START_BOUND:
            break
        if state["last"] is not None and now - state["last"] > 3.0:
            break
        rclpy.spin_once(node, timeout_sec=0.1)
    span = (state["last"] - state["first"]) if state["first"] is not None else 0.0
    say("RESULT " + json.dumps({"scenario": "string-sub", "side": "rclpy subscriber",
                                "received": state["n"], "distinct": len(state["seen"]),
                                "max_seq": state["max"], "span_s": round(span, 3),
                                "rate_hz": round(state["n"] / span, 1) if span > 0 else None}))


def cpu_seconds():
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[14 - 3]) + int(fields[15 - 3])) / 100.0


def idle(node, seconds):
    node.create_subscription(Image, "/bench/image", lambda m: None, 10)
    node.create_publisher(Image, "/bench/image_out", 10)
    node.create_subscription(String, "/bench/chatter", lambda m: None, 10)
    node.create_publisher(String, "/bench/status", 10)
    say("ready")
    never = rclpy.task.Future()
    rclpy.spin_until_future_complete(node, never, timeout_sec=3.0)
    cpu0, start = cpu_seconds(), time.monotonic()
    rclpy.spin_until_future_complete(node, never, timeout_sec=seconds)
    cpu1, elapsed = cpu_seconds(), time.monotonic() - start
    say("RESULT " + json.dumps({"scenario": "idle", "side": "rclpy node",
                                "cpu_pct": round((cpu1 - cpu0) / elapsed * 100, 3),
                                "cpu_s": round(cpu1 - cpu0, 3), "seconds": round(elapsed, 3)}))


def main():
    mode = sys.argv[1]
    rclpy.init()
    node = Node("bench_" + mode)
    a = sys.argv[2:]
    if mode == "image_pub":
        image_pub(node, a[0], int(a[1]), float(a[2]), int(a[3]), int(a[4]), int(a[5]))
    elif mode == "image_sub":
        image_sub(node, a[0], int(a[1]), a[2] if len(a) > 2 else None)
    elif mode == "string_pub":
        string_pub(node, a[0], float(a[1]), int(a[2]))
    elif mode == "string_sub":
        string_sub(node, a[0])
    elif mode == "idle":
        idle(node, float(a[0]))
    else:
        sys.exit(f"unknown mode {mode}")
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
