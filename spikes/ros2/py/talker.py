"""rclpy talker: std_msgs/String on /chatter every 0.5 s for RUN_SECS."""
import os, sys, time
import rclpy
from std_msgs.msg import String

def main():
    run = float(os.environ.get("RUN_SECS", "20"))
    rclpy.init()
    node = rclpy.create_node("py_talker")
    pub = node.create_publisher(String, "chatter", 10)
    n = [0]
    def tick():
        n[0] += 1
        pub.publish(String(data=f"hello from rclpy talker #{n[0]}"))
    node.create_timer(0.5, tick)
    t0 = time.monotonic()
    while time.monotonic() - t0 < run:
        rclpy.spin_once(node, timeout_sec=0.1)
    print(f"talker: published {n[0]} msgs, matched subscribers={pub.get_subscription_count()}", flush=True)
    node.destroy_node(); rclpy.shutdown()

if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
