//! The payload pool of a segment: large messages live in chunk files sized to what flows.
//!
//! Chunk `i` of segment `S` is the file `S.c<i>.<generation>`: a page of [`FileHeader`], then
//! its payload, 4 KiB-aligned (so rkyv archives are read in place). The writer makes a chunk's
//! file the first time a message needs chunk `i`, in a size class just above the message
//! (eighths of a power of two: at most 12.5% unused), and replaces it when messages outgrow it
//! or, once the large messages of the last seconds are much smaller, shrinks it. Chunks no
//! message has used for a while are removed. The segment's chunk table tells readers which
//! generation and capacity chunk `i` has now; a reader maps each generation once and keeps the
//! mapping while it holds samples of it.
//!
//! The ring (`ring.rs`) decides *which* chunk a message may use (never one a reader holds);
//! this module only makes, maps and removes the files behind them.
//!
//! [`FileHeader`]: super::layout::FileHeader

use super::error::ShmError;
use super::file;
use super::layout::{CHUNK_HEADER, CHUNK_MAGIC, MAX_CHUNKS};
use super::segment::Segment;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The name of generation `generation` of chunk `c` of `segment`.
pub fn chunk_name(segment: &str, c: usize, generation: u64) -> String {
    format!("{segment}.c{c}.{generation}")
}

/// The payload capacity a chunk gets for messages of `len` bytes: whole pages up to 64 KiB,
/// then the next eighth of a power of two (page-rounded), with this system's pages.
pub fn size_class(len: usize) -> usize {
    size_class_for(len, super::layout::page_size())
}

/// [`size_class`] on a system of `page`-byte pages.
fn size_class_for(len: usize, page: usize) -> usize {
    let pages = len.max(1).div_ceil(page) * page;
    if pages <= 64 << 10 {
        return pages;
    }
    let top = usize::BITS - 1 - pages.leading_zeros();
    let eighth = (1usize << (top - 3)).max(page);
    pages.div_ceil(eighth) * eighth
}

/// One mapped chunk file.
pub struct ChunkMap {
    file: file::ShmFile,
}

impl ChunkMap {
    /// Makes chunk file `name` with `capacity` payload bytes, reserved and faulted in.
    fn create(name: &str, capacity: usize) -> Result<ChunkMap, ShmError> {
        Ok(ChunkMap {
            file: file::ShmFile::create(name, CHUNK_HEADER + capacity, CHUNK_MAGIC)?,
        })
    }

    /// Maps chunk file `name` read-only, every page at once (it is about to be read whole).
    pub fn open(name: &str) -> Result<ChunkMap, ShmError> {
        Ok(ChunkMap {
            file: file::ShmFile::open(name, CHUNK_MAGIC, false, true)?,
        })
    }

    /// Payload bytes this chunk holds.
    /// Whether another process truncated the chunk file under this mapping.
    pub fn damaged(&self) -> bool {
        self.file.damaged()
    }

    pub fn capacity(&self) -> usize {
        self.file.map().len().saturating_sub(CHUNK_HEADER)
    }

    /// The payload's first byte; `capacity()` bytes follow.
    pub fn payload(&self) -> *mut u8 {
        // SAFETY: the mapping holds at least CHUNK_HEADER bytes (a page, checked at open;
        // created larger), so the offset stays inside it. Only a pointer is formed.
        unsafe { self.file.map().as_mut_ptr().add(CHUNK_HEADER) }
    }

    /// Whether `addr` lies inside this mapping.
    pub fn contains(&self, addr: *const u8) -> bool {
        let start = self.file.map().as_ptr() as usize;
        (start..start + self.file.map().len()).contains(&(addr as usize))
    }

    /// Bytes of shared memory the file holds.
    pub fn file_bytes(&self) -> usize {
        self.file.map().len()
    }
}

/// How long the largest recent message keeps chunks from shrinking, and how long an unused
/// chunk file stays.
pub const SHRINK_AFTER: Duration = Duration::from_secs(2);

/// The writer's chunk files.
pub struct PoolWriter {
    segment: Arc<Segment>,
    chunks: Vec<Option<Arc<ChunkMap>>>,
    last_used: Vec<Instant>,
    next_generation: u64,
    /// The largest message of this period and of the last one.
    high: (usize, usize),
    period_start: Instant,
}

impl PoolWriter {
    pub fn new(segment: Arc<Segment>) -> Self {
        let count = segment.geometry().chunk_count.min(MAX_CHUNKS);
        let now = Instant::now();
        PoolWriter {
            segment,
            chunks: vec![None; count],
            last_used: vec![now; count],
            next_generation: 1,
            high: (0, 0),
            period_start: now,
        }
    }

    fn note_size(&mut self, len: usize, now: Instant) {
        if now.duration_since(self.period_start) >= SHRINK_AFTER {
            self.high = (0, self.high.0);
            self.period_start = now;
        }
        self.high.0 = self.high.0.max(len);
    }

    /// Whether chunk `c`'s file can take `len` bytes as it is.
    pub fn fits(&self, c: usize, len: usize) -> bool {
        self.chunks[c]
            .as_ref()
            .is_some_and(|m| m.capacity() >= len && !m.damaged())
    }

    /// Chunk `c` (allocated by the ring: in no slot, held by no reader) ready for `len` bytes:
    /// its file made, grown, or shrunk when recent messages are much smaller than it.
    pub fn prepare(&mut self, c: usize, len: usize) -> Result<Arc<ChunkMap>, ShmError> {
        let now = Instant::now();
        self.note_size(len, now);
        self.last_used[c] = now;
        let want = size_class(self.high.0.max(self.high.1).max(len));
        if let Some(map) = &self.chunks[c] {
            let cap = map.capacity();
            // A file another process truncated is replaced by a new one.
            if cap >= len && (cap <= 2 * want || cap <= 64 << 10) && !map.damaged() {
                return Ok(map.clone());
            }
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        let name = chunk_name(self.segment.name(), c, generation);
        let entry = &self.segment.header().chunks[c];
        // The old file goes first: its memory is free before the new one takes more.
        if self.chunks[c].take().is_some() {
            entry.generation.store(0, Ordering::Release);
        }
        let map = Arc::new(ChunkMap::create(&name, want)?);
        // SYNC POINT chunk table: Release, read (Acquire) by a reader only after it validated
        // its hold of chunk c against a slot published after this store (`ring.rs`).
        entry.capacity.store(want as u64, Ordering::Release);
        entry.generation.store(generation, Ordering::Release);
        self.chunks[c] = Some(map.clone());
        Ok(map)
    }

    /// Chunks with a file not used for [`SHRINK_AFTER`]: candidates to remove.
    pub fn unused(&self) -> Vec<usize> {
        let now = Instant::now();
        (0..self.chunks.len())
            .filter(|&c| {
                self.chunks[c].is_some() && now.duration_since(self.last_used[c]) >= SHRINK_AFTER
            })
            .collect()
    }

    /// Removes chunk `c`'s file (the ring took it back: nobody reads it).
    pub fn remove(&mut self, c: usize) {
        if self.chunks[c].take().is_some() {
            self.segment.header().chunks[c]
                .generation
                .store(0, Ordering::Release);
        }
    }

    /// Bytes of shared memory the chunk files hold.
    pub fn bytes(&self) -> usize {
        self.chunks.iter().flatten().map(|m| m.file_bytes()).sum()
    }
}

/// A reader's mappings of a segment's chunk files, one per chunk at its current generation.
#[derive(Default)]
pub struct ChunkCache {
    maps: Vec<Option<(u64, Arc<ChunkMap>)>>,
}

impl ChunkCache {
    /// The mapping of chunk `c` at the generation the table names now. Call only while holding
    /// chunk `c` (validated), so the entry cannot change meanwhile.
    pub fn get(&mut self, segment: &Segment, c: usize) -> Result<Arc<ChunkMap>, ShmError> {
        if self.maps.len() <= c {
            self.maps.resize(c + 1, None);
        }
        // SYNC POINT chunk table: Acquire, pairs with the writer's Release in `prepare`.
        let generation = segment.header().chunks[c]
            .generation
            .load(Ordering::Acquire);
        if let Some((g, map)) = &self.maps[c] {
            // A mapping whose file another process truncated is opened again (and refused).
            if *g == generation && !map.damaged() {
                return Ok(map.clone());
            }
        }
        let map = Arc::new(ChunkMap::open(&chunk_name(segment.name(), c, generation))?);
        self.maps[c] = Some((generation, map.clone()));
        Ok(map)
    }

    /// Drops mappings of generations the writer replaced or removed (their memory is freed
    /// once no sample holds them).
    pub fn prune(&mut self, segment: &Segment) {
        for (c, slot) in self.maps.iter_mut().enumerate() {
            if let Some((g, _)) = slot {
                // Acquire: as in `get`; a stale view only delays the prune.
                if segment.header().chunks[c]
                    .generation
                    .load(Ordering::Acquire)
                    != *g
                {
                    *slot = None;
                }
            }
        }
    }

    /// Bytes of the chunk files mapped now.
    pub fn bytes(&self) -> usize {
        self.maps
            .iter()
            .flatten()
            .map(|(_, m)| m.file_bytes())
            .sum()
    }

    /// Whether `addr` lies in a chunk file mapped now.
    pub fn contains(&self, addr: *const u8) -> bool {
        self.maps.iter().flatten().any(|(_, m)| m.contains(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_waste_at_most_an_eighth() {
        assert_eq!(size_class(1), super::super::layout::page_size());
        // On 4 KiB pages (x86, a Jetson) and on the 16 and 64 KiB pages of other aarch64
        // kernels: whole pages, at most an eighth (or a page) more than asked.
        for page in [4096, 16 << 10, 64 << 10] {
            assert_eq!(size_class_for(1, page), page);
            assert_eq!(size_class_for(64 << 10, page), 64 << 10);
            for len in [
                100_000,
                1_000_064,
                2_700_000,
                6_220_864,
                25_000_000,
                64 << 20,
            ] {
                let c = size_class_for(len, page);
                assert!(c >= len && c % page == 0, "{page}: {len} -> {c}");
                assert!(
                    c as f64 <= len as f64 * 1.125 + page as f64,
                    "{page}: {len} -> {c}"
                );
            }
        }
    }
}
