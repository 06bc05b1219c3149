//! Same-host delivery through shared memory, for the mesh.
//!
//! A node that sends on a topic some same-host, shm-capable node listens to creates a segment
//! for it (`segment_name(domain, own id, topic)`) and lists the topic in its `shm_topics`. A
//! listener that sees this attaches a reader thread to the segment and lists `(publisher,
//! topic)` in its `shm_reading`; from then on the publisher routes that listener's messages
//! through the segment instead of TCP. Until then they go by TCP, so nothing is lost while a
//! reader attaches (messages in flight on TCP at the switch may arrive after the first shm one).
//!
//! Each message in a segment starts with a 64-byte prefix naming its recipients (load
//! balancing picks among same-name listeners per message, and every reader sees every slot):
//! `[count u8][codec u8][6 reserved][7 × u64 recipient id hashes]`, then the payload, which so
//! stays 64-byte aligned for in-place reads.

use super::queue::Received;
use crate::codec::CodecId;
use crate::topology::NodeId;
use crate::transport::shm::{ShmConfig, ShmError, ShmPublisher, ShmSubscriber, segment_name};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Bytes before the payload of every shm message.
pub(crate) const PREFIX_LEN: usize = 64;
/// Recipients one message can name.
pub(crate) const MAX_RECIPIENTS: usize = 7;

/// The 64-bit form of a node id used in prefixes: its first 16 hex digits.
pub(crate) fn id_hash(id: &str) -> u64 {
    u64::from_str_radix(id.get(..16).unwrap_or(id), 16).unwrap_or(0)
}

/// Builds a prefix for `codec` and up to [`MAX_RECIPIENTS`] recipients.
pub(crate) fn prefix(codec: CodecId, recipients: &[u64]) -> [u8; PREFIX_LEN] {
    debug_assert!(recipients.len() <= MAX_RECIPIENTS);
    let mut p = [0u8; PREFIX_LEN];
    p[0] = recipients.len() as u8;
    p[1] = codec.to_byte();
    for (i, r) in recipients.iter().enumerate() {
        p[8 + i * 8..16 + i * 8].copy_from_slice(&r.to_le_bytes());
    }
    p
}

/// Reads a prefix: the codec, and whether `me` is among the recipients.
pub(crate) fn parse_prefix(bytes: &[u8], me: u64) -> Option<(CodecId, bool)> {
    if bytes.len() < PREFIX_LEN {
        return None;
    }
    let count = bytes[0] as usize;
    let codec = CodecId::from_byte(bytes[1])?;
    if count > MAX_RECIPIENTS {
        return None;
    }
    let mine = (0..count).any(|i| {
        u64::from_le_bytes(bytes[8 + i * 8..16 + i * 8].try_into().expect("8 bytes")) == me
    });
    Some((codec, mine))
}

struct Reader {
    stop: Arc<AtomicBool>,
    /// Set to end the thread once it has read what the segment holds (see `detach`).
    drain: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Reader {
    fn drop(&mut self) {
        if !self.drain.load(Ordering::Relaxed) {
            self.stop.store(true, Ordering::Relaxed);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// This node's segments and reader threads.
pub(crate) struct ShmRoutes {
    domain: String,
    own_id: String,
    config: ShmConfig,
    busy_poll: bool,
    out: Mutex<HashMap<String, Arc<ShmPublisher>>>,
    readers: Mutex<HashMap<(NodeId, String), Reader>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ShmRoutes {
    pub fn new(domain: &str, own_id: &str, config: ShmConfig, busy_poll: bool) -> Self {
        ShmRoutes {
            domain: domain.to_string(),
            own_id: own_id.to_string(),
            config,
            busy_poll,
            out: Mutex::new(HashMap::new()),
            readers: Mutex::new(HashMap::new()),
        }
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
        let publisher = ShmPublisher::create(&name, &self.config)?;
        out.insert(topic.to_string(), Arc::new(publisher));
        Ok(true)
    }

    /// Writes one message for `recipients` (id hashes, at most [`MAX_RECIPIENTS`]).
    pub fn send(
        &self,
        topic: &str,
        codec: CodecId,
        payload: &[u8],
        recipients: &[u64],
    ) -> Result<(), ShmError> {
        let Some(segment) = self.segment(topic) else {
            return Err(ShmError::NotFound(segment_name(
                &self.domain,
                &self.own_id,
                topic,
            )));
        };
        let prefix = prefix(codec, recipients);
        segment.send_parts(codec.to_byte() as u32, &[&prefix, payload])
    }

    /// Whether a message of `len` bytes fits the segments this node makes.
    pub fn fits(&self, len: usize) -> bool {
        len + PREFIX_LEN <= self.config.chunk_size.max(self.config.inline_max)
    }

    /// Whether a message of `len` bytes travels inline in a ring slot.
    pub fn fits_inline(&self, len: usize) -> bool {
        len + PREFIX_LEN <= self.config.inline_max
    }

    /// The (publisher, topic) segments read now.
    pub fn reading(&self) -> Vec<(NodeId, String)> {
        let mut list: Vec<_> = lock(&self.readers).keys().cloned().collect();
        list.sort();
        list
    }

    /// Starts reading `publisher`'s segment of `topic`, handing messages for this node to
    /// `deliver` and calling `ended` when the publisher goes. Returns whether it started now.
    pub fn attach(
        &self,
        publisher: &str,
        topic: &str,
        deliver: impl Fn(Vec<Received>) + Send + 'static,
        lost: impl Fn(u64) + Send + 'static,
        ended: impl FnOnce() + Send + 'static,
    ) -> Result<bool, ShmError> {
        let key = (publisher.to_string(), topic.to_string());
        if lock(&self.readers).contains_key(&key) {
            return Ok(false);
        }
        let name = segment_name(&self.domain, publisher, topic);
        let mut subscriber = ShmSubscriber::open(&name)?;
        subscriber.set_busy_poll(self.busy_poll);
        let me = id_hash(&self.own_id);
        let stop = Arc::new(AtomicBool::new(false));
        let drain = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, drain) = (stop.clone(), drain.clone());
            std::thread::Builder::new()
                .name(format!(
                    "rosy-shm-{}",
                    topic.chars().take(6).collect::<String>()
                ))
                .spawn(move || {
                    read_loop(&mut subscriber, me, &stop, &drain, &deliver, &lost);
                    if !stop.load(Ordering::Relaxed) && !drain.load(Ordering::Relaxed) {
                        ended();
                    }
                })
                .map_err(|e| ShmError::Config(format!("cannot start a reader thread: {e}")))?
        };
        lock(&self.readers).insert(
            key,
            Reader {
                stop,
                drain,
                thread: Some(thread),
            },
        );
        Ok(true)
    }

    /// Stops reading `publisher`'s segment of `topic`, once what it holds now is delivered:
    /// a publisher that sent and closed at once has messages in the ring that its listener
    /// has not read yet when the connection's end is seen. Returns whether it was read.
    pub fn detach(&self, publisher: &str, topic: &str) -> bool {
        let reader = lock(&self.readers).remove(&(publisher.to_string(), topic.to_string()));
        if let Some(reader) = &reader {
            reader.drain.store(true, Ordering::Relaxed);
        }
        // Dropping joins the thread: it ends when the ring is empty (bounded by DRAIN_BOUND).
        reader.is_some()
    }

    /// Forgets a reader whose thread ended by itself (publisher gone).
    pub fn forget(&self, publisher: &str, topic: &str) {
        if let Some(mut reader) =
            lock(&self.readers).remove(&(publisher.to_string(), topic.to_string()))
        {
            // The thread is ending (or ended) on its own; do not join from inside it.
            reader.thread.take();
        }
    }

    /// Removes this node's segments and stops every reader.
    pub fn close(&self) {
        lock(&self.out).clear();
        let readers: Vec<Reader> = lock(&self.readers).drain().map(|(_, r)| r).collect();
        drop(readers);
    }
}

/// How long a detached reader may go on reading what is left (a live publisher writing for
/// other readers never leaves the ring empty).
const DRAIN_BOUND: Duration = Duration::from_millis(200);

fn read_loop(
    subscriber: &mut ShmSubscriber,
    me: u64,
    stop: &AtomicBool,
    drain: &AtomicBool,
    deliver: &dyn Fn(Vec<Received>),
    lost: &dyn Fn(u64),
) {
    let mut counted = 0;
    let mut drain_until = None;
    while !stop.load(Ordering::Relaxed) {
        if drain.load(Ordering::Relaxed)
            && std::time::Instant::now()
                > *drain_until.get_or_insert_with(|| std::time::Instant::now() + DRAIN_BOUND)
        {
            return;
        }
        let result = subscriber.try_recv();
        if subscriber.lost() > counted {
            // Overwritten before this reader got to them. Some may have been meant for other
            // readers (load balancing); the count errs on the side of reporting.
            lost(subscriber.lost() - counted);
            counted = subscriber.lost();
        }
        match result {
            Ok(Some(sample)) => {
                // Take everything waiting (up to a batch), then hand it over at once: one lock
                // and one wake-up of the consumer per batch, not per message.
                let mut batch = Vec::new();
                let mut next = Some(sample);
                while let Some(sample) = next.take() {
                    match parse_prefix(&sample, me) {
                        Some((codec, true)) => {
                            // Zero copy: the Bytes keeps the sample (and its chunk) alive.
                            let payload = Bytes::from_owner(sample).slice(PREFIX_LEN..);
                            batch.push(Received { codec, payload });
                        }
                        Some((_, false)) => {}
                        None => {
                            tracing::warn!("malformed message in {}: skipped", subscriber.name())
                        }
                    }
                    if batch.len() < BATCH {
                        next = subscriber.try_recv().ok().flatten();
                    }
                }
                if !batch.is_empty() {
                    deliver(batch);
                }
            }
            Ok(None) if drain.load(Ordering::Relaxed) => return,
            Ok(None) => {
                subscriber.wait(Duration::from_millis(100));
            }
            Err(ShmError::PublisherGone(_)) => return,
            Err(e) => {
                tracing::warn!("stopped reading shared memory: {e}");
                return;
            }
        }
    }
}

/// Most messages a reader hands over at once.
const BATCH: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_name_their_recipients() {
        let p = prefix(CodecId::MsgPack, &[1, 2, 3]);
        assert_eq!(parse_prefix(&p, 2), Some((CodecId::MsgPack, true)));
        assert_eq!(parse_prefix(&p, 4), Some((CodecId::MsgPack, false)));
        assert_eq!(parse_prefix(&p[..10], 2), None);
        let mut bad = p;
        bad[0] = 9;
        assert_eq!(parse_prefix(&bad, 2), None);
        assert_eq!(id_hash("00000000000000ffabc"), 255);
    }
}
