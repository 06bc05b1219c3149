//! The layout of a topic's shared-memory segment (a header and a ring of slots) and of the
//! files beside it: payload chunks and doorbells.
//!
//! Everything in a segment is an offset from its start, never a pointer: each process maps
//! the segment at its own address. Plain fields are written once, by the creator, before
//! anyone else can open the segment; everything that changes afterwards is an atomic.
//!
//! ```text
//! segment  rosy.<domain>.<node>.<topic hash>          [Header 4096 B][slot 0]...[slot N-1]
//! chunk    rosy.<domain>.<node>.<topic hash>.c<i>.<generation>   [FileHeader 4096 B][payload]
//! doorbell rosy.<domain>.<node>.bell                  [FileHeader][Bell]
//! ```
//!
//! A large message lives in a chunk file of its own size class, made when a message first
//! needs it and replaced by a smaller one when messages shrink (see `pool.rs`); the segment's
//! chunk table says which generation and capacity chunk `i` has now. Every file starts with
//! the same [`FileHeader`] (magic, version, owner pid, ready), so stale files of any kind are
//! recognised and removed by the same code.
//!
//! This module only describes memory; it reads and writes nothing itself.

use super::sync::{AtomicU32, AtomicU64};

/// The first 8 bytes of every rosy segment.
pub const MAGIC: u64 = u64::from_le_bytes(*b"ROSYSHM\x01");
/// The first 8 bytes of a payload chunk file.
pub const CHUNK_MAGIC: u64 = u64::from_le_bytes(*b"ROSYCHK\x01");
/// The first 8 bytes of a doorbell file.
pub const BELL_MAGIC: u64 = u64::from_le_bytes(*b"ROSYBEL\x01");
/// Bumped whenever the layout changes; a segment of another version is refused.
pub const LAYOUT_VERSION: u32 = 4;
/// Bytes reserved for the header: 4 KiB whatever the page size (slots need 16-byte alignment,
/// not a page of their own).
pub const HEADER_SIZE: usize = 4096;
/// Most subscribers one segment serves at once.
#[cfg(not(rosy_loom))]
pub const MAX_SUBSCRIBERS: usize = 32;
/// Under loom, few entries: the writer loads every entry's pid, and each load is a choice point.
#[cfg(rosy_loom)]
pub const MAX_SUBSCRIBERS: usize = 2;
/// Most chunks in a pool: each subscriber marks the chunks it holds in one 64-bit mask.
pub const MAX_CHUNKS: usize = 64;
/// Bytes before a chunk's payload in its file: 4 KiB whatever the page size, so the payload
/// is 4 KiB-aligned (rkyv archives need [`CHUNK_ALIGN`]).
pub const CHUNK_HEADER: usize = 4096;
/// Chunk payloads start on this boundary, so rkyv archives can be read in place.
pub const CHUNK_ALIGN: usize = 64;
/// The highest message size limit a segment accepts (a TCP frame carries at most 256 MiB too).
pub const MAX_MESSAGE_LIMIT: usize = 255 << 20;
/// A slot's `chunk` when its payload is inline.
pub const INLINE: u32 = u32::MAX;
/// A slot whose chunk was taken back for a newer message: readers treat it as overwritten.
pub const SEQ_DROPPED: u64 = u64::MAX - 1;

/// One subscriber's registration: who it is, and which chunks it holds in samples.
#[repr(C)]
pub struct SubscriberEntry {
    /// 0 when free; the subscriber's pid while taken.
    pub pid: AtomicU32,
    /// 1: a reliable subscriber: the writer never overwrites or takes back a message it has not
    /// taken (it waits instead); 0: best effort (it loses the oldest when it falls behind).
    pub reliable: AtomicU32,
    /// Bit `c` set: this subscriber holds chunk `c` and it must not be reused.
    pub held: AtomicU64,
    /// The next message this subscriber will take: it will never read an older one, so the
    /// writer may reuse chunks of messages every subscriber has passed.
    pub cursor: AtomicU64,
    /// The key of the doorbell the writer rings after each message (0: none, the subscriber
    /// sleeps on the segment's own `wake_word`).
    pub bell: AtomicU64,
}

/// Where chunk `i` of a segment lives now: its file's generation (0: no file) and the payload
/// bytes it holds. Changed by the writer only while no message in the ring uses the chunk and
/// no reader holds it, so a reader holding chunk `i` reads a stable entry.
#[repr(C)]
pub struct ChunkEntry {
    pub generation: AtomicU64,
    pub capacity: AtomicU64,
}

/// The first bytes of every rosy file in /dev/shm: what it is, whose, and whether it is ready.
#[repr(C)]
pub struct FileHeader {
    pub magic: u64,
    pub version: u32,
    pub owner_pid: u32,
    /// Set (Release) once the creator has written everything else.
    pub ready: AtomicU32,
    /// Set by the owner when it closes the file on purpose.
    pub closed: AtomicU32,
}

/// A doorbell: a node's one reader thread sleeps on `word`; writers of every segment it
/// reads bump `word` after each message and wake it when `sleeping` is set.
#[repr(C)]
pub struct Bell {
    pub file: FileHeader,
    pub word: AtomicU32,
    pub sleeping: AtomicU32,
}

/// The segment header. Plain fields are the creator's, fixed at creation.
#[repr(C)]
pub struct Header {
    /// Magic, version, owner, `ready` (set once every field below is written and the ring's
    /// pages are in) and `closed`.
    pub file: FileHeader,
    pub header_size: u32,
    pub slot_count: u32,
    /// Bytes of one slot, its inline payload included.
    pub slot_size: u32,
    pub chunk_count: u32,
    /// The largest payload a chunk may hold: the segment's message size limit.
    pub chunk_size: u64,
    pub total_size: u64,
    /// Owner's clock (CLOCK_MONOTONIC ns) at its last sign of life.
    pub heartbeat_ns: AtomicU64,
    /// Number of messages ever written: message `s` lives in slot `s % slot_count`.
    pub write_seq: AtomicU64,
    /// Bumped after each message; idle subscribers sleep on it (futex).
    pub wake_word: AtomicU32,
    /// Subscribers asleep on `wake_word`: the writer only calls futex wake when non-zero.
    pub sleepers: AtomicU32,
    /// Bumped whenever a subscriber registers or leaves, so the writer re-reads the doorbells
    /// it rings only then.
    pub subscribers_version: AtomicU32,
    /// Bumped by a reader that takes or releases a message while the writer waits for one
    /// to (a publisher that waits rather than take back); the writer sleeps on it (futex).
    pub room_word: AtomicU32,
    /// Writers asleep on `room_word` (0 or 1): readers only bump and wake it when non-zero.
    pub room_waiters: AtomicU32,
    pub _pad: u32,
    pub subscribers: [SubscriberEntry; MAX_SUBSCRIBERS],
    pub chunks: [ChunkEntry; MAX_CHUNKS],
}

/// A slot of the ring. `seq` is a seqlock: `2s+1` while message `s` is written, `2s+2` once
/// it is complete, [`SEQ_DROPPED`] when its chunk was taken back, 0 when never written.
#[repr(C)]
pub struct SlotHeader {
    pub seq: AtomicU64,
    pub len: AtomicU32,
    pub tag: AtomicU32,
    /// Chunk index of the payload, or [`INLINE`].
    pub chunk: AtomicU32,
    pub _pad: [u32; 3],
}

/// Bytes of a slot before its inline payload.
pub const SLOT_HEADER: usize = std::mem::size_of::<SlotHeader>();

const _: () = assert!(std::mem::size_of::<Header>() <= HEADER_SIZE);
// loom's atomics are handles of another size; the loom segment is never shared with a process.
#[cfg(not(rosy_loom))]
const _: () = assert!(SLOT_HEADER == 32);

/// The sizes of a segment, from which every offset follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub slot_count: usize,
    pub slot_size: usize,
    /// Chunks the pool may have (their files are made on demand).
    pub chunk_count: usize,
    /// The largest payload of a chunk.
    pub chunk_size: usize,
}

fn align_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

/// This system's memory page size, from the kernel (`sysconf(_SC_PAGESIZE)`): 4 KiB on x86,
/// 4, 16 or 64 KiB on aarch64 kernels (a Jetson's is 4 KiB, others are not). Mappings, file
/// sizes in whole pages and page-by-page touches use it, never a constant.
pub fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(rustix::param::page_size)
}

impl Geometry {
    pub fn slots_offset(&self) -> usize {
        HEADER_SIZE
    }

    pub fn slot_offset(&self, i: usize) -> usize {
        self.slots_offset() + i * self.slot_size
    }

    /// Bytes of the segment file: header and ring, rounded to whole pages of this system.
    /// Chunks live in files of their own.
    pub fn total_size(&self) -> usize {
        self.total_size_for(page_size())
    }

    /// [`Geometry::total_size`] on a system of `page`-byte pages (every process sharing a
    /// segment runs on the same kernel, so they agree on it).
    pub fn total_size_for(&self, page: usize) -> usize {
        align_up(self.slots_offset() + self.slot_count * self.slot_size, page)
    }

    /// Largest payload a slot holds inline.
    pub fn inline_capacity(&self) -> usize {
        self.slot_size - SLOT_HEADER
    }

    /// Checks sizes read from a header against rules and against the mapping's length.
    pub fn check(&self, mapped: usize) -> Result<(), String> {
        if !self.slot_count.is_power_of_two() || self.slot_count > 1 << 20 {
            return Err(format!(
                "slot count {} is not a power of two up to 2^20",
                self.slot_count
            ));
        }
        if self.slot_size < SLOT_HEADER + 8 || self.slot_size % 16 != 0 || self.slot_size > 1 << 20
        {
            return Err(format!("slot size {} is out of range", self.slot_size));
        }
        if self.chunk_count > MAX_CHUNKS {
            return Err(format!(
                "{} chunks exceed the limit of {MAX_CHUNKS}",
                self.chunk_count
            ));
        }
        if self.chunk_size % CHUNK_ALIGN != 0 || self.chunk_size > MAX_MESSAGE_LIMIT {
            return Err(format!("chunk size {} is out of range", self.chunk_size));
        }
        let total = self
            .slot_count
            .checked_mul(self.slot_size)
            .and_then(|s| s.checked_add(HEADER_SIZE + page_size()));
        match total {
            Some(_) if self.total_size() <= mapped => Ok(()),
            _ => Err(format!(
                "layout needs {} bytes but the segment has {mapped}",
                self.total_size()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_aligned_and_checked() {
        let g = Geometry {
            slot_count: 1024,
            slot_size: 1280,
            chunk_count: 16,
            chunk_size: 1 << 20,
        };
        assert_eq!(g.total_size() % 4096, 0);
        assert_eq!(g.total_size() % page_size(), 0);
        assert!(g.check(g.total_size()).is_ok());
        assert!(g.check(g.total_size() - 1).unwrap_err().contains("needs"));
        assert!(
            Geometry {
                slot_count: 1000,
                ..g
            }
            .check(usize::MAX)
            .is_err()
        );
        assert!(
            Geometry {
                chunk_count: 65,
                ..g
            }
            .check(usize::MAX)
            .is_err()
        );
    }

    /// The layout on kernels of 16 and 64 KiB pages (aarch64): the segment is whole pages of
    /// that size, and slots keep their offsets and 16-byte alignment, as on 4 KiB pages.
    #[test]
    fn layouts_hold_with_large_pages() {
        let g = Geometry {
            slot_count: 1024,
            slot_size: 192,
            chunk_count: 4,
            chunk_size: 1 << 20,
        };
        let small = g.total_size_for(4096);
        assert_eq!(small, HEADER_SIZE + 1024 * 192); // 228 KiB, as the README says
        for page in [16 << 10, 64 << 10] {
            let size = g.total_size_for(page);
            assert_eq!(size % page, 0, "{page}");
            assert!(size >= small && size < small + page, "{page}: {size}");
            assert_eq!(g.slot_offset(1023) % 16, 0);
            assert!(g.slot_offset(1023) + g.slot_size <= size);
        }
        assert!(page_size().is_power_of_two() && page_size() >= 4096);
    }
}
