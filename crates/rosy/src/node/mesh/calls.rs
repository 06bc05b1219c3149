//! The services part of the mesh, as data: the services this node hosts, the calls it waits
//! on and what they learn, and the calls it serves. `services.rs` does the calling and serving.

use super::handler::ErasedHandler;
use super::served::Served;
use crate::codec::CodecId;
use crate::error::Result;
use crate::transport::tcp::link::Link;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::mpsc;

/// A service this node hosts.
pub(super) struct ServiceEntry {
    pub(super) handler: ErasedHandler,
}

pub(super) struct PendingCall {
    pub(super) link: u64,
    pub(super) reply: mpsc::UnboundedSender<CallEvent>,
    pub(super) service: String,
}

/// What a waiting call learns.
pub(super) enum CallEvent {
    /// Its answer (or why it has none).
    Done(Result<(CodecId, Bytes)>),
    /// The link it was sent on closed: send it again on this one (the surviving duplicate).
    Moved(Arc<Link>),
    /// The link it was sent on closed and the provider has no other link now.
    Lost,
}

/// The services part of the mesh: what this node hosts, the calls it waits on, and the calls it
/// serves or just answered.
pub(super) struct Calls {
    pub(super) table: RwLock<HashMap<String, ServiceEntry>>,
    pub(super) pending: Mutex<HashMap<u64, PendingCall>>,
    /// Calls this node serves or just answered, so one sent again runs its handler once.
    pub(super) served: Mutex<Served>,
    pub(super) next_request: AtomicU64,
}

impl Default for Calls {
    fn default() -> Self {
        Calls {
            table: RwLock::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            served: Mutex::new(Served::default()),
            next_request: AtomicU64::new(1),
        }
    }
}
