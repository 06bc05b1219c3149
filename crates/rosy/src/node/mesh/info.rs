//! Topology updates: this node's own info (its topics, services and shared-memory state, each
//! change raising its version and going to every peer), the peers' info as it arrives, and the
//! change counter everyone watches.
//!
//! This file keeps the picture of the mesh; others act on it. It never dials, never adds or
//! removes a link (it only closes one whose peer sends bad info; links does the rest) and never
//! routes a message.

use super::{Mesh, lock, read, write};
use crate::codec::{Codec, CodecId, MsgPack};
use crate::qos::{Qos, WhenFull};
use crate::topology::{NodeInfo, TopicInfo, TopicRole, Topology};
use crate::transport::tcp::frame::{Frame, FrameKind};
use crate::transport::tcp::link::Link;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::watch;

/// Most topics plus services a peer's NodeInfo may list.
const MAX_PEER_ENTRIES: usize = 100_000;

impl Mesh {
    pub fn own_info(&self) -> NodeInfo {
        lock(&self.own).clone()
    }

    pub fn topology(&self) -> Topology {
        read(&self.topology).clone()
    }

    /// A receiver that changes whenever the topology does.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub(super) fn bump(&self) {
        self.changes.send_modify(|v| *v += 1);
        // Routes computed before are stale (no lock taken: a caller may hold others).
        self.routing.version.fetch_add(1, Ordering::AcqRel);
    }

    /// Applies a change to this node's info, raises its version and tells every peer.
    pub(super) fn update_own(&self, change: impl FnOnce(&mut NodeInfo)) {
        let frame = {
            let mut own = lock(&self.own);
            change(&mut own);
            own.version += 1;
            node_info_frame(&own)
        };
        for link in read(&self.peers.links).values() {
            let _ = link.send_now(frame.clone());
        }
        self.bump();
    }

    fn rebuild_topics(&self, own: &mut NodeInfo, topics: &super::OwnTopics) {
        let mut list: Vec<TopicInfo> = topics.values().map(|(t, _)| t.clone()).collect();
        list.sort_by(|a, b| (&a.name, a.role as u8).cmp(&(&b.name, b.role as u8)));
        own.topics = list;
    }

    /// Counts one more endpoint of a topic in a role; announces the role when it is the first,
    /// and the topic's QoS again when this endpoint asks more than the others.
    pub fn add_topic_role(&self, info: TopicInfo) {
        let publishes = info.role == TopicRole::Publish;
        let topic = info.name.clone();
        let (new, waits) = {
            let mut topics = lock(&self.own_topics);
            let key = (info.name.clone(), info.role);
            let qos = info.qos;
            let entry = topics.entry(key).or_insert_with(|| (info, Vec::new()));
            entry.1.push(qos);
            let first = entry.1.len() == 1;
            let changed = announce_strongest(entry);
            let waits = entry.0.qos.when_full == WhenFull::Wait;
            if first || changed {
                self.update_own(|own| self.rebuild_topics(own, &topics));
            }
            (first, waits)
        };
        if publishes {
            self.set_when_full(&topic, waits);
        }
        if new && publishes {
            // Same-host listeners may already wait: make the segment they will read now.
            self.sync_shm();
        }
    }

    /// Counts one endpoint (of QoS `qos`) less; withdraws the topic role when none is left, and
    /// announces the strongest QoS of those left when the one that went asked more.
    pub fn remove_topic_role(&self, topic: &str, role: TopicRole, qos: Qos) {
        let mut topics = lock(&self.own_topics);
        let key = (topic.to_string(), role);
        let Some(entry) = topics.get_mut(&key) else {
            return;
        };
        if let Some(i) = entry.1.iter().position(|q| *q == qos) {
            entry.1.swap_remove(i);
        } else {
            entry.1.pop();
        }
        let changed = if entry.1.is_empty() {
            topics.remove(&key);
            true
        } else {
            announce_strongest(entry)
        };
        let waits = topics
            .get(&key)
            .is_some_and(|e| e.0.qos.when_full == WhenFull::Wait);
        if changed {
            self.update_own(|own| self.rebuild_topics(own, &topics));
        }
        drop(topics);
        if role == TopicRole::Publish {
            self.set_when_full(topic, waits);
        }
    }

    /// Makes `topic`'s segment wait for its same-host readers, or not, as this node's
    /// publishers of it ask (the strongest: one that waits makes them all wait).
    fn set_when_full(&self, topic: &str, waits: bool) {
        if let Some(routes) = &self.same_host.routes {
            routes.set_waits_for_readers(topic, waits);
        }
    }

    /// Announces a publisher role once (for dynamic `send`).
    pub fn note_sender(&self, info: TopicInfo) {
        let key = (info.name.clone(), TopicRole::Publish);
        if lock(&self.own_topics).contains_key(&key) {
            return;
        }
        self.add_topic_role(info);
    }

    pub(super) fn on_node_info(&self, link: &Arc<Link>, frame: &Frame) {
        let info: NodeInfo = match MsgPack.decode(&frame.payload) {
            Ok(info) => info,
            Err(e) => {
                tracing::warn!("malformed node info from {}: {e}", link.remote);
                link.close();
                return;
            }
        };
        if info.id != link.peer.node_id || info.domain != self.hello.domain {
            tracing::warn!(
                "node info from {} names another node or domain",
                link.remote
            );
            link.close();
            return;
        }
        if info.topics.len() + info.services.len() > MAX_PEER_ENTRIES {
            tracing::warn!(
                "node info from {} lists too many topics and services",
                link.remote
            );
            link.close();
            return;
        }
        let info = self.allowed_part(&link.peer.node_name, info);
        let current = read(&self.peers.links)
            .get(&info.id)
            .is_some_and(|l| l.id == link.id);
        if current {
            // A peer that stopped reading a segment of ours must be told again when it resumes.
            let own = &self.hello.node_id;
            if let Some((_, topics)) = lock(&self.same_host.switched).get_mut(&info.id) {
                topics.retain(|topic| info.shm_reading.iter().any(|(p, t)| p == own && t == topic));
            }
        }
        if current {
            // Before it enters the topology (and so before any newer message is routed to it).
            self.send_history(link, &info);
        }
        if current && write(&self.topology).upsert(info) {
            self.bump();
            self.sync_shm();
        }
    }
}

/// Sets a topic role's announced QoS to the strongest its endpoints ask (several endpoints of
/// one topic in one node: the node announces the strongest). Whether it changed.
fn announce_strongest(entry: &mut (TopicInfo, Vec<Qos>)) -> bool {
    let Some((first, rest)) = entry.1.split_first() else {
        return false;
    };
    let strongest = rest.iter().fold(*first, |a, b| a.strongest(*b));
    let changed = strongest != entry.0.qos;
    entry.0.qos = strongest;
    changed
}

pub(super) fn node_info_frame(info: &NodeInfo) -> Frame {
    let mut payload = Vec::new();
    MsgPack
        .encode(info, &mut payload)
        .expect("node info always encodes");
    Frame::new(
        FrameKind::NodeInfo,
        CodecId::MsgPack,
        0,
        "",
        Bytes::from(payload),
    )
}
