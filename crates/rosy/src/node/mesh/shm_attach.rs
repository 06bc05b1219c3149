//! Shared-memory attach: which of this node's topics get a segment of their own, which same-host
//! segments this node reads, and the gates that hold messages read from shared memory until the
//! publisher's `ShmSwitch` says nothing is still in flight on TCP. Also what this node announces
//! about it (`shm_topics`, `shm_reading`).
//!
//! This file only makes segments, attaches and detaches readers and hands what they read to the
//! local queues: it never sends a topic message or a service call (routing's and services') and
//! never dials or closes a connection (links').

use super::routes::ShmWay;
use super::shm::reader::SegmentSink;
use super::{Mesh, lock, read};
use crate::node::queue::Received;
use crate::node::service_channel;
use crate::topology::{NodeId, TopicRole};
use crate::transport::shm::ShmError;
use crate::transport::tcp::secure::Verb;
use std::collections::HashSet;
use std::sync::Weak;

impl Mesh {
    /// Makes this node's segment of `topic` and announces it, if it does not exist yet.
    pub(in crate::node::mesh) fn want_segment(&self, topic: &str) {
        let Some(shm) = &self.same_host.routes else {
            return;
        };
        match shm.ensure_segment(topic) {
            Ok(true) => {
                let own = self.hello.node_id.clone();
                self.clear_shm_problem(&own, topic);
                self.update_own(|own| {
                    own.shm_topics.push(topic.to_string());
                    own.shm_topics.sort();
                })
            }
            Ok(false) => {}
            Err(e) => {
                let own = self.hello.node_id.clone();
                self.note_shm_problem(&own, topic, &e.to_string(), true);
            }
        }
    }

    /// Shared memory refused a message on `topic` (it goes by TCP instead): warns once per
    /// problem and announces it, so `rosy topic info` says why.
    pub(in crate::node::mesh) fn note_shm_fallback(&self, topic: &str, error: &ShmError) {
        if matches!(error, ShmError::PoolExhausted(_)) {
            return;
        }
        let own = self.hello.node_id.clone();
        self.note_shm_problem(&own, topic, &format!("{error}; sent by TCP"), true);
    }

    /// Records (and announces) why shared memory of (`publisher`, `topic`) is not used; logs a
    /// warning the first time when `warn`. A problem that differs from the one recorded only in
    /// its numbers (the chunk file's generation, the bytes wanted) is the same problem: a full
    /// /dev/shm refusing every large message warns once and is announced once, not per message.
    fn note_shm_problem(&self, publisher: &str, topic: &str, error: &str, warn: bool) {
        let key = (publisher.to_string(), topic.to_string());
        let changed = {
            let mut problems = lock(&self.same_host.problems);
            let new = !problems
                .get(&key)
                .is_some_and(|known| same_but_numbers(known, error));
            if new {
                problems.insert(key, error.to_string());
            }
            new
        };
        if changed {
            if warn {
                tracing::warn!("shared memory for {topic:?}: {error}");
            }
            self.announce_shm_problems();
        }
    }

    fn clear_shm_problem(&self, publisher: &str, topic: &str) {
        let key = (publisher.to_string(), topic.to_string());
        if lock(&self.same_host.problems).remove(&key).is_some() {
            self.announce_shm_problems();
        }
    }

    fn announce_shm_problems(&self) {
        let list: Vec<(NodeId, String, String)> = lock(&self.same_host.problems)
            .iter()
            .map(|((p, t), e)| (p.clone(), t.clone(), e.clone()))
            .collect();
        self.update_own(|own| own.shm_problems = list);
    }

    /// Brings shared memory in line with the topology: segments for topics this node publishes
    /// that same-host peers listen to, and readers for same-host segments of topics it listens
    /// to. Runs on every topology change and on a timer (to retry what was not ready).
    pub fn sync_shm(&self) {
        let Some(shm) = &self.same_host.routes else {
            return;
        };
        if self.is_closed() {
            return;
        }
        let _one_at_a_time = lock(&self.same_host.syncing);
        let own_host = lock(&self.own).host_id.clone();
        let publishing: Vec<String> = lock(&self.own_topics)
            .keys()
            .filter(|(_, role)| *role == TopicRole::Publish)
            .map(|(t, _)| t.clone())
            .collect();
        let subscribed: HashSet<String> = read(&self.local.subscriptions).keys().cloned().collect();
        let mut wanted_segments = Vec::new();
        let mut desired: HashSet<(NodeId, String)> = HashSet::new();
        {
            let links = read(&self.peers.links);
            for peer in read(&self.topology).nodes() {
                if !links.contains_key(&peer.id) {
                    continue;
                }
                for topic in &publishing {
                    if peer.listens_to(topic)
                        && self.shm_way(peer, topic, &own_host) == ShmWay::Wanted
                    {
                        wanted_segments.push(topic.clone());
                    }
                }
                if peer.host_id == own_host && peer.transports.iter().any(|t| t == "shm") {
                    let name = &links[&peer.id].peer.node_name;
                    for topic in peer.shm_topics.iter().filter(|t| subscribed.contains(*t)) {
                        // The ACL: a peer that may not publish the topic is not read.
                        if !service_channel::is_internal(topic)
                            && !self.peer_may(name, Verb::Publish, topic)
                        {
                            self.say_denied(name, Verb::Publish, topic);
                            continue;
                        }
                        desired.insert((peer.id.clone(), topic.clone()));
                    }
                }
            }
        }
        let mut pending = false;
        for topic in wanted_segments {
            self.want_segment(&topic);
            pending |= shm.segment(&topic).is_none();
        }
        let before = shm.reading();
        for (publisher, topic) in &desired {
            let key = (publisher.clone(), topic.clone());
            lock(&self.same_host.gates).entry(key.clone()).or_default();
            let sink: Weak<dyn SegmentSink> = self.me.clone();
            match shm.attach(publisher, topic, sink) {
                Ok(true) => {
                    tracing::debug!("reading {topic:?} of {publisher} from shared memory");
                    self.clear_shm_problem(publisher, topic);
                    self.ask_for_switch(publisher, topic);
                }
                Ok(false) => {}
                Err(e) => {
                    lock(&self.same_host.gates).remove(&key);
                    // A segment being made is no problem yet; anything else is said once.
                    // Nor is one of the internal service topics (its calls go by TCP instead).
                    let transient = matches!(e, ShmError::NotFound(_) | ShmError::NotReady(_))
                        || service_channel::is_internal(topic);
                    tracing::debug!(
                        "not reading {topic:?} of {publisher} from shared memory yet: {e}"
                    );
                    self.note_shm_problem(
                        publisher,
                        topic,
                        &format!("cannot read the segment: {e}"),
                        !transient,
                    );
                }
            }
        }
        for (publisher, topic) in &before {
            let key = (publisher.clone(), topic.clone());
            if !desired.contains(&key) {
                tracing::debug!("no longer reading {topic:?} of {publisher} from shared memory");
                shm.detach(publisher, topic);
                lock(&self.same_host.gates).remove(&key);
            }
        }
        let reading = shm.reading();
        pending |= desired.iter().any(|key| !reading.contains(key));
        // Whatever this call changed (the reader thread, forgetting a segment whose publisher
        // ended, announces too: each announces only what differs from the last).
        self.announce_shm_reading();
        // Something could not be made or read yet: `run_discovery` retries once a second
        // until it can; otherwise nothing wakes for shared memory while the node idles.
        if pending {
            self.same_host.retry.notify_one();
        }
    }

    fn deliver_through_gate(&self, key: &(NodeId, String), batch: Vec<Received>) {
        let mut gates = lock(&self.same_host.gates);
        tracing::trace!(
            "gate {:?}: {:?}",
            key,
            gates.get(key).map(|g| (g.open, g.held.len()))
        );
        match gates.get_mut(key) {
            // Whatever the transport, local subscribers get messages one way.
            Some(gate) if gate.open => self.deliver_local_many(&key.1, &batch),
            Some(gate) => {
                for message in batch {
                    if gate.held.len() >= self.config.queue_capacity {
                        gate.held.pop_front();
                    }
                    gate.held.push_back(message);
                }
            }
            None => {}
        }
    }

    /// The publisher's `ShmSwitch` for `topic` arrived: release what shared memory held back.
    pub(in crate::node::mesh) fn open_gate(&self, publisher: &str, topic: &str) {
        let mut gates = lock(&self.same_host.gates);
        let gate = gates
            .entry((publisher.to_string(), topic.to_string()))
            .or_default();
        if !gate.open {
            tracing::debug!(
                "{publisher} switched {topic:?} to shared memory: {} held back delivered",
                gate.held.len()
            );
        }
        gate.open = true;
        for message in gate.held.drain(..) {
            self.deliver_local(topic, message);
        }
    }

    fn announce_shm_reading(&self) {
        let Some(shm) = &self.same_host.routes else {
            return;
        };
        let reading = shm.reading();
        if lock(&self.own).shm_reading != reading {
            self.update_own(|own| own.shm_reading = reading);
        }
    }
}

/// The reader thread hands what it reads to the mesh through this, as a link does through
/// `FrameSink`.
impl SegmentSink for Mesh {
    fn on_messages(&self, key: &(NodeId, String), batch: Vec<Received>) {
        // Service traffic skips the queues (one thread hop less each way).
        match key.1.as_str() {
            service_channel::REQUESTS => {
                batch.into_iter().for_each(|m| self.on_internal_request(m))
            }
            service_channel::RESPONSES => {
                batch.into_iter().for_each(|m| self.on_internal_response(m))
            }
            _ => self.deliver_through_gate(key, batch),
        }
    }

    fn on_lost(&self, key: &(NodeId, String), n: u64) {
        if let Some(list) = read(&self.local.subscriptions).get(&key.1) {
            for q in list {
                q.add_lost(n);
            }
        }
    }

    fn on_ended(&self, key: &(NodeId, String)) {
        if let Some(shm) = &self.same_host.routes {
            shm.forget(&key.0, &key.1);
        }
        self.announce_shm_reading();
    }

    fn reliability(&self, topic: &str) -> (bool, bool) {
        let reliable = read(&self.local.subscriptions)
            .get(topic)
            .is_some_and(|list| list.iter().any(|q| q.reliable()));
        (reliable, self.local.backlog.full())
    }
}

/// Whether two problem texts are equal but for their digits.
fn same_but_numbers(a: &str, b: &str) -> bool {
    let letters = |s: &str| {
        s.chars()
            .filter(|c| !c.is_ascii_digit())
            .collect::<String>()
    };
    letters(a) == letters(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn problems_differing_only_in_numbers_are_one_problem() {
        let full = |generation: u32, len: u32| {
            format!(
                "/dev/shm has no room for {len} more bytes (rosy.d.0123abcd.ef45.c1.{generation}); \
                 sent by TCP"
            )
        };
        assert!(super::same_but_numbers(
            &full(3, 1052672),
            &full(12, 2101248)
        ));
        assert!(!super::same_but_numbers(
            &full(3, 1),
            "cannot read the segment: rosy.d.0123abcd.ef45 is still being created"
        ));
    }
}
