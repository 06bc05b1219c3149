//! The routing and local parts of the mesh, as data: who a topic's messages go to (routes of
//! listening groups, each peer's way there) and this node's own subscriptions. Nothing here
//! decides a route or delivers a message (`routing.rs` does, on these).

use super::history::Latched;
use crate::balance::{Balancer, Strategy};
use crate::node::queue::{Backlog, SubQueue};
use crate::transport::tcp::link::Link;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// How a same-host peer can be reached through shared memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ShmWay {
    /// Not at all: another host, or one side does not speak shm.
    No,
    /// It could, once it reads this node's segment of the topic.
    Wanted,
    /// It reads this node's segment of the topic.
    Reading,
}

/// Where a message goes: this node itself, or a peer over its link (or shared memory).
pub(super) enum Target {
    Local,
    Peer(PeerTarget),
}

/// A listening peer as a route knows it.
pub(super) struct PeerTarget {
    pub link: Arc<Link>,
    /// Its node id's hash, as shared-memory prefixes name readers.
    pub hash: u64,
    pub shm: ShmWay,
    /// The peer listens with reliable QoS: wait for it rather than drop.
    pub reliable: bool,
    /// The peer listens best effort with a history depth of its own (`keep_last(n)`): it
    /// wants the newest, so little is queued for it (see `publish`).
    pub keep_last: Option<usize>,
    /// It has been told that this node's messages on the topic come through shared memory
    /// (a `ShmSwitch` frame), as this route knows: set once, then read per message.
    pub switched: AtomicBool,
}

impl Clone for PeerTarget {
    fn clone(&self) -> Self {
        PeerTarget {
            link: self.link.clone(),
            hash: self.hash,
            shm: self.shm,
            reliable: self.reliable,
            keep_last: self.keep_last,
            switched: AtomicBool::new(self.switched.load(Ordering::Relaxed)),
        }
    }
}

/// A topic's listening groups: (group name, members in a stable order).
pub(super) type Groups = Arc<Vec<(String, Vec<Target>)>>;

/// A topic a publisher sends on, with the route its messages last took: while the topology
/// stands, its messages skip the mesh's table of routes (a lock and a hash of the name each).
pub(crate) struct PublishedTopic {
    pub name: String,
    pub(super) route: Mutex<Option<Route>>,
}

impl PublishedTopic {
    pub fn new(name: &str) -> Self {
        PublishedTopic {
            name: name.to_string(),
            route: Mutex::new(None),
        }
    }
}

/// A topic's listening groups, as of a version of the routes (`routes_version`).
#[derive(Clone)]
pub(super) struct Route {
    pub(super) version: u64,
    /// The topic's load-balancing strategy (a change of it clears the routes).
    pub(super) strategy: Strategy,
    pub(super) groups: Groups,
}

/// The routing part of the mesh: per topic, its listening groups as of a topology version, the
/// strategies set per topic, and the balancer that picks among a group.
#[derive(Default)]
pub(super) struct RouteState {
    pub(super) routes: Mutex<HashMap<String, Route>>,
    /// Raised whenever a route may have changed (the topology, a link, a strategy): routes
    /// computed before are stale.
    pub(super) version: AtomicU64,
    pub(super) strategies: RwLock<HashMap<String, Strategy>>,
    pub(super) balancer: Balancer,
    /// Flows refused from peers by the domain's ACL (see `policy`), and those said already.
    pub(super) denied: AtomicU64,
    pub(super) denied_said: Mutex<std::collections::BTreeSet<(String, String, String)>>,
}

/// The local part of the mesh: this node's subscriptions, the histories of transient-local
/// topics, and the reliable subscriptions that are full.
pub(super) struct Local {
    pub(super) subscriptions: RwLock<HashMap<String, Vec<Arc<SubQueue>>>>,
    /// Histories of transient-local topics (sent and received); `any_latched` says whether
    /// there is any, so that other topics pay one atomic load.
    pub(super) latched: Mutex<Latched>,
    pub(super) any_latched: std::sync::atomic::AtomicBool,
    /// Reliable subscriptions that are full: links and the shm reader pause while any is.
    pub(crate) backlog: Arc<Backlog>,
}

impl Local {
    pub(super) fn new(backlog: Arc<Backlog>) -> Self {
        Local {
            subscriptions: RwLock::new(HashMap::new()),
            latched: Mutex::new(Default::default()),
            any_latched: std::sync::atomic::AtomicBool::new(false),
            backlog,
        }
    }
}
