//! The node's one shared-memory reader thread, and what it does with what it reads: it sleeps on
//! the node's doorbell (rung by every writer it reads: threads do not grow with topics), takes
//! the messages meant for this node from every attached segment, and hands them in batches to
//! the [`SegmentSink`] (the mesh). While a reliable subscription is full it stages what it reads
//! (up to [`STAGED_BYTES`]), so one slow reader does not stop a ring others share.
//!
//! It never decides which segments to read (`routes` and `attach` do) and never routes a
//! message anywhere but to its sink.

use super::prefix::{PREFIX_LEN, parse_prefix};
use crate::node::queue::Received;
use crate::topology::NodeId;
use crate::transport::shm::{Doorbell, ShmError, ShmSubscriber};
use bytes::Bytes;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// What the reader thread hands what it reads to: implemented by the mesh, as `FrameSink` is for
/// a TCP link. `key` is the segment's (publisher, topic). Called from the reader thread.
pub(crate) trait SegmentSink: Send + Sync + 'static {
    /// A batch of messages for this node from one segment, in the order written.
    fn on_messages(&self, key: &(NodeId, String), batch: Vec<Received>);
    /// `n` more messages of the segment were overwritten before this node read them.
    fn on_lost(&self, key: &(NodeId, String), n: u64);
    /// The segment's publisher went (once per attach; not after a detach).
    fn on_ended(&self, key: &(NodeId, String));
    /// Asked before each read of a segment of `topic`: whether this node reads it reliably
    /// (the writer then waits for it), and whether a reliable subscription is full (what is
    /// read is then staged, or left in the ring).
    fn reliability(&self, topic: &str) -> (bool, bool);
}

/// One segment the reader thread reads.
pub(super) struct Attached {
    pub(super) key: (NodeId, String),
    pub(super) subscriber: ShmSubscriber,
    /// Where what is read goes (the mesh, held weakly: the reader thread must not keep a
    /// closed node alive).
    pub(super) sink: Weak<dyn SegmentSink>,
    /// Whether the sink was told the publisher ended (once).
    pub(super) ended: bool,
    pub(super) counted: u64,
    /// Messages for this node read while a reliable subscription was full, handed over in
    /// order before anything newer once there is room (see [`STAGED_BYTES`]).
    pub(super) staged: std::collections::VecDeque<Received>,
    /// Left unread at the last poll: a reliable subscription is full and the node holds
    /// [`STAGED_BYTES`] already. Looked at again when a subscription gets room.
    pub(super) paused: bool,
    /// Set by `detach`: read what is left until this instant, then tell the waiter.
    pub(super) draining: Option<(Instant, crossbeam::channel::Sender<()>)>,
}

impl Attached {
    /// Whether this reads `key`'s segment for good (not draining it before a detach).
    fn reads(&self, key: &(NodeId, String)) -> bool {
        self.key == *key && self.draining.is_none()
    }
}

pub(super) enum Command {
    Attach(Box<Attached>),
    Detach {
        key: (NodeId, String),
        done: crossbeam::channel::Sender<()>,
    },
    Stop,
}

/// The node's one shared-memory reader: a thread sleeping on the node's doorbell, which the
/// writer of every segment it reads rings after each message.
pub(super) struct ReaderThread {
    pub(super) bell: Arc<Doorbell>,
    commands: crossbeam::channel::Sender<Command>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub(super) thread_id: std::thread::ThreadId,
}

impl ReaderThread {
    pub(super) fn start(
        bell_name: &str,
        me: u64,
        busy_poll: bool,
    ) -> Result<ReaderThread, ShmError> {
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

    pub(super) fn send(&self, command: Command) {
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

/// How long a detached reader may go on reading what is left (a live publisher writing for
/// other readers never leaves the ring empty).
pub(super) const DRAIN_BOUND: Duration = Duration::from_millis(200);
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
    let Some(sink) = a.sink.upgrade() else {
        // The node is gone: nothing to hand over to.
        return Polled::Ended;
    };
    let (reliable, full) = sink.reliability(&a.key.1);
    a.subscriber.set_reliable(reliable);
    a.paused = false;
    let stage = reliable && full && a.draining.is_none();
    if !stage && !a.staged.is_empty() {
        // Room again (or the segment is being detached: then all of it, past any capacity).
        let n = match a.draining {
            Some(_) => a.staged.len(),
            None => a.staged.len().min(BATCH),
        };
        deliver_staged(a, sink.as_ref(), n, staged_bytes);
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
            sink.on_lost(&a.key, a.subscriber.lost() - a.counted);
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
        sink.on_messages(&a.key, batch);
    }
    result
}

/// Hands over the first `n` messages `a` holds staged (past any capacity, if asked).
fn deliver_staged(a: &mut Attached, sink: &dyn SegmentSink, n: usize, staged_bytes: &mut usize) {
    if n > 0 {
        let batch: Vec<Received> = a.staged.drain(..n).collect();
        *staged_bytes -= batch.iter().map(|r| r.payload.len()).sum::<usize>();
        sink.on_messages(&a.key, batch);
    }
}

/// Whether `a` may have something to do before the reader sleeps: a message in its ring (unless
/// it is paused), or staged messages (or a paused ring) and a subscription with room again.
fn ready(a: &Attached) -> bool {
    let full = || {
        a.sink
            .upgrade()
            .is_some_and(|sink| sink.reliability(&a.key.1).1)
    };
    (!a.paused && a.subscriber.has_new()) || ((a.paused || !a.staged.is_empty()) && !full())
}

/// The reader thread: reads every attached segment until each is empty, then sleeps on the
/// node's doorbell until a writer (or a command) rings it, or for [`IDLE_CHECK`].
pub(super) fn read_loop(
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
                // One reader per segment: a second would deliver every message twice.
                Command::Attach(a) if attached.iter().any(|b| b.reads(&a.key)) => {
                    tracing::debug!("already reading {}", a.subscriber.name());
                }
                Command::Attach(a) => {
                    tracing::debug!("reading {}", a.subscriber.name());
                    attached.push(*a)
                }
                Command::Detach { key, done } => {
                    match attached.iter_mut().find(|a| a.reads(&key)) {
                        Some(a) => a.draining = Some((Instant::now() + DRAIN_BOUND, done)),
                        None => {
                            let _ = done.send(());
                        }
                    }
                }
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
                let sink = a.sink.upgrade();
                if let Some(sink) = &sink {
                    let all = a.staged.len();
                    deliver_staged(&mut a, sink.as_ref(), all, &mut staged_bytes);
                }
                match a.draining.take() {
                    Some((_, done)) => {
                        let _ = done.send(());
                    }
                    None if !a.ended => {
                        a.ended = true;
                        if let Some(sink) = &sink {
                            sink.on_ended(&a.key);
                        }
                    }
                    None => {}
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
pub(super) const STAGED_BYTES: usize = crate::transport::tcp::link::OUTBOX_BYTES;

/// Most messages a reader hands over at once.
const BATCH: usize = 256;
