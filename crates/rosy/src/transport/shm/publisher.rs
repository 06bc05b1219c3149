//! The writing side: [`ShmPublisher`] makes a segment and writes messages into it, small ones
//! inline in a slot, larger ones in chunk files it sizes to what flows; [`Loan`] is a chunk
//! handed out to be filled in place. It trims chunk files nobody uses and removes its files
//! when dropped. It waits for a reader only when told to ([`ShmPublisher::set_waits_for_readers`],
//! or a reader that asked to be reliable), and never reads a message.

use super::config::ShmConfig;
use super::error::ShmError;
use super::futex;
use super::layout;
use super::pool::{self, ChunkMap, PoolWriter};
use super::ring::{RingWriter, RoomWait};
use super::segment::{Segment, monotonic_ns};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

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
        let allocated = match self.ring.allocate_for(|c| pool.fits(c, len), usable) {
            Err(ShmError::PoolExhausted(_)) if usable < layout::MAX_CHUNKS => {
                // Subscribers hold every chunk (samples waiting in queues): grow, within bounds.
                let most = (self.pool_max_bytes / class).clamp(usable, layout::MAX_CHUNKS);
                // No room to grow (a full /dev/shm) is the error of `prepare` below, not
                // PoolExhausted: the caller sends that message by TCP instead of losing it.
                self.ring.allocate_for(|c| pool.fits(c, len), most)
            }
            other => other,
        };
        let c = match allocated {
            // A publisher that waits for its readers waits for a sample to go too.
            Err(ShmError::PoolExhausted(name)) if self.ring.waits_for_readers() => {
                return Err(ShmError::ReaderBehind {
                    name,
                    pid: self.ring.a_holder(),
                });
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

    /// Makes the ring wait for every reader (`true`: `send` and `loan` fail with
    /// [`ShmError::ReaderBehind`] rather than take back a message a live reader has not taken;
    /// [`ShmPublisher::announce_wait`] then sleeps until one does) or only for reliable ones.
    pub fn set_waits_for_readers(&self, waits: bool) {
        self.writer().ring.set_waits_for_readers(waits);
    }

    /// Whether this publisher waits for every reader.
    pub fn waits_for_readers(&self) -> bool {
        self.writer().ring.waits_for_readers()
    }

    /// Announces that the caller is about to wait for a reader to take or release a message.
    /// Try the send again after this; if it still fails with [`ShmError::ReaderBehind`],
    /// [`RoomWait::sleep`] returns as soon as a reader moves (or at once if one moved since).
    pub fn announce_wait(&self) -> RoomWait {
        RoomWait::announce(self.inner.segment.clone())
    }

    /// [`ShmPublisher::send_parts`] taking back the oldest message for best-effort readers even
    /// when this publisher waits for readers (what it does once its wait timed out); reliable
    /// readers are still waited for.
    pub fn send_parts_dropping_oldest(&self, tag: u32, parts: &[&[u8]]) -> Result<(), ShmError> {
        self.check_whole()?;
        let mut writer = self.writer();
        let waits = writer.ring.waits_for_readers();
        writer.ring.set_waits_for_readers(false);
        let sent = self.send_locked(&mut writer, tag, parts);
        writer.ring.set_waits_for_readers(waits);
        sent
    }

    /// Sends `payload` (inline if it fits a slot, else through a chunk).
    pub fn send(&self, tag: u32, payload: &[u8]) -> Result<(), ShmError> {
        self.send_parts(tag, &[payload])
    }

    /// Sends the concatenation of `parts` without joining them first.
    pub fn send_parts(&self, tag: u32, parts: &[&[u8]]) -> Result<(), ShmError> {
        self.check_whole()?;
        self.send_locked(&mut self.writer(), tag, parts)
    }

    fn send_locked(
        &self,
        writer: &mut WriterState,
        tag: u32,
        parts: &[&[u8]],
    ) -> Result<(), ShmError> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let g = self.inner.segment.geometry();
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
