//! The peers part of the mesh, as data: its connections, what discovery said of each peer,
//! the dials under way, whether this node is leaving, and the pace of warnings about refused
//! connections. `links.rs` keeps them.

use super::admission::RateLimit;
use super::known::KnownPeer;
use crate::topology::NodeId;
use crate::transport::tcp::link::Link;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::watch;

/// The peers part of the mesh: its connections, what discovery said of each peer, the dials
/// under way, and the pace of warnings about refused connections.
pub(super) struct Peers {
    pub(super) links: RwLock<HashMap<NodeId, Arc<Link>>>,
    /// What discovery said of each peer (see `known.rs`).
    pub(super) known: Mutex<HashMap<NodeId, KnownPeer>>,
    pub(super) dialing: Mutex<HashSet<NodeId>>,
    /// Paces the warnings about refused connections and failed accepts.
    pub(super) refusals: RateLimit,
    /// Security failures of dials already told (peer and reason), each told once.
    pub(super) security_said: Mutex<HashSet<String>>,
    /// This node is closing: it accepts, dials and registers no more links (set when it says
    /// goodbye, and by the close itself).
    pub(super) leaving: watch::Sender<bool>,
    /// Dials started (each address tried counts one), for the tests of who dials whom.
    pub(super) dials: AtomicU64,
}

impl Default for Peers {
    fn default() -> Self {
        Peers {
            links: RwLock::new(HashMap::new()),
            known: Mutex::new(HashMap::new()),
            dialing: Mutex::new(HashSet::new()),
            refusals: RateLimit::new(5, std::time::Duration::from_secs(1)),
            security_said: Mutex::default(),
            leaving: watch::channel(false).0,
            dials: AtomicU64::new(0),
        }
    }
}
