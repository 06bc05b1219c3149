//! The metadata keys rosy writes on every channel of a bag and reads back: the codec, the Rust
//! type and the publisher's quality of service of the channel's messages; and the MCAP
//! encodings of channels in ROS 2's form. Names only: nothing here reads or writes a file.

/// Channel metadata key holding the rosy codec name of a channel's messages.
pub const CODEC_KEY: &str = "rosy.codec";
/// Channel metadata key holding the Rust type name of a channel's messages (may be empty).
pub const TYPE_KEY: &str = "rosy.type";
/// Channel metadata key holding the quality of service the topic's publisher announced
/// (`rosy::qos::Qos` as JSON); absent when it announced none.
pub const QOS_KEY: &str = "rosy.qos";

/// The `message_encoding` of a channel in ROS 2's form: each message is ROS 2's serialized
/// form (the 4-byte CDR encapsulation header, then CDR), as ROS 2's recorder writes it. Such a
/// channel's [`CODEC_KEY`] is `raw` and its [`TYPE_KEY`] the ROS 2 type (`pkg/msg/Type`).
pub const CDR_ENCODING: &str = "cdr";
/// The schema encoding of a channel in ROS 2's form: the type's `.msg` text and its
/// dependencies' (MCAP's `ros2msg` profile).
pub const ROS2MSG_ENCODING: &str = "ros2msg";
