"""An unmodified rclpy node for rosy-ros2's tests: talks or listens on one topic.

    peer.py talk_string TOPIC TEXT      publish std_msgs/String TEXT every 0.1 s
    peer.py listen_string TOPIC         print "got: DATA" for each message
    peer.py talk_image TOPIC W H        publish a W x H rgb8 sensor_msgs/Image every 0.1 s
    peer.py listen_image TOPIC          print each image's fields and a checksum of its pixels
    peer.py serve_setbool SERVICE       serve std_srvs/SetBool: "set to DATA", printed per call
    peer.py call_trigger SERVICE        call std_srvs/Trigger once it is there, print the response
    peer.py latch_string TOPIC TEXT     publish TEXT once, transient local (depth 1), print "sent"
    peer.py listen_latched TOPIC        as listen_string, with a transient-local subscription
    peer.py talk_garbage TOPIC TEXT     every 0.1 s: a malformed std_msgs/String (a length past
                                        the payload's end), then "TEXT N", N counting up
    peer.py talk_temperature TOPIC      publish sensor_msgs/Temperature 21.5 (variance 0.25)
    peer.py listen_temperature TOPIC    print "temperature: T variance V frame F"
    peer.py graph TOPIC                 print "graph: TOPIC TYPES" once get_topic_names_and_types
                                        lists TOPIC
    peer.py call_empty SERVICE          call std_srvs/Empty once it is there, print "empty answered"
    peer.py talk_imu TOPIC              publish a sensor_msgs/Imu with distinct values
    peer.py listen_twist TOPIC          print "twist: lx ly lz ax ay az"

Runs until killed (the test kills it), or for 120 s at most.
"""
import sys
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from geometry_msgs.msg import Twist
from sensor_msgs.msg import Image, Imu, Temperature
from std_msgs.msg import String
from std_srvs.srv import Empty, SetBool, Trigger


def pixels(width, height):
    return bytes(i % 251 for i in range(width * height * 3))


LATCHED = QoSProfile(
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)


def main():
    mode, topic = sys.argv[1], sys.argv[2]
    rclpy.init()
    node = Node("rclpy_peer")
    deadline = time.monotonic() + 120
    if mode == "talk_string":
        pub = node.create_publisher(String, topic, 10)
        while time.monotonic() < deadline:
            pub.publish(String(data=sys.argv[3]))
            rclpy.spin_once(node, timeout_sec=0.1)
    elif mode == "listen_string":
        node.create_subscription(
            String, topic, lambda m: print(f"got: {m.data}", flush=True), 10
        )
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    elif mode == "talk_image":
        width, height = int(sys.argv[3]), int(sys.argv[4])
        pub = node.create_publisher(Image, topic, 10)
        msg = Image()
        msg.header.stamp.sec = 1234
        msg.header.stamp.nanosec = 5678
        msg.header.frame_id = "camera_optical"
        msg.width, msg.height = width, height
        msg.encoding = "rgb8"
        msg.is_bigendian = 0
        msg.step = width * 3
        msg.data = pixels(width, height)
        while time.monotonic() < deadline:
            pub.publish(msg)
            rclpy.spin_once(node, timeout_sec=0.1)
    elif mode == "listen_image":

        def show(m):
            data = bytes(m.data)
            print(
                f"image {m.width}x{m.height} {m.encoding} step {m.step} "
                f"frame {m.header.frame_id} stamp {m.header.stamp.sec}.{m.header.stamp.nanosec} "
                f"bytes {len(data)} sum {sum(data)}",
                flush=True,
            )

        node.create_subscription(Image, topic, show, 10)
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    elif mode == "serve_setbool":

        def set_flag(request, response):
            response.success = True
            response.message = f"set to {request.data}"
            print(f"served: {request.data}", flush=True)
            return response

        node.create_service(SetBool, topic, set_flag)
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    elif mode == "call_trigger":
        client = node.create_client(Trigger, topic)
        while not client.wait_for_service(timeout_sec=0.5):
            if time.monotonic() > deadline:
                sys.exit("no Trigger service appeared")
        future = client.call_async(Trigger.Request())
        rclpy.spin_until_future_complete(node, future, timeout_sec=60)
        result = future.result()
        if result is None:
            sys.exit("the Trigger call got no answer within 60 s")
        print(f"response: {result.success} {result.message}", flush=True)
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    elif mode == "latch_string":
        pub = node.create_publisher(String, topic, LATCHED)
        pub.publish(String(data=sys.argv[3]))
        print("sent", flush=True)
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    elif mode == "listen_latched":
        node.create_subscription(
            String, topic, lambda m: print(f"got: {m.data}", flush=True), LATCHED
        )
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    elif mode == "talk_garbage":
        pub = node.create_publisher(String, topic, 10)
        # CDR_LE header, then a string length of 0xFFFFFF00 with two bytes after it.
        garbage = bytes([0, 1, 0, 0, 0x00, 0xFF, 0xFF, 0xFF, 0x61, 0x62])
        n = 0
        while time.monotonic() < deadline:
            pub.publish(garbage)
            n += 1
            pub.publish(String(data=f"{sys.argv[3]} {n}"))
            rclpy.spin_once(node, timeout_sec=0.1)
    elif mode == "talk_temperature":
        pub = node.create_publisher(Temperature, topic, 10)
        msg = Temperature()
        msg.header.frame_id = "engine"
        msg.header.stamp.sec = 77
        msg.temperature = 21.5
        msg.variance = 0.25
        while time.monotonic() < deadline:
            pub.publish(msg)
            rclpy.spin_once(node, timeout_sec=0.1)
    elif mode == "listen_temperature":
        node.create_subscription(
            Temperature,
            topic,
            lambda m: print(
                f"temperature: {m.temperature} variance {m.variance} "
                f"frame {m.header.frame_id} stamp {m.header.stamp.sec}",
                flush=True,
            ),
            10,
        )
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    elif mode == "call_empty":
        client = node.create_client(Empty, topic)
        while not client.wait_for_service(timeout_sec=0.5):
            if time.monotonic() > deadline:
                sys.exit("no Empty service appeared")
        future = client.call_async(Empty.Request())
        rclpy.spin_until_future_complete(node, future, timeout_sec=60)
        if future.result() is None:
            sys.exit("the Empty call got no answer within 60 s")
        print("empty answered", flush=True)
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    elif mode == "graph":
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
            for name, types in node.get_topic_names_and_types():
                if name == topic:
                    print(f"graph: {name} {','.join(types)}", flush=True)
                    deadline = 0
    elif mode == "talk_imu":
        pub = node.create_publisher(Imu, topic, 10)
        msg = Imu()
        msg.header.frame_id = "imu_link"
        msg.header.stamp.sec, msg.header.stamp.nanosec = 12, 34
        msg.orientation.x, msg.orientation.y = 0.1, 0.2
        msg.orientation.z, msg.orientation.w = 0.3, 0.9
        msg.orientation_covariance = [float(i) for i in range(9)]
        msg.angular_velocity.x, msg.angular_velocity.z = 1.5, -2.5
        msg.angular_velocity_covariance = [float(10 + i) for i in range(9)]
        msg.linear_acceleration.y = 9.81
        msg.linear_acceleration_covariance = [float(20 + i) for i in range(9)]
        while time.monotonic() < deadline:
            pub.publish(msg)
            rclpy.spin_once(node, timeout_sec=0.1)
    elif mode == "listen_twist":

        def show_twist(m):
            print(
                f"twist: {m.linear.x} {m.linear.y} {m.linear.z} "
                f"{m.angular.x} {m.angular.y} {m.angular.z}",
                flush=True,
            )

        node.create_subscription(Twist, topic, show_twist, 10)
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
