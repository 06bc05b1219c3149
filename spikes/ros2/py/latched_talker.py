import time, rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String
rclpy.init(); node = Node("latched_talker")
pub = node.create_publisher(String, "/latched", QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE))
pub.publish(String(data="hello latched")); print("published", flush=True)
end = time.monotonic() + 60
while time.monotonic() < end: rclpy.spin_once(node, timeout_sec=0.1)
