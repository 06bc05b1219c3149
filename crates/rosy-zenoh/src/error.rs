//! [`ZenohBridgeError`]: why a bridge could not start.

/// Why a bridge could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ZenohBridgeError {
    /// The bridge's settings are wrong; the message names the setting.
    #[error("{0}")]
    Config(String),
    /// zenoh refused to open a session or declare something.
    #[error("zenoh: {0}")]
    Zenoh(String),
    /// The rosy side failed (a node could not start, a name was refused).
    #[error(transparent)]
    Rosy(#[from] rosy::Error),
}

impl ZenohBridgeError {
    pub(crate) fn zenoh(e: impl std::fmt::Display) -> Self {
        ZenohBridgeError::Zenoh(e.to_string())
    }
}
