//! Positions, orientations and frame transforms (`foxglove.FrameTransform`).

use super::Timestamp;

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
    pub x: f64,
    pub y: f64,
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
    pub x: f64,
    pub y: f64,
    pub z: f64,
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
    pub position: Vector3,
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
    pub timestamp: Timestamp,
    pub parent_frame_id: String,
    pub child_frame_id: String,
    pub translation: Vector3,
    pub rotation: Quaternion,
}
