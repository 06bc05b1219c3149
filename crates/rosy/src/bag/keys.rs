//! The metadata keys rosy writes on every channel of a bag and reads back: the codec, the Rust
//! type and the publisher's quality of service of the channel's messages.

/// Channel metadata key holding the rosy codec name of a channel's messages.
pub const CODEC_KEY: &str = "rosy.codec";
/// Channel metadata key holding the Rust type name of a channel's messages (may be empty).
pub const TYPE_KEY: &str = "rosy.type";
/// Channel metadata key holding the quality of service the topic's publisher announced
/// (`rosy::qos::Qos` as JSON); absent when it announced none.
pub const QOS_KEY: &str = "rosy.qos";
