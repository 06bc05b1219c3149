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

use super::ShmError;
use super::layout::{
    CHUNK_ALIGN, Geometry, HEADER_SIZE, Header, LAYOUT_VERSION, MAGIC, SlotHeader,
};
use super::sync::Ordering;
#[cfg(not(rosy_loom))]
use memmap2::{MmapOptions, MmapRaw};
#[cfg(rosy_loom)]
use model::HeapMap as MmapRaw;
#[cfg(not(rosy_loom))]
use rustix::fs::Mode;
use rustix::shm;

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

fn shm_path(name: &str) -> String {
    format!("/{name}")
}

/// Creates the named shared-memory object of `geometry`'s size and maps it, every page touched.
/// A stale segment of a dead owner is replaced; one whose owner is alive is an error.
#[cfg(not(rosy_loom))]
fn map_new(name: &str, geometry: Geometry) -> Result<MmapRaw, ShmError> {
    let path = shm_path(name);
    let flags = shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR;
    let fd = match shm::open(path.as_str(), flags, Mode::RUSR | Mode::WUSR) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::EXIST) => {
            match Segment::open(name) {
                Ok(existing) if existing.owner_alive() => {
                    return Err(ShmError::InUse {
                        name: name.to_string(),
                        pid: existing.header().owner_pid,
                    });
                }
                _ => {}
            }
            tracing::debug!("replacing stale segment {name}");
            let _ = shm::unlink(path.as_str());
            shm::open(path.as_str(), flags, Mode::RUSR | Mode::WUSR)
                .map_err(|e| ShmError::io(name, "create", e.into()))?
        }
        Err(e) => return Err(ShmError::io(name, "create", e.into())),
    };
    let total = geometry.total_size();
    rustix::fs::ftruncate(&fd, total as u64).map_err(|e| ShmError::io(name, "size", e.into()))?;
    let file = std::fs::File::from(fd);
    let map = MmapOptions::new()
        .len(total)
        .map_raw(&file)
        .map_err(|e| ShmError::io(name, "map", e))?;
    // Fault the header and the ring in now (about 0.8 ms per MiB here), not on the hot path.
    // The pool waits for the first large message (`Segment::populate_pool`): a topic of small
    // messages never pays 16 MiB of RAM for chunks it does not use.
    let ring = 0..geometry.chunks_offset();
    if populate(&map, ring.clone()).is_err() {
        // Kernels before 5.14 lack MADV_POPULATE_WRITE: touch one byte a page instead.
        for page in ring.step_by(4096) {
            // SAFETY: `page` lies inside the mapping (ring < total); the mapping is ours alone
            // (created O_EXCL, not `ready` yet) and already zero, so writing a zero changes nothing.
            unsafe { map.as_mut_ptr().add(page).write_volatile(0) };
        }
    }
    Ok(map)
}

/// Faults in the pages of `range` of `map` for writing, without touching their contents.
#[cfg(not(rosy_loom))]
fn populate(map: &MmapRaw, range: std::ops::Range<usize>) -> rustix::io::Result<()> {
    let start = range.start & !4095;
    let end = range.end.min(map.len());
    if end <= start {
        return Ok(());
    }
    // SAFETY: [start, end) lies inside the mapping (start rounded down to its page, which the
    // page-aligned mapping contains; end clamped to its length). MADV_POPULATE_WRITE only
    // fills page tables, as a write fault would, and never changes the bytes: it races with
    // no reader or writer of the segment.
    unsafe {
        rustix::mm::madvise(
            map.as_mut_ptr().add(start).cast(),
            end - start,
            rustix::mm::Advice::LinuxPopulateWrite,
        )
    }
}

impl Segment {
    /// Creates segment `name` with `geometry`, every page touched, as owner. A stale segment of a
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
            (*header).magic = MAGIC;
            (*header).version = LAYOUT_VERSION;
            (*header).header_size = HEADER_SIZE as u32;
            (*header).slot_count = geometry.slot_count as u32;
            (*header).slot_size = geometry.slot_size as u32;
            (*header).chunk_count = geometry.chunk_count as u32;
            (*header).chunk_size = geometry.chunk_size as u32;
            (*header).total_size = geometry.total_size() as u64;
            (*header).owner_pid = std::process::id();
        }
        segment
            .header()
            .heartbeat_ns
            .store(monotonic_ns(), Ordering::Relaxed);
        // SYNC POINT ready: pairs with the Acquire load in `open`; everything above is visible
        // to whoever sees ready == 1.
        segment.header().ready.store(1, Ordering::Release);
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
        let path = shm_path(name);
        let fd = shm::open(path.as_str(), shm::OFlags::RDWR, Mode::empty()).map_err(|e| {
            if e == rustix::io::Errno::NOENT {
                ShmError::NotFound(name.to_string())
            } else {
                ShmError::io(name, "open", e.into())
            }
        })?;
        let size = rustix::fs::fstat(&fd)
            .map_err(|e| ShmError::io(name, "stat", e.into()))?
            .st_size as usize;
        let corrupt = |reason: String| ShmError::Corrupt {
            name: name.to_string(),
            reason,
        };
        if size < HEADER_SIZE {
            return Err(corrupt(format!("{size} bytes is smaller than a header")));
        }
        let file = std::fs::File::from(fd);
        let map = MmapOptions::new()
            .len(size)
            .map_raw(&file)
            .map_err(|e| ShmError::io(name, "map", e))?;
        let header = map.as_ptr() as *const Header;
        // SAFETY: the mapping holds at least HEADER_SIZE bytes and is page-aligned, so the
        // header's atomics are in bounds and aligned; reading `ready` through an atomic is
        // sound whatever bytes are there.
        let ready = unsafe { (*header).ready.load(Ordering::Acquire) };
        // SAFETY: plain reads of in-bounds, aligned integers; any bit pattern is a valid u32/u64.
        // The creator finished writing them before setting `ready` (checked above and below).
        let (magic, version, geometry) = unsafe {
            let h = &*header;
            (
                h.magic,
                h.version,
                Geometry {
                    slot_count: h.slot_count as usize,
                    slot_size: h.slot_size as usize,
                    chunk_count: h.chunk_count as usize,
                    chunk_size: h.chunk_size as usize,
                },
            )
        };
        if magic != MAGIC {
            return Err(corrupt(format!(
                "magic {magic:#018x} is not a rosy segment's"
            )));
        }
        if version != LAYOUT_VERSION {
            return Err(corrupt(format!(
                "layout version {version}, this build reads {LAYOUT_VERSION}"
            )));
        }
        if ready != 1 {
            return Err(ShmError::NotReady(name.to_string()));
        }
        geometry.check(size).map_err(corrupt)?;
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

    /// Faults the payload pool in (once the topic shows it carries large messages), off the
    /// caller's thread. Where the kernel cannot, chunks fault in on their first use instead.
    #[cfg(not(rosy_loom))]
    pub fn populate_pool(&self) {
        let pool = self.geometry.chunks_offset()..self.geometry.total_size();
        if let Err(e) = populate(&self.map, pool) {
            tracing::debug!("{}: pool not pre-faulted: {e}", self.name);
        }
    }

    #[cfg(rosy_loom)]
    pub fn populate_pool(&self) {}

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

    /// Chunk `c`'s bytes: `chunk_size` bytes from this pointer, aligned to [`CHUNK_ALIGN`].
    pub fn chunk(&self, c: usize) -> *mut u8 {
        assert!(c < self.geometry.chunk_count, "chunk {c} out of range");
        // SAFETY: c < chunk_count, and geometry.check() proved every chunk lies in the mapping.
        let p = unsafe { self.map.as_mut_ptr().add(self.geometry.chunk_offset(c)) };
        debug_assert_eq!(p as usize % CHUNK_ALIGN, 0);
        p
    }

    /// Whether `addr` lies inside this mapping (tests prove samples are read in place).
    pub fn contains(&self, addr: *const u8) -> bool {
        let start = self.map.as_ptr() as usize;
        (start..start + self.map.len()).contains(&(addr as usize))
    }

    /// Whether the owner's process is alive and has not closed the segment.
    pub fn owner_alive(&self) -> bool {
        if self.header().closed.load(Ordering::Acquire) != 0 {
            return false;
        }
        pid_alive(self.header().owner_pid)
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.owner {
            self.header().closed.store(1, Ordering::Release);
            let _ = shm::unlink(shm_path(&self.name).as_str());
        }
    }
}

/// Whether process `pid` exists (signal 0). A pid of 0 is nobody.
pub fn pid_alive(pid: u32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else {
        return false;
    };
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
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
    use super::super::layout::{Geometry, Header, SlotHeader, SubscriberEntry};
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
        pub fn new(geometry: Geometry) -> HeapMap {
            let layout = Layout::from_size_align(geometry.total_size(), 4096).unwrap();
            // SAFETY: the layout has a non-zero size (at least the header).
            let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
            assert!(!ptr.is_null(), "out of memory");
            let header = Header {
                magic: 0,
                version: 0,
                header_size: 0,
                slot_count: 0,
                slot_size: 0,
                chunk_count: 0,
                chunk_size: 0,
                total_size: 0,
                owner_pid: 0,
                _pad: 0,
                ready: zero32(),
                closed: zero32(),
                heartbeat_ns: zero64(),
                write_seq: zero64(),
                wake_word: zero32(),
                sleepers: zero32(),
                subscribers: std::array::from_fn(|_| SubscriberEntry {
                    pid: zero32(),
                    _pad: 0,
                    held: zero64(),
                    cursor: zero64(),
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
