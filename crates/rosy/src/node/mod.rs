//! Nodes: the processes of a rosy mesh, and everything they do.
//!
//! A **node** has a name (not necessarily unique: same-name nodes form a load-balancing group)
//! and a domain (nodes of other domains never see it). It finds its peers by itself and keeps
//! one connection to each.
//!
//! - **Topics** are fire and forget: [`Node::send`] (or a typed [`Publisher`]) hands a message
//!   to every node *name* listening on the topic; among several listening nodes of one name,
//!   one gets it, round-robin by default ([`Strategy`]). Listen with a [`Subscriber`] (async
//!   `recv()`, or as a `Stream`) or with a callback, [`Node::listen`]. Messages from one sender
//!   arrive in the order sent; a subscriber that falls behind loses its oldest messages, counted.
//! - **Services** are request/response: [`Node::add_service`] hosts one, [`Node::call`] (or a
//!   typed [`Client`]) calls any provider in the mesh and gets its answer or an [`Error`] to
//!   match on: no provider, timeout, the handler's own error, provider gone, codec mismatch.
//!
//! ```no_run
//! # async fn demo() -> rosy::Result<()> {
//! let node = rosy::build_node("calculator").await?;
//! node.add_service("multiply", |(a, b): (i64, i64)| async move { Ok(a * b) }).await?;
//! node.listen("some-topic", |topic, msg: String| async move {
//!     println!("Received {msg:?} on topic={topic}");
//! }).await?;
//! let four: i64 = node.call("multiply", &(2, 2)).await?;
//! node.send("some-topic", &"hello world").await?;
//! node.forever().await;
//! # Ok(()) }
//! ```
//!
//! (That one serves until stopped; [`Node`], [`Publisher`], [`Subscriber`], [`Client`] and
//! [`Loan`] each carry an example that runs, two nodes on loopback.)
//!
//! This module never parses frames or touches sockets itself: `transport` does.

mod builder;
mod handle;
mod mesh;
mod preference;
mod queue;
mod service;
mod service_channel;
mod signal;

mod topic;

pub use crate::balance::Strategy;
pub use builder::NodeBuilder;
pub use handle::Node;
pub use mesh::publish::Publishing;
pub use preference::TransportPreference;
pub use queue::Received;
pub use service::Client;
pub use service_channel::is_internal as is_internal_topic;
pub use signal::shutdown_signal;
pub use topic::{Archivable, Archive, InlineSubscription, Loan, Publisher, Subscriber};

use crate::error::Result;

/// Builds a node named `name` with default settings (see [`NodeBuilder`]).
pub async fn build_node(name: &str) -> Result<Node> {
    Node::builder(name).build().await
}
