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
mod calls;
#[cfg(test)]
mod dial_only_tests;
#[cfg(test)]
mod goodbye_tests;
mod handler;
mod history;
mod info;
#[cfg(test)]
mod inline_tests;
#[cfg(test)]
mod kept_from_tests;
mod known;
mod latched;
#[cfg(test)]
mod latched_tests;
mod links;
mod peers;
mod policy;
pub(crate) mod publish;
#[cfg(test)]
mod reliable_tests;
#[cfg(test)]
mod route_cache_tests;
mod routes;
mod routing;
mod served;
mod services;
mod shm;
mod shm_attach;
mod shm_switch;
#[cfg(test)]
mod switch_tests;
#[cfg(test)]
mod test_nodes;
#[cfg(test)]
mod when_full_tests;

use crate::balance::Strategy;
use crate::error::Error;
use crate::node::preference::TransportPreference;
use crate::node::queue::Backlog;
use crate::topology::{NodeInfo, TopicInfo, TopicRole, Topology};
use crate::transport::tcp::link::{Hello, Link};
use calls::CallEvent;
pub(crate) use handler::{BoxFuture, ErasedHandler};
pub(crate) use routes::PublishedTopic;
use shm::routes::ShmRoutes;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::watch;

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
    /// Names of nodes this node's messages are never routed to (`NodeBuilder::never_routes_to`).
    pub never_routes_to: Vec<String>,
    /// Whether and how links are secured.
    pub guard: crate::transport::tcp::secure::Guard,
    /// The domain's access rules (from the guard's provider), when it has any.
    pub policy: Option<Arc<dyn crate::transport::tcp::secure::Policy>>,
    /// The private registry directory where same-host peers' local sockets are, when this node
    /// makes local links (secure, see `transport::tcp::local`).
    pub local_dir: Option<std::path::PathBuf>,
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
    topology: RwLock<Topology>,
    /// Connections to peers, and the peers on their way to one (`peers.rs`; kept by `links.rs`).
    peers: peers::Peers,
    /// This node's subscriptions and what they hold (`routes.rs`; kept by `routing.rs`,
    /// `latched.rs`).
    local: routes::Local,
    /// Who listens to what, as of a topology version, and how to pick (`routes.rs`; kept by
    /// `routing.rs`).
    routing: routes::RouteState,
    /// Services hosted, calls out and calls served (`calls.rs`; kept by `services.rs`).
    calls: calls::Calls,
    /// Same-host delivery through shared memory (`shm/state.rs`; kept by `shm/`).
    same_host: shm::state::SameHost,
    changes: watch::Sender<u64>,
    closed: watch::Sender<bool>,
    /// Topic messages that could not be handed to a peer in time.
    pub dropped: AtomicU64,
    /// Topic messages handed to a peer through shared memory, and by TCP (per recipient).
    pub sent_shm: AtomicU64,
    pub sent_tcp: AtomicU64,
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
            local: routes::Local::new({
                let backlog = Arc::new(Backlog::default());
                let me = me.clone();
                backlog.on_room(move || {
                    if let Some(shm) = me
                        .upgrade()
                        .as_ref()
                        .and_then(|m: &Arc<Mesh>| m.same_host.routes.as_ref())
                    {
                        shm.wake_reader();
                    }
                });
                backlog
            }),
            me: me.clone(),
            runtime: tokio::runtime::Handle::current(),
            same_host: shm::state::SameHost::new(shm),
            routing: routes::RouteState::default(),
            peers: peers::Peers::default(),
            calls: calls::Calls::default(),
            config,
            hello: Hello {
                domain: own.domain.clone(),
                node_id: own.id.clone(),
                node_name: own.name.clone(),
                certificate: None,
            },
            own: Mutex::new(own),
            own_topics: Mutex::new(HashMap::new()),
            topology: RwLock::new(Topology::default()),
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
        self.peers.leaving.send_replace(true);
        if self.closed.send_replace(true) {
            return;
        }
        let links: Vec<Arc<Link>> = write(&self.peers.links).drain().map(|(_, l)| l).collect();
        for link in links {
            link.close();
        }
        for (_, list) in write(&self.local.subscriptions).drain() {
            for q in list {
                q.close();
            }
        }
        for (_, call) in lock(&self.calls.pending).drain() {
            let _ = call.reply.send(CallEvent::Done(Err(Error::Closed)));
        }
        *write(&self.topology) = Topology::default();
        if let Some(shm) = &self.same_host.routes {
            shm.close();
        }
        self.bump();
    }
}
