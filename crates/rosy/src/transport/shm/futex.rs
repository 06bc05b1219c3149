//! Sleeping on and waking a 32-bit word in shared memory (Linux futex, not process-private).

use super::sync::AtomicU32;
use std::time::Duration;

/// Sleeps while `word` still holds `expected`, at most `timeout`. Spurious returns are fine.
#[cfg(not(rosy_loom))]
pub fn wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let timeout = rustix::time::Timespec {
        tv_sec: timeout.as_secs() as i64,
        tv_nsec: timeout.subsec_nanos() as i64,
    };
    // Not FUTEX_PRIVATE: the word is shared with other processes.
    let _ = rustix::thread::futex::wait(
        word,
        rustix::thread::futex::Flags::empty(),
        expected,
        Some(&timeout),
    );
}

/// Wakes every process sleeping on `word`.
#[cfg(not(rosy_loom))]
pub fn wake_all(word: &AtomicU32) {
    let _ =
        rustix::thread::futex::wake(word, rustix::thread::futex::Flags::empty(), i32::MAX as u32);
}

// Under loom, the kernel's futex as a lock and a condvar: like the kernel's hash-bucket lock, the
// lock makes "check the word, then sleep" atomic with respect to a wake. The timeout is ignored
// (the sleeper waits for a wake-up), so a lost wake-up shows as a deadlock loom reports.
#[cfg(rosy_loom)]
loom::lazy_static! {
    static ref KERNEL: (loom::sync::Mutex<()>, loom::sync::Condvar) =
        (loom::sync::Mutex::new(()), loom::sync::Condvar::new());
}

#[cfg(rosy_loom)]
pub fn wait(word: &AtomicU32, expected: u32, _timeout: Duration) {
    let guard = KERNEL.0.lock().unwrap();
    if word.load(super::sync::Ordering::SeqCst) == expected {
        drop(KERNEL.1.wait(guard).unwrap());
    }
}

#[cfg(rosy_loom)]
pub fn wake_all(_word: &AtomicU32) {
    let _guard = KERNEL.0.lock().unwrap();
    KERNEL.1.notify_all();
}
