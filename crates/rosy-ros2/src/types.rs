//! ROS 2 message and service types as they travel in CDR (field for field the `.msg` and `.srv`
//! definitions of ROS 2 Jazzy), and their conversions to and from `rosy::msgs`. Nothing here touches DDS: these are
//! plain serde values that ros2-client encodes.

use rosy::msgs::{Blob, RawImage, Timestamp};
use serde::{Deserialize, Serialize};

/// `builtin_interfaces/msg/Time`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Time {
    /// Seconds since the Unix epoch (ROS 2 time is signed).
    pub sec: i32,
    /// Nanoseconds past `sec`.
    pub nanosec: u32,
}

/// `std_msgs/msg/Header`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// When the data was taken.
    pub stamp: Time,
    /// The coordinate frame the data is in.
    pub frame_id: String,
}

/// `std_msgs/msg/String`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StringMsg {
    /// The text.
    pub data: String,
}

/// `sensor_msgs/msg/Image`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Acquisition time and the camera's optical frame.
    pub header: Header,
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
    /// Pixel encoding (`rgb8`, `mono8`, `bgr8`, `16UC1`...), as `sensor_msgs/image_encodings`.
    pub encoding: String,
    /// 1 if the pixel data is big-endian.
    pub is_bigendian: u8,
    /// Bytes of one row.
    pub step: u32,
    /// `step * height` bytes of pixels (a CDR `sequence<uint8>`, read and written whole).
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// `std_srvs/srv/SetBool` request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetBoolRequest {
    /// The value to set.
    pub data: bool,
}

/// `std_srvs/srv/Trigger` request: empty, but rosidl gives an empty message one byte, which
/// Fast DDS puts on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerRequest {
    /// Always 0.
    pub structure_needs_at_least_one_member: u8,
}

/// The response of `std_srvs/srv/SetBool` and of `std_srvs/srv/Trigger` (the same fields),
/// and of the rosy services that stand for them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Whether the call did what was asked.
    pub success: bool,
    /// What happened, for people.
    pub message: String,
}

impl ros2_client::Message for SetBoolRequest {}
impl ros2_client::Message for TriggerRequest {}
impl ros2_client::Message for Outcome {}
impl ros2_client::Message for Time {}
impl ros2_client::Message for Header {}
impl ros2_client::Message for StringMsg {}
impl ros2_client::Message for Image {}

impl From<Timestamp> for Time {
    fn from(t: Timestamp) -> Time {
        Time {
            // ROS 2 time is a signed 32-bit count of seconds; rosy's is unsigned. Past 2038 the
            // value is clamped rather than wrapped.
            sec: i32::try_from(t.sec).unwrap_or(i32::MAX),
            nanosec: t.nsec,
        }
    }
}

impl From<Time> for Timestamp {
    fn from(t: Time) -> Timestamp {
        Timestamp {
            // A time before the epoch has no rosy form: it becomes the epoch.
            sec: u32::try_from(t.sec).unwrap_or(0),
            nsec: t.nanosec,
        }
    }
}

impl From<Image> for RawImage {
    fn from(image: Image) -> RawImage {
        RawImage {
            timestamp: image.header.stamp.into(),
            frame_id: image.header.frame_id,
            width: image.width,
            height: image.height,
            encoding: image.encoding,
            step: image.step,
            data: Blob(image.data),
        }
    }
}

impl From<RawImage> for Image {
    fn from(image: RawImage) -> Image {
        Image {
            header: Header {
                stamp: image.timestamp.into(),
                frame_id: image.frame_id,
            },
            height: image.height,
            width: image.width,
            encoding: image.encoding,
            // rosy images are in the machine's order, and every machine rosy runs on is
            // little-endian.
            is_bigendian: 0,
            step: image.step,
            data: image.data.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_keeps_every_field_both_ways() {
        let raw = RawImage {
            timestamp: Timestamp {
                sec: 1_764_063_413,
                nsec: 123_456_789,
            },
            frame_id: "camera_optical".into(),
            width: 4,
            height: 2,
            encoding: "rgb8".into(),
            step: 12,
            data: Blob((0..24).collect()),
        };
        let ros: Image = raw.clone().into();
        assert_eq!(
            ros.header.stamp,
            Time {
                sec: 1_764_063_413,
                nanosec: 123_456_789
            }
        );
        assert_eq!(
            (ros.width, ros.height, ros.step, ros.is_bigendian),
            (4, 2, 12, 0)
        );
        assert_eq!(RawImage::from(ros), raw);
    }

    #[test]
    fn times_outside_the_other_range_are_clamped_not_wrapped() {
        let late = Timestamp {
            sec: u32::MAX,
            nsec: 5,
        };
        assert_eq!(Time::from(late).sec, i32::MAX);
        let early = Time {
            sec: -3,
            nanosec: 7,
        };
        assert_eq!(Timestamp::from(early), Timestamp { sec: 0, nsec: 7 });
    }
}
