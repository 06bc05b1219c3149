"""Golden CDR bytes from real ROS 2 (Jazzy's rclpy) for the types in
crates/rosy-ros2/src/types/, which embeds them in its unit tests (types/tests.rs).

Run with a Python that has ROS 2 Jazzy's rclpy and message packages, e.g.

    /work/main/target/ros2-venv/bin/python crates/rosy-ros2/tests/golden/make_golden.py

It prints one line per type: the ROS 2 type name and the hex of its CDR bytes, without the
4-byte encapsulation header (`00 01 00 00`, CDR little-endian), which it checks and strips.
Every field holds a distinctive value (none at its default), so a field out of place shows.
The values here must match the expected structs in types/tests.rs.

Padding: rmw serializes into a buffer it does not clear, so the alignment padding between
fields (and after the last one, up to a multiple of 4) is whatever memory held before: it
changes from run to run. The script finds the padding as the bytes rclpy's own deserializer
ignores: a byte is padding if the message decodes equal whichever of its bits 0, 1, 7 or all
are flipped (every data byte changes the message or fails to decode under one of those: a
float's low bit, a string's character or terminator, a length's bit 1 or 7). It sets those to
zero, as cdr_encoding writes padding, and checks the result still decodes to the same
message. (Fast CDR prints "sequence size exceeds remaining buffer" on stderr for some probes:
expected.)
"""


from builtin_interfaces.msg import Time
from geometry_msgs.msg import (
    Point,
    Pose,
    PoseStamped,
    Quaternion,
    Transform,
    TransformStamped,
    Twist,
    TwistStamped,
    Vector3,
)
from rcl_interfaces.msg import Log
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import (
    CameraInfo,
    CompressedImage,
    Image,
    Imu,
    PointCloud2,
    PointField,
    RegionOfInterest,
)
from std_msgs.msg import (
    Bool,
    Float32,
    Float64,
    Header,
    Int8,
    Int16,
    Int32,
    Int64,
    String,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
)
from std_srvs.srv import SetBool, Trigger


def stamp():
    return Time(sec=1_764_063_413, nanosec=123_456_789)


def header(frame_id="base_link"):
    return Header(stamp=stamp(), frame_id=frame_id)


def vec(x, y, z):
    return Vector3(x=x, y=y, z=z)


def quat():
    return Quaternion(x=0.125, y=-0.25, z=0.5, w=0.8125)


MESSAGES = [
    ("builtin_interfaces/msg/Time", stamp()),
    ("std_msgs/msg/Header", header()),
    ("std_msgs/msg/String", String(data="hello, ros")),
    ("std_msgs/msg/Bool", Bool(data=True)),
    ("std_msgs/msg/Int8", Int8(data=-100)),
    ("std_msgs/msg/Int16", Int16(data=-30_000)),
    ("std_msgs/msg/Int32", Int32(data=-2_000_000_000)),
    ("std_msgs/msg/Int64", Int64(data=-9_000_000_000_000_000_000)),
    ("std_msgs/msg/UInt8", UInt8(data=200)),
    ("std_msgs/msg/UInt16", UInt16(data=60_000)),
    ("std_msgs/msg/UInt32", UInt32(data=4_000_000_000)),
    ("std_msgs/msg/UInt64", UInt64(data=18_000_000_000_000_000_000)),
    ("std_msgs/msg/Float32", Float32(data=-1.5)),
    ("std_msgs/msg/Float64", Float64(data=3.141592653589793)),
    ("geometry_msgs/msg/Vector3", vec(1.5, -2.25, 3.0)),
    ("geometry_msgs/msg/Point", Point(x=-4.5, y=5.25, z=-6.0)),
    ("geometry_msgs/msg/Quaternion", quat()),
    ("geometry_msgs/msg/Pose", Pose(position=Point(x=1.0, y=2.0, z=3.0), orientation=quat())),
    (
        "geometry_msgs/msg/PoseStamped",
        PoseStamped(
            header=header("map"),
            pose=Pose(position=Point(x=7.0, y=-8.0, z=9.5), orientation=quat()),
        ),
    ),
    ("geometry_msgs/msg/Twist", Twist(linear=vec(0.5, 0.0, -0.5), angular=vec(0.0, 0.1, 1.25))),
    (
        "geometry_msgs/msg/TwistStamped",
        TwistStamped(
            header=header("odom"),
            twist=Twist(linear=vec(1.0, 2.0, 3.0), angular=vec(-1.0, -2.0, -3.0)),
        ),
    ),
    ("geometry_msgs/msg/Transform", Transform(translation=vec(0.1, 0.2, 0.3), rotation=quat())),
    (
        "geometry_msgs/msg/TransformStamped",
        TransformStamped(
            header=header("world"),
            child_frame_id="camera",
            transform=Transform(translation=vec(-0.5, 1.5, 2.5), rotation=quat()),
        ),
    ),
    (
        "sensor_msgs/msg/Image",
        Image(
            header=header("camera_optical"),
            height=2,
            width=3,
            encoding="rgb8",
            is_bigendian=0,
            step=9,
            data=bytes(range(18)),
        ),
    ),
    (
        "sensor_msgs/msg/CompressedImage",
        CompressedImage(
            header=header("camera_optical"), format="jpeg", data=bytes([0xFF, 0xD8, 0xFF, 0xE0, 7])
        ),
    ),
    (
        "sensor_msgs/msg/PointField",
        PointField(name="intensity", offset=12, datatype=PointField.FLOAT32, count=1),
    ),
    (
        "sensor_msgs/msg/PointCloud2",
        PointCloud2(
            header=header("lidar"),
            height=1,
            width=2,
            fields=[
                PointField(name="x", offset=0, datatype=PointField.FLOAT32, count=1),
                PointField(name="y", offset=4, datatype=PointField.FLOAT32, count=1),
                PointField(name="z", offset=8, datatype=PointField.FLOAT32, count=1),
                PointField(name="ring", offset=12, datatype=PointField.UINT16, count=1),
            ],
            is_bigendian=False,
            point_step=14,
            row_step=28,
            data=bytes(range(100, 128)),
            is_dense=True,
        ),
    ),
    (
        "sensor_msgs/msg/Imu",
        Imu(
            header=header("imu_link"),
            orientation=quat(),
            orientation_covariance=[float(i) + 0.5 for i in range(9)],
            angular_velocity=vec(0.01, -0.02, 0.03),
            angular_velocity_covariance=[float(i) * -1.0 for i in range(9)],
            linear_acceleration=vec(0.1, 0.2, 9.81),
            linear_acceleration_covariance=[float(i) * 0.25 for i in range(9)],
        ),
    ),
    (
        "sensor_msgs/msg/RegionOfInterest",
        RegionOfInterest(x_offset=10, y_offset=20, height=30, width=40, do_rectify=True),
    ),
    (
        "sensor_msgs/msg/CameraInfo",
        CameraInfo(
            header=header("camera_optical"),
            height=480,
            width=640,
            distortion_model="plumb_bob",
            d=[-0.25, 0.125, 0.001, -0.002, 0.0625],
            k=[500.0, 0.0, 320.5, 0.0, 501.0, 240.5, 0.0, 0.0, 1.0],
            r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            p=[500.0, 0.0, 320.5, -35.0, 0.0, 501.0, 240.5, 0.0, 0.0, 0.0, 1.0, 0.0],
            binning_x=2,
            binning_y=3,
            roi=RegionOfInterest(x_offset=10, y_offset=20, height=30, width=40, do_rectify=True),
        ),
    ),
    (
        "rcl_interfaces/msg/Log",
        Log(
            stamp=stamp(),
            level=Log.WARN,
            name="talker",
            msg="battery low",
            file="talker.cpp",
            function="on_timer",
            line=42,
        ),
    ),
    ("std_srvs/srv/SetBool_Request", SetBool.Request(data=True)),
    ("std_srvs/srv/SetBool_Response", SetBool.Response(success=True, message="done")),
    ("std_srvs/srv/Trigger_Request", Trigger.Request()),
    ("std_srvs/srv/Trigger_Response", Trigger.Response(success=False, message="busy")),
]


def decodes_equal(msg, data, i, flip):
    probe = bytearray(data)
    probe[i] ^= flip
    try:
        return deserialize_message(bytes(probe), type(msg)) == msg
    except Exception:
        return False


def zero_padding(msg, data):
    """`data` with the bytes rclpy's deserializer ignores set to zero (see the module doc)."""
    kind = type(msg)
    assert deserialize_message(data, kind) == msg
    out = bytearray(data)
    for i in range(4, len(data)):
        if all(decodes_equal(msg, data, i, flip) for flip in (0x01, 0x02, 0x80, 0xFF)):
            out[i] = 0
    out = bytes(out)
    assert deserialize_message(out, kind) == msg
    return out


def main():
    for name, msg in MESSAGES:
        data = serialize_message(msg)
        assert data[:4] == b"\x00\x01\x00\x00", (name, data[:4])
        print(name, zero_padding(msg, data)[4:].hex())


if __name__ == "__main__":
    main()
