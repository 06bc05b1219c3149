//! Transient-local ("latched") topics: a subscriber that joins later receives the last `depth`
//! messages its publishers sent before it came, once, in order, before newer ones.
//!
//! - A publisher with transient-local QoS keeps the last `depth` messages it sent on the topic
//!   (`History`), whether anyone listened or not.
//! - When a peer's node info first shows it listening to such a topic with transient-local QoS,
//!   the publisher sends it that history on their connection (topic frames marked
//!   [`HISTORY`]) *before* the peer enters the topology: no newer message can be routed to it
//!   before its history, and shared memory starts only after a later `ShmSwitch` on the same
//!   connection, so the order holds over both transports.
//! - The receiving node hands a history frame only to its transient-local subscriptions, and,
//!   while it has one for a topic, remembers the last messages of that topic, so that a second
//!   transient-local subscriber of the node joining later is seeded from that memory at once.
//!   A subscriber in the publisher's own node is seeded from the publisher's history.
//!
//! This file never routes live messages (routing's) and never opens a connection.

use super::history::{HISTORY, History};
use super::{Mesh, lock, read};
use crate::codec::CodecId;
use crate::node::queue::{Received, SubQueue};
use crate::qos::Durability;
use crate::topology::{NodeInfo, TopicRole};
use crate::transport::tcp::frame::{Frame, FrameKind};
use crate::transport::tcp::link::Link;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl Mesh {
    /// This node publishes `topic` with transient-local QoS: keep its last `depth` messages.
    pub fn latch(&self, topic: &str, depth: usize) {
        let mut latched = lock(&self.local.latched);
        let history = latched
            .sent
            .entry(topic.to_string())
            .or_insert_with(|| History::new(depth));
        history.depth = history.depth.max(depth);
        self.local.any_latched.store(true, Ordering::Release);
    }

    /// Called for every message this node publishes (before routing): kept when the topic is
    /// latched.
    pub(super) fn remember_sent(&self, topic: &str, codec: CodecId, payload: &[u8]) {
        if !self.local.any_latched.load(Ordering::Acquire) {
            return;
        }
        if let Some(history) = lock(&self.local.latched).sent.get_mut(topic) {
            history.remember(Received {
                codec,
                payload: Bytes::copy_from_slice(payload),
            });
        }
    }

    /// Called for every message delivered to this node's subscriptions of `topic`: remembered
    /// while a transient-local subscriber of the node listens to it.
    pub(super) fn remember_received(&self, topic: &str, messages: &[Received]) {
        if !self.local.any_latched.load(Ordering::Acquire) {
            return;
        }
        if let Some(history) = lock(&self.local.latched).received.get_mut(topic) {
            for m in messages {
                history.remember(m.clone());
            }
        }
    }

    /// A new transient-local subscription of this node: seeds `queue` with what the node
    /// remembers of the topic (another transient-local subscriber was here before) or else
    /// with this node's own publisher's history, and remembers the topic from now on.
    pub(super) fn seed(&self, queue: &SubQueue, depth: usize) {
        let mut latched = lock(&self.local.latched);
        let seed: Vec<Received> = match latched.received.get(&queue.topic) {
            Some(memory) => memory.messages.iter().cloned().collect(),
            None => latched
                .sent
                .get(&queue.topic)
                .map(|h| h.messages.iter().cloned().collect())
                .unwrap_or_default(),
        };
        let memory = latched
            .received
            .entry(queue.topic.clone())
            .or_insert_with(|| History::new(depth));
        memory.depth = memory.depth.max(depth);
        if memory.messages.is_empty() {
            for m in &seed {
                memory.remember(m.clone());
            }
        }
        drop(latched);
        self.local.any_latched.store(true, Ordering::Release);
        let skip = seed.len().saturating_sub(depth);
        queue.push_many(&seed[skip..]);
    }

    /// The last transient-local subscription of `topic` in this node is gone: forget it.
    pub(super) fn forget_received(&self, topic: &str) {
        lock(&self.local.latched).received.remove(topic);
    }

    /// `info`, the new node info of the peer behind `link`, is about to enter the topology:
    /// sends it the history of each latched topic it now listens to with transient-local QoS
    /// and did not before.
    pub(super) fn send_history(&self, link: &Arc<Link>, info: &NodeInfo) {
        if !self.local.any_latched.load(Ordering::Acquire) {
            return;
        }
        let listens = |i: &NodeInfo, topic: &str| {
            i.topics.iter().any(|t| {
                t.name == topic
                    && t.role == TopicRole::Listen
                    && t.qos.durability == Durability::TransientLocal
            })
        };
        let frames: Vec<Frame> = {
            let topology = read(&self.topology);
            let before = topology.get(&info.id);
            let latched = lock(&self.local.latched);
            latched
                .sent
                .iter()
                .filter(|(topic, _)| {
                    listens(info, topic) && !before.is_some_and(|b| listens(b, topic))
                })
                .flat_map(|(topic, history)| {
                    history.messages.iter().map(move |m| {
                        Frame::new(FrameKind::Topic, m.codec, HISTORY, topic, m.payload.clone())
                    })
                })
                .collect()
        };
        for frame in frames {
            if let Err(e) = link.send_now(frame) {
                tracing::debug!("history for {} not sent: {e}", link.peer.node_name);
            }
        }
    }

    /// A history frame arrived: for this node's transient-local subscriptions only.
    pub(super) fn deliver_history(&self, topic: &str, message: Received) {
        let subscriptions = read(&self.local.subscriptions);
        if let Some(list) = subscriptions.get(topic) {
            for q in list.iter().filter(|q| q.transient_local()) {
                q.push(message.clone());
            }
            // Under the same lock as the pushes (see `deliver_local`).
            self.remember_received(topic, std::slice::from_ref(&message));
        }
    }
}
