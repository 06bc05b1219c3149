//! rosy — not ROS, but ROS-y.
//!
//! Processes called *nodes* form a mesh and exchange messages on *topics* (fire and forget)
//! and through *services* (request/response). Nodes on one host talk through shared memory;
//! nodes on other hosts are found with Zeroconf (mDNS) and reached over TCP. A node's code
//! never says which transport it uses.
//!
//! Layers, one module each; a module only uses the ones below it:
//!
//! ```text
//! (the rosy binary)      launch, bag, speedtest...: tools built on the public API only
//! bag                    MCAP bags: recording and reading messages with their codecs and QoS
//! msgs                   standard robot messages (images, clouds...) and their Foxglove schemas
//! node                   Node, builder, Publisher/Subscriber/Client/Server handles
//! balance                round-robin / random / none among nodes of one name
//! codec                  Codec trait; msgpack (default), json, raw bytes, rkyv
//! topology               the mesh as this node sees it
//! qos                    quality of service of topic endpoints (a description only)
//! discovery              mDNS + host-local registry, both feed topology
//! transport::shm         named segments, SPMC ring, payload pool, wake-ups
//! transport::tcp         framing, one connection per peer pair, reconnect
//! names, domain, units,  the rules of names and domain ids, units, the codec byte: below
//!   codec_id             everything
//! ```

#![warn(missing_docs)]

pub mod bag;
pub mod balance;
pub mod codec;
pub mod codec_id;
pub mod discovery;
pub mod domain;
pub mod error;
/// The parsers' fuzz entry points, for `fuzz/` (feature `fuzzing`); not part of the API.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod logging;
pub mod msgs;
pub mod names;
pub mod node;
pub mod qos;
pub mod security;
pub mod topology;
pub mod transport;
pub mod units;

pub use domain::DomainId;
pub use error::{Error, Result, ServiceError};
pub use logging::init_logging;
pub use node::{
    Client, Node, NodeBuilder, Publisher, Strategy, Subscriber, TransportPreference, build_node,
};
