//! Positions, orientations and frame transforms (`foxglove.FrameTransform`).

use super::stamp::Timestamp;

/// A vector or a position in 3D, in metres.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    serde::Serialize,
    serde::Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Vector3 {
    /// The x component, in metres.
    pub x: f64,
    /// The y component, in metres.
    pub y: f64,
    /// The z component, in metres.
    pub z: f64,
}

/// A rotation as a unit quaternion; the default is no rotation.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    serde::Serialize,
    serde::Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Quaternion {
    /// The x component of the vector part.
    pub x: f64,
    /// The y component of the vector part.
    pub y: f64,
    /// The z component of the vector part.
    pub z: f64,
    /// The scalar part (1 with x, y, z at 0: no rotation).
    pub w: f64,
}

impl Default for Quaternion {
    fn default() -> Self {
        Quaternion {
            x: 0.0,
            y: 0.0,
            z: 0.0,
            w: 1.0,
        }
    }
}

/// A position and an orientation (`foxglove.Pose`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    serde::Serialize,
    serde::Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Pose {
    /// The position, in metres.
    pub position: Vector3,
    /// The orientation.
    pub orientation: Quaternion,
}

/// Where frame `child_frame_id` is in frame `parent_frame_id` at `timestamp`
/// (`foxglove.FrameTransform`, what the 3D panel builds its frame tree from).
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    serde::Serialize,
    serde::Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct FrameTransform {
    /// The time at which the transform holds.
    pub timestamp: Timestamp,
    /// The frame the transform is expressed in.
    pub parent_frame_id: String,
    /// The frame the transform places.
    pub child_frame_id: String,
    /// Where the child frame's origin is in the parent frame, in metres.
    pub translation: Vector3,
    /// How the child frame is rotated relative to the parent frame.
    pub rotation: Quaternion,
}
