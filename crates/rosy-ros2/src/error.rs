//! [`Ros2Error`]: why a bridge could not start.

/// Why a bridge could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Ros2Error {
    /// A setting is out of range or a name is not a valid ROS 2 name.
    #[error("ROS 2 bridge: {0}")]
    Config(String),
    /// The DDS participant, a topic, a reader or a writer could not be made.
    #[error("ROS 2 bridge: {what}: {reason}")]
    Dds {
        /// What was being made.
        what: String,
        /// What RustDDS said.
        reason: String,
    },
    /// The rosy side refused a publisher or subscriber.
    #[error("ROS 2 bridge: {0}")]
    Rosy(#[from] rosy::Error),
}
