//! Doorbells: one futex word per reading node, rung by every segment writer it reads, so one
//! thread can sleep on all of a node's segments at once.
//!
//! A subscriber registered with a bell key (see `RingReader::new`) is rung after every message
//! its segment's writer publishes: `word` is bumped and, when the owner announced it sleeps,
//! woken. The owner's sleep is the usual futex handshake: set `sleeping`, read `word`, look at
//! every segment once more, then sleep only while `word` is unchanged.
//!
//! This module knows nothing of topics or segments beyond a bell's name.

use super::error::ShmError;
use super::file;
use super::futex;
use super::layout::{BELL_MAGIC, Bell};
use super::sync::{Ordering, fence};
use std::time::Duration;

/// The name of the doorbell with `key` in the directory of `segment`'s domain: a segment
/// `rosy.<domain>.<node>.<topic>` has its bells at `rosy.<domain>.<key>.bell`.
#[cfg_attr(rosy_loom, allow(dead_code))] // the loom model of the ring rings no doorbell files
pub fn bell_name_beside(segment: &str, key: u64) -> Option<String> {
    let domain_prefix = segment.rsplitn(3, '.').nth(2)?;
    Some(format!("{domain_prefix}.{key:016x}.bell"))
}

/// The name of the doorbell with `key` of `domain`.
pub fn bell_name(domain: &str, key: u64) -> String {
    format!("{}{domain}.{key:016x}.bell", super::housekeeping::PREFIX)
}

/// A mapped doorbell: its owner sleeps on it, writers ring it.
pub struct Doorbell {
    file: file::ShmFile,
}

impl Doorbell {
    /// Makes the doorbell `name` (replacing a stale one), owned by this process.
    pub fn create(name: &str) -> Result<Doorbell, ShmError> {
        Ok(Doorbell {
            file: file::ShmFile::create(name, 4096, BELL_MAGIC)?,
        })
    }

    /// Opens someone's doorbell to ring it.
    pub fn open(name: &str) -> Result<Doorbell, ShmError> {
        Ok(Doorbell {
            file: file::ShmFile::open(name, BELL_MAGIC, true, false)?,
        })
    }

    /// The doorbell's file name under /dev/shm.
    pub fn name(&self) -> &str {
        self.file.name()
    }

    fn bell(&self) -> &Bell {
        // SAFETY: the mapping is at least a page (checked at open, made so at create),
        // page-aligned, and Bell is repr(C) of integers and atomics: valid for any bytes.
        unsafe { &*(self.file.map().as_ptr() as *const Bell) }
    }

    /// Rings: bumps the word and wakes the owner if it sleeps. Call after publishing.
    pub fn ring(&self) {
        let bell = self.bell();
        // SYNC POINT bell: SeqCst, pairs with the owner's `sleeping` store and `word` load in
        // `prepare_sleep`: either the owner's word load sees this bump (its futex wait returns
        // at once) or this `sleeping` load sees it asleep and wakes it.
        bell.word.fetch_add(1, Ordering::SeqCst);
        if bell.sleeping.load(Ordering::SeqCst) != 0 {
            futex::wake_all(&bell.word);
        }
    }

    /// The owner announces a sleep: returns the word to sleep on. The owner must then look for
    /// work once more before [`Doorbell::sleep`] (or call [`Doorbell::woke`] if it found some).
    pub fn prepare_sleep(&self) -> u32 {
        let bell = self.bell();
        // SYNC POINT bell: see `ring`.
        bell.sleeping.store(1, Ordering::SeqCst);
        // SYNC POINT bell fence: pairs with the writer's fence after publishing (`ring.rs`),
        // so the owner's look for work after this sees every message published before a ring
        // this word load misses.
        fence(Ordering::SeqCst);
        bell.word.load(Ordering::SeqCst)
    }

    /// Sleeps while the word is still `observed`, at most `timeout`, then marks itself awake.
    pub fn sleep(&self, observed: u32, timeout: Duration) {
        futex::wait(&self.bell().word, observed, timeout);
        self.woke();
    }

    /// Marks the owner awake (writers stop calling futex wake).
    pub fn woke(&self) {
        // Relaxed: a hint to skip wake-ups; a stale 1 costs one spare futex wake.
        self.bell().sleeping.store(0, Ordering::Relaxed);
    }

    /// Whether another process truncated the bell's file under this mapping: it rings no more.
    pub fn damaged(&self) -> bool {
        self.file.damaged()
    }

    /// Whether the owner lives and has not closed its bell.
    pub fn owner_alive(&self) -> bool {
        self.file.owner_alive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_wakes_the_sleeper_and_names_follow_the_domain() {
        let name = bell_name("unit-bell", 0x1234 + std::process::id() as u64);
        let bell = std::sync::Arc::new(Doorbell::create(&name).unwrap());
        let ringer = Doorbell::open(&name).unwrap();
        let observed = bell.prepare_sleep();
        let sleeper = {
            let bell = bell.clone();
            std::thread::spawn(move || {
                let start = std::time::Instant::now();
                bell.sleep(observed, Duration::from_secs(10));
                start.elapsed()
            })
        };
        ringer.ring();
        assert!(
            sleeper.join().unwrap() < Duration::from_secs(10),
            "never woken"
        );
        assert_eq!(
            bell_name_beside("rosy.my-domain.00000000000000ab.1122334455667788", 0xcd).as_deref(),
            Some("rosy.my-domain.00000000000000cd.bell")
        );
        drop(ringer);
        drop(bell);
        assert!(Doorbell::open(&name).is_err(), "the owner removes its bell");
    }
}
