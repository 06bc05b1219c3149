//! Which ROS 2 message types rosy converts, and to what: a table of [`Conversion`]s, each
//! naming the functions that start a route's rosy side for that type. A type not in the table
//! crosses as CDR bytes ([`crate::rosy_side::opaque_from_ros2`]). Data and lookups only.

use crate::cdr::Cdr;
use crate::error::Ros2Error;
use crate::rosy_side::{self, Starting};
use crate::routes::{Ros2Type, TopicRoute};
use crate::types;
use rosy::msgs;
use rosy::node::Received;
use tokio::sync::mpsc;

/// How one ROS 2 type crosses: the rosy side of a route from ROS 2 and of one to ROS 2.
pub(crate) struct Conversion {
    /// The ROS 2 name (`sensor_msgs/msg/Image`).
    pub ros2_name: &'static str,
    /// Publishes what the DDS reader hands over on the rosy topic, converted.
    pub from_ros2: fn(rosy::Node, TopicRoute, mpsc::Receiver<Cdr>) -> Starting,
    /// A rosy message of this type, converted and encoded as CDR.
    pub to_cdr: fn(&Received) -> Result<Cdr, String>,
    /// The Rust type name of the rosy form, as its publishers announce it.
    pub rosy_type_name: fn() -> &'static str,
}

/// A type carried on rosy in the node's serde codec (msgpack by default): `R` on ROS 2, `Y`
/// on rosy.
macro_rules! serde_form {
    ($name:literal, $ros:ty, $rosy:ty) => {
        Conversion {
            ros2_name: $name,
            from_ros2: |node, route, rx| {
                Box::pin(rosy_side::serde_from_ros2::<$ros, $rosy>(node, route, rx))
            },
            to_cdr: rosy_side::serde_to_cdr::<$ros, $rosy>,
            rosy_type_name: std::any::type_name::<$rosy>,
        }
    };
}

/// A type carried on rosy as an rkyv archive (large frames: same-host readers read them in
/// place).
macro_rules! archived_form {
    ($name:literal, $ros:ty, $rosy:ty) => {
        Conversion {
            ros2_name: $name,
            from_ros2: |node, route, rx| {
                Box::pin(rosy_side::archived_from_ros2::<$ros, $rosy>(
                    node, route, rx,
                ))
            },
            to_cdr: rosy_side::archived_to_cdr::<$ros, $rosy>,
            rosy_type_name: std::any::type_name::<$rosy>,
        }
    };
}

/// Every ROS 2 type with a rosy form.
static CONVERSIONS: &[Conversion] = &[
    serde_form!("builtin_interfaces/msg/Time", types::Time, msgs::Timestamp),
    serde_form!("std_msgs/msg/String", types::StringMsg, String),
    serde_form!("std_msgs/msg/Bool", types::BoolMsg, bool),
    serde_form!("std_msgs/msg/Int8", types::Int8Msg, i8),
    serde_form!("std_msgs/msg/Int16", types::Int16Msg, i16),
    serde_form!("std_msgs/msg/Int32", types::Int32Msg, i32),
    serde_form!("std_msgs/msg/Int64", types::Int64Msg, i64),
    serde_form!("std_msgs/msg/UInt8", types::UInt8Msg, u8),
    serde_form!("std_msgs/msg/UInt16", types::UInt16Msg, u16),
    serde_form!("std_msgs/msg/UInt32", types::UInt32Msg, u32),
    serde_form!("std_msgs/msg/UInt64", types::UInt64Msg, u64),
    serde_form!("std_msgs/msg/Float32", types::Float32Msg, f32),
    serde_form!("std_msgs/msg/Float64", types::Float64Msg, f64),
    serde_form!("geometry_msgs/msg/Vector3", types::Vector3, msgs::Vector3),
    serde_form!("geometry_msgs/msg/Point", types::Point, msgs::Vector3),
    serde_form!(
        "geometry_msgs/msg/Quaternion",
        types::Quaternion,
        msgs::Quaternion
    ),
    serde_form!("geometry_msgs/msg/Pose", types::Pose, msgs::Pose),
    serde_form!(
        "geometry_msgs/msg/PoseStamped",
        types::PoseStamped,
        msgs::PoseStamped
    ),
    serde_form!("geometry_msgs/msg/Twist", types::Twist, msgs::Twist),
    serde_form!(
        "geometry_msgs/msg/TwistStamped",
        types::TwistStamped,
        msgs::TwistStamped
    ),
    serde_form!(
        "geometry_msgs/msg/Transform",
        types::Transform,
        msgs::Transform
    ),
    serde_form!(
        "geometry_msgs/msg/TransformStamped",
        types::TransformStamped,
        msgs::FrameTransform
    ),
    serde_form!("sensor_msgs/msg/Imu", types::Imu, msgs::Imu),
    serde_form!(
        "sensor_msgs/msg/RegionOfInterest",
        types::RegionOfInterest,
        msgs::RegionOfInterest
    ),
    serde_form!(
        "sensor_msgs/msg/CameraInfo",
        types::CameraInfo,
        msgs::CameraInfo
    ),
    serde_form!("rcl_interfaces/msg/Log", types::Log, msgs::Log),
    // Frames: written straight into shared memory, read there in place.
    archived_form!("sensor_msgs/msg/Image", types::Image, msgs::RawImage),
    archived_form!(
        "sensor_msgs/msg/CompressedImage",
        types::CompressedImage,
        msgs::CompressedImage
    ),
    archived_form!(
        "sensor_msgs/msg/PointCloud2",
        types::PointCloud2,
        msgs::PointCloud
    ),
];

/// The conversion of the type named `ros2_name` (`pkg/msg/Type`), if rosy has one.
pub(crate) fn find(ros2_name: &str) -> Option<&'static Conversion> {
    CONVERSIONS.iter().find(|c| c.ros2_name == ros2_name)
}

impl Ros2Type {
    /// Whether rosy converts this type to a rosy form (else it crosses as CDR bytes). Defined
    /// here, beside the table, so that the routes (data) never look the table up themselves.
    pub fn has_rosy_form(&self) -> bool {
        find(&self.name()).is_some()
    }
}

/// The full names of the types with a rosy form, for help and error messages.
pub fn known_types() -> Vec<&'static str> {
    CONVERSIONS.iter().map(|c| c.ros2_name).collect()
}

/// The ROS 2 type whose rosy form is the Rust type `rosy_type_name` (as a publisher announced
/// it: `rosy::msgs::image::RawImage`), the first in the table when several share one
/// (`geometry_msgs/msg/Vector3` before `Point`).
pub fn ros2_type_of(rosy_type_name: &str) -> Option<&'static str> {
    CONVERSIONS
        .iter()
        .find(|c| (c.rosy_type_name)() == rosy_type_name)
        .map(|c| c.ros2_name)
}

/// A rosy message of a type with a rosy form, as ROS 2 serializes its `ros2_type` (the
/// encapsulation header, then CDR): what a bag in ROS 2's MCAP form stores.
pub fn to_ros2_serialized(ros2_type: &str, message: &Received) -> Result<Vec<u8>, Ros2Error> {
    let conversion = find(ros2_type).ok_or_else(|| {
        Ros2Error::Config(format!("{ros2_type} has no rosy form to convert from"))
    })?;
    (conversion.to_cdr)(message)
        .map(|cdr| cdr.to_serialized())
        .map_err(|reason| {
            Ros2Error::Config(format!(
                "a message is not a {ros2_type} in its rosy form: {reason}"
            ))
        })
}

/// Starts the rosy side of `route`: converted when its type has a rosy form, else CDR bytes.
pub(crate) async fn start_from_ros2(
    node: &rosy::Node,
    route: &TopicRoute,
    rx: mpsc::Receiver<Cdr>,
) -> Result<rosy_side::Task, Ros2Error> {
    match find(&route.ros2_type.name()) {
        Some(conversion) => (conversion.from_ros2)(node.clone(), route.clone(), rx).await,
        None => rosy_side::opaque_from_ros2(node.clone(), route.clone(), rx).await,
    }
}

/// Starts the rosy side of `route` to ROS 2.
pub(crate) async fn start_to_ros2(
    node: &rosy::Node,
    route: &TopicRoute,
    tx: mpsc::Sender<Cdr>,
) -> Result<rosy_side::Task, Ros2Error> {
    match find(&route.ros2_type.name()) {
        Some(conversion) => {
            rosy_side::converted_to_ros2(node.clone(), route.clone(), tx, conversion.to_cdr).await
        }
        None => rosy_side::opaque_to_ros2(node.clone(), route.clone(), tx).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_is_listed_once_with_a_valid_name() {
        let names = known_types();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "a type listed twice");
        for name in names {
            let parsed = Ros2Type::parse(name).unwrap();
            assert_eq!(parsed.name(), name);
            assert!(parsed.has_rosy_form());
        }
        assert!(find("sensor_msgs/msg/Temperature").is_none());
        assert_eq!(
            ros2_type_of(std::any::type_name::<rosy::msgs::RawImage>()),
            Some("sensor_msgs/msg/Image")
        );
        assert_eq!(
            ros2_type_of(std::any::type_name::<rosy::msgs::Vector3>()),
            Some("geometry_msgs/msg/Vector3")
        );
    }

    #[test]
    fn a_rosy_message_converts_to_ros2_serialized_form() {
        use rosy::codec::Codec;
        let mut payload = Vec::new();
        rosy::codec::MsgPack
            .encode(&"hi".to_string(), &mut payload)
            .unwrap();
        let message = Received {
            codec: rosy::codec::CodecId::MsgPack,
            payload: payload.into(),
        };
        let serialized = to_ros2_serialized("std_msgs/msg/String", &message).unwrap();
        // CDR_LE header, length 3 (with the NUL), "hi\0".
        assert_eq!(serialized, [0, 1, 0, 0, 3, 0, 0, 0, b'h', b'i', 0]);
        let err = to_ros2_serialized("std_msgs/msg/Bool", &message).unwrap_err();
        assert!(err.to_string().contains("std_msgs/msg/Bool"), "{err}");
    }
}
