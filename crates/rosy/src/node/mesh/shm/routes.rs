//! [`ShmRoutes`]: this node's segments (one per topic same-host peers listen to) and the
//! segments it reads, through its one reader thread (`reader`).
//!
//! It never decides which topics get a segment or which segments to read (`attach`, from the
//! topology) and never looks inside a message but through `prefix`.

use super::prefix::{PREFIX_LEN, id_hash, prefix};
use super::reader::{Attached, Command, DRAIN_BOUND, ReaderThread, SegmentSink};
use crate::codec::CodecId;
use crate::topology::NodeId;
use crate::transport::shm::{
    Loan, ShmConfig, ShmError, ShmPublisher, ShmSubscriber, bell_name, segment_name,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// This node's segments and its reader thread.
pub(crate) struct ShmRoutes {
    domain: String,
    own_id: String,
    config: ShmConfig,
    per_topic: HashMap<String, ShmConfig>,
    busy_poll: bool,
    out: Mutex<HashMap<String, Arc<ShmPublisher>>>,
    /// Topics whose publishers wait for same-host readers rather than drop the oldest
    /// (`WhenFull::Wait`): their segments, made now or later, wait for every reader. Locked
    /// after `out` when both are.
    waiting: Mutex<std::collections::HashSet<String>>,
    reader: Mutex<Option<ReaderThread>>,
    /// Segments this node reads (`true`), or is attaching to (`false`: claimed, so no second
    /// attach starts, but not announced: the attach may still fail).
    reading: Mutex<std::collections::BTreeMap<(NodeId, String), bool>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ShmRoutes {
    /// `config.max_message` is the user's limit; segments add room for the prefix.
    /// `per_topic` overrides `config` for some topics (all but the message limit, the node's).
    pub fn new(
        domain: &str,
        own_id: &str,
        mut config: ShmConfig,
        per_topic: HashMap<String, ShmConfig>,
        busy_poll: bool,
    ) -> Self {
        config.max_message += PREFIX_LEN;
        ShmRoutes {
            domain: domain.to_string(),
            own_id: own_id.to_string(),
            per_topic,
            config,
            busy_poll,
            out: Mutex::new(HashMap::new()),
            waiting: Mutex::new(Default::default()),
            reader: Mutex::new(None),
            reading: Mutex::new(Default::default()),
        }
    }

    /// The segment of `topic`, or `NotFound` naming it.
    fn existing_segment(&self, topic: &str) -> Result<Arc<ShmPublisher>, ShmError> {
        self.segment(topic)
            .ok_or_else(|| ShmError::NotFound(segment_name(&self.domain, &self.own_id, topic)))
    }

    /// The segment of `topic`, if this node made one.
    pub fn segment(&self, topic: &str) -> Option<Arc<ShmPublisher>> {
        lock(&self.out).get(topic).cloned()
    }

    /// Makes the segment of `topic` unless it exists. Returns whether it was made now.
    pub fn ensure_segment(&self, topic: &str) -> Result<bool, ShmError> {
        let mut out = lock(&self.out);
        if out.contains_key(topic) {
            return Ok(false);
        }
        let name = segment_name(&self.domain, &self.own_id, topic);
        let config = match self.per_topic.get(topic) {
            Some(c) => ShmConfig {
                max_message: self.config.max_message,
                ..c.clone()
            },
            None => self.config.clone(),
        };
        let publisher = ShmPublisher::create(&name, &config)?;
        publisher.set_waits_for_readers(lock(&self.waiting).contains(topic));
        out.insert(topic.to_string(), Arc::new(publisher));
        Ok(true)
    }

    /// Whether `topic`'s segment waits for every reader (its publishers' `WhenFull::Wait`).
    pub fn set_waits_for_readers(&self, topic: &str, waits: bool) {
        // `out` before `waiting`, as `ensure_segment` takes them.
        let out = lock(&self.out);
        let mut waiting = lock(&self.waiting);
        if waits {
            waiting.insert(topic.to_string());
        } else {
            waiting.remove(topic);
        }
        if let Some(segment) = out.get(topic) {
            segment.set_waits_for_readers(waits);
        }
    }

    /// [`ShmRoutes::send`] once a wait for readers timed out: best-effort readers lose the
    /// oldest message; reliable ones are still waited for.
    pub fn send_dropping_oldest(
        &self,
        topic: &str,
        codec: CodecId,
        payload: &[u8],
        recipients: &[u64],
    ) -> Result<(), ShmError> {
        let segment = self.existing_segment(topic)?;
        let prefix = prefix(codec, recipients);
        segment.send_parts_dropping_oldest(codec.to_byte() as u32, &[&prefix, payload])
    }

    /// Writes one message for `recipients` (id hashes, at most [`super::prefix::MAX_RECIPIENTS`]).
    pub fn send(
        &self,
        topic: &str,
        codec: CodecId,
        payload: &[u8],
        recipients: &[u64],
    ) -> Result<(), ShmError> {
        let segment = self.existing_segment(topic)?;
        let prefix = prefix(codec, recipients);
        segment.send_parts(codec.to_byte() as u32, &[&prefix, payload])
    }

    /// A chunk of `topic`'s segment for a message of `len` bytes to be written in place, when
    /// the segment exists and the message is too large for its ring's slots (small ones are
    /// copied inline, cheaply). Asks the segment, whose sizes may be the topic's own.
    pub fn loan(&self, topic: &str, len: usize) -> Option<Result<Loan, ShmError>> {
        let segment = self.segment(topic)?;
        (len + PREFIX_LEN > segment.inline_capacity()).then(|| segment.loan(PREFIX_LEN + len))
    }

    /// Wakes the reader thread (a full reliable subscription has room again).
    pub fn wake_reader(&self) {
        if let Some(reader) = lock(&self.reader).as_ref() {
            reader.bell.ring();
        }
    }

    /// The (publisher, topic) segments read now.
    pub fn reading(&self) -> Vec<(NodeId, String)> {
        lock(&self.reading)
            .iter()
            .filter(|(_, attached)| **attached)
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Starts reading `publisher`'s segment of `topic` on the node's reader thread, handing
    /// what it reads for this node to `sink`.
    /// Returns whether it started now.
    pub fn attach(
        &self,
        publisher: &str,
        topic: &str,
        sink: Weak<dyn SegmentSink>,
    ) -> Result<bool, ShmError> {
        let key = (publisher.to_string(), topic.to_string());
        // Checked and claimed at once: two `sync_shm` running together (a topology change and a
        // new subscription) would otherwise both attach, and every message come twice.
        match lock(&self.reading).entry(key.clone()) {
            std::collections::btree_map::Entry::Occupied(_) => return Ok(false),
            std::collections::btree_map::Entry::Vacant(claim) => claim.insert(false),
        };
        let attached = self.attach_claimed(&key, sink);
        let mut reading = lock(&self.reading);
        match attached {
            // Announced from now on; unless detached or forgotten meanwhile.
            Ok(()) => {
                if let Some(state) = reading.get_mut(&key) {
                    *state = true;
                }
            }
            Err(_) => {
                reading.remove(&key);
            }
        }
        attached.map(|()| true)
    }

    /// `attach` once `key` is claimed in `reading`.
    fn attach_claimed(
        &self,
        key: &(NodeId, String),
        sink: Weak<dyn SegmentSink>,
    ) -> Result<(), ShmError> {
        let (publisher, topic) = (key.0.as_str(), key.1.as_str());
        let me = id_hash(&self.own_id);
        let mut reader = lock(&self.reader);
        if reader.is_none() {
            *reader = Some(ReaderThread::start(
                &bell_name(&self.domain, me),
                me,
                self.busy_poll,
            )?);
        }
        let name = segment_name(&self.domain, publisher, topic);
        let subscriber = ShmSubscriber::open_with_bell(&name, me)?;
        // Reliable from its first message on (the reader thread only looks before each read).
        let reliable = sink.upgrade().is_some_and(|sink| sink.reliability(topic).0);
        subscriber.set_reliable(reliable);
        if let Some(reader) = reader.as_ref() {
            reader.send(Command::Attach(Box::new(Attached {
                key: key.clone(),
                subscriber,
                sink,
                ended: false,
                counted: 0,
                staged: Default::default(),
                paused: false,
                draining: None,
            })));
        }
        Ok(())
    }

    /// Stops reading `publisher`'s segment of `topic`, once what it holds now is delivered:
    /// a publisher that sent and closed at once has messages in the ring that its listener
    /// has not read yet when the connection's end is seen. Waits for that (bounded by
    /// [`DRAIN_BOUND`]) unless called from the reader thread itself. Returns whether it was read.
    pub fn detach(&self, publisher: &str, topic: &str) -> bool {
        let key = (publisher.to_string(), topic.to_string());
        if lock(&self.reading).remove(&key).is_none() {
            return false;
        }
        let (done, drained) = crossbeam::channel::bounded(1);
        let on_reader_thread = {
            let reader = lock(&self.reader);
            let Some(reader) = reader.as_ref() else {
                return true;
            };
            reader.send(Command::Detach { key, done });
            reader.thread_id == std::thread::current().id()
        };
        if !on_reader_thread {
            let _ = drained.recv_timeout(DRAIN_BOUND + Duration::from_secs(1));
        }
        true
    }

    /// Forgets a segment whose publisher went (the reader thread dropped it already).
    pub fn forget(&self, publisher: &str, topic: &str) {
        lock(&self.reading).remove(&(publisher.to_string(), topic.to_string()));
    }

    /// Removes this node's segments and stops the reader thread.
    pub fn close(&self) {
        lock(&self.out).clear();
        lock(&self.reading).clear();
        let reader = lock(&self.reader).take();
        drop(reader);
    }
}
