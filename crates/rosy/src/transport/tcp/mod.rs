//! TCP transport: framing ([`frame`]) and connections to peers ([`link`]).
//!
//! One connection per peer pair carries topics, service requests and responses, and node info.
//! By convention the node with the smaller id dials; see `node::mesh` for who connects when.

pub mod frame;
pub mod link;
