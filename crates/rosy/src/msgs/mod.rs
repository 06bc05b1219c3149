//! Standard robot message types: images, point clouds, frame transforms, poses and velocities,
//! IMU readings, camera calibrations, log lines and scalar samples, ready for rosy's codecs and
//! for Foxglove.
//!
//! Every type here is a serde value (msgpack or JSON through any rosy codec) and an rkyv
//! archive (`Node::archive_publisher` writes it straight into shared memory, same-host readers
//! read it in place: `recv_archived()?.access::<ArchivedRawImage>()`). Five map to one of
//! Foxglove's well-known schemas ([`KnownType`]: `foxglove.RawImage`, `foxglove.CompressedImage`,
//! `foxglove.PointCloud`, `foxglove.FrameTransform`, `foxglove.Log`), so the bridge
//! (`rosy foxglove`) and Foxglove bags (`rosy bag record --foxglove`) turn them into JSON that
//! Foxglove's panels read: byte fields as base64, enums as numbers, times as `{sec, nsec}`.
//! [`Scalar`] has no Foxglove counterpart; its schema `rosy.Scalar` is a JSON schema whose
//! `value` the Plot panel plots. The types that stand for ROS 2 messages with no Foxglove
//! schema ([`Imu`], [`CameraInfo`], [`Twist`], [`TwistStamped`], [`PoseStamped`],
//! [`Transform`]) are plain serde and rkyv values, not [`KnownType`]s.
//!
//! This module only describes and converts values: it never touches a node or a file.

mod blob;
mod camera_info;
mod cloud;
mod geometry;
mod image;
mod imu;
mod json_form;
mod known;
mod log;
mod scalar;
mod schema;
mod stamp;

pub use blob::Blob;
pub use camera_info::{ArchivedCameraInfo, ArchivedRegionOfInterest, CameraInfo, RegionOfInterest};
pub use cloud::{
    ArchivedPackedElementField, ArchivedPointCloud, NumericType, PackedElementField, PointCloud,
};
pub use geometry::{
    ArchivedFrameTransform, ArchivedPose, ArchivedPoseStamped, ArchivedQuaternion,
    ArchivedTransform, ArchivedTwist, ArchivedTwistStamped, ArchivedVector3, FrameTransform, Pose,
    PoseStamped, Quaternion, Transform, Twist, TwistStamped, Vector3,
};
pub use image::{ArchivedCompressedImage, ArchivedRawImage, CompressedImage, RawImage};
pub use imu::{ArchivedImu, Imu};
pub use json_form::{JsonForm, JsonSchema};
pub use known::{KnownType, MsgError};
pub use log::{ArchivedLog, Log, LogLevel};
pub use scalar::{ArchivedScalar, Scalar};
pub use stamp::{ArchivedTimestamp, Timestamp};
