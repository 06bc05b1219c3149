//! Routing: who gets a message on a topic. The listening groups of a topic (cached per topology
//! version) and one member each per the strategy, each a peer with the way it can be reached
//! (shared memory when it reads this node's segment, else its link) or this node's own
//! subscriptions, which count as one more listener; and the subscriptions themselves.
//!
//! This file sends nothing (`publish` does), never dials, registers or drops a connection
//! (links') and never attaches a shared-memory reader itself (shm_attach's `sync_shm` does,
//! asked to catch up when a subscription comes or goes).

use super::routes::{Groups, PeerTarget, PublishedTopic, Route, ShmWay, Target};
use super::shm::prefix;
use super::{Mesh, lock, read, write};
use crate::balance::Strategy;
use crate::node::preference::TransportPreference;
use crate::node::queue::{Inline, Received, SubQueue};
use crate::node::service_channel;
use crate::qos::{Durability, Qos, Reliability};
use crate::topology::{NodeInfo, TopicInfo, TopicRole};
use crate::transport::tcp::secure::Verb;
use smallvec::SmallVec;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

impl Mesh {
    /// Who listens to `topic`: every group of same-name listeners, and the strategy that picks
    /// the members of each that get a message (`Balancer::pick`). This node counts as a
    /// member of its own name's group.
    /// `cache`: the publisher's own last route, used while current and kept current.
    pub(super) fn route_topic(
        &self,
        topic: &str,
        cache: Option<&PublishedTopic>,
    ) -> (Groups, Strategy) {
        // The groups change only with the topology (or this node's own subscriptions, which
        // bump the same counter) or a link: compute them once per change, pick per message.
        let version = self.routing.version.load(Ordering::Acquire);
        if let Some(cached) = cache.and_then(|c| lock(&c.route).clone()) {
            if cached.version == version {
                return (cached.groups, cached.strategy);
            }
        }
        let route = {
            let mut routes = lock(&self.routing.routes);
            match routes.get(topic) {
                Some(route) if route.version == version => route.clone(),
                _ => {
                    let strategy = read(&self.routing.strategies)
                        .get(topic)
                        .copied()
                        .unwrap_or(self.config.strategy);
                    let route = Route {
                        version,
                        strategy,
                        groups: Arc::new(self.route_groups(topic)),
                    };
                    routes.insert(topic.to_string(), route.clone());
                    route
                }
            }
        };
        if let Some(cache) = cache {
            *lock(&cache.route) = Some(route.clone());
        }
        (route.groups, route.strategy)
    }

    /// The same-name groups listening to `topic`, members in a stable order.
    fn route_groups(&self, topic: &str) -> Vec<(String, Vec<Target>)> {
        let kept_from = |name: &str| self.config.never_routes_to.iter().any(|n| n == name);
        let local = read(&self.local.subscriptions).contains_key(topic)
            && !kept_from(&self.hello.node_name);
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
            let links = read(&self.peers.links);
            let internal = service_channel::is_internal(topic);
            for info in read(&self.topology).listeners(topic) {
                if let Some(link) = links.get(&info.id) {
                    if !internal && kept_from(&info.name) {
                        continue;
                    }
                    if !internal && !self.peer_may(&link.peer.node_name, Verb::Subscribe, topic) {
                        continue;
                    }
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
                    let target = Target::Peer(PeerTarget {
                        link: link.clone(),
                        hash: prefix::id_hash(&info.id),
                        shm,
                        reliable,
                        keep_last,
                        switched: AtomicBool::new(false),
                    });
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
        if self.same_host.routes.is_none()
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

    pub(super) fn deliver_local(&self, topic: &str, message: Received) {
        self.deliver_local_many(topic, std::slice::from_ref(&message));
    }

    /// Hands messages of `topic`, in order, to this node's subscriptions of it.
    pub(super) fn deliver_local_many(&self, topic: &str, messages: &[Received]) {
        let mut inline: SmallVec<[Inline; 2]> = SmallVec::new();
        {
            let subscriptions = read(&self.local.subscriptions);
            if let Some(list) = subscriptions.get(topic) {
                for q in list {
                    match q.inline() {
                        Some(handler) => inline.push(handler.clone()),
                        None => q.push_many(messages),
                    }
                }
                // Under the same lock as the pushes: a subscriber seeded meanwhile (`seed`,
                // under the write lock) sees either both or neither.
                self.remember_received(topic, messages);
            }
        }
        // Inline handlers run outside the lock: one may publish, or end its subscription.
        for handler in &inline {
            for message in messages {
                handler(message);
            }
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

    // ----- listeners -------------------------------------------------------------------------

    /// How many nodes listen to `topic` that this node can send to now, itself included. With
    /// shared memory forced, a same-host listener counts only once it reads this node's segment
    /// of the topic (which this makes, so it can): until then it would get nothing.
    pub fn listener_count(&self, topic: &str) -> usize {
        let own = usize::from(read(&self.local.subscriptions).contains_key(topic));
        let own_host = lock(&self.own).host_id.clone();
        let shm_only = self.config.transport == TransportPreference::Shm;
        let mut wanted = false;
        let reachable = {
            let links = read(&self.peers.links);
            read(&self.topology)
                .listeners(topic)
                .iter()
                .filter(|n| {
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
                .count()
        };
        if wanted {
            self.want_segment(topic);
        }
        own + reachable
    }

    /// Whether any node (this one included) listens to `topic` and can be sent to now.
    pub fn has_listeners(&self, topic: &str) -> bool {
        self.listener_count(topic) > 0
    }

    pub fn set_topic_strategy(&self, topic: &str, strategy: Strategy) {
        write(&self.routing.strategies).insert(topic.to_string(), strategy);
        self.invalidate_routes();
    }

    /// Marks cached routes stale (a peer's link came or went without a topology change).
    pub(super) fn invalidate_routes(&self) {
        self.routing.version.fetch_add(1, Ordering::AcqRel);
        lock(&self.routing.routes).clear();
    }

    // ----- subscriptions ---------------------------------------------------------------------

    pub fn subscribe(&self, info: TopicInfo) -> Arc<SubQueue> {
        self.subscribe_with(info, None)
    }

    /// Subscribes, handing messages to `inline` as they come when given (`Node::on_message`)
    /// rather than queueing them.
    pub fn subscribe_with(&self, info: TopicInfo, inline: Option<Inline>) -> Arc<SubQueue> {
        let qos = info.qos;
        // Without a QoS of its own, a subscriber gets the node's queue capacity.
        let capacity = if qos.history == Qos::default().history {
            self.config.queue_capacity
        } else {
            qos.depth()
        };
        let transient = qos.durability == Durability::TransientLocal;
        let reliable =
            (qos.reliability == Reliability::Reliable).then(|| self.local.backlog.clone());
        let mut queue = SubQueue::with_qos(&info.name, capacity, transient, reliable);
        if let Some(handler) = inline {
            queue = queue.with_inline(handler);
        }
        queue.qos = qos;
        let queue = Arc::new(queue);
        if self.is_closed() {
            queue.close();
            return queue;
        }
        {
            // Seeded while no delivery can reach the topic's queues: history comes first.
            let mut subscriptions = write(&self.local.subscriptions);
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
            let mut subs = write(&self.local.subscriptions);
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
        let transient_left = read(&self.local.subscriptions)
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
        let list = write(&self.local.subscriptions)
            .remove(topic)
            .unwrap_or_default();
        self.forget_received(topic);
        for q in &list {
            q.close();
            self.remove_topic_role(topic, TopicRole::Listen, q.qos);
        }
        list.len()
    }
}
