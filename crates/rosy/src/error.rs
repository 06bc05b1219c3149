//! The errors of rosy's public API: one enum a caller can match.

use crate::codec::CodecError;
use std::time::Duration;

/// Everything a node operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no node in domain {domain:?} provides service {service:?}")]
    NoProvider { service: String, domain: String },
    #[error("no node in domain {domain:?} listens to topic {topic:?} (waited {waited:?})")]
    NoListener {
        topic: String,
        domain: String,
        waited: Duration,
    },
    #[error(
        "{found} of the {wanted} nodes waited for listen to topic {topic:?} in domain {domain:?} \
         (waited {waited:?})"
    )]
    FewListeners {
        topic: String,
        domain: String,
        wanted: usize,
        found: usize,
        waited: Duration,
    },
    #[error("call to service {service:?} timed out after {timeout:?}")]
    Timeout { service: String, timeout: Duration },
    #[error("service {service:?} failed: {message}")]
    Handler { service: String, message: String },
    #[error("the node providing {service:?} went away during the call")]
    ProviderGone { service: String },
    #[error("codec mismatch on {name:?}: {detail}")]
    CodecMismatch { name: String, detail: String },
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("discovery: {0}")]
    Discovery(#[from] crate::discovery::DiscoveryError),
    #[error(
        "reliable subscriber {subscriber} of topic {topic:?} took no message for {waited:?}: it is too slow or frozen (the message was not sent to it)"
    )]
    SlowSubscriber {
        topic: String,
        subscriber: String,
        waited: std::time::Duration,
    },
    #[error("the node is closed")]
    Closed,
    #[error(
        "message of {len} bytes on topic {topic:?} exceeds the limit of {limit} bytes (raise it with NodeBuilder::max_message_size or ROSY_MAX_MESSAGE_SIZE)"
    )]
    MessageTooLarge {
        topic: String,
        len: usize,
        limit: usize,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}

/// Shorthand for results of rosy operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error a service handler returns: its text travels back to the caller as
/// [`Error::Handler`].
///
/// Any `std::error::Error` converts into it with `?`; use [`ServiceError::msg`] for plain text.
/// (It deliberately does not implement `std::error::Error`, as `anyhow::Error` does not, so
/// that blanket conversion can exist.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError(pub String);

impl ServiceError {
    pub fn msg(message: impl std::fmt::Display) -> Self {
        ServiceError(message.to_string())
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for ServiceError {
    fn from(e: E) -> Self {
        ServiceError(e.to_string())
    }
}
