//! The reading side: [`ShmSubscriber`] opens a segment and takes messages from its ring, inline
//! ones copied, chunk ones as a [`Sample`] read in place; a chunk is held (marked in the
//! segment) while its sample lives. It never writes a message.

use super::error::ShmError;
use super::pool::{ChunkCache, ChunkMap};
use super::ring::{RingReader, Taken};
use super::segment::Segment;
use std::sync::Arc;
use std::time::Duration;

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

    /// Makes this subscriber's registration name `pid`: a reader of a process that died.
    #[cfg(test)]
    pub(super) fn fake_pid(&self, pid: u32) {
        self.reader.fake_pid(pid);
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
