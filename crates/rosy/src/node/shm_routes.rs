//! Same-host delivery through shared memory, for the mesh.
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

use super::queue::Received;
use crate::codec::CodecId;
use crate::topology::NodeId;
use crate::transport::shm::{
    Doorbell, Loan, ShmConfig, ShmError, ShmPublisher, ShmSubscriber, bell_name, segment_name,
};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Called with each batch of messages for this node from one segment.
type Deliver = Box<dyn Fn(Vec<Received>) + Send>;
/// Called with the number of messages a segment lost before this node read them.
type Lost = Box<dyn Fn(u64) + Send>;
/// Called once when a segment's publisher goes.
type Ended = Box<dyn FnOnce() + Send>;
/// Asked before each read of a segment: whether this node reads it reliably (the writer then
/// waits for it), and whether to leave it unread for now (a reliable subscription is full).
type Reliable = Box<dyn Fn() -> (bool, bool) + Send>;

/// One segment the reader thread reads.
struct Attached {
    key: (NodeId, String),
    subscriber: ShmSubscriber,
    deliver: Deliver,
    lost: Lost,
    ended: Option<Ended>,
    reliable: Reliable,
    counted: u64,
    /// Messages for this node read while a reliable subscription was full, handed over in
    /// order before anything newer once there is room (see [`STAGED_BYTES`]).
    staged: std::collections::VecDeque<Received>,
    /// Left unread at the last poll: a reliable subscription is full and the node holds
    /// [`STAGED_BYTES`] already. Looked at again when a subscription gets room.
    paused: bool,
    /// Set by `detach`: read what is left until this instant, then tell the waiter.
    draining: Option<(Instant, crossbeam::channel::Sender<()>)>,
}

enum Command {
    Attach(Box<Attached>),
    Detach {
        key: (NodeId, String),
        done: crossbeam::channel::Sender<()>,
    },
    Stop,
}

/// The node's one shared-memory reader: a thread sleeping on the node's doorbell, which the
/// writer of every segment it reads rings after each message.
struct ReaderThread {
    bell: Arc<Doorbell>,
    commands: crossbeam::channel::Sender<Command>,
    thread: Option<std::thread::JoinHandle<()>>,
    thread_id: std::thread::ThreadId,
}

impl ReaderThread {
    fn start(bell_name: &str, me: u64, busy_poll: bool) -> Result<ReaderThread, ShmError> {
        let bell = Arc::new(Doorbell::create(bell_name)?);
        let (commands, inbox) = crossbeam::channel::unbounded();
        let thread = {
            let bell = bell.clone();
            std::thread::Builder::new()
                .name("rosy-shm-reader".into())
                .spawn(move || read_loop(&bell, &inbox, me, busy_poll))
                .map_err(|e| ShmError::Config(format!("cannot start the reader thread: {e}")))?
        };
        Ok(ReaderThread {
            bell,
            commands,
            thread_id: thread.thread().id(),
            thread: Some(thread),
        })
    }

    fn send(&self, command: Command) {
        if self.commands.send(command).is_ok() {
            self.bell.ring();
        }
    }
}

impl Drop for ReaderThread {
    fn drop(&mut self) {
        self.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

/// This node's segments and its reader thread.
pub(crate) struct ShmRoutes {
    domain: String,
    own_id: String,
    config: ShmConfig,
    per_topic: HashMap<String, ShmConfig>,
    busy_poll: bool,
    out: Mutex<HashMap<String, Arc<ShmPublisher>>>,
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
            reader: Mutex::new(None),
            reading: Mutex::new(Default::default()),
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
        let config = match self.per_topic.get(topic) {
            Some(c) => ShmConfig {
                max_message: self.config.max_message,
                ..c.clone()
            },
            None => self.config.clone(),
        };
        let publisher = ShmPublisher::create(&name, &config)?;
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
    /// messages for this node to `deliver` and calling `ended` when the publisher goes.
    /// Returns whether it started now.
    pub fn attach(
        &self,
        publisher: &str,
        topic: &str,
        deliver: impl Fn(Vec<Received>) + Send + 'static,
        lost: impl Fn(u64) + Send + 'static,
        ended: impl FnOnce() + Send + 'static,
        reliable: impl Fn() -> (bool, bool) + Send + 'static,
    ) -> Result<bool, ShmError> {
        let key = (publisher.to_string(), topic.to_string());
        // Checked and claimed at once: two `sync_shm` running together (a topology change and a
        // new subscription) would otherwise both attach, and every message come twice.
        match lock(&self.reading).entry(key.clone()) {
            std::collections::btree_map::Entry::Occupied(_) => return Ok(false),
            std::collections::btree_map::Entry::Vacant(claim) => claim.insert(false),
        };
        let attached = self.attach_claimed(&key, deliver, lost, ended, reliable);
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
        deliver: impl Fn(Vec<Received>) + Send + 'static,
        lost: impl Fn(u64) + Send + 'static,
        ended: impl FnOnce() + Send + 'static,
        reliable: impl Fn() -> (bool, bool) + Send + 'static,
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
        subscriber.set_reliable(reliable().0);
        if let Some(reader) = reader.as_ref() {
            reader.send(Command::Attach(Box::new(Attached {
                key: key.clone(),
                subscriber,
                deliver: Box::new(deliver),
                lost: Box::new(lost),
                ended: Some(Box::new(ended)),
                reliable: Box::new(reliable),
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

/// How long a detached reader may go on reading what is left (a live publisher writing for
/// other readers never leaves the ring empty).
const DRAIN_BOUND: Duration = Duration::from_millis(200);
/// How long the reader sleeps at most when nothing rings while it reads segments: it then
/// checks their publishers live and drops mappings of replaced chunk files. (A publisher that
/// dies is seen sooner by its connection's end, which detaches its segments.) With nothing to
/// read, it sleeps until a command rings.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// What reading one segment came to.
enum Polled {
    Read,
    Empty,
    Ended,
}

/// Takes what `a`'s segment holds (up to a batch) and hands what is for this node over.
///
/// While a reliable subscription of this node is full, what is read is staged instead, up to
/// [`STAGED_BYTES`] for all segments (`staged_bytes` counts it): like a TCP link's outbox for a
/// remote reader, this lets a slow reliable reader fall behind without stopping the ring that
/// its publisher's other readers share. Past that it is left in the ring, whose writer then
/// waits for it. Staged messages are handed over before anything newer.
fn poll(a: &mut Attached, me: u64, staged_bytes: &mut usize) -> Polled {
    let (reliable, full) = (a.reliable)();
    a.subscriber.set_reliable(reliable);
    a.paused = false;
    let stage = reliable && full && a.draining.is_none();
    if !stage && !a.staged.is_empty() {
        // Room again (or the segment is being detached: then all of it, past any capacity).
        let n = match a.draining {
            Some(_) => a.staged.len(),
            None => a.staged.len().min(BATCH),
        };
        deliver_staged(a, n, staged_bytes);
        return Polled::Read;
    }
    if stage && *staged_bytes >= STAGED_BYTES {
        // Left in the ring: its writer waits; read again when the subscription has room
        // (`wake_reader`).
        a.paused = true;
        return Polled::Empty;
    }
    let mut batch = Vec::new();
    let mut result = Polled::Empty;
    while batch.len() < BATCH && !(stage && *staged_bytes >= STAGED_BYTES) {
        let taken = a.subscriber.try_recv();
        if a.subscriber.lost() > a.counted {
            // Overwritten before this reader got to them. Some may have been meant for other
            // readers (load balancing); the count errs on the side of reporting.
            (a.lost)(a.subscriber.lost() - a.counted);
            a.counted = a.subscriber.lost();
        }
        match taken {
            Ok(Some(sample)) => {
                result = Polled::Read;
                match parse_prefix(&sample, me) {
                    Some((codec, true)) => {
                        let payload = if stage || sample.len() <= COPY_OUT_MAX {
                            // Small: a copy costs less than pinning a chunk while the message
                            // waits in a queue (the pool would run dry under a burst). Staged:
                            // the chunk goes back to the pool while the message waits.
                            Bytes::copy_from_slice(&sample[PREFIX_LEN..])
                        } else {
                            // Zero copy: the Bytes keeps the sample (and its chunk) alive.
                            Bytes::from_owner(sample).slice(PREFIX_LEN..)
                        };
                        if stage {
                            *staged_bytes += payload.len();
                        }
                        batch.push(Received { codec, payload });
                    }
                    Some((_, false)) => {}
                    None => tracing::warn!("malformed message in {}: skipped", a.subscriber.name()),
                }
            }
            Ok(None) => break,
            Err(ShmError::PublisherGone(_)) => {
                result = Polled::Ended;
                break;
            }
            Err(e) => {
                tracing::warn!("stopped reading shared memory: {e}");
                result = Polled::Ended;
                break;
            }
        }
    }
    tracing::trace!(
        "{}: {} for me, lost {}",
        a.subscriber.name(),
        batch.len(),
        a.counted
    );
    if stage {
        a.staged.extend(batch);
    } else if !batch.is_empty() {
        // One hand-over (one lock, one wake-up of the consumer) per batch, not per message.
        (a.deliver)(batch);
    }
    result
}

/// Hands over the first `n` messages `a` holds staged (past any capacity, if asked).
fn deliver_staged(a: &mut Attached, n: usize, staged_bytes: &mut usize) {
    if n > 0 {
        let batch: Vec<Received> = a.staged.drain(..n).collect();
        *staged_bytes -= batch.iter().map(|r| r.payload.len()).sum::<usize>();
        (a.deliver)(batch);
    }
}

/// Whether `a` may have something to do before the reader sleeps: a message in its ring (unless
/// it is paused), or staged messages (or a paused ring) and a subscription with room again.
fn ready(a: &Attached) -> bool {
    (!a.paused && a.subscriber.has_new())
        || ((a.paused || !a.staged.is_empty()) && !(a.reliable)().1)
}

/// The reader thread: reads every attached segment until each is empty, then sleeps on the
/// node's doorbell until a writer (or a command) rings it, or for [`IDLE_CHECK`].
fn read_loop(
    bell: &Doorbell,
    inbox: &crossbeam::channel::Receiver<Command>,
    me: u64,
    busy_poll: bool,
) {
    let mut attached: Vec<Attached> = Vec::new();
    let mut staged_bytes = 0;
    let mut last_check = Instant::now();
    let mut bell_cut_said = false;
    loop {
        for command in inbox.try_iter() {
            match command {
                Command::Attach(a) => {
                    tracing::debug!("reading {}", a.subscriber.name());
                    attached.push(*a)
                }
                Command::Detach { key, done } => match attached.iter_mut().find(|a| a.key == key) {
                    Some(a) => a.draining = Some((Instant::now() + DRAIN_BOUND, done)),
                    None => {
                        let _ = done.send(());
                    }
                },
                Command::Stop => return,
            }
        }
        let mut read_any = false;
        let now = Instant::now();
        let mut i = 0;
        while i < attached.len() {
            let polled = poll(&mut attached[i], me, &mut staged_bytes);
            let a = &attached[i];
            let drained = a
                .draining
                .as_ref()
                .is_some_and(|(until, _)| !matches!(polled, Polled::Read) || now > *until);
            if matches!(polled, Polled::Ended) || drained {
                let mut a = attached.swap_remove(i);
                // Its segment is dropped: all of it, whatever the subscriptions hold.
                let all = a.staged.len();
                deliver_staged(&mut a, all, &mut staged_bytes);
                match a.draining.take() {
                    Some((_, done)) => {
                        let _ = done.send(());
                    }
                    None => {
                        if let Some(ended) = a.ended.take() {
                            ended();
                        }
                    }
                }
                continue;
            }
            read_any |= matches!(polled, Polled::Read);
            i += 1;
        }
        if now.duration_since(last_check) >= IDLE_CHECK {
            last_check = now;
            for a in &mut attached {
                a.subscriber.prune();
            }
        }
        if read_any {
            continue;
        }
        if busy_poll {
            std::hint::spin_loop();
            continue;
        }
        let observed = bell.prepare_sleep();
        if !inbox.is_empty() || attached.iter().any(ready) {
            bell.woke();
            continue;
        }
        // A draining segment is looked at again soon (its bound), others when rung. A doorbell
        // another process truncated rings no more: then every segment is looked at each 10 ms.
        let bell_cut = bell.damaged();
        if bell_cut && !bell_cut_said {
            bell_cut_said = true;
            tracing::warn!(
                "{}; reading shared memory every 10 ms instead of when rung",
                ShmError::Truncated(bell.name().to_string())
            );
        }
        let timeout = if bell_cut || attached.iter().any(|a| a.draining.is_some()) {
            Duration::from_millis(10)
        } else if attached.is_empty() {
            Duration::from_secs(3600)
        } else {
            IDLE_CHECK
        };
        bell.sleep(observed, timeout);
    }
}

/// Messages up to this size are copied out of shared memory at once, releasing their chunk;
/// larger ones are handed over in place.
const COPY_OUT_MAX: usize = 64 << 10;

/// Most bytes a node holds read from shared memory for its full reliable subscriptions: as much
/// as a TCP link's outbox holds for a reader behind.
const STAGED_BYTES: usize = crate::transport::tcp::link::OUTBOX_BYTES;

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
