//! The `ShmSwitch` marker: when a listener starts reading this node's segment of a topic, the
//! publisher queues one on their link after every message it sent there by TCP, so the listener
//! holds what it reads from shared memory until TCP has delivered what came before (its gate,
//! in `attach`). Once per peer and topic.

use super::routes::PeerTarget;
use super::{Mesh, lock};
use crate::codec::CodecId;
use crate::transport::tcp::frame::{Frame, FrameKind};
use crate::transport::tcp::link::Link;
use bytes::Bytes;
use std::sync::atomic::Ordering;

impl Mesh {
    /// Makes sure `peer` has been told that this node's messages on `topic` come through
    /// shared memory from now on: a `ShmSwitch` frame queued on its link after every message
    /// sent there before (its reader holds what it reads from shared memory until then).
    pub(in crate::node::mesh) fn switch_to_shm(&self, peer: &PeerTarget, topic: &str) {
        if !peer.switched.load(Ordering::Relaxed) && self.switch_link_to_shm(&peer.link, topic) {
            peer.switched.store(true, Ordering::Relaxed);
        }
    }

    /// As [`Mesh::switch_to_shm`] for a link, once per peer and topic (`shm_switched`). A marker
    /// is queued whatever the outbox holds; `false` when the link is closed.
    pub(in crate::node::mesh) fn switch_link_to_shm(&self, link: &Link, topic: &str) -> bool {
        let mut switched = lock(&self.same_host.switched);
        if switched
            .get(&link.peer.node_id)
            .is_some_and(|topics| topics.contains(topic))
        {
            return true;
        }
        let marker = Frame::new(FrameKind::ShmSwitch, CodecId::Raw, 0, topic, Bytes::new());
        if link.send_now(marker).is_err() {
            // Closed: it carries nothing more, and shared memory is the only way left.
            return false;
        }
        switched
            .entry(link.peer.node_id.clone())
            .or_default()
            .insert(topic.to_string());
        true
    }
}
