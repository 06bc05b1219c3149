//! rosy-zenoh: rosy meshes joined through zenoh, for sites that share no LAN (a second site, a
//! fleet, an operator console, a radio link). A [`Bridge`] on each site's mesh joins a zenoh
//! network (as a peer, or a client of a zenoh router): topics and service calls then cross
//! between sites as if they were one mesh, while mDNS, shared memory and rosy's TCP links stay
//! within each site.
//!
//! - **What leaves is chosen**: allow-lists of topics and services each way
//!   ([`BridgeConfig`]), rate limits per topic (the newest message kept), reliability mapped to
//!   zenoh's congestion control.
//! - **Plain zenoh programs take part**: a topic's messages are on `rosy/<domain>/<topic>`
//!   (see [`keys`]), payloads as rosy encodes them, the codec and type in the sample's
//!   attachment (JSON, see [`Stamp`]) and the codec in its encoding.
//! - **Nothing loops**: the bridge's importing node never routes to a bridge's exporting node,
//!   every message carries the node id of the bridge that sent it from its site, and of several
//!   bridges on one mesh one brings topics in.
//! - **Large frames** cross whole (zenoh fragments them) and land in shared memory with one
//!   copy.
//!
//! Its own crate, so that a robot that needs one LAN never builds zenoh.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use rosy_zenoh::{Bridge, BridgeConfig};
//! let mut config = BridgeConfig::default();
//! config.zenoh.mode = Some("client".into());
//! config.zenoh.connect = vec!["tcp/192.0.2.1:7447".into()];
//! config.topics.export = ["camera/*", "status"].into_iter().collect();
//! config.topics.import = ["cmd_vel"].into_iter().collect();
//! config.services.export = ["arm/home"].into_iter().collect();
//! let bridge = Bridge::start(config).await?;
//! # drop(bridge); Ok(()) }
//! ```
//!
//! Secure mode: the bridge's two rosy nodes are secured as any node is (`ROSY_SECURITY`, with
//! identities granting `zenoh-bridge` and `zenoh-bridge-in`, and the domain's ACL deciding what
//! they may read and publish). Its zenoh side is as secure as the zenoh config makes it: rosy's
//! secure mode does not reach into zenoh, so a secure domain's bridge must be given a zenoh
//! config with TLS (mutual, `transport/link/tls`) and zenoh's access control; without one the
//! bridge warns that what it carries crosses in the clear.
//!
//! How the files divide the work: `config` (what is asked), `keys` (key expressions),
//! `stamp` (what travels beside a payload), `pattern` (allow-lists), `bridge` (what crosses,
//! decided from the topology), `export` and `import` (each way's moving of messages and
//! calls), `sites` (what each bridge tells the others), `bad` (what is dropped, said once),
//! `forwarded` (the codec of payloads passed on as they came), `shared` (what the tasks share).

mod bad;
mod bridge;
mod config;
mod error;
mod export;
mod forwarded;
mod import;
pub mod keys;
mod pattern;
mod shared;
mod sites;
mod stamp;

pub use bridge::{Bridge, EXPORTER, IMPORTER};
pub use config::{BridgeConfig, Directions, TopicLimit, ZenohSettings};
pub use error::ZenohBridgeError;
pub use pattern::{AllowList, matches as pattern_matches};
pub use sites::{RemoteNode, SITES_SERVICE_PREFIX, SiteInfo, zenoh_sites};
pub use stamp::Stamp;
