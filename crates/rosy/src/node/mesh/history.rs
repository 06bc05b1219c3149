//! The histories transient-local ("latched") topics keep, as data: the last `depth` messages
//! of each topic this node publishes or receives so (see `latched.rs` for who gets them when).

use crate::node::queue::Received;
use std::collections::{HashMap, VecDeque};

/// The id a topic frame carries when it is history for a late joiner (live ones carry 0).
pub(crate) const HISTORY: u64 = 1;

/// The last messages of one topic, at most `depth`.
pub(super) struct History {
    pub(super) depth: usize,
    pub(super) messages: VecDeque<Received>,
}

impl History {
    pub(super) fn new(depth: usize) -> History {
        History {
            depth: depth.max(1),
            messages: VecDeque::new(),
        }
    }

    pub(super) fn remember(&mut self, message: Received) {
        if self.messages.len() >= self.depth {
            self.messages.pop_front();
        }
        self.messages.push_back(message);
    }
}

/// The histories of one node: of what it publishes with transient-local QoS, and of what it
/// received on topics its transient-local subscribers listen to.
#[derive(Default)]
pub(super) struct Latched {
    pub(super) sent: HashMap<String, History>,
    pub(super) received: HashMap<String, History>,
}
