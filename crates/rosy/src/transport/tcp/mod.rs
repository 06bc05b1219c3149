//! TCP transport: framing ([`frame`]), the handshake that opens a connection (`handshake`),
//! connections to peers (`link`), the socket halves they use (`wire`), what secure mode
//! asks of a security provider ([`secure`]), and the Unix-socket links a secure node makes to
//! same-host peers instead of TLS ([`local`]).
//!
//! One connection per peer pair carries topics, service requests and responses, and node info.
//! By convention the node with the smaller id dials; see `node::mesh` for who connects when.

mod error;
pub mod frame;
pub(crate) mod handshake;
pub(crate) mod link;
pub mod local;
pub mod secure;
pub(crate) mod wire;

pub use error::LinkError;
pub use handshake::{Hello, Remote};
pub use wire::NonBlocking;
