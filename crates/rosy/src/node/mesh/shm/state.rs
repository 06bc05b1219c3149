//! The same-host part of the mesh, as data: its segments and reader, and the state of the
//! switch from TCP to shared memory per peer and topic. `attach.rs` and `switch.rs` keep it.

use super::routes::ShmRoutes;
use crate::node::queue::Received;
use crate::topology::NodeId;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

/// Messages of one (publisher, topic) read from shared memory, held until the gate opens.
#[derive(Default)]
pub(in crate::node::mesh) struct ShmGate {
    pub(in crate::node::mesh) open: bool,
    pub(in crate::node::mesh) held: std::collections::VecDeque<Received>,
}

/// The same-host part of the mesh: its segments and reader (`None` when the node uses TCP
/// only), and the state of the switch from TCP to shared memory per peer and topic.
pub(in crate::node::mesh) struct SameHost {
    pub(in crate::node::mesh) routes: Option<ShmRoutes>,
    /// Per peer: the link the `ShmSwitch` frames went on (its id), and the topics whose
    /// messages this node now sends through shared memory after telling the peer so on it. A
    /// marker is only as good as its link: one queued on a link replaced by a duplicate may
    /// never arrive, so another link to the peer starts with no topic switched.
    pub(in crate::node::mesh) switched: Mutex<HashMap<NodeId, (u64, HashSet<String>)>>,
    /// Per (publisher, topic) read from shared memory: messages held back until the publisher's
    /// `ShmSwitch` arrives by TCP, so none overtakes one still in flight on TCP.
    pub(in crate::node::mesh) gates: Mutex<HashMap<(NodeId, String), ShmGate>>,
    /// Why shared memory failed, per (publisher, topic); announced as `shm_problems`.
    pub(in crate::node::mesh) problems: Mutex<BTreeMap<(NodeId, String), String>>,
    /// Held through each `sync_shm`: one at a time. Two at once (a topology change and a new
    /// subscription) could each see the other's attach as unwanted and undo it, and a detach
    /// between another's claim and its attach left the segment read twice.
    pub(in crate::node::mesh) syncing: Mutex<()>,
    /// Notified when `sync_shm` left something to retry.
    pub(in crate::node::mesh) retry: tokio::sync::Notify,
}

impl SameHost {
    pub(in crate::node::mesh) fn new(routes: Option<ShmRoutes>) -> Self {
        SameHost {
            routes,
            switched: Mutex::new(HashMap::new()),
            gates: Mutex::new(HashMap::new()),
            problems: Mutex::new(BTreeMap::new()),
            syncing: Mutex::new(()),
            retry: tokio::sync::Notify::new(),
        }
    }
}
