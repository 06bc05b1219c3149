//! A truncated file must not kill: the SIGBUS guard of rosy's shared-memory mappings.
//!
//! Any process of the same user can `truncate` a file in /dev/shm. Every process mapping it then
//! takes SIGBUS on its next access past the new end, which kills it. rosy maps its files through
//! [`Guard`]s: the first guard installs a process-wide SIGBUS handler that, for a fault inside a
//! guarded mapping, maps fresh zero pages over the whole mapping (`MAP_FIXED`, private and
//! anonymous) and marks the guard [damaged](Guard::damaged); the faulting access is retried and
//! reads zeros. The owners of the mapping (publisher, subscriber, doorbell) look at that mark and
//! stop using the file: its messages go by TCP from then on. A sample a user holds in place reads
//! zeros from then on instead of crashing the process. The same technique guards shared buffers
//! in Wayland compositors (libwayland's `wl_shm_buffer_begin_access`).
//!
//! A SIGBUS for any other address is none of rosy's business: it goes to the handler that was
//! installed before (or, when there was none, kills the process as it would have).
//!
//! This module never opens, sizes or names a file; `file.rs` calls it for each mapping it makes.
//! Its `unsafe` is the handler and the syscalls it makes, each with its SAFETY comment.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Mappings guarded at once, at most (a node maps a segment per topic it reads or writes, plus
/// chunk files and doorbells: 500 topics take a few thousand). Beyond, a mapping is unguarded,
/// which is said once.
const SLOTS: usize = 16 * 1024;

struct Slot {
    /// Start address of the mapping; 0: the slot is free.
    start: AtomicUsize,
    /// Its length; 0 while the slot is being filled.
    len: AtomicUsize,
    damaged: AtomicBool,
}

static TABLE: [Slot; SLOTS] = [const {
    Slot {
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        damaged: AtomicBool::new(false),
    }
}; SLOTS];
/// Where the next free slot probably is.
static HINT: AtomicUsize = AtomicUsize::new(0);
/// The SIGBUS disposition before ours, to hand other faults to; set once, before ours is active.
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();
static FULL_SAID: AtomicBool = AtomicBool::new(false);

/// Keeps a truncated file from killing this process while the mapping at `start..start + len`
/// lives. Drop it *before* unmapping (then a later mapping at the same address is not touched).
pub struct Guard {
    slot: Option<usize>,
}

impl Guard {
    /// Guards the mapping of `len` bytes at `start`.
    pub fn new(start: *const u8, len: usize) -> Guard {
        install();
        let start = start as usize;
        if start == 0 || len == 0 {
            return Guard { slot: None };
        }
        let first = HINT.load(Ordering::Relaxed);
        for i in (first..SLOTS).chain(0..first) {
            let slot = &TABLE[i];
            // SYNC POINT claim: the CAS takes the slot; `len` is published after it (Release),
            // and the handler ignores a slot whose `len` is still 0.
            if slot
                .start
                .compare_exchange(0, start, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                slot.damaged.store(false, Ordering::Relaxed);
                // SYNC POINT len: Release, pairs with the handler's Acquire load of `len`.
                slot.len.store(len, Ordering::Release);
                HINT.store((i + 1) % SLOTS, Ordering::Relaxed);
                return Guard { slot: Some(i) };
            }
        }
        if !FULL_SAID.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "more than {SLOTS} shared-memory mappings: the newest are not guarded against \
                 a truncated file"
            );
        }
        Guard { slot: None }
    }

    /// Whether the file was truncated under this mapping (its pages are zeros now).
    pub fn damaged(&self) -> bool {
        // Acquire: pairs with the handler's Release store.
        self.slot
            .is_some_and(|i| TABLE[i].damaged.load(Ordering::Acquire))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            let slot = &TABLE[i];
            slot.len.store(0, Ordering::Release);
            slot.damaged.store(false, Ordering::Relaxed);
            slot.start.store(0, Ordering::Release);
        }
    }
}

/// Installs the handler, once per process.
fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: zeroed is a valid `sigaction` (no handler, empty mask, no flags).
        let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: sigaction(2) with a null new action only reads the current one into
        // `previous`, a valid, exclusively borrowed `sigaction`.
        if unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous) } != 0 {
            return;
        }
        let _ = PREVIOUS.set(previous);
        // SAFETY: as above for zeroed; `on_sigbus` has the SA_SIGINFO signature and is
        // async-signal-safe (atomics, mmap, sigaction, raise); the mask is emptied by
        // sigemptyset before use.
        unsafe {
            let mut ours: libc::sigaction = std::mem::zeroed();
            ours.sa_sigaction = on_sigbus as *const () as usize;
            ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut ours.sa_mask);
            if libc::sigaction(libc::SIGBUS, &ours, std::ptr::null_mut()) != 0 {
                tracing::warn!("cannot guard shared memory against truncated files");
            }
        }
    });
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for a SA_SIGINFO handler; si_addr is the
    // faulting address for SIGBUS.
    let addr = unsafe { (*info).si_addr() } as usize;
    for slot in TABLE.iter() {
        let start = slot.start.load(Ordering::Acquire);
        if start == 0 || addr < start {
            continue;
        }
        // SYNC POINT len: Acquire, pairs with the Release in `Guard::new`.
        let len = slot.len.load(Ordering::Acquire);
        if addr >= start + len {
            continue;
        }
        // SAFETY: `start..start + len` is a live mapping of ours (its guard is registered and
        // is dropped before the mapping is unmapped); replacing it with private zero pages of
        // the same size changes no memory but that mapping's, and makes the faulting access
        // succeed when it is retried.
        let zeros = unsafe {
            libc::mmap(
                start as *mut libc::c_void,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if zeros != libc::MAP_FAILED {
            // SYNC POINT damaged: Release, pairs with the Acquire in `Guard::damaged`.
            slot.damaged.store(true, Ordering::Release);
            return;
        }
        break;
    }
    not_ours(sig, info, context);
}

/// A SIGBUS rosy does not handle: to the previous handler, or the default action (death).
fn not_ours(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    if let Some(previous) = PREVIOUS.get() {
        let handler = previous.sa_sigaction;
        if handler != libc::SIG_DFL && handler != libc::SIG_IGN {
            // SAFETY: `handler` is the function the program installed before us, called with
            // the signature its flags declare, as the kernel would have called it.
            unsafe {
                if previous.sa_flags & libc::SA_SIGINFO != 0 {
                    let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                        std::mem::transmute(handler);
                    f(sig, info, context);
                } else {
                    let f: extern "C" fn(libc::c_int) = std::mem::transmute(handler);
                    f(sig);
                }
            }
            return;
        }
    }
    // SAFETY: restoring the default action and raising again is async-signal-safe; the signal
    // is blocked while this handler runs, so it is delivered (and kills, as without rosy) when
    // the handler returns.
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut default.sa_mask);
        libc::sigaction(libc::SIGBUS, &default, std::ptr::null_mut());
        libc::raise(libc::SIGBUS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_truncated_mapped_file_reads_zeros_and_is_marked_damaged() {
        let path = std::env::temp_dir().join(format!("rosy-sigbus-{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.write_all(&[7u8; 3 * 4096]).unwrap();
        let map = memmap2::MmapOptions::new()
            .len(3 * 4096)
            .map_raw(&file)
            .unwrap();
        let guard = Guard::new(map.as_ptr(), map.len());
        let other = Guard::new(0x1000 as *const u8, 4096);
        // SAFETY: inside the mapping.
        let read = |at: usize| unsafe { map.as_ptr().add(at).read_volatile() };
        assert_eq!(read(2 * 4096), 7);
        assert!(!guard.damaged());
        file.set_len(4096).unwrap();
        // Past the new end: SIGBUS, handled: the whole mapping now reads zeros.
        assert_eq!(read(2 * 4096), 0);
        assert_eq!(read(0), 0);
        assert!(guard.damaged());
        assert!(!other.damaged());
        // A new guard in a freed slot starts clean.
        drop(guard);
        let again = Guard::new(map.as_ptr(), map.len());
        assert!(!again.damaged());
        drop(again);
        drop(map);
        let _ = std::fs::remove_file(&path);
    }
}
