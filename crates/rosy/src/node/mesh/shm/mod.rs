//! Same-host delivery through shared memory, for the mesh: one home for all of it.
//!
//! A node that sends on a topic some same-host, shm-capable node listens to creates a segment
//! for it (`segment_name(domain, own id, topic)`) and lists the topic in its `shm_topics`. A
//! listener that sees this attaches the segment to its one reader thread (which sleeps on the
//! node's doorbell, rung by every writer it reads: threads do not grow with topics) and lists
//! `(publisher, topic)` in its `shm_reading`; from then on the publisher routes that listener's messages
//! through the segment instead of TCP. Until then they go by TCP, so nothing is lost while a
//! reader attaches (messages in flight on TCP at the switch may arrive after the first shm one).
//!
//! Each message in a segment starts with a 64-byte prefix naming its recipients (load
//! balancing picks among same-name listeners per message, and every reader sees every slot):
//! `[count u8][codec u8][6 reserved][7 × u64 recipient id hashes]`, then the payload, which so
//! stays 64-byte aligned for in-place reads.
//!
//! - `prefix`: the 64-byte head of every message, naming its codec and recipients;
//! - `routes`: [`ShmRoutes`], this node's segments and the segments it reads;
//! - `reader`: the reader thread, its staging for full reliable subscriptions, and
//!   `SegmentSink`, the one seam through which it hands messages to the mesh (as a TCP link
//!   does through `FrameSink`);
//! - `attach`: the mesh's side: which segments to make and read, the gates that hold what
//!   shared memory reads until TCP is drained, and what the node announces about it;
//! - `switch`: the `ShmSwitch` marker a publisher queues on a link when a listener moves to
//!   shared memory.

mod attach;
mod prefix;
mod reader;
mod routes;
mod switch;

use crate::topology::NodeId;
use attach::ShmGate;
pub(crate) use prefix::{MAX_RECIPIENTS, PREFIX_LEN, id_hash, prefix};
pub(crate) use routes::ShmRoutes;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

/// The same-host part of the mesh: its segments and reader (`None` when the node uses TCP
/// only), and the state of the switch from TCP to shared memory per peer and topic.
pub(super) struct SameHost {
    pub(super) routes: Option<ShmRoutes>,
    /// (peer, topic) whose messages this node now sends through shared memory, after telling
    /// the peer with a `ShmSwitch` frame.
    pub(super) switched: Mutex<HashMap<NodeId, HashSet<String>>>,
    /// Per (publisher, topic) read from shared memory: messages held back until the publisher's
    /// `ShmSwitch` arrives by TCP, so none overtakes one still in flight on TCP.
    pub(super) gates: Mutex<HashMap<(NodeId, String), ShmGate>>,
    /// Why shared memory failed, per (publisher, topic); announced as `shm_problems`.
    pub(super) problems: Mutex<BTreeMap<(NodeId, String), String>>,
    /// Notified when `sync_shm` left something to retry.
    pub(super) retry: tokio::sync::Notify,
}

impl SameHost {
    pub(super) fn new(routes: Option<ShmRoutes>) -> Self {
        SameHost {
            routes,
            switched: Mutex::new(HashMap::new()),
            gates: Mutex::new(HashMap::new()),
            problems: Mutex::new(BTreeMap::new()),
            retry: tokio::sync::Notify::new(),
        }
    }
}
