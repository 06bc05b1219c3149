//! ROS 2 message and service types as they travel in CDR (field for field the `.msg` and `.srv`
//! definitions of ROS 2 Jazzy, in order), and their conversions to and from `rosy::msgs`, one
//! module per ROS package. Nothing here touches DDS: these are plain serde values that
//! ros2-client encodes.
//!
//! Each message type with a rosy form converts with `From` both ways, lossless for the fields
//! both sides have; each type's doc says which fields one side lacks. The bridge's table of
//! them is `crate::convert` ([`crate::known_types`]). The layouts are checked against bytes rclpy wrote
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
