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
use memmap2::{MmapOptions, MmapRaw};
use rustix::fs::Mode;
use rustix::shm;
use std::sync::atomic::Ordering;

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

impl Segment {
    /// Creates segment `name` with `geometry`, every page touched, as owner. A stale segment of a
    /// dead owner is replaced; one whose owner is alive is an error.
    pub fn create(name: &str, geometry: Geometry) -> Result<Segment, ShmError> {
        geometry
            .check(geometry.total_size())
            .map_err(ShmError::Config)?;
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
        rustix::fs::ftruncate(&fd, total as u64)
            .map_err(|e| ShmError::io(name, "size", e.into()))?;
        let file = std::fs::File::from(fd);
        // populate: fault every page in now (about 0.8 ms per MiB here), not on the hot path.
        let map = MmapOptions::new()
            .len(total)
            .populate()
            .map_raw(&file)
            .map_err(|e| ShmError::io(name, "map", e))?;
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
            (*header).total_size = total as u64;
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

    /// Opens an existing segment after checking its header.
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
    pub fn slot_data(&self, i: u64) -> *mut u8 {
        let i = (i as usize) & (self.geometry.slot_count - 1);
        // SAFETY: in bounds by geometry.check(); only a pointer is formed, no reference.
        unsafe {
            self.map
                .as_mut_ptr()
                .add(self.geometry.slot_offset(i) + super::layout::SLOT_HEADER)
        }
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
