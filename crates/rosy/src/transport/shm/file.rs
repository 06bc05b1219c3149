//! rosy's files in /dev/shm: made with their memory reserved up front, opened only after their
//! [`FileHeader`] checks out, removed only by name and only when their owner is gone.
//!
//! Memory is reserved with `fallocate` before a page is touched: on a full /dev/shm (Docker's
//! 64 MB) creation fails with [`ShmError::NoSpace`] instead of the first write raising SIGBUS.
//! Pages are then faulted in with `MADV_POPULATE_WRITE` (one touch per page on older kernels),
//! off the hot path.
//!
//! Every mapping is a [`Mapping`]: guarded against a truncated file (`sigbus.rs`), so that a
//! file cut short by another process marks the mapping damaged instead of killing this one.
//!
//! This module never interprets anything past the [`FileHeader`]; segments, chunks and
//! doorbells do that.

use super::error::ShmError;
use super::layout::{FileHeader, LAYOUT_VERSION};
use super::sigbus::Guard;
use super::sync::Ordering;
use memmap2::{MmapOptions, MmapRaw};
use rustix::fs::Mode;
use rustix::shm;

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

/// A mapping of a rosy file, guarded against SIGBUS while it lives (see `sigbus.rs`). Derefs
/// to the [`MmapRaw`].
pub struct Mapping {
    // Declared first, so dropped first: the guard is gone before the pages are unmapped.
    guard: Guard,
    map: MmapRaw,
}

impl Mapping {
    fn new(map: MmapRaw) -> Mapping {
        Mapping {
            guard: Guard::new(map.as_ptr(), map.len()),
            map,
        }
    }

    /// Whether another process truncated the file under this mapping: its pages read zeros now,
    /// and it must not be used any more.
    pub fn damaged(&self) -> bool {
        self.guard.damaged()
    }
}

impl std::ops::Deref for Mapping {
    type Target = MmapRaw;
    fn deref(&self) -> &MmapRaw {
        &self.map
    }
}

fn shm_path(name: &str) -> String {
    format!("/{name}")
}

/// What the header of an existing file says: its magic, owner pid and closed flag.
pub struct Owner {
    pub magic: u64,
    pub pid: u32,
    pub closed: bool,
}

impl Owner {
    /// Whether the owner lives and has not closed the file.
    pub fn alive(&self) -> bool {
        !self.closed && pid_alive(self.pid)
    }
}

/// Reads the header of file `name`, if it has one (at least a page, `ready` set).
pub fn peek_owner(name: &str) -> Option<Owner> {
    let map = open_map(name, false, false).ok()?;
    let header = header(&map);
    if header.ready.load(Ordering::Acquire) != 1 || header.version != LAYOUT_VERSION {
        return None;
    }
    Some(Owner {
        magic: header.magic,
        pid: header.owner_pid,
        closed: header.closed.load(Ordering::Acquire) != 0,
    })
}

/// The header at the start of `map` (at least a page long).
pub fn header(map: &MmapRaw) -> &FileHeader {
    debug_assert!(map.len() >= 4096);
    // SAFETY: every map made here is at least one page (checked in `open_map`, sized in
    // `create`), page-aligned, and FileHeader is repr(C) of integers and atomics: any bytes are
    // a valid value. Plain fields are only read after `ready` was seen set (Acquire) or before
    // the file is shared.
    unsafe { &*(map.as_ptr() as *const FileHeader) }
}

/// Creates file `name` of `len` bytes (at least a page), its memory reserved and faulted in,
/// its header's magic and owner written, `ready` still 0. A stale file of a dead owner is
/// replaced; one whose owner lives is [`ShmError::InUse`].
pub fn create(name: &str, len: usize, magic: u64) -> Result<Mapping, ShmError> {
    debug_assert!(len >= 4096);
    let path = shm_path(name);
    let flags = shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR;
    let fd = match shm::open(path.as_str(), flags, Mode::RUSR | Mode::WUSR) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::EXIST) => {
            if let Some(owner) = peek_owner(name).filter(Owner::alive) {
                return Err(ShmError::InUse {
                    name: name.to_string(),
                    pid: owner.pid,
                });
            }
            tracing::debug!("replacing stale file {name}");
            let _ = shm::unlink(path.as_str());
            shm::open(path.as_str(), flags, Mode::RUSR | Mode::WUSR)
                .map_err(|e| ShmError::io(name, "create", e.into()))?
        }
        Err(e) => return Err(ShmError::io(name, "create", e.into())),
    };
    let sized = rustix::fs::ftruncate(&fd, len as u64)
        .map_err(|e| ShmError::io(name, "size", e.into()))
        .and_then(|()| {
            // Reserve every page now: a full /dev/shm answers ENOSPC here, not SIGBUS later.
            rustix::fs::fallocate(&fd, rustix::fs::FallocateFlags::empty(), 0, len as u64).map_err(
                |e| match e {
                    rustix::io::Errno::NOSPC | rustix::io::Errno::NOMEM => ShmError::NoSpace {
                        name: name.to_string(),
                        len,
                    },
                    e => ShmError::io(name, "reserve memory for", e.into()),
                },
            )
        });
    if let Err(e) = sized {
        let _ = shm::unlink(path.as_str());
        return Err(e);
    }
    let file = std::fs::File::from(fd);
    let map = match MmapOptions::new().len(len).map_raw(&file) {
        Ok(map) => Mapping::new(map),
        Err(e) => {
            let _ = shm::unlink(path.as_str());
            return Err(ShmError::io(name, "map", e));
        }
    };
    populate(&map);
    let header = map.as_mut_ptr() as *mut FileHeader;
    // SAFETY: the mapping is at least a page, page-aligned, created O_EXCL and not `ready`:
    // nobody else reads these plain fields yet.
    unsafe {
        (*header).magic = magic;
        (*header).version = LAYOUT_VERSION;
        (*header).owner_pid = std::process::id();
    }
    Ok(map)
}

/// Faults every page of `map` in for writing, without changing its bytes.
fn populate(map: &MmapRaw) {
    // SAFETY: the range is the whole mapping. MADV_POPULATE_WRITE only fills page tables, as a
    // write fault would, and never changes the bytes.
    let done = unsafe {
        rustix::mm::madvise(
            map.as_mut_ptr().cast(),
            map.len(),
            rustix::mm::Advice::LinuxPopulateWrite,
        )
    };
    if done.is_err() {
        // Kernels before 5.14 lack MADV_POPULATE_WRITE: touch one byte a page instead.
        for page in (0..map.len()).step_by(super::layout::page_size()) {
            // SAFETY: `page` lies inside the mapping; it is ours alone (not `ready`), its pages
            // reserved by fallocate (no SIGBUS) and zero, so writing a zero changes nothing.
            unsafe { map.as_mut_ptr().add(page).write_volatile(0) };
        }
    }
}

/// Marks a file made by [`create`] ready for others to open.
pub fn set_ready(map: &MmapRaw) {
    // SYNC POINT ready: Release, pairs with the Acquire load in `open`: every plain field the
    // creator wrote is visible to whoever sees ready == 1.
    header(map).ready.store(1, Ordering::Release);
}

fn open_map(name: &str, writable: bool, populate: bool) -> Result<Mapping, ShmError> {
    let path = shm_path(name);
    let mode = if writable {
        shm::OFlags::RDWR
    } else {
        shm::OFlags::RDONLY
    };
    let fd = shm::open(path.as_str(), mode, Mode::empty()).map_err(|e| {
        if e == rustix::io::Errno::NOENT {
            ShmError::NotFound(name.to_string())
        } else {
            ShmError::io(name, "open", e.into())
        }
    })?;
    let size = rustix::fs::fstat(&fd)
        .map_err(|e| ShmError::io(name, "stat", e.into()))?
        .st_size as usize;
    if size < 4096 {
        return Err(ShmError::Corrupt {
            name: name.to_string(),
            reason: format!("{size} bytes is smaller than a header"),
        });
    }
    let file = std::fs::File::from(fd);
    let mut options = MmapOptions::new();
    options.len(size);
    if populate {
        options.populate();
    }
    let map = if writable {
        options.map_raw(&file)
    } else {
        options.map_raw_read_only(&file)
    };
    map.map(Mapping::new)
        .map_err(|e| ShmError::io(name, "map", e))
}

/// Opens file `name` after checking its header: `magic`, this build's version, `ready`.
/// `populate` maps every page at once (for chunks about to be read whole).
pub fn open(name: &str, magic: u64, writable: bool, populate: bool) -> Result<Mapping, ShmError> {
    let map = open_map(name, writable, populate)?;
    let h = header(&map);
    // SYNC POINT ready: Acquire, pairs with the creator's Release in `set_ready`.
    let ready = h.ready.load(Ordering::Acquire);
    let corrupt = |reason: String| ShmError::Corrupt {
        name: name.to_string(),
        reason,
    };
    if h.magic != magic {
        return Err(corrupt(format!(
            "magic {:#018x} is not a rosy file's of this kind",
            h.magic
        )));
    }
    if h.version != LAYOUT_VERSION {
        return Err(corrupt(format!(
            "layout version {}, this build reads {LAYOUT_VERSION}",
            h.version
        )));
    }
    if ready != 1 {
        return Err(ShmError::NotReady(name.to_string()));
    }
    Ok(map)
}

/// Removes file `name` (by name; the caller made it or proved its owner gone).
pub fn unlink(name: &str) -> bool {
    shm::unlink(shm_path(name).as_str()).is_ok()
}

/// A mapped rosy file (a chunk, a doorbell): unlinked by its creator when dropped.
pub struct ShmFile {
    name: String,
    map: Mapping,
    owner: bool,
}

// SAFETY: the mapping is shared memory; what it holds is reached through atomics or through
// byte copies the ring's protocol orders; nothing here is thread-local.
unsafe impl Send for ShmFile {}
// SAFETY: as above.
unsafe impl Sync for ShmFile {}

impl ShmFile {
    /// Makes file `name` of `len` bytes with `magic` (see [`create`]), ready, owned.
    pub fn create(name: &str, len: usize, magic: u64) -> Result<ShmFile, ShmError> {
        let map = create(name, len, magic)?;
        set_ready(&map);
        Ok(ShmFile {
            name: name.to_string(),
            map,
            owner: true,
        })
    }

    /// Opens someone's file `name` (see [`open`]).
    pub fn open(
        name: &str,
        magic: u64,
        writable: bool,
        populate: bool,
    ) -> Result<ShmFile, ShmError> {
        Ok(ShmFile {
            name: name.to_string(),
            map: open(name, magic, writable, populate)?,
            owner: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn map(&self) -> &Mapping {
        &self.map
    }

    /// Whether another process truncated the file under this mapping (see [`Mapping`]).
    pub fn damaged(&self) -> bool {
        self.map.damaged()
    }

    /// Whether the owner lives and has not closed the file.
    pub fn owner_alive(&self) -> bool {
        let h = header(&self.map);
        h.closed.load(Ordering::Acquire) == 0 && pid_alive(h.owner_pid)
    }
}

impl Drop for ShmFile {
    fn drop(&mut self) {
        if self.owner {
            header(&self.map).closed.store(1, Ordering::Release);
            unlink(&self.name);
        }
    }
}
