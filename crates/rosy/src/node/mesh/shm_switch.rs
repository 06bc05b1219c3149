//! The `ShmSwitch` marker: when a listener starts reading this node's segment of a topic, the
//! publisher queues one on their link after every message it sent there by TCP, so the listener
//! holds what it reads from shared memory until TCP has delivered what came before (its gate,
//! in `attach`). Once per link and topic, and again when the listener asks.
//!
//! The listener asks (the same frame kind, id [`ASK`], the other way) each time it starts
//! reading a segment behind a new, closed gate. Its announcements alone cannot be trusted to
//! say so: a detach and a new attach between two of them look like no change at all, and a
//! publisher that took the marker it sent before as enough would leave the gate shut for good.

use super::routes::PeerTarget;
use super::{Mesh, lock};
use crate::codec::CodecId;
use crate::transport::tcp::frame::{Frame, FrameKind};
use crate::transport::tcp::link::Link;
use bytes::Bytes;
use std::collections::HashSet;
use std::sync::atomic::Ordering;

/// `ShmSwitch` id of a listener's request to be told the switch (again); markers have id 0.
pub(in crate::node::mesh) const ASK: u64 = 1;

impl Mesh {
    /// Makes sure `peer` has been told that this node's messages on `topic` come through
    /// shared memory from now on: a `ShmSwitch` frame queued on its link after every message
    /// sent there before (its reader holds what it reads from shared memory until then).
    pub(in crate::node::mesh) fn switch_to_shm(&self, peer: &PeerTarget, topic: &str) {
        if !peer.switched.load(Ordering::Relaxed) && self.switch_link_to_shm(&peer.link, topic) {
            peer.switched.store(true, Ordering::Relaxed);
        }
    }

    /// As [`Mesh::switch_to_shm`] for a link, once per link and topic (`same_host.switched`).
    /// A marker is queued whatever the outbox holds; `false` when the link is closed.
    pub(in crate::node::mesh) fn switch_link_to_shm(&self, link: &Link, topic: &str) -> bool {
        let mut switched = lock(&self.same_host.switched);
        if switched
            .get(&link.peer.node_id)
            .is_some_and(|(on, topics)| *on == link.id && topics.contains(topic))
        {
            return true;
        }
        let marker = Frame::new(FrameKind::ShmSwitch, CodecId::Raw, 0, topic, Bytes::new());
        if link.send_now(marker).is_err() {
            // Closed: it carries nothing more, and shared memory is the only way left.
            return false;
        }
        let (on, topics) = switched
            .entry(link.peer.node_id.clone())
            .or_insert_with(|| (link.id, HashSet::new()));
        if *on != link.id {
            // Markers sent on another link (a duplicate since replaced) count for nothing here.
            *on = link.id;
            topics.clear();
        }
        topics.insert(topic.to_string());
        tracing::debug!(
            "told {} on link {}: {topic:?} comes through shared memory from now on",
            link.peer.node_id,
            link.id
        );
        true
    }

    /// This node starts reading `publisher`'s segment of `topic` behind a closed gate: asks the
    /// publisher to say the switch (again) on its link to this node.
    pub(in crate::node::mesh) fn ask_for_switch(&self, publisher: &str, topic: &str) {
        if let Some(link) = super::read(&self.peers.links).get(publisher) {
            let ask = Frame::new(FrameKind::ShmSwitch, CodecId::Raw, ASK, topic, Bytes::new());
            let _ = link.send_now(ask);
        }
    }

    /// A listener asked for the switch of `topic` on `link`: whatever was said before counts
    /// for nothing, and the next message routed to it through shared memory says it again.
    pub(in crate::node::mesh) fn on_switch_asked(&self, link: &Link, topic: &str) {
        let forgot = lock(&self.same_host.switched)
            .get_mut(&link.peer.node_id)
            .is_some_and(|(_, topics)| topics.remove(topic));
        tracing::debug!(
            "{} asks for the switch of {topic:?} on link {} (one was said: {forgot})",
            link.peer.node_id,
            link.id
        );
        if forgot {
            // Routes remember the switch made per peer; built again, they ask the set above.
            self.invalidate_routes();
        }
    }
}
