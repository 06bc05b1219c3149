//! [`Shared`]: what a bridge's tasks share (its settings, zenoh session, two nodes, what it
//! dropped, the sites it hears, and which node ids are of its own mesh). Decides nothing and
//! moves no message: `bridge` keeps it up to date, `export` and `import` read it.

use crate::bad::Dropped;
use crate::config::BridgeConfig;
use crate::sites::Sites;
use std::collections::HashSet;
use std::sync::{Mutex, RwLock};

pub(crate) struct Shared {
    pub config: BridgeConfig,
    pub domain: String,
    pub session: zenoh::Session,
    pub exporter: rosy::Node,
    pub importer: rosy::Node,
    pub dropped: Dropped,
    pub sites: Mutex<Sites>,
    /// Ids of this mesh's nodes: a message whose origin is one of them is already here.
    local_ids: RwLock<HashSet<String>>,
}

impl Shared {
    pub fn new(
        config: BridgeConfig,
        session: zenoh::Session,
        exporter: rosy::Node,
        importer: rosy::Node,
    ) -> Self {
        Shared {
            domain: exporter.domain_id().to_string(),
            config,
            session,
            exporter,
            importer,
            dropped: Dropped::default(),
            sites: Mutex::new(Sites::default()),
            local_ids: RwLock::new(HashSet::new()),
        }
    }

    /// Whether `origin` is the id of a node of this mesh.
    pub fn is_own_origin(&self, origin: &str) -> bool {
        !origin.is_empty()
            && self
                .local_ids
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(origin)
    }

    /// The ids of this mesh's nodes, as the topology shows them now.
    pub fn set_local_ids(&self, ids: HashSet<String>) {
        *self.local_ids.write().unwrap_or_else(|e| e.into_inner()) = ids;
    }
}

/// Locks `lock`, whether or not a holder panicked.
pub(crate) fn lock<T>(lock: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(|e| e.into_inner())
}
