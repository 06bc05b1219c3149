//! [`ShmConfig`]: the sizes of a publisher's segment, checked before anything is made.

use super::layout::{self, Geometry, SLOT_HEADER};

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
    pub(super) fn geometry(&self) -> Geometry {
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
