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

/// A rigid motion without a time or frames: where a frame's origin is and how it is rotated,
/// relative to another (what [`FrameTransform`] carries, bare).
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
pub struct Transform {
    /// Where the moved frame's origin is, in metres.
    pub translation: Vector3,
    /// How the moved frame is rotated.
    pub rotation: Quaternion,
}

/// A velocity: `linear` in metres per second and `angular` in radians per second (about x, y
/// and z), as a robot base is commanded or reports it.
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
pub struct Twist {
    /// The linear velocity, in metres per second.
    pub linear: Vector3,
    /// The angular velocity about x, y and z, in radians per second.
    pub angular: Vector3,
}

/// A [`Pose`] in frame `frame_id` at `timestamp`.
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
pub struct PoseStamped {
    /// The time at which the pose holds.
    pub timestamp: Timestamp,
    /// The frame the pose is expressed in.
    pub frame_id: String,
    /// The position and orientation.
    pub pose: Pose,
}

/// A [`Twist`] in frame `frame_id` at `timestamp`.
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
pub struct TwistStamped {
    /// The time at which the velocity holds.
    pub timestamp: Timestamp,
    /// The frame the velocity is expressed in.
    pub frame_id: String,
    /// The linear and angular velocity.
    pub twist: Twist,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamped_poses_and_twists_survive_msgpack_and_rkyv() {
        let pose = PoseStamped {
            timestamp: Timestamp { sec: 3, nsec: 4 },
            frame_id: "map".into(),
            pose: Pose {
                position: Vector3 {
                    x: 1.0,
                    y: 2.0,
                    z: 3.0,
                },
                orientation: Quaternion::default(),
            },
        };
        let twist = TwistStamped {
            timestamp: Timestamp { sec: 5, nsec: 6 },
            frame_id: "base_link".into(),
            twist: Twist {
                linear: Vector3 {
                    x: 0.5,
                    y: 0.0,
                    z: 0.0,
                },
                angular: Vector3 {
                    x: 0.0,
                    y: 0.0,
                    z: -1.25,
                },
            },
        };
        let packed = rmp_serde::to_vec_named(&pose).unwrap();
        assert_eq!(rmp_serde::from_slice::<PoseStamped>(&packed).unwrap(), pose);
        let packed = rmp_serde::to_vec_named(&twist).unwrap();
        assert_eq!(
            rmp_serde::from_slice::<TwistStamped>(&packed).unwrap(),
            twist
        );
        let archived = rkyv::to_bytes::<rkyv::rancor::Error>(&twist).unwrap();
        let read = rkyv::access::<ArchivedTwistStamped, rkyv::rancor::Error>(&archived).unwrap();
        assert_eq!(read.twist.angular.z, -1.25);
        assert_eq!(read.frame_id, "base_link");
        assert_eq!(Transform::default().rotation.w, 1.0);
    }
}
