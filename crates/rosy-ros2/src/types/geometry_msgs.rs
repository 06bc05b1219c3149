//! `geometry_msgs`: vectors, points, quaternions, poses, twists and transforms, bare and
//! stamped, and their conversions to and from `rosy::msgs` ([`rosy::msgs::Vector3`],
//! [`rosy::msgs::Quaternion`], [`rosy::msgs::Pose`], [`rosy::msgs::PoseStamped`],
//! [`rosy::msgs::Twist`], [`rosy::msgs::TwistStamped`], [`rosy::msgs::Transform`],
//! [`rosy::msgs::FrameTransform`]). Every conversion is lossless but for the time stamps'
//! out-of-range seconds (see [`Time`](super::Time)). Plain serde values laid out as they
//! travel in CDR; nothing here touches DDS.

use rosy::msgs;
use serde::{Deserialize, Serialize};

use super::std_msgs::Header;

/// `geometry_msgs/msg/Vector3`; rosy form: [`msgs::Vector3`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Vector3 {
    /// The x component.
    pub x: f64,
    /// The y component.
    pub y: f64,
    /// The z component.
    pub z: f64,
}

/// `geometry_msgs/msg/Point`: a position; rosy form: [`msgs::Vector3`] (rosy has no separate
/// point type).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// The x coordinate.
    pub x: f64,
    /// The y coordinate.
    pub y: f64,
    /// The z coordinate.
    pub z: f64,
}

/// `geometry_msgs/msg/Quaternion`; rosy form: [`msgs::Quaternion`]. The default is no
/// rotation (`w` 1), as in the `.msg`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quaternion {
    /// The x component of the vector part.
    pub x: f64,
    /// The y component of the vector part.
    pub y: f64,
    /// The z component of the vector part.
    pub z: f64,
    /// The scalar part.
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

/// `geometry_msgs/msg/Pose`; rosy form: [`msgs::Pose`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    /// The position.
    pub position: Point,
    /// The orientation.
    pub orientation: Quaternion,
}

/// `geometry_msgs/msg/PoseStamped`; rosy form: [`msgs::PoseStamped`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PoseStamped {
    /// When, and the frame the pose is in.
    pub header: Header,
    /// The pose.
    pub pose: Pose,
}

/// `geometry_msgs/msg/Twist`; rosy form: [`msgs::Twist`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Twist {
    /// The linear velocity, in metres per second.
    pub linear: Vector3,
    /// The angular velocity, in radians per second.
    pub angular: Vector3,
}

/// `geometry_msgs/msg/TwistStamped`; rosy form: [`msgs::TwistStamped`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TwistStamped {
    /// When, and the frame the velocity is in.
    pub header: Header,
    /// The velocity.
    pub twist: Twist,
}

/// `geometry_msgs/msg/Transform`; rosy form: [`msgs::Transform`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Transform {
    /// Where the child frame's origin is in the parent frame.
    pub translation: Vector3,
    /// How the child frame is rotated relative to the parent frame.
    pub rotation: Quaternion,
}

/// `geometry_msgs/msg/TransformStamped` (what `/tf` carries, in a `TFMessage`); rosy form:
/// [`msgs::FrameTransform`], whose `parent_frame_id` is the header's `frame_id` and whose
/// `timestamp` is the header's `stamp`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TransformStamped {
    /// When, and the parent frame.
    pub header: Header,
    /// The frame the transform places.
    pub child_frame_id: String,
    /// Where the child frame is in the parent frame.
    pub transform: Transform,
}

impl ros2_client::Message for Vector3 {}
impl ros2_client::Message for Point {}
impl ros2_client::Message for Quaternion {}
impl ros2_client::Message for Pose {}
impl ros2_client::Message for PoseStamped {}
impl ros2_client::Message for Twist {}
impl ros2_client::Message for TwistStamped {}
impl ros2_client::Message for Transform {}
impl ros2_client::Message for TransformStamped {}

fn header(timestamp: msgs::Timestamp, frame_id: String) -> Header {
    Header {
        stamp: timestamp.into(),
        frame_id,
    }
}

impl From<Vector3> for msgs::Vector3 {
    fn from(v: Vector3) -> msgs::Vector3 {
        msgs::Vector3 {
            x: v.x,
            y: v.y,
            z: v.z,
        }
    }
}

impl From<msgs::Vector3> for Vector3 {
    fn from(v: msgs::Vector3) -> Vector3 {
        Vector3 {
            x: v.x,
            y: v.y,
            z: v.z,
        }
    }
}

impl From<Point> for msgs::Vector3 {
    fn from(p: Point) -> msgs::Vector3 {
        msgs::Vector3 {
            x: p.x,
            y: p.y,
            z: p.z,
        }
    }
}

impl From<msgs::Vector3> for Point {
    fn from(v: msgs::Vector3) -> Point {
        Point {
            x: v.x,
            y: v.y,
            z: v.z,
        }
    }
}

impl From<Quaternion> for msgs::Quaternion {
    fn from(q: Quaternion) -> msgs::Quaternion {
        msgs::Quaternion {
            x: q.x,
            y: q.y,
            z: q.z,
            w: q.w,
        }
    }
}

impl From<msgs::Quaternion> for Quaternion {
    fn from(q: msgs::Quaternion) -> Quaternion {
        Quaternion {
            x: q.x,
            y: q.y,
            z: q.z,
            w: q.w,
        }
    }
}

impl From<Pose> for msgs::Pose {
    fn from(p: Pose) -> msgs::Pose {
        msgs::Pose {
            position: p.position.into(),
            orientation: p.orientation.into(),
        }
    }
}

impl From<msgs::Pose> for Pose {
    fn from(p: msgs::Pose) -> Pose {
        Pose {
            position: p.position.into(),
            orientation: p.orientation.into(),
        }
    }
}

impl From<PoseStamped> for msgs::PoseStamped {
    fn from(p: PoseStamped) -> msgs::PoseStamped {
        msgs::PoseStamped {
            timestamp: p.header.stamp.into(),
            frame_id: p.header.frame_id,
            pose: p.pose.into(),
        }
    }
}

impl From<msgs::PoseStamped> for PoseStamped {
    fn from(p: msgs::PoseStamped) -> PoseStamped {
        PoseStamped {
            header: header(p.timestamp, p.frame_id),
            pose: p.pose.into(),
        }
    }
}

impl From<Twist> for msgs::Twist {
    fn from(t: Twist) -> msgs::Twist {
        msgs::Twist {
            linear: t.linear.into(),
            angular: t.angular.into(),
        }
    }
}

impl From<msgs::Twist> for Twist {
    fn from(t: msgs::Twist) -> Twist {
        Twist {
            linear: t.linear.into(),
            angular: t.angular.into(),
        }
    }
}

impl From<TwistStamped> for msgs::TwistStamped {
    fn from(t: TwistStamped) -> msgs::TwistStamped {
        msgs::TwistStamped {
            timestamp: t.header.stamp.into(),
            frame_id: t.header.frame_id,
            twist: t.twist.into(),
        }
    }
}

impl From<msgs::TwistStamped> for TwistStamped {
    fn from(t: msgs::TwistStamped) -> TwistStamped {
        TwistStamped {
            header: header(t.timestamp, t.frame_id),
            twist: t.twist.into(),
        }
    }
}

impl From<Transform> for msgs::Transform {
    fn from(t: Transform) -> msgs::Transform {
        msgs::Transform {
            translation: t.translation.into(),
            rotation: t.rotation.into(),
        }
    }
}

impl From<msgs::Transform> for Transform {
    fn from(t: msgs::Transform) -> Transform {
        Transform {
            translation: t.translation.into(),
            rotation: t.rotation.into(),
        }
    }
}

impl From<TransformStamped> for msgs::FrameTransform {
    fn from(t: TransformStamped) -> msgs::FrameTransform {
        msgs::FrameTransform {
            timestamp: t.header.stamp.into(),
            parent_frame_id: t.header.frame_id,
            child_frame_id: t.child_frame_id,
            translation: t.transform.translation.into(),
            rotation: t.transform.rotation.into(),
        }
    }
}

impl From<msgs::FrameTransform> for TransformStamped {
    fn from(t: msgs::FrameTransform) -> TransformStamped {
        TransformStamped {
            header: header(t.timestamp, t.parent_frame_id),
            child_frame_id: t.child_frame_id,
            transform: Transform {
                translation: t.translation.into(),
                rotation: t.rotation.into(),
            },
        }
    }
}
