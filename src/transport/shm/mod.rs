//! Shared-memory transport: one named segment per (publisher node, topic) holding an SPMC ring
//! of slots and a pool of payload chunks, futex wake-ups, and crash recovery.
//!
//! - [`ShmPublisher`] writes messages: small ones inline in a slot, large ones in a chunk,
//!   which [`ShmPublisher::loan`] hands out for filling in place (zero copy).
//! - [`ShmSubscriber`] reads them: inline ones copied, chunk ones in place as a [`Sample`]
//!   borrowing the mapping; the chunk is not reused while the sample lives.
//! - A slow subscriber loses the oldest messages and counts them ([`ShmSubscriber::lost`]); the
//!   publisher never waits for anyone; a torn message is never returned.
//! - A subscriber killed while holding samples is found by pid and its chunks reclaimed; a
//!   killed publisher is noticed (`PublisherGone`) and its segment removed by
//!   [`remove_stale_segments`].
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

mod futex;
pub mod layout;
pub mod ring;
mod segment;
mod sync;

use layout::{Geometry, SLOT_HEADER};
use ring::{RingReader, RingWriter, Taken};
use segment::Segment;
pub use segment::{monotonic_ns, pid_alive};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The prefix of every rosy segment name (under /dev/shm).
pub const PREFIX: &str = "rosy.";

/// Errors of the shared-memory transport; each names the segment.
#[derive(Debug, thiserror::Error)]
pub enum ShmError {
    #[error("shared-memory segment {name}: cannot {action}: {source}")]
    Io {
        name: String,
        action: &'static str,
        source: std::io::Error,
    },
    #[error("shared-memory segment {0} does not exist")]
    NotFound(String),
    #[error("shared-memory segment {0} is still being created")]
    NotReady(String),
    #[error("{name} is not a valid rosy segment: {reason}")]
    Corrupt { name: String, reason: String },
    #[error("shared-memory segment {name} belongs to running process {pid}")]
    InUse { name: String, pid: u32 },
    #[error("the publisher of shared-memory segment {0} is gone")]
    PublisherGone(String),
    #[error("shared-memory segment {name} already serves {max} subscribers")]
    TooManySubscribers { name: String, max: usize },
    #[error("message of {len} bytes exceeds the chunk size {max} of shared-memory segment {name}")]
    TooLarge {
        name: String,
        len: usize,
        max: usize,
    },
    #[error("shared-memory segment {0} has no payload pool for large messages")]
    NoPool(String),
    #[error("every chunk of shared-memory segment {0} is held by subscribers")]
    PoolExhausted(String),
    #[error("invalid shared-memory configuration: {0}")]
    Config(String),
}

impl ShmError {
    // Unused under loom, whose segments live in the heap.
    #[cfg_attr(rosy_loom, allow(dead_code))]
    fn io(name: &str, action: &'static str, source: std::io::Error) -> Self {
        ShmError::Io {
            name: name.to_string(),
            action,
            source,
        }
    }
}

/// Sizes of a publisher's segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShmConfig {
    /// Slots in the ring (a power of two): how far a subscriber may fall behind.
    pub slots: usize,
    /// Bytes a slot carries inline; larger messages go to a chunk.
    pub inline_max: usize,
    /// Bytes of one chunk: the largest message.
    pub chunk_size: usize,
    /// Chunks in the pool (at most 64).
    pub chunks: usize,
}

impl Default for ShmConfig {
    /// 4096 slots of 1.2 kB inline, and 16 chunks of 1 MiB + 4 KiB: a 1 MB camera frame fits.
    fn default() -> Self {
        ShmConfig {
            slots: 4096,
            inline_max: 1248,
            chunk_size: (1 << 20) + 4096,
            chunks: 16,
        }
    }
}

impl ShmConfig {
    fn geometry(&self) -> Geometry {
        Geometry {
            slot_count: self.slots.next_power_of_two(),
            slot_size: (SLOT_HEADER + self.inline_max).div_ceil(16) * 16,
            chunk_count: self.chunks,
            chunk_size: self.chunk_size.div_ceil(layout::CHUNK_ALIGN) * layout::CHUNK_ALIGN,
        }
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

struct PublisherInner {
    writer: Mutex<RingWriter>,
    segment: Arc<Segment>,
    /// Whether the pool's pages were asked in (at the first large message).
    pool_populated: std::sync::atomic::AtomicBool,
}

impl PublisherInner {
    fn writer(&self) -> std::sync::MutexGuard<'_, RingWriter> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// At the first large message: faults the rest of the pool in on a thread of its own, so
    /// the next frames find their chunks ready (this one may fault its own pages in).
    fn chunk_used(&self) {
        if !self.pool_populated.swap(true, Ordering::Relaxed) {
            let segment = self.segment.clone();
            let spawned = std::thread::Builder::new()
                .name("rosy-shm-pool".into())
                .spawn(move || segment.populate_pool());
            if let Err(e) = spawned {
                tracing::debug!("pool not pre-faulted: {e}");
            }
        }
    }
}

impl ShmPublisher {
    /// Creates the segment (replacing a stale one of a dead process).
    pub fn create(name: &str, config: &ShmConfig) -> Result<Self, ShmError> {
        let segment = Arc::new(Segment::create(name, config.geometry())?);
        Ok(ShmPublisher {
            inner: Arc::new(PublisherInner {
                writer: Mutex::new(RingWriter::new(segment.clone())),
                segment,
                pool_populated: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    pub fn name(&self) -> &str {
        self.inner.segment.name()
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, RingWriter> {
        self.inner.writer()
    }

    /// Sends `payload` (inline if it fits a slot, else through a chunk).
    pub fn send(&self, tag: u32, payload: &[u8]) -> Result<(), ShmError> {
        self.send_parts(tag, &[payload])
    }

    /// Sends the concatenation of `parts` without joining them first.
    pub fn send_parts(&self, tag: u32, parts: &[&[u8]]) -> Result<(), ShmError> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let g = self.inner.segment.geometry();
        let mut writer = self.writer();
        if len <= g.inline_capacity() {
            writer.publish(tag, len, None, parts);
            return Ok(());
        }
        if len > g.chunk_size {
            return Err(ShmError::TooLarge {
                name: self.name().to_string(),
                len,
                max: g.chunk_size,
            });
        }
        let c = writer.allocate()?;
        self.inner.chunk_used();
        let mut at = self.inner.segment.chunk(c);
        for part in parts {
            // SAFETY: len <= chunk_size, so every part fits within chunk c; the chunk is ours
            // (allocated: in no ring slot and held by no reader), so nobody reads it meanwhile.
            unsafe {
                std::ptr::copy_nonoverlapping(part.as_ptr(), at, part.len());
                at = at.add(part.len());
            }
        }
        writer.publish(tag, len, Some(c), &[]);
        Ok(())
    }

    /// A chunk of `len` bytes to fill in place, then [`Loan::send`]. Zero copy: subscribers read
    /// these very bytes.
    pub fn loan(&self, len: usize) -> Result<Loan, ShmError> {
        let max = self.inner.segment.geometry().chunk_size;
        if len > max {
            return Err(ShmError::TooLarge {
                name: self.name().to_string(),
                len,
                max,
            });
        }
        let chunk = self.writer().allocate()?;
        self.inner.chunk_used();
        Ok(Loan {
            publisher: self.inner.clone(),
            chunk,
            len,
            sent: false,
        })
    }

    /// Subscribers registered now.
    pub fn subscriber_count(&self) -> usize {
        self.writer().readers()
    }

    /// Marks the publisher alive (for an idle publisher; sending does it too).
    pub fn heartbeat(&self) {
        self.inner
            .segment
            .header()
            .heartbeat_ns
            .store(monotonic_ns(), Ordering::Relaxed);
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
}

impl Drop for PublisherInner {
    fn drop(&mut self) {
        // Wake sleeping subscribers so they notice the close at once.
        let header = self.segment.header();
        header.closed.store(1, Ordering::Release);
        header.wake_word.fetch_add(1, Ordering::SeqCst);
        futex::wake_all(&header.wake_word);
    }
}

/// A chunk of shared memory loaned for writing one message in place.
pub struct Loan {
    publisher: Arc<PublisherInner>,
    chunk: usize,
    len: usize,
    sent: bool,
}

impl Loan {
    /// Publishes the loaned bytes.
    pub fn send(mut self, tag: u32) {
        self.sent = true;
        self.publisher
            .writer()
            .publish(tag, self.len, Some(self.chunk), &[]);
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
        // loaned), len <= chunk_size, and the pointer lies in the mapping the publisher keeps.
        unsafe { std::slice::from_raw_parts(self.publisher.segment.chunk(self.chunk), self.len) }
    }
}

impl std::ops::DerefMut for Loan {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes this the only access in this process;
        // no other process writes a chunk that is loaned.
        unsafe {
            std::slice::from_raw_parts_mut(self.publisher.segment.chunk(self.chunk), self.len)
        }
    }
}

impl Drop for Loan {
    fn drop(&mut self) {
        if !self.sent {
            self.publisher.writer().release(self.chunk);
        }
    }
}

/// Reads the messages of one segment.
pub struct ShmSubscriber {
    reader: RingReader,
    busy_poll: bool,
    checks: u32,
}

impl ShmSubscriber {
    /// Opens segment `name` and starts at its newest message.
    pub fn open(name: &str) -> Result<Self, ShmError> {
        let segment = Arc::new(Segment::open(name)?);
        if !segment.owner_alive() {
            return Err(ShmError::PublisherGone(name.to_string()));
        }
        Ok(ShmSubscriber {
            reader: RingReader::new(segment)?,
            busy_poll: false,
            checks: 0,
        })
    }

    pub fn name(&self) -> &str {
        self.reader.segment().name()
    }

    /// Spin instead of sleeping in [`ShmSubscriber::wait`]: lowest latency, one core busy.
    pub fn set_busy_poll(&mut self, on: bool) {
        self.busy_poll = on;
    }

    /// The next message if one is waiting; `Err(PublisherGone)` once the publisher died or
    /// closed and every message it wrote was read.
    pub fn try_recv(&mut self) -> Result<Option<Sample>, ShmError> {
        match self.reader.take()? {
            Some(Taken::Inline { tag, bytes }) => Ok(Some(Sample {
                tag,
                data: SampleData::Inline(bytes),
            })),
            Some(Taken::Chunk { tag, chunk, len }) => Ok(Some(Sample {
                tag,
                data: SampleData::Chunk {
                    segment: self.reader.segment().clone(),
                    entry: self.reader.entry(),
                    chunk,
                    len,
                },
            })),
            None => {
                self.checks = self.checks.wrapping_add(1);
                if self.checks % 64 == 0 && !self.reader.segment().owner_alive() {
                    return Err(ShmError::PublisherGone(self.name().to_string()));
                }
                Ok(None)
            }
        }
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

    /// Whether `addr` lies inside the shared mapping (to prove a sample is read in place).
    pub fn maps(&self, addr: *const u8) -> bool {
        self.reader.segment().contains(addr)
    }
}

enum SampleData {
    Inline(Vec<u8>),
    Chunk {
        segment: Arc<Segment>,
        entry: usize,
        chunk: usize,
        len: usize,
    },
}

/// A received message. A large one is read in place from shared memory (16-byte aligned, so
/// rkyv archives can be accessed directly); its chunk stays reserved until the sample is dropped.
pub struct Sample {
    tag: u32,
    data: SampleData,
}

impl Sample {
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
            SampleData::Chunk {
                segment,
                chunk,
                len,
                ..
            } => {
                // SAFETY: this reader's held bit for `chunk` is set and was validated against the
                // slot's seqlock when taken, so the writer will not reuse the chunk until the bit
                // is cleared in Drop; len <= chunk_size was checked; the Arc keeps the mapping.
                unsafe { std::slice::from_raw_parts(segment.chunk(*chunk), *len) }
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

/// Removes rosy segments (of `domain`, or all) whose publisher process is dead, and rosy-named
/// files that are not valid segments. Returns the names removed.
pub fn remove_stale_segments(domain: Option<&str>) -> std::io::Result<Vec<String>> {
    let prefix = match domain {
        Some(d) => format!("{PREFIX}{d}."),
        None => PREFIX.to_string(),
    };
    let mut removed = Vec::new();
    let dir = match std::fs::read_dir("/dev/shm") {
        Ok(dir) => dir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e),
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&prefix) {
            continue;
        }
        let stale = match Segment::open(&name) {
            Ok(segment) => !segment.owner_alive(),
            // A creator may be between O_EXCL and `ready`: leave young files alone.
            Err(ShmError::NotReady(_)) | Err(ShmError::Corrupt { .. }) => entry
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(10))
                .unwrap_or(false),
            Err(_) => false,
        };
        if stale && rustix::shm::unlink(format!("/{name}").as_str()).is_ok() {
            removed.push(name);
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(test: &str) -> String {
        segment_name("unit", &format!("{:016x}", std::process::id()), test)
    }

    fn small() -> ShmConfig {
        ShmConfig {
            slots: 8,
            inline_max: 64,
            chunk_size: 4096,
            chunks: 4,
        }
    }

    #[test]
    fn the_pool_takes_memory_only_once_large_messages_flow() {
        use std::os::unix::fs::MetadataExt;
        let n = name("lazy-pool");
        let publisher = ShmPublisher::create(&n, &ShmConfig::default()).unwrap();
        let g = publisher.inner.segment.geometry();
        let resident = || std::fs::metadata(format!("/dev/shm/{n}")).unwrap().blocks() * 512;
        // The ring is faulted in at creation; the 16 MiB pool is not.
        assert!(
            resident() >= g.chunks_offset() as u64,
            "ring not pre-faulted"
        );
        publisher.send(1, b"small").unwrap();
        assert!(
            resident() < (g.chunks_offset() + g.chunk_size) as u64,
            "the pool took memory before any large message: {} bytes",
            resident()
        );
        let mut frame = publisher.loan(1_000_000).unwrap();
        frame.fill(1);
        frame.send(2);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while resident() < g.total_size() as u64 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(resident(), g.total_size() as u64, "pool not faulted in");
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
}
