//! The engine behind a [`Node`](super::Node): its connections, the topology they carry, its
//! subscriptions and services, and the routing of every message.

mod info;
mod links;
mod services;
mod shm_attach;

use super::builder::TransportPreference;
use super::queue::{Received, SubQueue};
use super::shm_routes::{self, ShmRoutes};
use crate::balance::{Balancer, Strategy};
use crate::codec::CodecId;
use crate::discovery::Announcement;
use crate::error::{Error, Result};
use crate::topology::{NodeId, NodeInfo, TopicInfo, TopicRole, Topology};
use crate::transport::tcp::frame::{Frame, FrameKind, ResponseError};
use crate::transport::tcp::link::{Hello, Link, LinkError};
use bytes::Bytes;
use services::{PendingCall, ServiceEntry};
use shm_attach::ShmGate;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
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
    pub shm_busy_poll: bool,
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

/// A message to send: bytes, or a buffer from [`Mesh::loan`].
pub(crate) enum Outbound {
    Bytes(Bytes),
    Heap(Vec<u8>),
    /// A loaned chunk whose first `PREFIX_LEN` bytes are left for the recipients prefix.
    Loan(crate::transport::shm::Loan),
}

impl Outbound {
    /// Payload bytes (the prefix of a loan not counted).
    pub fn len(&self) -> usize {
        match self {
            Outbound::Bytes(b) => b.len(),
            Outbound::Heap(v) => v.len(),
            Outbound::Loan(l) => l.len() - shm_routes::PREFIX_LEN,
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match self {
            Outbound::Bytes(_) => &mut [],
            Outbound::Heap(v) => v,
            Outbound::Loan(l) => &mut l[shm_routes::PREFIX_LEN..],
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            Outbound::Bytes(b) => b,
            Outbound::Heap(v) => v,
            Outbound::Loan(l) => &l[shm_routes::PREFIX_LEN..],
        }
    }

    /// Shortens the payload to `len` bytes.
    pub fn truncate(&mut self, len: usize) {
        match self {
            Outbound::Bytes(b) => b.truncate(len),
            Outbound::Heap(v) => v.truncate(len),
            Outbound::Loan(l) => l.truncate(shm_routes::PREFIX_LEN + len),
        }
    }

    /// Whether the bytes live in shared memory (written once, read in place).
    pub fn in_shared_memory(&self) -> bool {
        matches!(self, Outbound::Loan(_))
    }
}

/// How a same-host peer can be reached through shared memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ShmWay {
    /// Not at all: another host, or one side does not speak shm.
    No,
    /// It could, once it reads this node's segment of the topic.
    Wanted,
    /// It reads this node's segment of the topic.
    Reading,
}

/// Where a message goes: this node itself, or a peer over its link (or shared memory).
#[derive(Clone)]
enum Target {
    Local,
    Peer {
        link: Arc<Link>,
        hash: u64,
        shm: ShmWay,
    },
}

pub(crate) struct Mesh {
    /// This mesh itself, for the callbacks that must spawn tasks owning it.
    me: std::sync::Weak<Mesh>,
    /// The runtime the node was built on: shared-memory reader threads spawn handlers on it.
    runtime: tokio::runtime::Handle,
    pub config: MeshConfig,
    hello: Hello,
    own: Mutex<NodeInfo>,
    own_topics: Mutex<HashMap<(String, TopicRole), (TopicInfo, usize)>>,
    links: RwLock<HashMap<NodeId, Arc<Link>>>,
    topology: RwLock<Topology>,
    known: Mutex<HashMap<NodeId, Announcement>>,
    dialing: Mutex<HashSet<NodeId>>,
    subscriptions: RwLock<HashMap<String, Vec<Arc<SubQueue>>>>,
    services: RwLock<HashMap<String, ServiceEntry>>,
    pending: Mutex<HashMap<u64, PendingCall>>,
    next_request: AtomicU64,
    balancer: Balancer,
    topic_strategy: RwLock<HashMap<String, Strategy>>,
    changes: watch::Sender<u64>,
    closed: watch::Sender<bool>,
    /// Topic messages that could not be handed to a peer in time.
    pub dropped: AtomicU64,
    /// Same-host delivery; `None` when the node uses TCP only.
    shm: Option<ShmRoutes>,
    /// Per topic, its listening groups as of a topology version.
    routes: Mutex<HashMap<String, Route>>,
    /// (peer, topic) whose messages this node now sends through shared memory, after telling
    /// the peer with a `ShmSwitch` frame.
    shm_switched: Mutex<HashMap<NodeId, HashSet<String>>>,
    /// Per (publisher, topic) read from shared memory: messages held back until the publisher's
    /// `ShmSwitch` arrives by TCP, so none overtakes one still in flight on TCP.
    shm_gates: Mutex<HashMap<(NodeId, String), ShmGate>>,
}

struct Route {
    version: u64,
    groups: Arc<Vec<(String, Vec<Target>)>>,
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
                config.shm_busy_poll,
            )
        });
        Arc::new_cyclic(|me| Mesh {
            me: me.clone(),
            runtime: tokio::runtime::Handle::current(),
            shm,
            shm_switched: Mutex::new(HashMap::new()),
            routes: Mutex::new(HashMap::new()),
            shm_gates: Mutex::new(HashMap::new()),
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
            next_request: AtomicU64::new(1),
            balancer: Balancer::new(),
            topic_strategy: RwLock::new(HashMap::new()),
            changes: watch::channel(0).0,
            closed: watch::channel(false).0,
            dropped: AtomicU64::new(0),
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

    // ----- own node info -------------------------------------------------------------------

    pub fn set_topic_strategy(&self, topic: &str, strategy: Strategy) {
        write(&self.topic_strategy).insert(topic.to_string(), strategy);
    }

    /// Marks cached routes stale (a peer's link came or went without a topology change).
    fn invalidate_routes(&self) {
        lock(&self.routes).clear();
    }

    // ----- subscriptions ---------------------------------------------------------------------

    pub fn subscribe(&self, info: TopicInfo) -> Arc<SubQueue> {
        let queue = Arc::new(SubQueue::new(&info.name, self.config.queue_capacity));
        if self.is_closed() {
            queue.close();
            return queue;
        }
        write(&self.subscriptions)
            .entry(info.name.clone())
            .or_default()
            .push(queue.clone());
        self.add_topic_role(info);
        self.sync_shm();
        queue
    }

    pub fn unsubscribe(&self, queue: &Arc<SubQueue>) {
        let removed = {
            let mut subs = write(&self.subscriptions);
            let Some(list) = subs.get_mut(&queue.topic) else {
                return;
            };
            let before = list.len();
            list.retain(|q| !Arc::ptr_eq(q, queue));
            let removed = list.len() < before;
            if list.is_empty() {
                subs.remove(&queue.topic);
            }
            removed
        };
        queue.close();
        if removed {
            self.remove_topic_role(&queue.topic, TopicRole::Listen);
            self.sync_shm();
        }
    }

    /// Closes every subscription on `topic`.
    pub fn unsubscribe_all(&self, topic: &str) -> usize {
        let list = write(&self.subscriptions).remove(topic).unwrap_or_default();
        for q in &list {
            q.close();
            self.remove_topic_role(topic, TopicRole::Listen);
        }
        list.len()
    }

    fn deliver_local(&self, topic: &str, message: Received) {
        if let Some(list) = read(&self.subscriptions).get(topic) {
            for q in list {
                q.push(message.clone());
            }
        }
    }

    // ----- routing ---------------------------------------------------------------------------

    /// Who gets a message on `topic`: every group of same-name listeners, one member each
    /// (or all, per the strategy). This node counts as a member of its own name's group.
    fn route_topic(&self, topic: &str) -> Vec<Target> {
        // The groups change only with the topology (or this node's own subscriptions, which
        // bump the same counter): compute them once per change, pick per message.
        let version = *self.changes.borrow();
        let groups = {
            let mut routes = lock(&self.routes);
            match routes.get(topic) {
                Some(route) if route.version == version => route.groups.clone(),
                _ => {
                    let groups = Arc::new(self.route_groups(topic));
                    routes.insert(
                        topic.to_string(),
                        Route {
                            version,
                            groups: groups.clone(),
                        },
                    );
                    groups
                }
            }
        };
        let strategy = read(&self.topic_strategy)
            .get(topic)
            .copied()
            .unwrap_or(self.config.strategy);
        let mut targets = Vec::new();
        for (name, members) in groups.iter() {
            targets.extend(
                self.balancer
                    .pick(topic, name, members, strategy)
                    .iter()
                    .cloned(),
            );
        }
        targets
    }

    /// The same-name groups listening to `topic`, members in a stable order.
    fn route_groups(&self, topic: &str) -> Vec<(String, Vec<Target>)> {
        let strategy = read(&self.topic_strategy)
            .get(topic)
            .copied()
            .unwrap_or(self.config.strategy);
        let local = read(&self.subscriptions).contains_key(topic);
        // (group name, node id, target): this node itself has no link.
        let mut members: Vec<(String, String, Target)> = Vec::new();
        if local {
            members.push((
                self.hello.node_name.clone(),
                self.hello.node_id.clone(),
                Target::Local,
            ));
        }
        {
            let own_host = lock(&self.own).host_id.clone();
            let links = read(&self.links);
            for info in read(&self.topology).listeners(topic) {
                if let Some(link) = links.get(&info.id) {
                    let shm = self.shm_way(info, topic, &own_host);
                    let target = Target::Peer {
                        link: link.clone(),
                        hash: shm_routes::id_hash(&info.id),
                        shm,
                    };
                    members.push((info.name.clone(), info.id.clone(), target));
                }
            }
        }
        members.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let _ = strategy;
        let mut groups: Vec<(String, Vec<Target>)> = Vec::new();
        for (name, _, target) in members {
            match groups.last_mut() {
                Some((group, list)) if *group == name => list.push(target),
                _ => groups.push((name, vec![target])),
            }
        }
        groups
    }

    fn shm_way(&self, peer: &NodeInfo, topic: &str, own_host: &str) -> ShmWay {
        if self.shm.is_none()
            || peer.host_id != own_host
            || !peer.transports.iter().any(|t| t == "shm")
        {
            return ShmWay::No;
        }
        let reading = peer
            .shm_reading
            .iter()
            .any(|(publisher, t)| publisher == &self.hello.node_id && t == topic);
        if reading {
            ShmWay::Reading
        } else {
            ShmWay::Wanted
        }
    }

    /// Whether any node (this one included) listens to `topic`.
    pub fn has_listeners(&self, topic: &str) -> bool {
        if read(&self.subscriptions).contains_key(topic) {
            return true;
        }
        let own_host = lock(&self.own).host_id.clone();
        let shm_only = self.config.transport == TransportPreference::Shm;
        let mut wanted = false;
        let found = {
            let links = read(&self.links);
            read(&self.topology).listeners(topic).iter().any(|n| {
                if !links.contains_key(&n.id) {
                    return false;
                }
                if !shm_only {
                    return true;
                }
                match self.shm_way(n, topic, &own_host) {
                    ShmWay::Reading => true,
                    way => {
                        wanted |= way == ShmWay::Wanted;
                        false
                    }
                }
            })
        };
        if wanted {
            // With shared memory forced, a same-host listener becomes reachable only once it
            // reads this node's segment of the topic: make the segment, so it can.
            self.want_segment(topic);
        }
        found
    }

    /// Sends an encoded message to the listeners of `topic`. Returns how many nodes it went to.
    pub async fn publish(&self, topic: &str, codec: CodecId, payload: Bytes) -> Result<usize> {
        self.publish_payload(topic, codec, Outbound::Bytes(payload))
            .await
    }

    /// A buffer of `len` bytes to fill for `topic`: a loaned chunk of this node's segment when
    /// same-host peers read it (zero copy), else plain memory.
    pub fn loan(&self, topic: &str, len: usize) -> Outbound {
        // Small messages travel inline in ring slots (copied, cheaply); only large ones are
        // worth a chunk of the pool.
        let large = self.shm.as_ref().is_some_and(|s| !s.fits_inline(len));
        if let Some(segment) = self
            .shm
            .as_ref()
            .filter(|_| large)
            .and_then(|s| s.segment(topic))
        {
            match segment.loan(shm_routes::PREFIX_LEN + len) {
                Ok(loan) => return Outbound::Loan(loan),
                Err(e) => tracing::debug!("no loan from shared memory for {topic:?}: {e}"),
            }
        }
        Outbound::Heap(vec![0; len])
    }

    /// Sends what `loan` gave, once filled.
    pub async fn publish_payload(
        &self,
        topic: &str,
        codec: CodecId,
        payload: Outbound,
    ) -> Result<usize> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let targets = self.route_topic(topic);
        let mut delivered = 0;
        let mut local = false;
        let mut by_shm: Vec<(u64, Arc<Link>)> = Vec::new();
        let mut by_tcp: Vec<Arc<Link>> = Vec::new();
        let shm_only = self.config.transport == TransportPreference::Shm;
        let len = payload.len();
        for target in targets {
            match target {
                Target::Local => local = true,
                Target::Peer { link, hash, shm } => match shm {
                    ShmWay::Reading if self.shm.as_ref().is_some_and(|s| s.fits(len)) => {
                        by_shm.push((hash, link))
                    }
                    ShmWay::Wanted if shm_only => {
                        // Not reading our segment yet: with shm forced there is no other way.
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                        self.want_segment(topic);
                    }
                    ShmWay::Wanted => {
                        self.want_segment(topic);
                        by_tcp.push(link);
                    }
                    _ => by_tcp.push(link),
                },
            }
        }
        for (_, link) in &by_shm {
            self.switch_to_shm(link, topic).await;
        }
        // A loan goes once, to the first group of shm readers, in place; everyone else needs
        // bytes of their own, copied before the loan is handed over.
        let (mut loan, mut bytes) = match payload {
            Outbound::Bytes(b) => (None, Some(b)),
            Outbound::Heap(v) => (None, Some(Bytes::from(v))),
            Outbound::Loan(l) => (Some(l), None),
        };
        let needs_copy = local || !by_tcp.is_empty() || by_shm.len() > shm_routes::MAX_RECIPIENTS;
        if needs_copy && bytes.is_none() {
            bytes = loan
                .as_ref()
                .map(|l| Bytes::copy_from_slice(&l[shm_routes::PREFIX_LEN..]));
        }
        if local {
            if let Some(payload) = &bytes {
                self.deliver_local(
                    topic,
                    Received {
                        codec,
                        payload: payload.clone(),
                    },
                );
                delivered += 1;
            }
        }
        if let Some(shm) = &self.shm {
            for group in by_shm.chunks(shm_routes::MAX_RECIPIENTS) {
                let hashes: Vec<u64> = group.iter().map(|(h, _)| *h).collect();
                let sent = match loan.take() {
                    Some(mut l) => {
                        l[..shm_routes::PREFIX_LEN]
                            .copy_from_slice(&shm_routes::prefix(codec, &hashes));
                        l.send(codec.to_byte() as u32);
                        Ok(())
                    }
                    None => shm.send(topic, codec, bytes.as_deref().unwrap_or_default(), &hashes),
                };
                match sent {
                    Ok(()) => delivered += group.len(),
                    Err(e @ crate::transport::shm::ShmError::PoolExhausted(_)) => {
                        // Readers hold every chunk (samples not consumed yet): this message is
                        // lost for them, as a slow reader loses the oldest; never wait for them.
                        self.dropped
                            .fetch_add(group.len() as u64, Ordering::Relaxed);
                        tracing::debug!("message on {topic:?} dropped: {e}");
                    }
                    Err(e) => {
                        tracing::debug!(
                            "shared memory refused a message on {topic:?}: {e}; using TCP"
                        );
                        by_tcp.extend(group.iter().map(|(_, l)| l.clone()));
                    }
                }
            }
        }
        let mut frame = None;
        for link in by_tcp {
            let Some(payload) = &bytes else { break };
            let frame = frame
                .get_or_insert_with(|| {
                    Frame::new(FrameKind::Topic, codec, 0, topic, payload.clone())
                })
                .clone();
            match link.send(frame, self.config.send_timeout).await {
                Ok(()) => delivered += 1,
                Err(e) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        "message on {topic:?} to {} ({}) dropped: {e}",
                        link.peer.node_name,
                        link.peer.node_id
                    );
                }
            }
        }
        Ok(delivered)
    }

    // ----- services --------------------------------------------------------------------------

    /// Sends one message on `topic` to one peer: through shared memory when it reads this
    /// node's segment of the topic, else over its connection.
    async fn publish_to(
        &self,
        topic: &str,
        codec: CodecId,
        payload: Bytes,
        link: &Arc<Link>,
        wait: Duration,
    ) -> std::result::Result<(), LinkError> {
        let own_host = lock(&self.own).host_id.clone();
        let way = read(&self.topology)
            .get(&link.peer.node_id)
            .map(|peer| self.shm_way(peer, topic, &own_host))
            .unwrap_or(ShmWay::No);
        if way == ShmWay::Wanted {
            self.want_segment(topic);
        }
        if let (ShmWay::Reading, Some(shm)) = (way, &self.shm) {
            if shm.fits(payload.len()) {
                self.switch_to_shm(link, topic).await;
                let hash = shm_routes::id_hash(&link.peer.node_id);
                if shm.send(topic, codec, &payload, &[hash]).is_ok() {
                    return Ok(());
                }
            }
        }
        let frame = Frame::new(FrameKind::Topic, codec, 0, topic, payload);
        link.send(frame, wait).await
    }

    /// Tells `link`'s peer (once per topic) that this node's messages on `topic` now come
    /// through shared memory, after everything already sent on the connection.
    async fn switch_to_shm(&self, link: &Arc<Link>, topic: &str) {
        let switched = lock(&self.shm_switched)
            .get(&link.peer.node_id)
            .is_some_and(|topics| topics.contains(topic));
        if !switched {
            let marker = Frame::new(FrameKind::ShmSwitch, CodecId::Raw, 0, topic, Bytes::new());
            if link.send(marker, self.config.send_timeout).await.is_ok() {
                lock(&self.shm_switched)
                    .entry(link.peer.node_id.clone())
                    .or_default()
                    .insert(topic.to_string());
            }
        }
    }

    // ----- connections -----------------------------------------------------------------------

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
            let _ = call.reply.send(Err(Error::Closed));
        }
        *write(&self.topology) = Topology::default();
        if let Some(shm) = &self.shm {
            shm.close();
        }
        self.bump();
    }
}
