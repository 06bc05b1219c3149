//! Routing and publishing: a message's path from `publish` to its listeners, read top-down:
//! the listening groups of its topic (cached per topology version) and one member each per the
//! strategy, then for each peer shared memory when it reads this node's segment, else its
//! link; and this node's own subscriptions, which count as one more listener.
//!
//! This file never dials, registers or drops a connection (links') and never attaches a
//! shared-memory reader itself (shm_attach's `sync_shm` does, asked to catch up when a
//! subscription comes or goes): it only sends over what exists, asking for a segment of its own
//! (`want_segment`) when a same-host listener could read one.

use super::{Mesh, lock, read, write};
use crate::balance::Strategy;
use crate::codec::CodecId;
use crate::error::{Error, Result};
use crate::node::preference::TransportPreference;
use crate::node::queue::{Received, SubQueue};
use crate::node::shm_routes;
use crate::qos::{Durability, Qos, Reliability};
use crate::topology::{NodeInfo, TopicInfo, TopicRole};
use crate::transport::shm::ShmError;
use crate::transport::tcp::frame::{Frame, FrameHead, FrameKind};
use crate::transport::tcp::link::{Link, LinkError};
use bytes::Bytes;
use smallvec::SmallVec;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The bytes queued at least before a message to a `keep_last(n)` listener is dropped.
const KEEP_LAST_QUEUE_MIN: usize = 64 << 10;

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
pub(super) enum ShmWay {
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
        /// The peer listens with reliable QoS: wait for it rather than drop.
        reliable: bool,
        /// The peer listens best effort with a history depth of its own (`keep_last(n)`): it
        /// wants the newest, so little is queued for it (see `publish_payload`).
        keep_last: Option<usize>,
    },
}

/// The targets of one message: most topics have a few listening nodes, kept without allocating.
type Targets = SmallVec<[Target; 4]>;

/// A topic's listening groups, as of a topology version.
pub(super) struct Route {
    version: u64,
    /// The topic's load-balancing strategy (a change of it clears the routes).
    strategy: Strategy,
    groups: Arc<Vec<(String, Vec<Target>)>>,
}

impl Mesh {
    // ----- a message's path ------------------------------------------------------------------

    /// Sends an encoded message to the listeners of `topic`. Returns how many nodes it went to.
    pub async fn publish(&self, topic: &str, codec: CodecId, payload: Bytes) -> Result<usize> {
        self.publish_payload(topic, codec, Outbound::Bytes(payload))
            .await
    }

    /// A buffer of `len` bytes to fill for `topic`: a loaned chunk of this node's segment when
    /// same-host peers read it (zero copy), else plain memory.
    pub fn loan(&self, topic: &str, len: usize) -> Outbound {
        match self.shm.as_ref().and_then(|s| s.loan(topic, len)) {
            Some(Ok(loan)) => Outbound::Loan(loan),
            Some(Err(e)) => {
                tracing::debug!("no loan from shared memory for {topic:?}: {e}");
                Outbound::Heap(vec![0; len])
            }
            None => Outbound::Heap(vec![0; len]),
        }
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
        let limit = self.config.shm.max_message;
        if payload.len() > limit {
            return Err(Error::MessageTooLarge {
                topic: topic.to_string(),
                len: payload.len(),
                limit,
            });
        }
        self.remember_sent(topic, codec, payload.as_slice());
        let targets = self.route_topic(topic);
        let mut delivered = 0;
        let mut local = false;
        let mut by_shm: SmallVec<[(u64, Arc<Link>); 4]> = SmallVec::new();
        let mut by_tcp: SmallVec<[Arc<Link>; 4]> = SmallVec::new();
        // Peers listening reliably, by node id: a full link to one is an error, not a drop.
        let mut reliable_peers: Vec<String> = Vec::new();
        // Peers listening with a history depth of their own: at most this many bytes are queued
        // for them before a newer message is dropped instead (`keep_last(1)` under a flood
        // keeps its latency low rather than queue 32 MiB).
        let mut shallow: Vec<(String, usize)> = Vec::new();
        let shm_only = self.config.transport == TransportPreference::Shm;
        for target in targets {
            let (link, hash, shm, reliable, keep_last) = match target {
                Target::Local => {
                    local = true;
                    continue;
                }
                Target::Peer {
                    link,
                    hash,
                    shm,
                    reliable,
                    keep_last,
                } => (link, hash, shm, reliable, keep_last),
            };
            if reliable {
                reliable_peers.push(link.peer.node_id.clone());
            }
            if let Some(depth) = keep_last {
                let bound = (depth.saturating_mul(payload.len() + 64)).max(KEEP_LAST_QUEUE_MIN);
                shallow.push((link.peer.node_id.clone(), bound));
            }
            match shm {
                ShmWay::Reading if self.shm.is_some() => by_shm.push((hash, link)),
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
        // A reliable subscriber that took nothing for the send timeout: said after the others
        // got the message.
        let mut slow = None;
        if let Some(shm) = &self.shm {
            for group in by_shm.chunks(shm_routes::MAX_RECIPIENTS) {
                let hashes: Vec<u64> = group.iter().map(|(h, _)| *h).collect();
                let mut sent = match loan.take() {
                    Some(mut l) => {
                        l[..shm_routes::PREFIX_LEN]
                            .copy_from_slice(&shm_routes::prefix(codec, &hashes));
                        l.send(codec.to_byte() as u32);
                        Ok(())
                    }
                    None => shm.send(topic, codec, bytes.as_deref().unwrap_or_default(), &hashes),
                };
                if matches!(sent, Err(ShmError::ReaderBehind { .. })) {
                    let payload = bytes.as_deref().unwrap_or_default();
                    // Boxed: a rare wait, kept out of the future made per message.
                    sent =
                        Box::pin(self.wait_for_reader(|| shm.send(topic, codec, payload, &hashes)))
                            .await;
                }
                match sent {
                    Ok(()) => {
                        delivered += group.len();
                        self.sent_shm
                            .fetch_add(group.len() as u64, Ordering::Relaxed);
                    }
                    Err(ShmError::ReaderBehind { pid, .. }) => {
                        self.dropped
                            .fetch_add(group.len() as u64, Ordering::Relaxed);
                        let names: Vec<String> = group
                            .iter()
                            .filter(|(_, l)| reliable_peers.contains(&l.peer.node_id))
                            .map(|(_, l)| l.peer.node_name.clone())
                            .collect();
                        slow = Some(Error::SlowSubscriber {
                            topic: topic.to_string(),
                            subscriber: format!("{} (pid {pid})", names.join(", ")),
                            waited: self.config.send_timeout,
                        });
                    }
                    Err(e @ ShmError::PoolExhausted(_)) => {
                        // Readers hold every chunk (samples not consumed yet): this message is
                        // lost for them, as a slow reader loses the oldest; never wait for them.
                        self.dropped
                            .fetch_add(group.len() as u64, Ordering::Relaxed);
                        tracing::debug!("message on {topic:?} dropped: {e}");
                    }
                    Err(e) => {
                        self.note_shm_fallback(topic, &e);
                        by_tcp.extend(group.iter().map(|(_, l)| l.clone()));
                    }
                }
            }
        }
        for link in by_tcp {
            let Some(payload) = &bytes else { break };
            if let Some((_, bound)) = shallow.iter().find(|(id, _)| *id == link.peer.node_id) {
                if link.queued_bytes() > *bound {
                    // Its history is full of older messages still on their way: this one is
                    // lost for it, as its own queue would drop the oldest.
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
            // Encoded straight into the link's outbox: no frame is made per message.
            let head = FrameHead {
                kind: FrameKind::Topic,
                codec,
                id: 0,
                name: topic.as_bytes(),
            };
            let sent = link.send_parts(head, payload, self.config.send_timeout);
            match sent.await {
                Ok(()) => {
                    delivered += 1;
                    self.sent_tcp.fetch_add(1, Ordering::Relaxed);
                }
                Err(LinkError::Full(waited)) if reliable_peers.contains(&link.peer.node_id) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    slow = Some(Error::SlowSubscriber {
                        topic: topic.to_string(),
                        subscriber: format!("{} ({})", link.peer.node_name, link.peer.node_id),
                        waited,
                    });
                }
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
        match slow {
            Some(e) => Err(e),
            None => Ok(delivered),
        }
    }

    /// Sends again while a reliable reader of this node's segment has not taken the message
    /// the next one would overwrite, until it does or the send timeout passes.
    async fn wait_for_reader(
        &self,
        mut send: impl FnMut() -> Result<(), ShmError>,
    ) -> Result<(), ShmError> {
        let deadline = std::time::Instant::now() + self.config.send_timeout;
        let mut tries = 0u32;
        loop {
            // A reader a few microseconds behind: let it run; longer, sleep (1 ms timer).
            if tries < 64 {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            tries += 1;
            match send() {
                Err(ShmError::ReaderBehind { .. }) if std::time::Instant::now() < deadline => {}
                other => return other,
            }
        }
    }

    /// Who gets a message on `topic`: every group of same-name listeners, one member each
    /// (or all, per the strategy). This node counts as a member of its own name's group.
    fn route_topic(&self, topic: &str) -> Targets {
        // The groups change only with the topology (or this node's own subscriptions, which
        // bump the same counter): compute them once per change, pick per message.
        let version = *self.changes.borrow();
        let (groups, strategy) = {
            let mut routes = lock(&self.routes);
            match routes.get(topic) {
                Some(route) if route.version == version => (route.groups.clone(), route.strategy),
                _ => {
                    let strategy = read(&self.topic_strategy)
                        .get(topic)
                        .copied()
                        .unwrap_or(self.config.strategy);
                    let groups = Arc::new(self.route_groups(topic));
                    routes.insert(
                        topic.to_string(),
                        Route {
                            version,
                            strategy,
                            groups: groups.clone(),
                        },
                    );
                    (groups, strategy)
                }
            }
        };
        let mut targets = Targets::new();
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
                    let qos = info
                        .topics
                        .iter()
                        .find(|t| t.name == topic && t.role == TopicRole::Listen)
                        .map(|t| t.qos)
                        .unwrap_or_default();
                    let reliable = qos.reliability == Reliability::Reliable;
                    let keep_last =
                        (!reliable && qos.history != Qos::default().history).then(|| qos.depth());
                    let target = Target::Peer {
                        link: link.clone(),
                        hash: shm_routes::id_hash(&info.id),
                        shm,
                        reliable,
                        keep_last,
                    };
                    members.push((info.name.clone(), info.id.clone(), target));
                }
            }
        }
        members.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let mut groups: Vec<(String, Vec<Target>)> = Vec::new();
        for (name, _, target) in members {
            match groups.last_mut() {
                Some((group, list)) if *group == name => list.push(target),
                _ => groups.push((name, vec![target])),
            }
        }
        groups
    }

    pub(super) fn shm_way(&self, peer: &NodeInfo, topic: &str, own_host: &str) -> ShmWay {
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

    /// Tells `link`'s peer (once per topic) that this node's messages on `topic` now come
    /// through shared memory, after everything already sent on the connection.
    async fn switch_to_shm(&self, link: &Arc<Link>, topic: &str) {
        let switched = lock(&self.shm_switched)
            .get(&link.peer.node_id)
            .is_some_and(|topics| topics.contains(topic));
        if !switched {
            // Once per peer and topic: boxed, out of the future made per message.
            Box::pin(self.send_shm_switch(link, topic)).await;
        }
    }

    async fn send_shm_switch(&self, link: &Arc<Link>, topic: &str) {
        let marker = Frame::new(FrameKind::ShmSwitch, CodecId::Raw, 0, topic, Bytes::new());
        if link.send(marker, self.config.send_timeout).await.is_ok() {
            lock(&self.shm_switched)
                .entry(link.peer.node_id.clone())
                .or_default()
                .insert(topic.to_string());
        }
    }

    pub(super) fn deliver_local(&self, topic: &str, message: Received) {
        self.deliver_local_many(topic, std::slice::from_ref(&message));
    }

    /// Hands messages of `topic`, in order, to this node's subscriptions of it.
    pub(super) fn deliver_local_many(&self, topic: &str, messages: &[Received]) {
        let subscriptions = read(&self.subscriptions);
        if let Some(list) = subscriptions.get(topic) {
            for q in list {
                q.push_many(messages);
            }
            // Under the same lock as the pushes: a subscriber seeded meanwhile (`seed`, under
            // the write lock) sees either both or neither.
            self.remember_received(topic, messages);
        }
    }

    /// Delivers a run of messages of one topic read off a link (its name checked as UTF-8
    /// when its frames were decoded), and empties it.
    pub(super) fn deliver_run(&self, topic: &[u8], run: &mut Vec<Received>) {
        if run.is_empty() {
            return;
        }
        if let Ok(topic) = std::str::from_utf8(topic) {
            self.deliver_local_many(topic, run);
        }
        run.clear();
    }

    // ----- one message to one peer -----------------------------------------------------------

    /// Sends one message on `topic` to one peer: through shared memory when it reads this
    /// node's segment of the topic, else over its connection.
    pub(super) async fn publish_to(
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
            self.switch_to_shm(link, topic).await;
            let hash = shm_routes::id_hash(&link.peer.node_id);
            match shm.send(topic, codec, &payload, &[hash]) {
                Ok(()) => return Ok(()),
                Err(e) => self.note_shm_fallback(topic, &e),
            }
        }
        let frame = Frame::new(FrameKind::Topic, codec, 0, topic, payload);
        link.send(frame, wait).await
    }

    // ----- listeners -------------------------------------------------------------------------

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

    pub fn set_topic_strategy(&self, topic: &str, strategy: Strategy) {
        write(&self.topic_strategy).insert(topic.to_string(), strategy);
        self.invalidate_routes();
    }

    /// Marks cached routes stale (a peer's link came or went without a topology change).
    pub(super) fn invalidate_routes(&self) {
        lock(&self.routes).clear();
    }

    // ----- subscriptions ---------------------------------------------------------------------

    pub fn subscribe(&self, info: TopicInfo) -> Arc<SubQueue> {
        let qos = info.qos;
        // Without a QoS of its own, a subscriber gets the node's queue capacity.
        let capacity = if qos.history == Qos::default().history {
            self.config.queue_capacity
        } else {
            qos.depth()
        };
        let transient = qos.durability == Durability::TransientLocal;
        let reliable = (qos.reliability == Reliability::Reliable).then(|| self.backlog.clone());
        let mut queue = SubQueue::with_qos(&info.name, capacity, transient, reliable);
        queue.qos = qos;
        let queue = Arc::new(queue);
        if self.is_closed() {
            queue.close();
            return queue;
        }
        {
            // Seeded while no delivery can reach the topic's queues: history comes first.
            let mut subscriptions = write(&self.subscriptions);
            if transient {
                self.seed(&queue, qos.depth());
            }
            subscriptions
                .entry(info.name.clone())
                .or_default()
                .push(queue.clone());
        }
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
        let transient_left = read(&self.subscriptions)
            .get(&queue.topic)
            .is_some_and(|list| list.iter().any(|q| q.transient_local()));
        if queue.transient_local() && !transient_left {
            self.forget_received(&queue.topic);
        }
        if removed {
            self.remove_topic_role(&queue.topic, TopicRole::Listen, queue.qos);
            self.sync_shm();
        }
    }

    /// Closes every subscription on `topic`.
    pub fn unsubscribe_all(&self, topic: &str) -> usize {
        let list = write(&self.subscriptions).remove(topic).unwrap_or_default();
        self.forget_received(topic);
        for q in &list {
            q.close();
            self.remove_topic_role(topic, TopicRole::Listen, q.qos);
        }
        list.len()
    }
}
