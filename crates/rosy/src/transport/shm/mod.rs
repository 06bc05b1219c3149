//! Shared-memory transport: one named segment per (publisher node, topic) holding an SPMC ring
//! of slots, chunk files beside it for large payloads (sized to what flows, `pool.rs`), futex
//! wake-ups per segment or through a subscriber's doorbell (`bell.rs`), and crash recovery.
//!
//! - [`ShmPublisher`] writes messages: small ones inline in a slot, larger ones (any size up to
//!   [`ShmConfig::max_message`]) in a chunk file, which [`ShmPublisher::loan`] hands out for
//!   filling in place (zero copy).
//! - [`ShmSubscriber`] reads them: inline ones copied, chunk ones in place as a [`Sample`]
//!   borrowing the mapping; the chunk is not reused while the sample lives.
//! - A slow subscriber loses the oldest messages and counts them ([`ShmSubscriber::lost`]); the
//!   publisher never waits for anyone; a torn message is never returned.
//! - A subscriber killed while holding samples is found by pid and its chunks reclaimed; a
//!   killed publisher is noticed (`PublisherGone`) and its segment removed by
//!   [`remove_stale_segments`].
//! - A file another process truncates kills nobody: every mapping is guarded (`sigbus.rs`);
//!   sends on it fail with [`ShmError::Truncated`] (the caller sends by TCP), reads stop.
//!
//! ```
//! use rosy::transport::shm::{ShmConfig, ShmPublisher, ShmSubscriber, segment_name};
//! let name = segment_name("doc", &format!("{:032x}", std::process::id()), "camera/frames");
//! let publisher = ShmPublisher::create(&name, &ShmConfig::default()).unwrap();
//! let mut subscriber = ShmSubscriber::open(&name).unwrap();
//! publisher.send(7, b"hello").unwrap();
//! let mut frame = publisher.loan(1_000_000).unwrap();
//! frame.fill(0xab);                      // written once, in shared memory
//! frame.send(8);
//! let hello = subscriber.try_recv().unwrap().unwrap();
//! assert_eq!((&*hello, hello.tag()), (&b"hello"[..], 7));
//! let big = subscriber.try_recv().unwrap().unwrap();
//! assert!(big.len() == 1_000_000 && big.iter().all(|&b| b == 0xab));
//! ```
//!
//! Nothing here knows about topics, codecs or nodes beyond the segment name.

mod bell;
mod file;
mod futex;
pub(crate) mod layout;
pub(crate) mod pool;
pub(crate) mod ring;
mod segment;
mod sigbus;
mod sync;

pub use bell::{Doorbell, bell_name};
pub use file::pid_alive;
use layout::{Geometry, SLOT_HEADER};
use pool::{ChunkCache, ChunkMap, PoolWriter};
use ring::{RingReader, RingWriter, Taken};
use segment::Segment;
pub use segment::monotonic_ns;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The prefix of every rosy segment name (under /dev/shm).
pub const PREFIX: &str = "rosy.";

/// Errors of the shared-memory transport; each names the segment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShmError {
    /// A system call on the segment's file failed.
    #[error("shared-memory segment {name}: cannot {action}: {source}")]
    Io {
        /// The segment or chunk file.
        name: String,
        /// What was being done (`"open"`, `"map"`, `"reserve"`...).
        action: &'static str,
        /// What the system said.
        source: std::io::Error,
    },
    /// No such segment (its publisher has not created it, or removed it).
    #[error("shared-memory segment {0} does not exist")]
    NotFound(String),
    /// The segment exists but its publisher has not finished setting it up.
    #[error("shared-memory segment {0} is still being created")]
    NotReady(String),
    /// The file is not a rosy segment of this version (foreign, damaged or stale).
    #[error("{name} is not a valid rosy segment: {reason}")]
    Corrupt {
        /// The file.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The segment's publisher is alive: it cannot be taken over or removed.
    #[error("shared-memory segment {name} belongs to running process {pid}")]
    InUse {
        /// The segment.
        name: String,
        /// The publisher's pid.
        pid: u32,
    },
    /// The segment's publisher died or closed it.
    #[error("the publisher of shared-memory segment {0} is gone")]
    PublisherGone(String),
    /// Every reader slot of the segment is taken.
    #[error("shared-memory segment {name} already serves {max} subscribers")]
    TooManySubscribers {
        /// The segment.
        name: String,
        /// Its reader slots.
        max: usize,
    },
    /// A message is larger than the segment's limit.
    #[error(
        "message of {len} bytes exceeds the shared-memory message limit of {max} bytes of segment {name}"
    )]
    TooLarge {
        /// The segment.
        name: String,
        /// The message's size in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The segment was made without a pool for large messages.
    #[error("shared-memory segment {0} has no payload pool for large messages")]
    NoPool(String),
    /// Subscribers hold every chunk: no room for a new message.
    #[error("every chunk of shared-memory segment {0} is held by subscribers")]
    PoolExhausted(String),
    /// A reliable reader has not taken the oldest message, which the ring would overwrite.
    #[error(
        "reliable subscriber (pid {pid}) of shared-memory segment {name} has not read the oldest message yet"
    )]
    ReaderBehind {
        /// The segment.
        name: String,
        /// The reader's pid.
        pid: u32,
    },
    /// /dev/shm is full: the bytes could not be reserved.
    #[error(
        "/dev/shm has no room for {len} more bytes ({name}); free space there or raise its size (Docker: --shm-size)"
    )]
    NoSpace {
        /// The file that needed them.
        name: String,
        /// The bytes asked for.
        len: usize,
    },
    /// Another process truncated a mapped file; reads of it stopped.
    #[error(
        "shared-memory file {0} was truncated by another process; its messages go by TCP (check what else writes to /dev/shm)"
    )]
    Truncated(String),
    /// A [`ShmConfig`] value out of range, named in the message.
    #[error("invalid shared-memory configuration: {0}")]
    Config(String),
}

impl ShmError {
    fn io(name: &str, action: &'static str, source: std::io::Error) -> Self {
        ShmError::Io {
            name: name.to_string(),
            action,
            source,
        }
    }
}

/// Sizes of a publisher's segment. Its shared memory is the ring (`slots` × slot size, with
/// `inline_max` bytes a slot) plus, only while large messages flow, at most `pool_chunks`
/// chunk files each sized to the largest recent message (rounded up by at most 12.5%).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShmConfig {
    /// Slots in the ring (a power of two): how far a subscriber may fall behind.
    pub slots: usize,
    /// Bytes a slot carries inline; larger messages go to a chunk.
    pub inline_max: usize,
    /// The largest message (payload bytes) the segment carries.
    pub max_message: usize,
    /// Chunk files at once for large messages (at most 64): how many may be in flight.
    pub pool_chunks: usize,
    /// Bytes of chunk files that smaller chunk messages may use beyond `pool_chunks` (up to
    /// 64 chunks): a topic of 1 kB messages gets 64 chunks of 4 KiB, one of 6 MB frames still
    /// `pool_chunks`.
    pub pool_bytes: usize,
    /// Bytes of chunk files a segment may grow to while subscribers hold every chunk (samples
    /// not yet consumed) instead of dropping the message; extra chunks go again once unused.
    pub pool_max_bytes: usize,
}

/// The default message size limit: 64 MiB.
pub const DEFAULT_MAX_MESSAGE: usize = 64 << 20;

impl Default for ShmConfig {
    /// 1024 slots of 192 bytes inline (228 KiB in all); chunk files for larger messages, at
    /// most 4 large ones (or 4 MiB of small ones) at once, of at most 64 MiB each.
    fn default() -> Self {
        ShmConfig {
            slots: 1024,
            inline_max: 192,
            max_message: DEFAULT_MAX_MESSAGE,
            pool_chunks: 4,
            pool_bytes: 4 << 20,
            pool_max_bytes: 64 << 20,
        }
    }
}

impl ShmConfig {
    fn geometry(&self) -> Geometry {
        Geometry {
            slot_count: self.slots.next_power_of_two(),
            slot_size: (SLOT_HEADER + self.inline_max).div_ceil(16) * 16,
            // Every index the pool may grow to; files exist only for those in use.
            chunk_count: if self.pool_bytes > 0 || self.pool_max_bytes > 0 {
                layout::MAX_CHUNKS
            } else {
                self.pool_chunks
            },
            chunk_size: self.max_message.div_ceil(layout::CHUNK_ALIGN) * layout::CHUNK_ALIGN,
        }
    }

    /// Bytes of /dev/shm the ring takes (the pool comes on top, while large messages flow).
    pub fn ring_bytes(&self) -> usize {
        self.geometry().total_size()
    }
}

/// A segment name for `topic` published by node `node_id` in `domain`: `rosy.<domain>.<first
/// 16 hex of the node id>.<64-bit hash of the topic>`.
pub fn segment_name(domain: &str, node_id: &str, topic: &str) -> String {
    // FNV-1a: stable across builds and processes (unlike std's RandomState).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in topic.as_bytes() {
        hash ^= *b as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let node: String = node_id.chars().take(16).collect();
    format!("{PREFIX}{domain}.{node}.{hash:016x}")
}

/// Writes messages into one segment. Shared between tasks (`Sync`); cheap to clone.
#[derive(Clone)]
pub struct ShmPublisher {
    inner: Arc<PublisherInner>,
}

/// The ring and the pool, under one lock: a chunk is chosen by the ring, then given a file.
struct WriterState {
    ring: RingWriter,
    pool: PoolWriter,
    /// `monotonic_ns` of the last trim.
    last_trim_ns: u64,
    pool_chunks: usize,
    pool_bytes: usize,
    pool_max_bytes: usize,
}

impl WriterState {
    /// A chunk of at least `len` bytes, allocated to the caller.
    fn chunk_for(&mut self, len: usize) -> Result<(usize, Arc<ChunkMap>), ShmError> {
        let pool = &self.pool;
        let class = pool::size_class(len);
        let usable = (self.pool_bytes / class).clamp(self.pool_chunks, layout::MAX_CHUNKS);
        let c = match self.ring.allocate_for(|c| pool.fits(c, len), usable) {
            Err(ShmError::PoolExhausted(_)) if usable < layout::MAX_CHUNKS => {
                // Subscribers hold every chunk (samples waiting in queues): grow, within bounds.
                let most = (self.pool_max_bytes / class).clamp(usable, layout::MAX_CHUNKS);
                // No room to grow (a full /dev/shm) is the error of `prepare` below, not
                // PoolExhausted: the caller sends that message by TCP instead of losing it.
                self.ring.allocate_for(|c| pool.fits(c, len), most)?
            }
            other => other?,
        };
        match self.pool.prepare(c, len) {
            Ok(map) => Ok((c, map)),
            Err(e) => {
                self.ring.release(c);
                Err(e)
            }
        }
    }

    /// Once a second at most: removes chunk files no message used lately. Called after each
    /// publish, it reads the time that publish stamped (no clock read of its own).
    fn trim(&mut self) {
        // Relaxed: this writer's own last store.
        let now = self
            .ring
            .segment()
            .header()
            .heartbeat_ns
            .load(Ordering::Relaxed);
        if now.saturating_sub(self.last_trim_ns) < 1_000_000_000 {
            return;
        }
        self.last_trim_ns = now;
        for c in self.pool.unused() {
            if self.ring.take_back(c) {
                self.pool.remove(c);
            }
        }
    }
}

struct PublisherInner {
    writer: Mutex<WriterState>,
    segment: Arc<Segment>,
}

impl PublisherInner {
    fn writer(&self) -> std::sync::MutexGuard<'_, WriterState> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ShmPublisher {
    /// Creates the segment (replacing a stale one of a dead process).
    pub fn create(name: &str, config: &ShmConfig) -> Result<Self, ShmError> {
        if config.pool_chunks > layout::MAX_CHUNKS || config.pool_chunks == 0 {
            return Err(ShmError::Config(format!(
                "{} pool chunks is outside 1..={}",
                config.pool_chunks,
                layout::MAX_CHUNKS
            )));
        }
        let segment = Arc::new(Segment::create(name, config.geometry())?);
        Ok(ShmPublisher {
            inner: Arc::new(PublisherInner {
                writer: Mutex::new(WriterState {
                    ring: RingWriter::new(segment.clone()),
                    pool: PoolWriter::new(segment.clone()),
                    last_trim_ns: monotonic_ns(),
                    pool_chunks: config.pool_chunks,
                    pool_bytes: config.pool_bytes,
                    pool_max_bytes: config.pool_max_bytes,
                }),
                segment,
            }),
        })
    }

    /// The segment's file name under /dev/shm.
    pub fn name(&self) -> &str {
        self.inner.segment.name()
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, WriterState> {
        self.inner.writer()
    }

    fn check_len(&self, len: usize) -> Result<(), ShmError> {
        let max = self.max_message();
        if len > max {
            return Err(ShmError::TooLarge {
                name: self.name().to_string(),
                len,
                max,
            });
        }
        Ok(())
    }

    /// Sends `payload` (inline if it fits a slot, else through a chunk).
    pub fn send(&self, tag: u32, payload: &[u8]) -> Result<(), ShmError> {
        self.send_parts(tag, &[payload])
    }

    /// Sends the concatenation of `parts` without joining them first.
    pub fn send_parts(&self, tag: u32, parts: &[&[u8]]) -> Result<(), ShmError> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let g = self.inner.segment.geometry();
        self.check_whole()?;
        let mut writer = self.writer();
        writer.ring.room_for_reliable()?;
        if len <= g.inline_capacity() {
            writer.ring.publish(tag, len, None, parts);
            writer.trim();
            // Cut short while this message went in: it did not reach anyone; say so, so that
            // it goes by TCP.
            return self.check_whole();
        }
        self.check_len(len)?;
        let (c, map) = writer.chunk_for(len)?;
        let mut at = map.payload();
        for part in parts {
            // SAFETY: len <= the chunk's capacity (`prepare` made it so), so every part fits;
            // the chunk is ours (allocated: in no ring slot and held by no reader), so nobody
            // reads it meanwhile.
            unsafe {
                std::ptr::copy_nonoverlapping(part.as_ptr(), at, part.len());
                at = at.add(part.len());
            }
        }
        if map.damaged() {
            writer.ring.release(c);
            return Err(ShmError::Truncated(format!("{} (chunk {c})", self.name())));
        }
        writer.ring.publish(tag, len, Some(c), &[]);
        writer.trim();
        self.check_whole()
    }

    /// `Err(Truncated)` once another process truncated the segment (see `sigbus.rs`).
    fn check_whole(&self) -> Result<(), ShmError> {
        if self.inner.segment.damaged() {
            return Err(ShmError::Truncated(self.name().to_string()));
        }
        Ok(())
    }

    /// A chunk of `len` bytes to fill in place, then [`Loan::send`]. Zero copy: subscribers read
    /// these very bytes.
    pub fn loan(&self, len: usize) -> Result<Loan, ShmError> {
        self.check_len(len)?;
        self.check_whole()?;
        let mut writer = self.writer();
        writer.ring.room_for_reliable()?;
        let (chunk, map) = writer.chunk_for(len)?;
        drop(writer);
        Ok(Loan {
            publisher: self.inner.clone(),
            chunk,
            map,
            len,
            sent: false,
        })
    }

    /// Subscribers registered now.
    pub fn subscriber_count(&self) -> usize {
        self.writer().ring.readers()
    }

    /// Marks the publisher alive (for an idle publisher; sending does it too).
    pub fn heartbeat(&self) {
        self.inner
            .segment
            .header()
            .heartbeat_ns
            .store(monotonic_ns(), Ordering::Relaxed);
    }

    /// The largest payload a ring slot carries inline; larger ones go to a chunk.
    pub fn inline_capacity(&self) -> usize {
        self.inner.segment.geometry().inline_capacity()
    }

    /// The largest payload a message may carry.
    pub fn max_message(&self) -> usize {
        let g = self.inner.segment.geometry();
        if g.chunk_count == 0 {
            g.inline_capacity()
        } else {
            g.chunk_size.max(g.inline_capacity())
        }
    }

    /// Bytes of /dev/shm this segment holds now: its ring and its chunk files.
    pub fn shm_bytes(&self) -> usize {
        self.inner.segment.geometry().total_size() + self.writer().pool.bytes()
    }
}

impl Drop for PublisherInner {
    fn drop(&mut self) {
        // Wake sleeping subscribers so they notice the close at once.
        let header = self.segment.header();
        header.file.closed.store(1, Ordering::Release);
        header.wake_word.fetch_add(1, Ordering::SeqCst);
        futex::wake_all(&header.wake_word);
        // Doorbells too: their owners' one thread reads this segment among others.
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        writer.ring.publish_close();
    }
}

/// A chunk of shared memory loaned for writing one message in place.
pub struct Loan {
    publisher: Arc<PublisherInner>,
    chunk: usize,
    map: Arc<ChunkMap>,
    len: usize,
    sent: bool,
}

impl Loan {
    /// Publishes the loaned bytes.
    pub fn send(mut self, tag: u32) {
        self.sent = true;
        let mut writer = self.publisher.writer();
        writer.ring.publish(tag, self.len, Some(self.chunk), &[]);
        // Chunks the pool grew while samples were held go once unused, frames flowing or not.
        writer.trim();
    }

    /// Shortens the message to `len` bytes (at most the loaned length).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

impl std::ops::Deref for Loan {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the chunk is allocated to this loan (in no ring slot, held by no reader, marked
        // loaned), len <= its capacity, and the Arc keeps the mapping.
        unsafe { std::slice::from_raw_parts(self.map.payload(), self.len) }
    }
}

impl std::ops::DerefMut for Loan {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes this the only access in this process;
        // no other process writes a chunk that is loaned.
        unsafe { std::slice::from_raw_parts_mut(self.map.payload(), self.len) }
    }
}

impl Drop for Loan {
    fn drop(&mut self) {
        if !self.sent {
            self.publisher.writer().ring.release(self.chunk);
        }
    }
}

/// Reads the messages of one segment.
pub struct ShmSubscriber {
    reader: RingReader,
    chunks: ChunkCache,
    busy_poll: bool,
    checks: u32,
}

impl ShmSubscriber {
    /// Opens segment `name` and starts at its newest message.
    pub fn open(name: &str) -> Result<Self, ShmError> {
        Self::open_with_bell(name, 0)
    }

    /// Opens segment `name`, asking its writer to ring doorbell `bell` (its key; see
    /// [`bell_name`]) after every message.
    pub fn open_with_bell(name: &str, bell: u64) -> Result<Self, ShmError> {
        let segment = Arc::new(Segment::open(name)?);
        if !segment.owner_alive() {
            return Err(ShmError::PublisherGone(name.to_string()));
        }
        Ok(ShmSubscriber {
            reader: RingReader::new(segment, bell)?,
            chunks: ChunkCache::default(),
            busy_poll: false,
            checks: 0,
        })
    }

    /// The name of the segment read.
    pub fn name(&self) -> &str {
        self.reader.segment().name()
    }

    /// Marks this subscriber reliable: the publisher waits for it (`ShmError::ReaderBehind`)
    /// rather than overwrite a message it has not taken.
    pub fn set_reliable(&self, reliable: bool) {
        self.reader.set_reliable(reliable);
    }

    /// Spin instead of sleeping in [`ShmSubscriber::wait`]: lowest latency, one core busy.
    pub fn set_busy_poll(&mut self, on: bool) {
        self.busy_poll = on;
    }

    /// The next message if one is waiting; `Err(PublisherGone)` once the publisher died or
    /// closed and every message it wrote was read.
    pub fn try_recv(&mut self) -> Result<Option<Sample>, ShmError> {
        loop {
            if self.reader.segment().damaged() {
                return Err(ShmError::Truncated(self.name().to_string()));
            }
            match self.reader.take()? {
                Some(Taken::Inline { tag, bytes }) => {
                    return Ok(Some(Sample {
                        tag,
                        data: SampleData::Inline(bytes),
                    }));
                }
                Some(Taken::Chunk { tag, chunk, len }) => {
                    let segment = self.reader.segment().clone();
                    let entry = self.reader.entry();
                    let map = match self.chunks.get(&segment, chunk) {
                        Ok(map) if map.capacity() >= len => map,
                        Ok(map) => {
                            RingReader::release(&segment, entry, chunk);
                            return Err(ShmError::Corrupt {
                                name: self.name().to_string(),
                                reason: format!(
                                    "a message of {len} bytes in a chunk of {}",
                                    map.capacity()
                                ),
                            });
                        }
                        Err(e) => {
                            // The file went (the publisher closed meanwhile): the message is lost.
                            RingReader::release(&segment, entry, chunk);
                            match e {
                                ShmError::NotFound(_) => {
                                    tracing::debug!("chunk of {} unreadable: {e}", self.name())
                                }
                                // Truncated or scribbled on by another process.
                                e => tracing::warn!("message lost: {e}"),
                            }
                            self.reader.count_lost(1);
                            continue;
                        }
                    };
                    return Ok(Some(Sample {
                        tag,
                        data: SampleData::Chunk {
                            segment,
                            map,
                            entry,
                            chunk,
                            len,
                        },
                    }));
                }
                None => {
                    self.checks = self.checks.wrapping_add(1);
                    if self.checks % 64 == 0 && !self.reader.segment().owner_alive() {
                        return Err(ShmError::PublisherGone(self.name().to_string()));
                    }
                    return Ok(None);
                }
            }
        }
    }

    /// Whether a message is waiting.
    pub fn has_new(&self) -> bool {
        self.reader.has_new()
    }

    /// Sleeps (futex) or spins until a message may be waiting, at most `timeout`.
    pub fn wait(&self, timeout: Duration) -> bool {
        self.reader.wait(timeout, self.busy_poll)
    }

    /// Whether the publisher is alive and has not closed the segment.
    pub fn publisher_alive(&self) -> bool {
        self.reader.segment().owner_alive()
    }

    /// Messages overwritten before this subscriber read them.
    pub fn lost(&self) -> u64 {
        self.reader.lost()
    }

    /// Drops mappings of chunk files the publisher replaced or removed.
    pub fn prune(&mut self) {
        let segment = self.reader.segment().clone();
        self.chunks.prune(&segment);
    }

    /// Bytes of shared memory this subscriber maps: the segment and the chunk files.
    pub fn mapped_bytes(&self) -> usize {
        self.reader.segment().geometry().total_size() + self.chunks.bytes()
    }

    /// Whether `addr` lies inside the segment or a chunk file mapped now (to prove a sample is
    /// read in place).
    pub fn maps(&self, addr: *const u8) -> bool {
        self.reader.segment().contains(addr) || self.chunks.contains(addr)
    }
}

enum SampleData {
    Inline(Vec<u8>),
    Chunk {
        segment: Arc<Segment>,
        map: Arc<ChunkMap>,
        entry: usize,
        chunk: usize,
        len: usize,
    },
}

/// A received message. A large one is read in place from shared memory (4 KiB-aligned, so rkyv
/// archives can be accessed directly); its chunk stays reserved until the sample is dropped.
pub struct Sample {
    tag: u32,
    data: SampleData,
}

impl Sample {
    /// The tag its publisher sent it with (the node uses it for the codec).
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// Whether the bytes are read in place from shared memory (not copied).
    pub fn in_place(&self) -> bool {
        matches!(self.data, SampleData::Chunk { .. })
    }
}

impl std::ops::Deref for Sample {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.data {
            SampleData::Inline(bytes) => bytes,
            SampleData::Chunk { map, len, .. } => {
                // SAFETY: this reader's held bit for the chunk is set and was validated against
                // the slot's seqlock when taken, so the writer will not reuse the chunk (nor
                // replace its file) until the bit is cleared in Drop; len <= capacity was
                // checked; the Arc keeps the mapping.
                unsafe { std::slice::from_raw_parts(map.payload(), *len) }
            }
        }
    }
}

impl AsRef<[u8]> for Sample {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Drop for Sample {
    fn drop(&mut self) {
        if let SampleData::Chunk {
            segment,
            entry,
            chunk,
            ..
        } = &self.data
        {
            RingReader::release(segment, *entry, *chunk);
        }
    }
}

/// Bytes of /dev/shm held by rosy's files whose names start with `prefix` (memory actually
/// allocated, not file sizes).
fn bytes_with_prefix(prefix: &str, also: impl Fn(&str) -> bool) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(dir) = std::fs::read_dir("/dev/shm") else {
        return 0;
    };
    dir.flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(prefix) && also(&name)
        })
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.blocks() * 512)
        .sum()
}

/// Bytes of /dev/shm a node's segment of `topic` holds now: its ring and its chunk files
/// (0 when it has none, or it is on another host).
pub fn segment_bytes(domain: &str, node_id: &str, topic: &str) -> u64 {
    let name = segment_name(domain, node_id, topic);
    let chunks = format!("{name}.c");
    bytes_with_prefix(&name, |n| n == name || n.starts_with(&chunks))
}

/// Bytes of /dev/shm all of a node's files hold now: segments, chunk files, doorbell.
pub fn node_bytes(domain: &str, node_id: &str) -> u64 {
    let node: String = node_id.chars().take(16).collect();
    bytes_with_prefix(&format!("{PREFIX}{domain}.{node}."), |_| true)
}

/// What a file name in /dev/shm is, if rosy made it: `rosy.<domain>.<16 hex>.<16 hex>` (a
/// segment), that followed by `.c<chunk>.<generation>` (a chunk file), or
/// `rosy.<domain>.<16 hex>.bell` (a doorbell), `<domain>` a valid [`DomainId`]. Returns the
/// domain; `None` for every other name, which rosy never removes.
///
/// [`DomainId`]: crate::domain::DomainId
pub fn rosy_file_domain(name: &str) -> Option<&str> {
    let hex16 = |s: &str| s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let number = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    let rest = name.strip_prefix(PREFIX)?;
    let (domain, rest) = rest.split_once('.')?;
    if !crate::domain::DomainId::is_valid(domain) {
        return None;
    }
    let parts: Vec<&str> = rest.split('.').collect();
    let ours = match parts.as_slice() {
        [node, "bell"] => hex16(node),
        [node, topic] => hex16(node) && hex16(topic),
        [node, topic, chunk, generation] => {
            hex16(node)
                && hex16(topic)
                && chunk.strip_prefix('c').is_some_and(number)
                && number(generation)
        }
        _ => false,
    };
    ours.then_some(domain)
}

/// Removes rosy files in /dev/shm (of `domain`, or all) whose owner process is dead or that
/// closed: segments, chunk files and doorbells; and files named as rosy's that hold none of
/// these, once older than 10 s (a creator killed before its file was ready). Returns the names
/// removed. A name that is not one rosy makes ([`rosy_file_domain`]) is never touched, and an
/// invalid `domain` is refused.
pub fn remove_stale_segments(domain: Option<&str>) -> std::io::Result<Vec<String>> {
    if let Some(d) = domain {
        crate::domain::DomainId::new(d)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    }
    let mut removed = Vec::new();
    let dir = match std::fs::read_dir("/dev/shm") {
        Ok(dir) => dir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e),
    };
    for entry in dir.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        match rosy_file_domain(&name) {
            Some(d) if domain.is_none_or(|want| want == d) => {}
            _ => continue,
        }
        // A regular file only (shm_open makes nothing else); never follow a planted link.
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let known = [layout::MAGIC, layout::CHUNK_MAGIC, layout::BELL_MAGIC];
        let stale = match file::peek_owner(&name) {
            Some(owner) if known.contains(&owner.magic) => !owner.alive(),
            // Not ready (a creator may be between O_EXCL and `ready`) or not rosy's layout:
            // leave young files alone.
            _ => entry
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(10))
                .unwrap_or(false),
        };
        if stale && file::unlink(&name) {
            removed.push(name);
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn name(test: &str) -> String {
        segment_name("unit", &format!("{:016x}", std::process::id()), test)
    }

    fn small() -> ShmConfig {
        ShmConfig {
            slots: 8,
            inline_max: 64,
            max_message: 4096,
            pool_chunks: 4,
            pool_bytes: 0,
            pool_max_bytes: 0,
        }
    }

    fn file_bytes(name: &str) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("/dev/shm/{name}")).map_or(0, |m| m.blocks() * 512)
    }

    /// Bytes of /dev/shm of a segment and its chunk files.
    fn shm_bytes_of(name: &str) -> u64 {
        std::fs::read_dir("/dev/shm")
            .unwrap()
            .flatten()
            .filter(|e| {
                let f = e.file_name().to_string_lossy().into_owned();
                f == name || f.starts_with(&format!("{name}.c"))
            })
            .map(|e| file_bytes(&e.file_name().to_string_lossy()))
            .sum()
    }

    #[test]
    fn memory_follows_the_messages_that_flow() {
        let n = name("sized");
        let publisher = ShmPublisher::create(&n, &ShmConfig::default()).unwrap();
        let mut sub = ShmSubscriber::open(&n).unwrap();
        publisher.send(1, b"small").unwrap();
        assert!(
            shm_bytes_of(&n) <= 256 << 10,
            "a topic of small messages holds {} bytes",
            shm_bytes_of(&n)
        );
        assert_eq!(publisher.shm_bytes() as u64, shm_bytes_of(&n));
        assert_eq!(&*sub.try_recv().unwrap().unwrap(), b"small");
        // 1 MB frames, read as they come: one or two chunk files of ~1.1 MiB.
        for i in 0..20 {
            let mut frame = publisher.loan(1_000_000).unwrap();
            frame.fill(i);
            frame.send(2);
            let sample = sub.try_recv().unwrap().unwrap();
            assert!(
                sample.iter().all(|&b| b == i),
                "frame {i}: {:?}",
                &sample[..8]
            );
            assert!(sub.maps(sample.as_ptr()), "frame {i} not in place");
        }
        assert!(
            shm_bytes_of(&n) <= 6 << 20,
            "a topic of 1 MB frames holds {} bytes",
            shm_bytes_of(&n)
        );
        // Any size up to the limit, read in place; over it, an error naming the limit.
        let big = vec![7u8; 25_000_000];
        publisher.send(3, &big).unwrap();
        let sample = sub.try_recv().unwrap().unwrap();
        assert!(sample.in_place() && *sample == big[..]);
        drop(sample);
        let err = publisher.loan(DEFAULT_MAX_MESSAGE + 1).err().unwrap();
        assert!(err.to_string().contains("limit of 67108864"), "{err}");
        // Small messages again: after a while the chunk files go.
        let deadline = Instant::now() + Duration::from_secs(10);
        while shm_bytes_of(&n) > 256 << 10 && Instant::now() < deadline {
            publisher.send(4, b"small").unwrap();
            while sub.try_recv().unwrap().is_some() {}
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            shm_bytes_of(&n) <= 256 << 10,
            "chunk files stayed: {} bytes",
            shm_bytes_of(&n)
        );
        sub.prune();
        assert_eq!(sub.mapped_bytes(), ShmConfig::default().ring_bytes());
    }

    #[test]
    fn messages_arrive_in_order_inline_and_in_chunks() {
        let n = name("order");
        let publisher = ShmPublisher::create(&n, &small()).unwrap();
        let mut sub = ShmSubscriber::open(&n).unwrap();
        for i in 0..20u32 {
            let payload = vec![i as u8; if i % 2 == 0 { 10 } else { 1000 }];
            publisher.send(i, &payload).unwrap();
            let sample = sub.try_recv().unwrap().unwrap();
            assert_eq!(sample.tag(), i);
            assert_eq!(&*sample, &payload[..]);
            assert_eq!(sample.in_place(), i % 2 == 1);
        }
        assert!(sub.try_recv().unwrap().is_none());
        assert_eq!(sub.lost(), 0);
    }

    #[test]
    fn a_reliable_subscriber_makes_the_publisher_wait_and_loses_nothing() {
        let n = name("reliable");
        let publisher = ShmPublisher::create(&n, &small()).unwrap();
        let reliable = ShmSubscriber::open(&n).unwrap();
        reliable.set_reliable(true);
        let mut reliable = reliable;
        let mut best_effort = ShmSubscriber::open(&n).unwrap();
        // Inline messages: 8 slots, then the writer must wait.
        for i in 0..8u32 {
            publisher.send(i, &[i as u8]).unwrap();
        }
        let err = publisher.send(8, &[8]).unwrap_err();
        assert!(
            matches!(&err, ShmError::ReaderBehind { pid, .. } if *pid == std::process::id()),
            "{err}"
        );
        assert_eq!(reliable.try_recv().unwrap().unwrap().tag(), 0);
        publisher.send(8, &[8]).unwrap();
        // Chunk messages: the 4 chunks are never taken back from under the reliable reader.
        let big = [7u8; 1000];
        let mut sent = 9;
        let mut received = vec![0];
        for _ in 0..40 {
            match publisher.send(sent, &big) {
                Ok(()) => sent += 1,
                Err(ShmError::ReaderBehind { .. }) => {
                    let sample = reliable.try_recv().unwrap().unwrap();
                    received.push(sample.tag());
                }
                Err(e) => panic!("{e}"),
            }
        }
        while let Some(sample) = reliable.try_recv().unwrap() {
            received.push(sample.tag());
        }
        assert_eq!(received, (0..sent).collect::<Vec<_>>(), "all, in order");
        assert_eq!(reliable.lost(), 0);
        // The best-effort reader beside it lost the oldest instead of slowing anyone.
        let mut best = Vec::new();
        while let Some(sample) = best_effort.try_recv().unwrap() {
            best.push(sample.tag());
        }
        assert!(best_effort.lost() > 0 && best.last() == Some(&(sent - 1)));
        // Gone, it no longer holds the publisher back.
        drop(reliable);
        for i in 0..20 {
            publisher.send(100 + i, &[0]).unwrap();
        }
    }

    #[test]
    fn a_slow_subscriber_loses_the_oldest_and_counts_them() {
        let n = name("slow");
        let publisher = ShmPublisher::create(&n, &small()).unwrap();
        let mut sub = ShmSubscriber::open(&n).unwrap();
        for i in 0..20u32 {
            publisher.send(i, &[i as u8]).unwrap();
        }
        let first = sub.try_recv().unwrap().unwrap();
        assert_eq!(first.tag(), 12, "the 8 newest remain");
        assert_eq!(sub.lost(), 12);
    }

    #[test]
    fn a_held_chunk_is_never_reused_and_the_pool_recovers() {
        let n = name("held");
        let publisher = ShmPublisher::create(&n, &small()).unwrap();
        let mut sub = ShmSubscriber::open(&n).unwrap();
        publisher.send(1, &[1; 1000]).unwrap();
        let held = sub.try_recv().unwrap().unwrap();
        for i in 0..50u32 {
            publisher.send(i + 2, &[2; 1000]).unwrap();
        }
        assert!(held.iter().all(|&b| b == 1), "a held chunk was overwritten");
        drop(held);
        // Three chunks are free plus the released one: the pool keeps working.
        for i in 0..50u32 {
            publisher.send(i, &[3; 1000]).unwrap();
        }
    }

    #[test]
    fn a_loan_is_read_in_place() {
        let n = name("loan");
        let publisher = ShmPublisher::create(&n, &small()).unwrap();
        let mut sub = ShmSubscriber::open(&n).unwrap();
        let mut loan = publisher.loan(3000).unwrap();
        loan.copy_from_slice(&[9; 3000]);
        loan.send(5);
        let sample = sub.try_recv().unwrap().unwrap();
        assert!(sub.maps(sample.as_ptr()));
        assert_eq!(sample.as_ptr() as usize % 16, 0);
        assert_eq!(sample.len(), 3000);
        assert!(publisher.loan(5000).is_err(), "larger than a chunk");
    }

    #[test]
    fn foreign_bytes_and_missing_segments_are_refused_clearly() {
        let n = name("foreign");
        std::fs::write(format!("/dev/shm/{n}"), vec![0x5a; 8192]).unwrap();
        let err = ShmSubscriber::open(&n).err().unwrap();
        assert!(
            err.to_string().contains("not a valid rosy segment"),
            "{err}"
        );
        // A publisher replaces it.
        let publisher = ShmPublisher::create(&n, &small()).unwrap();
        assert!(ShmSubscriber::open(&n).is_ok());
        drop(publisher);
        assert!(matches!(
            ShmSubscriber::open(&n),
            Err(ShmError::NotFound(_))
        ));
    }

    #[test]
    fn only_names_rosy_makes_are_rosy_files() {
        let seg = "rosy.lab-1.0123456789abcdef.fedcba9876543210";
        assert_eq!(rosy_file_domain(seg), Some("lab-1"));
        assert_eq!(rosy_file_domain(&format!("{seg}.c3.17")), Some("lab-1"));
        assert_eq!(
            rosy_file_domain("rosy.lab.0123456789abcdef.bell"),
            Some("lab")
        );
        assert_eq!(
            rosy_file_domain(&bell_name("a_b", 7)),
            Some("a_b"),
            "bell_name makes a rosy name"
        );
        for foreign in [
            "rosy.x",
            "rosy.lab.notes",
            "rosy.lab.0123456789abcdef",
            "rosy..0123456789abcdef.fedcba9876543210",
            "rosy....0123456789abcdef.fedcba9876543210",
            "rosy.lab.0123456789abcdef.fedcba9876543210.tmp",
            "rosy.lab.0123456789abcdef.fedcba9876543210.c3",
            "rosy.lab.0123456789abcdef.fedcba9876543210.cx.1",
            "rosy.lab.0123456789abcde.fedcba9876543210",
            "rosy.lab.0123456789abcdef.bell.old",
            "rosy-host-id",
            "rosy-registry",
            "not-rosy",
        ] {
            assert_eq!(rosy_file_domain(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn stale_removal_touches_only_rosy_names_of_its_domain() {
        let domain = format!("unit-stale-{}", std::process::id());
        let old = std::time::SystemTime::now() - Duration::from_secs(60);
        let plant = |name: &str| {
            let path = format!("/dev/shm/{name}");
            let file = std::fs::File::create(&path).unwrap();
            file.set_len(8192).unwrap();
            file.set_modified(old).unwrap();
            path
        };
        // Old, not rosy's layout: removed only under a name rosy makes, of this domain.
        let junk = plant(&format!("rosy.{domain}.0123456789abcdef.fedcba9876543210"));
        let other_domain = plant(&format!("rosy.{domain}x.0123456789abcdef.fedcba9876543210"));
        let foreign = [
            plant(&format!("rosy.{domain}.notes")),
            plant(&format!(
                "rosy.{domain}.0123456789abcdef.fedcba9876543210.tmp"
            )),
            plant(&format!("not-rosy-{domain}")),
        ];
        let removed = remove_stale_segments(Some(&domain)).unwrap();
        assert!(!std::path::Path::new(&junk).exists(), "{removed:?}");
        assert!(std::path::Path::new(&other_domain).exists(), "{removed:?}");
        for path in &foreign {
            assert!(std::path::Path::new(path).exists(), "{path} removed");
        }
        let err = remove_stale_segments(Some("..")).unwrap_err();
        assert!(err.to_string().contains("'.' is not allowed"), "{err}");
        for path in foreign.iter().chain([&other_domain]) {
            std::fs::remove_file(path).unwrap();
        }
    }

    #[test]
    fn a_live_owner_keeps_its_segment() {
        let n = name("owned");
        let _publisher = ShmPublisher::create(&n, &small()).unwrap();
        assert!(matches!(
            ShmPublisher::create(&n, &small()),
            Err(ShmError::InUse { .. })
        ));
    }

    #[test]
    fn a_sleeping_subscriber_wakes_on_send() {
        let n = name("wake");
        let publisher = ShmPublisher::create(&n, &small()).unwrap();
        let sub = ShmSubscriber::open(&n).unwrap();
        let waiter = std::thread::spawn(move || sub.wait(Duration::from_secs(10)));
        // The waiter may or may not be asleep yet; either way it must see the message.
        publisher.send(1, b"x").unwrap();
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn the_pool_grows_while_samples_are_held() {
        let n = name("grow");
        let publisher = ShmPublisher::create(&n, &ShmConfig::default()).unwrap();
        let mut sub = ShmSubscriber::open(&n).unwrap();
        let mut held = Vec::new();
        for i in 0..10u8 {
            let mut frame = publisher
                .loan(1_000_000)
                .unwrap_or_else(|e| panic!("frame {i}: {e}"));
            frame.fill(i);
            frame.send(1);
            held.push(sub.try_recv().unwrap().unwrap());
        }
        assert!(held.iter().enumerate().all(|(i, s)| s[0] == i as u8));
    }
}
