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
    /// Run on the thread that takes a same-host request in (the node's shared-memory reader),
    /// not handed to the runtime: a handler that answers at once (`Node::add_service_inline`).
    pub(super) inline: bool,
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
    /// Whether a caller spins briefly for a same-host answer before it sleeps.
    pub(super) spin: Mutex<AnswerSpin>,
}

/// A caller's short spin for a same-host answer: the answer to a quick handler comes within
/// [`AnswerSpin::FOR`], and a caller that did not sleep is not woken (a round trip then costs
/// one wake-up a side: each node's shared-memory reader thread). Only with a core to spare,
/// and not for a while after spins that ended with nothing (slow handlers): three misses in a
/// row stop it for a second.
pub(super) struct AnswerSpin {
    cores: bool,
    misses: u32,
    resume_at: Option<std::time::Instant>,
}

impl AnswerSpin {
    pub(super) const FOR: std::time::Duration = std::time::Duration::from_micros(200);
    const MISSES: u32 = 3;
    const PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

    fn new() -> Self {
        AnswerSpin {
            cores: std::thread::available_parallelism().is_ok_and(|n| n.get() > 1),
            misses: 0,
            resume_at: None,
        }
    }

    /// Whether the next call should spin.
    pub(super) fn worth_it(&self, now: std::time::Instant) -> bool {
        self.cores && self.resume_at.is_none_or(|t| now >= t)
    }

    /// Counts a spin that found its answer (`hit`) or not.
    pub(super) fn record(&mut self, hit: bool, now: std::time::Instant) {
        if hit {
            self.misses = 0;
            return;
        }
        self.misses += 1;
        if self.misses >= Self::MISSES {
            self.misses = 0;
            self.resume_at = Some(now + Self::PAUSE);
        }
    }
}

impl Default for Calls {
    fn default() -> Self {
        Calls {
            table: RwLock::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            served: Mutex::new(Served::default()),
            next_request: AtomicU64::new(1),
            spin: Mutex::new(AnswerSpin::new()),
        }
    }
}
