//! [`LinkError`]: why a connection could not be made or was closed, for the handshake and the
//! link alike.

use super::frame::FrameError;
use std::net::SocketAddr;
use std::time::Duration;

/// Why a connection could not be made or was closed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The TCP connect to the peer failed.
    #[error("connecting to {addr}: {source}")]
    Connect {
        /// The address dialed.
        addr: SocketAddr,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// Connecting to a same-host peer's local socket failed (see `local`).
    #[error("connecting to {}: {source}", path.display())]
    ConnectLocal {
        /// The socket's path.
        path: std::path::PathBuf,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// Reading from or writing to the connection's socket failed.
    #[error("reading or writing the connection's socket: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent bytes that are not a valid frame.
    #[error("bad frame: {0}")]
    Frame(#[from] FrameError),
    /// The handshake took longer than its bound.
    #[error("handshake did not finish within {0:?}")]
    HandshakeTimeout(Duration),
    /// A frame began arriving, then no byte of it came for the stall bound.
    #[error("no byte of a started frame arrived for {0:?} ({1} bytes of it pending)")]
    Stalled(Duration, usize),
    /// The peer's hello could not be decoded or names an invalid node.
    #[error("peer's hello is malformed: {0}")]
    BadHello(String),
    /// The peer belongs to another domain.
    #[error("peer is in domain {theirs:?}, this node in {ours:?}")]
    WrongDomain {
        /// The peer's domain id.
        theirs: String,
        /// This node's domain id.
        ours: String,
    },
    /// The peer refused the handshake, for the reason it gave.
    #[error("peer refused the connection: {0}")]
    Rejected(String),
    /// The connection is closed (by either side).
    #[error("the connection is closed")]
    Closed,
    /// The peer closed the connection partway through a frame.
    #[error("the peer closed the connection in the middle of a frame ({0} bytes pending)")]
    Truncated(usize),
    /// The secure handshake failed: the peer is plain, or one side refused the other's
    /// credentials (the reason says which).
    #[error("secure handshake: {0}")]
    Security(#[from] super::secure::SecurityError),
    /// A secure node dialed this plain one.
    #[error(
        "the peer is secure and this node is not (start it with ROSY_SECURITY=enforce and \
         credentials of the domain, see `rosy security`)"
    )]
    PeerSecure,
    /// The peer's hello claims a name or node id its certificate does not grant.
    #[error("the peer's identity does not match its certificate: {0}")]
    Identity(String),
    /// The peer read too slowly: the link's outbox stayed full for the send timeout.
    #[error("the peer did not take the message within {0:?} (its outbox stayed full)")]
    Full(Duration),
}

impl LinkError {
    /// Whether this is a security mismatch or refusal: worth telling the user once, where other
    /// dial failures are routine.
    pub fn is_security(&self) -> bool {
        use super::secure::SecurityError;
        match self {
            // A socket failing mid-handshake is routine, as on any connection.
            LinkError::Security(SecurityError::Io(_)) => false,
            LinkError::Security(_) | LinkError::PeerSecure | LinkError::Identity(_) => true,
            LinkError::Rejected(reason) => {
                reason.contains("security") || reason.contains("certificate")
            }
            _ => false,
        }
    }
}
