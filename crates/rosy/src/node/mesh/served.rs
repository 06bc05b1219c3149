//! The calls a provider is serving or has just answered, by (caller, request id), so that a call
//! sent again (its link closed as a duplicate, or dropped and dialed again) runs its handler
//! once, and its answer goes to the link the latest copy came on.
//!
//! Only bookkeeping: this file never runs a handler and never sends anything.

use crate::codec::CodecId;
use crate::transport::tcp::frame::ResponseError;
use crate::transport::tcp::link::Link;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a provider remembers an answer, to send it again (without running the handler
/// again) when the same call arrives a second time on another link.
const REPLAY_WINDOW: Duration = Duration::from_secs(10);
/// The answers remembered at most, in bytes and in number; beyond, older ones are forgotten.
const REPLAY_BYTES: usize = 8 << 20;
const REPLAY_CALLS: usize = 4096;

/// A handler's answer: the encoded response, or the error kind and its text.
pub(super) type Answer = std::result::Result<(CodecId, Bytes), (ResponseError, String)>;

/// Where a call's answer goes: the link a copy of it came on, and whether through the internal
/// responses topic (a same-host call) rather than as a response frame.
#[derive(Clone)]
pub(super) struct ReplyTo {
    pub link: Arc<Link>,
    pub internal: bool,
}

/// What to do with a copy of a call that just arrived.
pub(super) enum Begin {
    /// The first copy: run the handler.
    Run,
    /// The handler runs already; its answer will go where this copy came from.
    Running,
    /// Answered already: send this answer again.
    Replay(Answer),
}

enum Call {
    Running(ReplyTo),
    Answered(Answer),
}

#[derive(Default)]
pub(super) struct Served {
    calls: HashMap<(String, u64), Call>,
    /// Answered calls, oldest first, with when and their size.
    answered: VecDeque<((String, u64), Instant, usize)>,
    bytes: usize,
}

impl Served {
    /// A copy of `caller`'s call `id` came, to be answered to `reply_to`.
    pub fn begin(&mut self, caller: &str, id: u64, reply_to: ReplyTo) -> Begin {
        self.expire();
        let key = (caller.to_string(), id);
        match self.calls.get_mut(&key) {
            None => {
                self.calls.insert(key, Call::Running(reply_to));
                Begin::Run
            }
            Some(Call::Running(to)) => {
                *to = reply_to;
                Begin::Running
            }
            Some(Call::Answered(answer)) => Begin::Replay(answer.clone()),
        }
    }

    /// The handler answered `caller`'s call `id`: remembers the answer and gives where the
    /// latest copy of the call came from.
    pub fn finish(&mut self, caller: &str, id: u64, answer: &Answer) -> Option<ReplyTo> {
        let key = (caller.to_string(), id);
        let size = match answer {
            Ok((_, payload)) => payload.len(),
            Err((_, text)) => text.len(),
        } + 64;
        self.answered.push_back((key.clone(), Instant::now(), size));
        self.bytes += size;
        let reply_to = match self.calls.insert(key, Call::Answered(answer.clone())) {
            Some(Call::Running(to)) => Some(to),
            _ => None,
        };
        self.expire();
        reply_to
    }

    fn expire(&mut self) {
        while let Some((key, at, size)) = self.answered.front() {
            let full = self.bytes > REPLAY_BYTES || self.answered.len() > REPLAY_CALLS;
            if !full && at.elapsed() < REPLAY_WINDOW {
                break;
            }
            self.calls.remove(key);
            self.bytes -= size;
            self.answered.pop_front();
        }
    }
}
