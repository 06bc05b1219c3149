"""rclpy listener: exit 0 after WANT msgs on TOPIC (default /chatter), 1 on RUN_SECS timeout."""
import os, sys, time
import rclpy
from std_msgs.msg import String

def main():
    topic = os.environ.get("TOPIC", "chatter")
    want = int(os.environ.get("WANT", "5"))
    run = float(os.environ.get("RUN_SECS", "20"))
    rclpy.init()
    node = rclpy.create_node("py_listener")
    got = []
    t0 = time.monotonic()
    def cb(msg):
        got.append(msg.data)
        if len(got) <= 3:
            print(f"[py +{time.monotonic()-t0:6.2f}s] listener heard: {msg.data!r}", flush=True)
    node.create_subscription(String, topic, cb, 10)
    while len(got) < want and time.monotonic() - t0 < run:
        rclpy.spin_once(node, timeout_sec=0.1)
    ok = len(got) >= want
    print(f"listener: {len(got)} msgs on /{topic} in {time.monotonic()-t0:.2f}s -> {'OK' if ok else 'FAIL'}", flush=True)
    node.destroy_node(); rclpy.shutdown()
    sys.exit(0 if ok else 1)

if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
