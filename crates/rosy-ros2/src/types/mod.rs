//! ROS 2 message and service types as they travel in CDR (field for field the `.msg` and `.srv`
//! definitions of ROS 2 Jazzy, in order), and their conversions to and from `rosy::msgs`, one
//! module per ROS package. Nothing here touches DDS: these are plain serde values that
//! ros2-client encodes.
//!
//! Each message type with a rosy form converts with `From` both ways, lossless for the fields
//! both sides have; each type's doc says which fields one side lacks. [`KNOWN`] lists them by
//! their ROS 2 names. The layouts are checked against bytes rclpy wrote
//! (`tests/golden/make_golden.py`).

mod builtin;
mod geometry_msgs;
mod rcl_interfaces;
mod sensor_msgs;
mod std_msgs;
mod std_srvs;

#[cfg(test)]
mod tests;

pub use builtin::Time;
pub use geometry_msgs::{
    Point, Pose, PoseStamped, Quaternion, Transform, TransformStamped, Twist, TwistStamped, Vector3,
};
pub use rcl_interfaces::Log;
pub use sensor_msgs::{
    CameraInfo, CompressedImage, Image, Imu, PointCloud2, PointField, RegionOfInterest,
};
pub use std_msgs::{
    BoolMsg, Float32Msg, Float64Msg, Header, Int8Msg, Int16Msg, Int32Msg, Int64Msg, StringMsg,
    UInt8Msg, UInt16Msg, UInt32Msg, UInt64Msg,
};
pub use std_srvs::{Outcome, SetBoolRequest, TriggerRequest};

/// The ROS 2 message types with a rosy form (a `From` both ways between the type here and a
/// rosy type), by their full ROS 2 names.
pub const KNOWN: &[&str] = &[
    "builtin_interfaces/msg/Time",
    "std_msgs/msg/String",
    "std_msgs/msg/Bool",
    "std_msgs/msg/Int8",
    "std_msgs/msg/Int16",
    "std_msgs/msg/Int32",
    "std_msgs/msg/Int64",
    "std_msgs/msg/UInt8",
    "std_msgs/msg/UInt16",
    "std_msgs/msg/UInt32",
    "std_msgs/msg/UInt64",
    "std_msgs/msg/Float32",
    "std_msgs/msg/Float64",
    "geometry_msgs/msg/Vector3",
    "geometry_msgs/msg/Point",
    "geometry_msgs/msg/Quaternion",
    "geometry_msgs/msg/Pose",
    "geometry_msgs/msg/PoseStamped",
    "geometry_msgs/msg/Twist",
    "geometry_msgs/msg/TwistStamped",
    "geometry_msgs/msg/Transform",
    "geometry_msgs/msg/TransformStamped",
    "sensor_msgs/msg/Image",
    "sensor_msgs/msg/CompressedImage",
    "sensor_msgs/msg/PointCloud2",
    "sensor_msgs/msg/Imu",
    "sensor_msgs/msg/RegionOfInterest",
    "sensor_msgs/msg/CameraInfo",
    "rcl_interfaces/msg/Log",
];
