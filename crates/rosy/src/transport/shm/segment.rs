//! Named shared-memory segments: create, open, validate, map, unlink.
//!
//! This is where rosy's shared-memory `unsafe` lives: turning offsets of a mapping into
//! references to the atomics of [`Header`] and [`SlotHeader`], and into raw pointers to
//! payload bytes. The rest of the transport works through the safe methods here.
//!
//! A segment is opened only after its header checks out: magic, layout version, `ready` flag,
//! and a geometry that fits the mapping. Everything the protocol needs later (sizes, counts) is
//! copied out of the header once, at open, so a foreign process scribbling on the header
//! afterwards cannot make this one read outside the mapping.

use super::error::ShmError;
#[cfg(not(rosy_loom))]
use super::file::Mapping as MmapRaw;
use super::file::pid_alive;
use super::layout::{Geometry, HEADER_SIZE, Header, LAYOUT_VERSION, MAGIC, SlotHeader};
use super::sync::Ordering;
#[cfg(rosy_loom)]
use model::HeapMap as MmapRaw;

/// A mapped segment. Unlinked when the creator drops it.
pub struct Segment {
    name: String,
    map: MmapRaw,
    geometry: Geometry,
    owner: bool,
}

// SAFETY: the mapping is shared memory accessed only through atomics and through raw byte
// copies guarded by the ring's seqlock; no thread-local state is involved.
unsafe impl Send for Segment {}
// SAFETY: as above; every shared mutation goes through atomics.
unsafe impl Sync for Segment {}

/// Creates the segment file of `geometry`'s size, memory reserved and faulted in.
#[cfg(not(rosy_loom))]
fn map_new(name: &str, geometry: Geometry) -> Result<MmapRaw, ShmError> {
    super::file::create(name, geometry.total_size(), MAGIC)
}

impl Segment {
    /// Creates segment `name` with `geometry`, its memory reserved and faulted in, as owner. A stale segment of a
    /// dead owner is replaced; one whose owner is alive is an error.
    pub fn create(name: &str, geometry: Geometry) -> Result<Segment, ShmError> {
        geometry
            .check(geometry.total_size())
            .map_err(ShmError::Config)?;
        let map = map_new(name, geometry)?;
        let segment = Segment {
            name: name.to_string(),
            map,
            geometry,
            owner: true,
        };
        let header = segment.map.as_mut_ptr() as *mut Header;
        // SAFETY: the mapping is at least HEADER_SIZE bytes, page-aligned, and freshly created
        // with O_EXCL: no other process can have opened it yet (open() refuses a segment until
        // `ready` is set below), so these plain writes race with nothing.
        unsafe {
            (*header).file.magic = MAGIC;
            (*header).file.version = LAYOUT_VERSION;
            (*header).file.owner_pid = std::process::id();
            (*header).header_size = HEADER_SIZE as u32;
            (*header).slot_count = geometry.slot_count as u32;
            (*header).slot_size = geometry.slot_size as u32;
            (*header).chunk_count = geometry.chunk_count as u32;
            (*header).chunk_size = geometry.chunk_size as u64;
            (*header).total_size = geometry.total_size() as u64;
        }
        segment
            .header()
            .heartbeat_ns
            .store(monotonic_ns(), Ordering::Relaxed);
        // SYNC POINT ready: pairs with the Acquire load in `open`; everything above is visible
        // to whoever sees ready == 1.
        segment.header().file.ready.store(1, Ordering::Release);
        Ok(segment)
    }

    /// Under loom a segment lives in this process's heap: there is nothing to open by name.
    #[cfg(rosy_loom)]
    pub fn open(name: &str) -> Result<Segment, ShmError> {
        Err(ShmError::NotFound(name.to_string()))
    }

    /// Opens an existing segment after checking its header.
    #[cfg(not(rosy_loom))]
    pub fn open(name: &str) -> Result<Segment, ShmError> {
        let map = super::file::open(name, MAGIC, true, false)?;
        let header = map.as_ptr() as *const Header;
        if map.len() < HEADER_SIZE {
            return Err(ShmError::Corrupt {
                name: name.to_string(),
                reason: format!("{} bytes is smaller than a header", map.len()),
            });
        }
        // SAFETY: plain reads of in-bounds (the map holds HEADER_SIZE bytes), aligned integers;
        // any bit pattern is a valid u32/u64. The creator finished writing them before setting
        // `ready`, which `file::open` saw set (Acquire).
        let geometry = unsafe {
            let h = &*header;
            Geometry {
                slot_count: h.slot_count as usize,
                slot_size: h.slot_size as usize,
                chunk_count: h.chunk_count as usize,
                chunk_size: h.chunk_size.min(usize::MAX as u64) as usize,
            }
        };
        geometry
            .check(map.len())
            .map_err(|reason| ShmError::Corrupt {
                name: name.to_string(),
                reason,
            })?;
        Ok(Segment {
            name: name.to_string(),
            map,
            geometry,
            owner: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The header. Its plain fields were checked at open; code reads only its atomics after.
    pub fn header(&self) -> &Header {
        // SAFETY: in bounds (mapping ≥ HEADER_SIZE, checked at create/open) and aligned (page).
        // Header is repr(C) of integers and atomics, valid for any bytes.
        unsafe { &*(self.map.as_ptr() as *const Header) }
    }

    /// The header of slot `i` (taken modulo the slot count, so always in bounds).
    pub fn slot(&self, i: u64) -> &SlotHeader {
        let i = (i as usize) & (self.geometry.slot_count - 1);
        // SAFETY: geometry.check() proved every slot lies inside the mapping; slots are 16-byte
        // aligned (slot_size % 16 == 0, slots start at HEADER_SIZE); SlotHeader is atomics only.
        unsafe { &*(self.map.as_ptr().add(self.geometry.slot_offset(i)) as *const SlotHeader) }
    }

    /// The inline payload bytes of slot `i`: `inline_capacity()` bytes from this pointer.
    /// Only ever accessed through raw copies: the writer may be rewriting them (the seqlock tells).
    #[cfg(not(rosy_loom))]
    fn slot_data(&self, i: u64) -> *mut u8 {
        let i = (i as usize) & (self.geometry.slot_count - 1);
        // SAFETY: in bounds by geometry.check(); only a pointer is formed, no reference.
        unsafe {
            self.map
                .as_mut_ptr()
                .add(self.geometry.slot_offset(i) + super::layout::SLOT_HEADER)
        }
    }

    /// Writes `parts`, concatenated, as slot `i`'s inline payload (the writer, between its
    /// `2s+1` and `2s+2` stores). Panics if they exceed the inline capacity.
    #[cfg(not(rosy_loom))]
    pub fn write_inline(&self, i: u64, parts: &[&[u8]]) {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        assert!(
            total <= self.geometry.inline_capacity(),
            "inline payload too large"
        );
        let mut at = self.slot_data(i);
        for part in parts {
            // SAFETY: the parts fit in the slot's inline bytes (asserted), so `at` stays within
            // them; readers only copy these bytes and validate the copy with the seqlock, so
            // writing while they copy is detected, not trusted.
            unsafe {
                std::ptr::copy_nonoverlapping(part.as_ptr(), at, part.len());
                at = at.add(part.len());
            }
        }
    }

    /// Copies `len` bytes of slot `i`'s inline payload out. The copy may be torn if the writer
    /// is rewriting the slot: the caller validates it with the seqlock before trusting it.
    /// Panics if `len` exceeds the inline capacity.
    #[cfg(not(rosy_loom))]
    pub fn read_inline(&self, i: u64, len: usize) -> Vec<u8> {
        assert!(
            len <= self.geometry.inline_capacity(),
            "inline payload too large"
        );
        let mut bytes = Vec::with_capacity(len);
        // SAFETY: len <= inline capacity (asserted), so the source lies in this slot's inline
        // bytes; the destination has capacity len, and all len bytes are written before set_len.
        unsafe {
            std::ptr::copy_nonoverlapping(self.slot_data(i), bytes.as_mut_ptr(), len);
            bytes.set_len(len);
        }
        bytes
    }

    /// Under loom the inline bytes are relaxed atomic words (C11's model of a seqlock's data):
    /// loom then sees a reader's copy racing with the writer and which write it read.
    #[cfg(rosy_loom)]
    pub fn write_inline(&self, i: u64, parts: &[&[u8]]) {
        let bytes: Vec<u8> = parts.concat();
        assert!(
            bytes.len() <= self.geometry.inline_capacity(),
            "inline payload too large"
        );
        for (w, word) in bytes.chunks(8).enumerate() {
            let mut b = [0; 8];
            b[..word.len()].copy_from_slice(word);
            self.map
                .inline_word(i, w)
                .store(u64::from_le_bytes(b), Ordering::Relaxed);
        }
    }

    #[cfg(rosy_loom)]
    pub fn read_inline(&self, i: u64, len: usize) -> Vec<u8> {
        assert!(
            len <= self.geometry.inline_capacity(),
            "inline payload too large"
        );
        let mut bytes = Vec::with_capacity(len.next_multiple_of(8));
        for w in 0..len.div_ceil(8) {
            let word = self.map.inline_word(i, w).load(Ordering::Relaxed);
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes.truncate(len);
        bytes
    }

    /// Whether another process truncated the segment's file under this mapping: it reads
    /// zeros now and must not be used any more (see `sigbus.rs`).
    pub fn damaged(&self) -> bool {
        self.map.damaged()
    }

    /// Whether `addr` lies inside this mapping (tests prove samples are read in place).
    pub fn contains(&self, addr: *const u8) -> bool {
        let start = self.map.as_ptr() as usize;
        (start..start + self.map.len()).contains(&(addr as usize))
    }

    /// Whether the owner's process is alive and has not closed the segment.
    pub fn owner_alive(&self) -> bool {
        if self.header().file.closed.load(Ordering::Acquire) != 0 {
            return false;
        }
        pid_alive(self.header().file.owner_pid)
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.owner {
            self.header().file.closed.store(1, Ordering::Release);
            #[cfg(not(rosy_loom))]
            super::file::unlink(&self.name);
        }
    }
}

/// CLOCK_MONOTONIC in ns: the same clock for every process of the host.
pub fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Under `--cfg rosy_loom`: a "mapping" in this process's heap, since loom's atomics are handles that
/// must be created by loom, not zero bytes of a file. The header and slot headers are built at
/// their offsets, so [`Segment::header`] and [`Segment::slot`] run unchanged on it.
#[cfg(rosy_loom)]
mod model {
    use super::super::layout::{
        ChunkEntry, FileHeader, Geometry, Header, SlotHeader, SubscriberEntry,
    };
    use super::super::sync::{AtomicU32, AtomicU64, Ordering};
    use std::alloc::Layout;

    // A segment's zero bytes exist before any process uses it: in C11 terms their "stores"
    // happen-before everything, so no SeqCst load may read them once a later SeqCst store
    // precedes it. loom records an atomic's initial value as a Release store, which a SeqCst load
    // may still read after newer SeqCst stores (loom issue #180); storing the zero again with
    // SeqCst gives loom the C11 behaviour. The protocol under test is not changed by this.
    fn zero32() -> AtomicU32 {
        let a = AtomicU32::new(0);
        a.store(0, Ordering::SeqCst);
        a
    }

    fn zero64() -> AtomicU64 {
        let a = AtomicU64::new(0);
        a.store(0, Ordering::SeqCst);
        a
    }

    pub struct HeapMap {
        ptr: *mut u8,
        layout: Layout,
        geometry: Geometry,
        /// Each slot's inline payload as 8-byte words (see `Segment::write_inline`).
        inline: Vec<AtomicU64>,
    }

    impl HeapMap {
        /// A heap model is never truncated.
        pub fn damaged(&self) -> bool {
            false
        }

        pub fn new(geometry: Geometry) -> HeapMap {
            let layout = Layout::from_size_align(geometry.total_size(), 4096).unwrap();
            // SAFETY: the layout has a non-zero size (at least the header).
            let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
            assert!(!ptr.is_null(), "out of memory");
            let header = Header {
                file: FileHeader {
                    magic: 0,
                    version: 0,
                    owner_pid: 0,
                    ready: zero32(),
                    closed: zero32(),
                },
                header_size: 0,
                slot_count: 0,
                slot_size: 0,
                chunk_count: 0,
                chunk_size: 0,
                total_size: 0,
                heartbeat_ns: zero64(),
                write_seq: zero64(),
                wake_word: zero32(),
                sleepers: zero32(),
                subscribers_version: zero32(),
                room_word: zero32(),
                room_waiters: zero32(),
                _pad: 0,
                subscribers: std::array::from_fn(|_| SubscriberEntry {
                    pid: zero32(),
                    reliable: zero32(),
                    held: zero64(),
                    cursor: zero64(),
                    bell: zero64(),
                }),
                chunks: std::array::from_fn(|_| ChunkEntry {
                    generation: zero64(),
                    capacity: zero64(),
                }),
            };
            // SAFETY: size_of::<Header>() <= HEADER_SIZE (asserted in layout), the buffer is
            // 4096-aligned and at least that long, and nothing is there yet to drop.
            unsafe { (ptr as *mut Header).write(header) };
            for i in 0..geometry.slot_count {
                let slot = SlotHeader {
                    seq: zero64(),
                    len: zero32(),
                    tag: zero32(),
                    chunk: zero32(),
                    _pad: [0; 3],
                };
                assert!(std::mem::size_of::<SlotHeader>() <= geometry.slot_size);
                // SAFETY: slot i lies in the buffer (geometry.check passed), 16-byte aligned,
                // and holds at least a SlotHeader (asserted).
                unsafe { (ptr.add(geometry.slot_offset(i)) as *mut SlotHeader).write(slot) };
            }
            let words = geometry.slot_count * geometry.inline_capacity().div_ceil(8);
            HeapMap {
                ptr,
                layout,
                geometry,
                inline: (0..words).map(|_| zero64()).collect(),
            }
        }

        pub fn as_ptr(&self) -> *const u8 {
            self.ptr
        }

        pub fn as_mut_ptr(&self) -> *mut u8 {
            self.ptr
        }

        pub fn len(&self) -> usize {
            self.layout.size()
        }

        pub fn inline_word(&self, i: u64, w: usize) -> &AtomicU64 {
            let slots = self.geometry.slot_count;
            let i = (i as usize) & (slots - 1);
            &self.inline[i * self.geometry.inline_capacity().div_ceil(8) + w]
        }
    }

    impl Drop for HeapMap {
        fn drop(&mut self) {
            // SAFETY: written in `new` at these offsets, dropped once, then freed with the same
            // layout it was allocated with.
            unsafe {
                std::ptr::drop_in_place(self.ptr as *mut Header);
                for i in 0..self.geometry.slot_count {
                    let slot = self.ptr.add(self.geometry.slot_offset(i)) as *mut SlotHeader;
                    std::ptr::drop_in_place(slot);
                }
                std::alloc::dealloc(self.ptr, self.layout);
            }
        }
    }
}

/// Under loom: the segment's memory, built in the heap (see [`model::HeapMap`]).
#[cfg(rosy_loom)]
fn map_new(_name: &str, geometry: Geometry) -> Result<MmapRaw, ShmError> {
    Ok(MmapRaw::new(geometry))
}
