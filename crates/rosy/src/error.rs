//! The errors of rosy's public API: one enum a caller can match.

use crate::codec::CodecError;
use std::time::Duration;

/// Everything a node operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No node of the domain offers the service called.
    #[error("no node in domain {domain:?} provides service {service:?}")]
    NoProvider {
        /// The service called.
        service: String,
        /// The domain searched.
        domain: String,
    },
    /// No node listened to the topic within the wait.
    #[error("no node in domain {domain:?} listens to topic {topic:?} (waited {waited:?})")]
    NoListener {
        /// The topic.
        topic: String,
        /// The domain searched.
        domain: String,
        /// How long it waited.
        waited: Duration,
    },
    /// Fewer listening nodes than asked for came within the wait.
    #[error(
        "{found} of the {wanted} nodes waited for listen to topic {topic:?} in domain {domain:?} \
         (waited {waited:?})"
    )]
    FewListeners {
        /// The topic.
        topic: String,
        /// The domain searched.
        domain: String,
        /// Listening nodes asked for.
        wanted: usize,
        /// Listening nodes found.
        found: usize,
        /// How long it waited.
        waited: Duration,
    },
    /// The service call got no answer within its timeout.
    #[error("call to service {service:?} timed out after {timeout:?}")]
    Timeout {
        /// The service called.
        service: String,
        /// The call's timeout.
        timeout: Duration,
    },
    /// The provider's handler failed; `message` is its error's text.
    #[error("service {service:?} failed: {message}")]
    Handler {
        /// The service called.
        service: String,
        /// The handler's error, as it wrote it.
        message: String,
    },
    /// The provider's node left (or its connection broke) before it answered.
    #[error("the node providing {service:?} went away during the call")]
    ProviderGone {
        /// The service called.
        service: String,
    },
    /// The domain's ACL does not let this node do what it asked.
    #[error(
        "the domain's ACL does not let node {node:?} {action} {name:?} (see `rosy security \
         check --who {node} ...`)"
    )]
    Denied {
        /// This node's name.
        node: String,
        /// What it asked to do: publish, subscribe to, call, provide.
        action: String,
        /// The topic or service.
        name: String,
    },
    /// The provider refused the call: the domain's ACL does not let this node call it.
    #[error("service {service:?} refused the call: {reason}")]
    Refused {
        /// The service called.
        service: String,
        /// The provider's reason.
        reason: String,
    },
    /// The two ends of a topic or service use different codecs or types.
    #[error("codec mismatch on {name:?}: {detail}")]
    CodecMismatch {
        /// The topic or service.
        name: String,
        /// What differs.
        detail: String,
    },
    /// A value could not be encoded or decoded.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// An argument was refused: a name, a size, a setting.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was refused (`"topic name"`, `"max_message_size"`, ...).
        what: &'static str,
        /// Why, naming the value.
        reason: String,
    },
    /// A system call failed; `context` says what was being done (and on which file or address).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// Discovery (mDNS or the host registry) could not start.
    #[error("discovery: {0}")]
    Discovery(#[from] crate::discovery::DiscoveryError),
    /// A reliable subscriber took no message for the publisher's send timeout; this message
    /// was not sent to it.
    #[error(
        "reliable subscriber {subscriber} of topic {topic:?} took no message for {waited:?}: it is too slow or frozen (the message was not sent to it)"
    )]
    SlowSubscriber {
        /// The topic.
        topic: String,
        /// The subscriber's node.
        subscriber: String,
        /// How long the send waited for it.
        waited: std::time::Duration,
    },
    /// The node was closed: nothing more can be sent, received or called through it.
    #[error("the node is closed")]
    Closed,
    /// A message is larger than the node's maximum message size.
    #[error(
        "message of {len} bytes on topic {topic:?} exceeds the limit of {limit} bytes (raise it with NodeBuilder::max_message_size or ROSY_MAX_MESSAGE_SIZE)"
    )]
    MessageTooLarge {
        /// The topic.
        topic: String,
        /// The message's size in bytes.
        len: usize,
        /// The node's limit in bytes.
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
    /// A service error with `message` as its text.
    ///
    /// ```
    /// let e = rosy::ServiceError::msg(format!("{} is out of range", 300));
    /// assert_eq!(e.to_string(), "300 is out of range");
    /// ```
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
