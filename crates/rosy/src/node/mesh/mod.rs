//! The engine behind a [`Node`](super::Node): its connections, the topology they carry, its
//! subscriptions and services, and the routing of every message.
//!
//! This file holds the [`Mesh`] itself, its settings, its constructor and shutdown, and the lock
//! helpers every part uses; each concern is an `impl Mesh` of its own:
//!
//! - `links`: discovery, dialing and accepting, the links, and the frames they bring in;
//! - `info`: this node's own info and the peers', the topology and its change counter;
//! - `routing`: subscriptions, and who listens to a topic (its routes);
//! - `publish`: a message's way from `publish` to shared memory, a link or this node itself;
//! - `services`: providing and calling services, serving and answering calls;
//! - `shm_attach`: this node's segments, the same-host segments it reads, and their gates.

pub(crate) mod admission;
#[cfg(test)]
mod call_recovery_tests;
#[cfg(test)]
mod dial_only_tests;
mod info;
mod latched;
#[cfg(test)]
mod latched_tests;
mod links;
mod publish;
#[cfg(test)]
mod reliable_tests;
#[cfg(test)]
mod route_cache_tests;
mod routing;
mod served;
mod services;
mod shm;
#[cfg(test)]
mod test_nodes;

use super::queue::SubQueue;
use crate::balance::{Balancer, Strategy};
use crate::codec::CodecId;
use crate::discovery::Announcement;
use crate::error::{Error, Result};
use crate::node::preference::TransportPreference;
use crate::node::queue::Backlog;
use crate::topology::{NodeId, NodeInfo, TopicInfo, TopicRole, Topology};
use crate::transport::tcp::frame::ResponseError;
use crate::transport::tcp::link::{Hello, Link};
use bytes::Bytes;
pub(crate) use publish::Outbound;
pub use publish::Publishing;
pub(crate) use routing::PublishedTopic;
use routing::Route;
use served::Served;
use services::{CallEvent, PendingCall, ServiceEntry};
use shm::{ShmGate, ShmRoutes};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::watch;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// A service handler with its types erased: encoded request in, encoded response out.
pub(crate) type ErasedHandler = Arc<
    dyn Fn(CodecId, Bytes) -> BoxFuture<Result<(CodecId, Bytes), (ResponseError, String)>>
        + Send
        + Sync,
>;

/// Settings a mesh runs with (from the builder).
#[derive(Clone, Debug)]
pub(crate) struct MeshConfig {
    pub strategy: Strategy,
    pub send_timeout: Duration,
    pub queue_capacity: usize,
    pub transport: TransportPreference,
    pub shm: crate::transport::shm::ShmConfig,
    /// Per-topic overrides of `shm` (ring and pool sizes).
    pub shm_topics: HashMap<String, crate::transport::shm::ShmConfig>,
    pub shm_busy_poll: bool,
    /// Handshake and stalled-frame bounds of every connection.
    pub link_timeouts: crate::transport::tcp::link::LinkTimeouts,
    /// Most accepted connections in handshake at once.
    pub max_handshakes: usize,
    /// This node dials its peers and is dialed by none (see `NodeBuilder::dial_only`).
    pub dial_only: bool,
}

impl MeshConfig {
    /// A call goes to one provider: "none" (everyone) means round-robin for services.
    fn service_strategy(&self) -> Strategy {
        match self.strategy {
            Strategy::None => Strategy::RoundRobin,
            s => s,
        }
    }
}

/// This node's topic roles: what it announces for each (the strongest QoS of its endpoints),
/// and the QoS each of those endpoints asked.
pub(super) type OwnTopics = HashMap<(String, TopicRole), (TopicInfo, Vec<crate::qos::Qos>)>;

pub(crate) struct Mesh {
    /// This mesh itself, for the callbacks that must spawn tasks owning it.
    me: std::sync::Weak<Mesh>,
    /// The runtime the node was built on: shared-memory reader threads spawn handlers on it.
    runtime: tokio::runtime::Handle,
    pub config: MeshConfig,
    hello: Hello,
    own: Mutex<NodeInfo>,
    own_topics: Mutex<OwnTopics>,
    links: RwLock<HashMap<NodeId, Arc<Link>>>,
    topology: RwLock<Topology>,
    known: Mutex<HashMap<NodeId, Announcement>>,
    dialing: Mutex<HashSet<NodeId>>,
    subscriptions: RwLock<HashMap<String, Vec<Arc<SubQueue>>>>,
    services: RwLock<HashMap<String, ServiceEntry>>,
    pending: Mutex<HashMap<u64, PendingCall>>,
    /// Calls this node serves or just answered, so one sent again runs its handler once.
    served: Mutex<Served>,
    next_request: AtomicU64,
    balancer: Balancer,
    topic_strategy: RwLock<HashMap<String, Strategy>>,
    changes: watch::Sender<u64>,
    closed: watch::Sender<bool>,
    /// Topic messages that could not be handed to a peer in time.
    pub dropped: AtomicU64,
    /// Topic messages handed to a peer through shared memory, and by TCP (per recipient).
    pub sent_shm: AtomicU64,
    pub sent_tcp: AtomicU64,
    /// Same-host delivery; `None` when the node uses TCP only.
    shm: Option<ShmRoutes>,
    /// Per topic, its listening groups as of a topology version.
    routes: Mutex<HashMap<String, Route>>,
    /// Raised whenever a route may have changed (the topology, a link, a strategy): routes
    /// computed before are stale.
    routes_version: AtomicU64,
    /// (peer, topic) whose messages this node now sends through shared memory, after telling
    /// the peer with a `ShmSwitch` frame.
    shm_switched: Mutex<HashMap<NodeId, HashSet<String>>>,
    /// Per (publisher, topic) read from shared memory: messages held back until the publisher's
    /// `ShmSwitch` arrives by TCP, so none overtakes one still in flight on TCP.
    shm_gates: Mutex<HashMap<(NodeId, String), ShmGate>>,
    /// Why shared memory failed, per (publisher, topic); announced as `shm_problems`.
    shm_problems: Mutex<std::collections::BTreeMap<(NodeId, String), String>>,
    /// Notified when `sync_shm` left something to retry.
    shm_retry: tokio::sync::Notify,
    /// Histories of transient-local topics (sent and received); `any_latched` says whether
    /// there is any, so that other topics pay one atomic load.
    latched: Mutex<latched::Latched>,
    /// Reliable subscriptions that are full: links and the shm reader pause while any is.
    pub(crate) backlog: Arc<Backlog>,
    any_latched: std::sync::atomic::AtomicBool,
    /// Paces the warnings about refused connections and failed accepts.
    refusals: admission::RateLimit,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}
fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

impl Mesh {
    pub fn new(own: NodeInfo, config: MeshConfig) -> Arc<Self> {
        let shm = (config.transport != TransportPreference::Tcp).then(|| {
            ShmRoutes::new(
                &own.domain,
                &own.id,
                config.shm.clone(),
                config.shm_topics.clone(),
                config.shm_busy_poll,
            )
        });
        Arc::new_cyclic(|me| Mesh {
            backlog: {
                let backlog = Arc::new(Backlog::default());
                let me = me.clone();
                backlog.on_room(move || {
                    if let Some(shm) = me
                        .upgrade()
                        .as_ref()
                        .and_then(|m: &Arc<Mesh>| m.shm.as_ref())
                    {
                        shm.wake_reader();
                    }
                });
                backlog
            },
            me: me.clone(),
            runtime: tokio::runtime::Handle::current(),
            shm,
            shm_switched: Mutex::new(HashMap::new()),
            routes: Mutex::new(HashMap::new()),
            routes_version: AtomicU64::new(0),
            shm_gates: Mutex::new(HashMap::new()),
            shm_problems: Mutex::new(Default::default()),
            shm_retry: tokio::sync::Notify::new(),
            refusals: admission::RateLimit::new(5, Duration::from_secs(1)),
            latched: Mutex::new(Default::default()),
            any_latched: std::sync::atomic::AtomicBool::new(false),
            config,
            hello: Hello {
                domain: own.domain.clone(),
                node_id: own.id.clone(),
                node_name: own.name.clone(),
            },
            own: Mutex::new(own),
            own_topics: Mutex::new(HashMap::new()),
            links: RwLock::new(HashMap::new()),
            topology: RwLock::new(Topology::default()),
            known: Mutex::new(HashMap::new()),
            dialing: Mutex::new(HashSet::new()),
            subscriptions: RwLock::new(HashMap::new()),
            services: RwLock::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            served: Mutex::new(Served::default()),
            next_request: AtomicU64::new(1),
            balancer: Balancer::new(),
            topic_strategy: RwLock::new(HashMap::new()),
            changes: watch::channel(0).0,
            closed: watch::channel(false).0,
            dropped: AtomicU64::new(0),
            sent_shm: AtomicU64::new(0),
            sent_tcp: AtomicU64::new(0),
        })
    }

    pub fn own_id(&self) -> &str {
        &self.hello.node_id
    }

    pub fn domain(&self) -> &str {
        &self.hello.domain
    }

    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    pub async fn wait_closed(&self) {
        let mut rx = self.closed.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Closes every connection and subscription; pending calls fail with `Closed`.
    pub fn close(&self) {
        if self.closed.send_replace(true) {
            return;
        }
        let links: Vec<Arc<Link>> = write(&self.links).drain().map(|(_, l)| l).collect();
        for link in links {
            link.close();
        }
        for (_, list) in write(&self.subscriptions).drain() {
            for q in list {
                q.close();
            }
        }
        for (_, call) in lock(&self.pending).drain() {
            let _ = call.reply.send(CallEvent::Done(Err(Error::Closed)));
        }
        *write(&self.topology) = Topology::default();
        if let Some(shm) = &self.shm {
            shm.close();
        }
        self.bump();
    }
}
