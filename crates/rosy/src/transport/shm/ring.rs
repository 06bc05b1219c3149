//! The SPMC ring's protocol: one writer, many readers, each with its own cursor; a slow reader
//! loses the oldest messages (counted), the writer never waits for anyone (but reliable readers,
//! or every reader when told: it then returns `ReaderBehind` and sleeps on `room_word`, which
//! readers ring after each take and release), and no reader ever returns a message that was
//! overwritten while it read.
//!
//! Message `s` lives in slot `s % N`. The slot's `seq` is a seqlock: the writer stores `2s+1`,
//! writes, then stores `2s+2`. A reader expecting `s` accepts the slot only if it sees `2s+2`
//! before *and* after taking the message; anything larger means it was overwritten (lost).
//!
//! Payloads up to a slot's inline capacity are copied out by the reader (then validated).
//! Larger ones live in a pool chunk and are read in place: the reader sets its bit for that
//! chunk in its `held` mask, then re-checks `seq`; the writer reuses a chunk only when no ring
//! slot references it and no reader's mask has its bit. A reader that dies holding chunks is
//! found by its pid and its mask cleared, so the pool never runs dry for good.
//!
//! This module knows nothing of topics or nodes.

use super::error::ShmError;
use super::file::pid_alive;
use super::futex;
use super::layout::{INLINE, MAX_SUBSCRIBERS, SEQ_DROPPED};
use super::segment::{Segment, monotonic_ns};
use super::sync::{Ordering, fence};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Whether a look at the readers asks the kernel if each reader's process lives.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pids {
    /// Registered readers are taken to live: no syscall.
    Assumed,
    /// Each reader that matters is asked about (`kill(pid, 0)`); dead ones are unregistered and
    /// their chunks taken back.
    Checked,
}

/// Allocations between two looks that ask whether readers live (besides those that found no
/// chunk): a dead reader's chunks come back to the pool at least this often.
const PID_CHECK_EVERY: u64 = 256;

/// The writer's private bookkeeping next to the shared segment.
pub struct RingWriter {
    segment: Arc<Segment>,
    next: u64,
    /// For each slot, the chunk its message uses, or INLINE.
    slot_chunk: Vec<u32>,
    /// For each chunk, the message using it while that message is in the ring.
    chunk_message: Vec<Option<u64>>,
    /// Chunks loaned out and not yet sent.
    loaned: u64,
    /// Chunk allocations made (see [`PID_CHECK_EVERY`]).
    allocations: u64,
    /// Every reader counts as reliable: the writer never takes back or overwrites a message a
    /// live reader has not taken (a publisher that waits when full), instead of only readers
    /// that asked.
    waits_for_readers: bool,
    /// The doorbells of the subscribers registered with one, as of `bells_version`.
    #[cfg(not(rosy_loom))]
    bells: Vec<(u64, Option<super::bell::Doorbell>)>,
    #[cfg(not(rosy_loom))]
    bells_version: u32,
}

impl RingWriter {
    pub fn new(segment: Arc<Segment>) -> Self {
        let g = segment.geometry();
        RingWriter {
            segment,
            next: 0,
            slot_chunk: vec![INLINE; g.slot_count],
            chunk_message: vec![None; g.chunk_count],
            loaned: 0,
            allocations: 0,
            waits_for_readers: false,
            #[cfg(not(rosy_loom))]
            bells: Vec::new(),
            #[cfg(not(rosy_loom))]
            bells_version: u32::MAX,
        }
    }

    pub fn segment(&self) -> &Arc<Segment> {
        &self.segment
    }

    /// Makes every reader count as reliable (`true`: the writer waits for them all) or only
    /// those that asked (`false`).
    pub fn set_waits_for_readers(&mut self, waits: bool) {
        self.waits_for_readers = waits;
    }

    pub fn waits_for_readers(&self) -> bool {
        self.waits_for_readers
    }

    /// The pid of a reader holding a chunk (0: none).
    pub fn a_holder(&self) -> u32 {
        self.segment
            .header()
            .subscribers
            .iter()
            // Relaxed: a name for an error message, not a synchronisation.
            .find(|e| e.held.load(Ordering::Relaxed) != 0)
            .map_or(0, |e| e.pid.load(Ordering::Relaxed))
    }

    /// Chunks some reader holds, and the oldest message a reader may still take; with
    /// [`Pids::Checked`], of live readers only, and readers found dead are unregistered on the
    /// way.
    fn readers_state(&self, pids: Pids) -> (u64, u64) {
        let (held, oldest_needed, _) = self.readers_state_reliable(pids);
        (held, oldest_needed)
    }

    /// As `readers_state`, plus the oldest message a reliable reader (any reader, when the
    /// writer waits for readers) has not taken yet and its pid (`(u64::MAX, 0)`: none).
    fn readers_state_reliable(&self, pids: Pids) -> (u64, u64, (u64, u32)) {
        let checked = pids == Pids::Checked;
        // SYNC POINT held fence: SeqCst, pairs with the reader's SeqCst fence between setting
        // its held bit and re-checking seq. Every seq store this writer made before (2s+1 in
        // `publish`, SEQ_DROPPED in `allocate`) is ordered before the held loads below: either
        // a reader's re-check sees that store, or this load sees the reader's bit. (The SeqCst
        // accesses alone give this in C11 too; the fences make it hold without reasoning about
        // mixed SeqCst/Release stores to seq, and are what loom can check.) Chunk paths only.
        fence(Ordering::SeqCst);
        let mut held = 0;
        let mut oldest_needed = self.next;
        let mut reliable = (u64::MAX, 0);
        for entry in &self.segment.header().subscribers {
            // SYNC POINT pid: pairs with the reader's SeqCst compare_exchange in `RingReader::new`.
            let pid = entry.pid.load(Ordering::SeqCst);
            if pid == 0 {
                continue;
            }
            // SYNC POINT held: pairs with the reader's SeqCst fetch_or + seq re-check.
            let mask = entry.held.load(Ordering::SeqCst);
            if checked && mask != 0 && !pid_alive(pid) {
                tracing::debug!("reclaiming chunks {mask:#x} of dead subscriber {pid}");
                // SYNC POINT reclaim: the owner is dead, nobody else stores to this entry but a
                // new reader after its compare_exchange on pid (which sees our pid store first).
                entry.held.store(0, Ordering::SeqCst);
                let _ = entry
                    .pid
                    .compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst);
                continue;
            }
            held |= mask;
            // SYNC POINT cursor: pairs with the reader's SeqCst store after each take.
            let cursor = entry.cursor.load(Ordering::SeqCst);
            oldest_needed = oldest_needed.min(cursor);
            // Relaxed: a flag its reader sets once it is registered; a stale 0 only lets one
            // more message overwrite (as for a best-effort reader).
            let waited_for = self.waits_for_readers || entry.reliable.load(Ordering::Relaxed) != 0;
            // A reader behind is waited for only while it lives (one that died between two
            // messages holds no chunk, so the reclaim above misses it).
            if waited_for
                && cursor < reliable.0
                && cursor < self.next
                && (!checked || pid_alive(pid))
            {
                reliable = (cursor, pid);
            }
        }
        (held, oldest_needed, reliable)
    }

    /// `Err(ReaderBehind)` when the next message would overwrite one a live reliable reader has
    /// not taken yet: the caller waits for it (or gives up) instead of publishing.
    pub fn room_for_reliable(&self) -> Result<(), ShmError> {
        let slots = self.slot_chunk.len() as u64;
        if self.next < slots {
            return Ok(());
        }
        // Whether the reader behind lives is asked only when it would be waited for.
        let full = |pids| {
            let (_, _, (cursor, pid)) = self.readers_state_reliable(pids);
            (cursor <= self.next - slots).then_some(pid)
        };
        if full(Pids::Assumed).is_none() {
            return Ok(());
        }
        if let Some(pid) = full(Pids::Checked) {
            return Err(ShmError::ReaderBehind {
                name: self.segment.name().to_string(),
                pid,
            });
        }
        Ok(())
    }

    /// Finds a chunk to write a new message into: a free one (the lowest, most likely still in
    /// cache), else one whose message every reader has passed, else the oldest one in the ring
    /// that no reader holds (its message becomes lost for readers that had not reached it).
    /// (The node allocates with [`RingWriter::allocate_for`]; the model checks use this.)
    #[cfg(all(test, rosy_loom))]
    pub fn allocate(&mut self) -> Result<usize, ShmError> {
        self.allocate_for(|_| true, usize::MAX)
    }

    /// As [`RingWriter::allocate`] among the first `usable` chunks, preferring among free ones
    /// the lowest that `fits` (whose file already takes the message), then the lowest.
    pub fn allocate_for(
        &mut self,
        fits: impl Fn(usize) -> bool,
        usable: usize,
    ) -> Result<usize, ShmError> {
        let count = self.chunk_message.len().min(usable);
        if count == 0 {
            return Err(ShmError::NoPool(self.segment.name().to_string()));
        }
        // Chunks found held by a reader that took them while we looked: try another (at most
        // `count` rounds, since each round skips one more).
        let mut skip: u64 = 0;
        // Readers are taken to live (a syscall each to ask, two or three times a message);
        // asked when nothing could be allocated, and every PID_CHECK_EVERY allocations so that
        // a dead reader's chunks come back to the pool before it runs dry.
        self.allocations = self.allocations.wrapping_add(1);
        let mut pids = if self.allocations % PID_CHECK_EVERY == 0 {
            Pids::Checked
        } else {
            Pids::Assumed
        };
        loop {
            let (held, oldest_needed, (reliable_cursor, reliable_pid)) =
                self.readers_state_reliable(pids);
            let busy = |c: usize, this: &Self| {
                (held | skip) & (1 << c) != 0 || this.loaned & (1 << c) != 0
            };
            let is_free = |c: usize| {
                !busy(c, self) && self.chunk_message[c].is_none_or(|s| s < oldest_needed)
            };
            let free = (0..count)
                .find(|&c| is_free(c) && fits(c))
                .or_else(|| (0..count).find(|&c| is_free(c)));
            if let Some(c) = free {
                if let Some(s) = self.chunk_message[c].take() {
                    // Every reader is past message s: nobody will look at its slot for it
                    // again; dropped all the same, in case a reader registered meanwhile.
                    self.drop_message(s);
                    if self.readers_state(pids).0 & (1 << c) != 0 {
                        // A reader holds message s in place (it took it as our look ran).
                        skip |= 1 << c;
                        continue;
                    }
                }
                self.loaned |= 1 << c;
                return Ok(c);
            }
            // Never a message a reliable reader has yet to take.
            let oldest = (0..count)
                .filter(|&c| !busy(c, self))
                .filter_map(|c| self.chunk_message[c].map(|s| (s, c)))
                .filter(|&(s, _)| s < reliable_cursor)
                .min();
            let Some((s, c)) = oldest else {
                if pids == Pids::Assumed {
                    // A dead reader may be what holds the chunks or is waited for.
                    pids = Pids::Checked;
                    continue;
                }
                if reliable_cursor < self.next {
                    return Err(ShmError::ReaderBehind {
                        name: self.segment.name().to_string(),
                        pid: reliable_pid,
                    });
                }
                return Err(ShmError::PoolExhausted(self.segment.name().to_string()));
            };
            // Take message s's chunk back: readers that reach s see it overwritten.
            self.drop_message(s);
            self.chunk_message[c] = None;
            // Readers might have set their bit between our load and the store: look again.
            if self.readers_state(pids).0 & (1 << c) != 0 {
                skip |= 1 << c;
                continue;
            }
            self.loaned |= 1 << c;
            return Ok(c);
        }
    }

    /// Marks message `s` taken back: a reader reaching its slot sees it overwritten. The caller
    /// then looks at the readers' held bits again (a reader may have taken `s` meanwhile).
    fn drop_message(&mut self, s: u64) {
        // SYNC POINT drop: SeqCst, so a reader whose re-check still saw 2s+2 set its held bit
        // before this store, and the caller's held load after it will see that bit.
        self.segment
            .slot(s)
            .seq
            .store(SEQ_DROPPED, Ordering::SeqCst);
        let slots = self.slot_chunk.len();
        self.slot_chunk[(s as usize) % slots] = INLINE;
    }

    /// Takes chunk `c` back for good if no reader holds it and every reader has passed its
    /// message (its file may then be removed). Returns whether it did.
    pub fn take_back(&mut self, c: usize) -> bool {
        let (held, oldest_needed) = self.readers_state(Pids::Checked);
        if held & (1 << c) != 0 || self.loaned & (1 << c) != 0 {
            return false;
        }
        if let Some(s) = self.chunk_message[c] {
            if s >= oldest_needed {
                return false;
            }
            self.drop_message(s);
            self.chunk_message[c] = None;
        }
        // A reader may have set its bit between our look and the drop: look again, and keep
        // the chunk loaned-free but unreleased (its file stays) if so.
        self.readers_state(Pids::Checked).0 & (1 << c) == 0
    }

    /// Gives back a chunk that was allocated but will not be sent.
    pub fn release(&mut self, chunk: usize) {
        self.loaned &= !(1 << chunk);
    }

    /// Publishes a message: inline `parts` (concatenated) when `chunk` is None, else the first
    /// `len` bytes already written into `chunk`.
    pub fn publish(&mut self, tag: u32, len: usize, chunk: Option<usize>, parts: &[&[u8]]) {
        let s = self.next;
        let i = (s as usize) % self.slot_chunk.len();
        let slot = self.segment.slot(s);
        // SYNC POINT write-begin: SeqCst; readers re-checking seq after taking a chunk see this
        // before the chunk can be reused (see `allocate`).
        slot.seq.store(2 * s + 1, Ordering::SeqCst);
        // SYNC POINT write-begin fence: Release, pairs with the reader's Acquire fences in
        // `take_inner`. A store, even SeqCst, does not keep *later* writes after it: without this
        // fence the writes below (len, tag, chunk, inline bytes) may become visible before 2s+1,
        // and a reader still at message s-N of this slot could read them, then re-read the old
        // 2(s-N)+2 and accept message s's fields or bytes as s-N's (found by loom:
        // loom_inline_never_torn, loom_chunk_never_reused_while_held). A compiler barrier on x86.
        fence(Ordering::Release);
        let old = self.slot_chunk[i];
        if old != INLINE {
            self.chunk_message[old as usize] = None;
        }
        // Relaxed: published by the write-end Release store below, ordered after 2s+1 by the
        // write-begin fence above.
        slot.len.store(len as u32, Ordering::Relaxed);
        slot.tag.store(tag, Ordering::Relaxed);
        match chunk {
            Some(c) => {
                slot.chunk.store(c as u32, Ordering::Relaxed);
                self.loaned &= !(1 << c);
                self.chunk_message[c] = Some(s);
                self.slot_chunk[i] = c as u32;
            }
            None => {
                slot.chunk.store(INLINE, Ordering::Relaxed);
                self.slot_chunk[i] = INLINE;
                self.segment.write_inline(s, parts);
            }
        }
        // SYNC POINT write-end: Release; pairs with the reader's Acquire load of seq, making
        // len, tag, chunk and the payload visible to a reader that sees 2s+2.
        slot.seq.store(2 * s + 2, Ordering::Release);
        self.next = s + 1;
        let header = self.segment.header();
        // SYNC POINT published: pairs with the reader's Acquire load of write_seq.
        header.write_seq.store(s + 1, Ordering::Release);
        // Relaxed: a liveness hint only, read with no ordering expectations.
        header.heartbeat_ns.store(monotonic_ns(), Ordering::Relaxed);
        // SYNC POINT wake: SeqCst pair with the reader's sleepers increment in `wait`.
        header.wake_word.fetch_add(1, Ordering::SeqCst);
        if header.sleepers.load(Ordering::SeqCst) > 0 {
            futex::wake_all(&header.wake_word);
        }
        #[cfg(not(rosy_loom))]
        self.ring_bells();
    }

    /// Tells every subscriber's doorbell that the segment closed.
    pub fn publish_close(&mut self) {
        #[cfg(not(rosy_loom))]
        self.ring_bells();
    }

    /// Rings the doorbell of every subscriber registered with one, re-reading who they are
    /// only when a subscriber came or went.
    #[cfg(not(rosy_loom))]
    fn ring_bells(&mut self) {
        let header = self.segment.header();
        // SYNC POINT bell fence: SeqCst, pairs with the fence of a registering reader
        // (`RingReader::new`) and of a sleeping owner (`Doorbell::prepare_sleep`): if the
        // version load misses a new subscriber, that subscriber's first look sees this message.
        fence(Ordering::SeqCst);
        let version = header.subscribers_version.load(Ordering::SeqCst);
        if version != self.bells_version {
            self.bells_version = version;
            let mut bells = Vec::new();
            for entry in &header.subscribers {
                // SeqCst: ordered after the version load, as the reader stores it before its bump.
                let key = entry.bell.load(Ordering::SeqCst);
                if key == 0
                    || entry.pid.load(Ordering::SeqCst) == 0
                    || bells.iter().any(|(k, _)| *k == key)
                {
                    continue;
                }
                let known = self
                    .bells
                    .iter()
                    .position(|(k, b)| *k == key && b.is_some());
                let bell = match known {
                    Some(i) => self.bells.swap_remove(i).1,
                    None => {
                        super::bell::bell_name_beside(self.segment.name(), key).and_then(|name| {
                            super::bell::Doorbell::open(&name)
                                .map_err(|e| {
                                    tracing::debug!("cannot ring a subscriber's doorbell: {e}");
                                })
                                .ok()
                        })
                    }
                };
                bells.push((key, bell));
            }
            self.bells = bells;
        }
        for (_, bell) in &self.bells {
            if let Some(bell) = bell {
                bell.ring();
            }
        }
    }

    /// Readers registered now.
    pub fn readers(&self) -> usize {
        self.segment
            .header()
            .subscribers
            .iter()
            // Relaxed: a count for display, not a synchronisation.
            .filter(|e| e.pid.load(Ordering::Relaxed) != 0)
            .count()
    }
}

/// Wakes a writer waiting for room (see [`RoomWait`]) after this reader took or released a
/// message. One load when nobody waits.
fn tell_waiting_writer(header: &super::layout::Header) {
    // SYNC POINT room: SeqCst, after the reader's SeqCst cursor store or held release. Pairs
    // with the writer's SeqCst room_waiters increment before its last look (`RoomWait`): either
    // this load sees the writer waiting, or the writer's look sees what this reader did.
    if header.room_waiters.load(Ordering::SeqCst) > 0 {
        header.room_word.fetch_add(1, Ordering::SeqCst);
        futex::wake_all(&header.room_word);
    }
}

/// A writer about to wait for its readers to make room: announced (so readers wake it) before
/// its last look at them, then asleep until one takes or releases a message.
pub struct RoomWait {
    segment: Arc<Segment>,
    word: u32,
}

impl RoomWait {
    /// Announces the wait. Look at the readers once more after this (a message taken between
    /// that look and [`RoomWait::sleep`] ends the sleep at once).
    pub fn announce(segment: Arc<Segment>) -> RoomWait {
        let header = segment.header();
        // SYNC POINT room: see `tell_waiting_writer`.
        header.room_waiters.fetch_add(1, Ordering::SeqCst);
        let word = header.room_word.load(Ordering::SeqCst);
        RoomWait { segment, word }
    }

    /// Sleeps until a reader takes or releases a message, at most `timeout`.
    pub fn sleep(self, timeout: Duration) {
        futex::wait(&self.segment.header().room_word, self.word, timeout);
    }
}

impl Drop for RoomWait {
    fn drop(&mut self) {
        self.segment
            .header()
            .room_waiters
            .fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a reader took from the ring.
pub enum Taken {
    /// A copy of an inline payload.
    Inline { tag: u32, bytes: Vec<u8> },
    /// A chunk this reader now holds (its bit is set); release it with [`RingReader::release`].
    Chunk { tag: u32, chunk: usize, len: usize },
}

/// One reader's registration and cursor.
pub struct RingReader {
    segment: Arc<Segment>,
    entry: usize,
    next: u64,
    lost: u64,
}

impl RingReader {
    /// Registers a reader that starts at the newest message; the writer rings doorbell `bell`
    /// after each message (0: none, the reader sleeps on the segment's own word).
    pub fn new(segment: Arc<Segment>, bell: u64) -> Result<Self, ShmError> {
        let pid = std::process::id();
        let header = segment.header();
        let mut entry = None;
        for (i, e) in header.subscribers.iter().enumerate() {
            // SYNC POINT pid: pairs with the writer's pid load and reclaiming CAS in
            // `readers_state`; the CAS makes exactly one reader own a free entry.
            let current = e.pid.load(Ordering::SeqCst);
            let free = current == 0 || !pid_alive(current);
            if free
                && e.pid
                    .compare_exchange(current, pid, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                // SYNC POINT held: a stale mask of a dead previous owner is dropped before use.
                e.held.store(0, Ordering::SeqCst);
                // Relaxed: a dead previous owner's flag; see `readers_state_reliable`.
                e.reliable.store(0, Ordering::Relaxed);
                entry = Some(i);
                break;
            }
        }
        let Some(entry) = entry else {
            return Err(ShmError::TooManySubscribers {
                name: segment.name().to_string(),
                max: MAX_SUBSCRIBERS,
            });
        };
        // SYNC POINT published: Acquire pairs with the writer's Release store of write_seq.
        let next = header.write_seq.load(Ordering::Acquire);
        // SYNC POINT cursor: pairs with the writer's SeqCst cursor load in `readers_state`.
        header.subscribers[entry]
            .cursor
            .store(next, Ordering::SeqCst);
        #[cfg(not(rosy_loom))]
        {
            // SYNC POINT bell: the key is stored before the version bump the writer looks for.
            header.subscribers[entry].bell.store(bell, Ordering::SeqCst);
            header.subscribers_version.fetch_add(1, Ordering::SeqCst);
            // SYNC POINT bell fence: pairs with the writer's fence in `ring_bells`.
            fence(Ordering::SeqCst);
        }
        #[cfg(rosy_loom)]
        let _ = bell;
        Ok(RingReader {
            segment,
            entry,
            next,
            lost: 0,
        })
    }

    pub fn segment(&self) -> &Arc<Segment> {
        &self.segment
    }

    /// Marks this reader reliable (the writer waits for it rather than overwrite what it has
    /// not taken) or best effort.
    pub fn set_reliable(&self, reliable: bool) {
        // Relaxed: see `readers_state_reliable`.
        self.segment.header().subscribers[self.entry]
            .reliable
            .store(reliable as u32, Ordering::Relaxed);
    }

    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Makes this registration name `pid` (tests: a reader of a process that died).
    #[cfg(test)]
    pub fn fake_pid(&self, pid: u32) {
        self.segment.header().subscribers[self.entry]
            .pid
            .store(pid, Ordering::SeqCst);
    }

    /// Counts `n` messages lost after they were taken (their payload could not be read).
    pub fn count_lost(&mut self, n: u64) {
        self.lost += n;
    }

    /// Whether a message is waiting.
    pub fn has_new(&self) -> bool {
        // SYNC POINT published: Acquire pairs with the writer's Release store of write_seq.
        self.segment.header().write_seq.load(Ordering::Acquire) > self.next
    }

    /// Takes the next message, if any. Errs only on a corrupt slot.
    pub fn take(&mut self) -> Result<Option<Taken>, ShmError> {
        let taken = self.take_inner();
        let header = self.segment.header();
        // SYNC POINT cursor: tells the writer which messages this reader is past.
        header.subscribers[self.entry]
            .cursor
            .store(self.next, Ordering::SeqCst);
        if matches!(taken, Ok(Some(_))) {
            tell_waiting_writer(header);
        }
        taken
    }

    fn take_inner(&mut self) -> Result<Option<Taken>, ShmError> {
        let g = self.segment.geometry();
        loop {
            // SYNC POINT published: Acquire pairs with the writer's Release store of write_seq.
            let written = self.segment.header().write_seq.load(Ordering::Acquire);
            if self.next >= written {
                return Ok(None);
            }
            if written - self.next > g.slot_count as u64 {
                let skip = written - g.slot_count as u64 - self.next;
                self.lost += skip;
                self.next += skip;
            }
            let s = self.next;
            let slot = self.segment.slot(s);
            // SYNC POINT write-end: Acquire pairs with the writer's Release store of 2s+2.
            let seq = slot.seq.load(Ordering::Acquire);
            if seq != 2 * s + 2 {
                // Overwritten (larger), taken back (SEQ_DROPPED), or being rewritten by a writer
                // that lapped us: the message is gone.
                debug_assert!(seq > 2 * s + 2 || seq == SEQ_DROPPED || seq % 2 == 1);
                self.lost += 1;
                self.next += 1;
                continue;
            }
            // Relaxed: ordered after the seq load by its Acquire, validated by the re-check below.
            let len = slot.len.load(Ordering::Relaxed) as usize;
            let tag = slot.tag.load(Ordering::Relaxed);
            let chunk = slot.chunk.load(Ordering::Relaxed);
            if chunk == INLINE {
                if len > g.inline_capacity() {
                    return Err(
                        self.corrupt(format!("slot of message {s} claims {len} inline bytes"))
                    );
                }
                // May be torn if the writer laps us meanwhile: the seq re-check below
                // discards it then.
                let bytes = self.segment.read_inline(s, len);
                // SYNC POINT read-check: the Acquire fence orders the copy before the re-load.
                fence(Ordering::Acquire);
                if slot.seq.load(Ordering::Relaxed) != seq {
                    self.lost += 1;
                    self.next += 1;
                    continue;
                }
                self.next += 1;
                return Ok(Some(Taken::Inline { tag, bytes }));
            }
            let c = chunk as usize;
            if c >= g.chunk_count || len > g.chunk_size {
                return Err(self.corrupt(format!(
                    "slot of message {s} names chunk {c} of {len} bytes"
                )));
            }
            // SYNC POINT read-check (chunk): pairs with the writer's write-begin fence. If the
            // fields above came from a newer message, its 2s'+1 store is now visible to the
            // re-check below, which then refuses the slot (see `publish`; found by loom).
            fence(Ordering::Acquire);
            let entry = &self.segment.header().subscribers[self.entry];
            // SYNC POINT held: SeqCst, with the writer's SeqCst seq stores and held loads.
            entry.held.fetch_or(1 << c, Ordering::SeqCst);
            // SYNC POINT held fence: pairs with the writer's fence in `readers_state`.
            fence(Ordering::SeqCst);
            if slot.seq.load(Ordering::SeqCst) != seq {
                // SYNC POINT release: pairs with the writer's SeqCst held loads.
                entry.held.fetch_and(!(1 << c), Ordering::SeqCst);
                self.lost += 1;
                self.next += 1;
                continue;
            }
            self.next += 1;
            return Ok(Some(Taken::Chunk { tag, chunk: c, len }));
        }
    }

    /// Lets the writer reuse a chunk this reader held.
    pub fn release(segment: &Segment, entry: usize, chunk: usize) {
        // SYNC POINT release: SeqCst (a Release RMW); the writer's SeqCst held load that sees
        // the bit cleared synchronises with it, so this reader's reads of the chunk happen
        // before the writer's next writes into it (loom_chunk_* check this).
        segment.header().subscribers[entry]
            .held
            .fetch_and(!(1 << chunk), Ordering::SeqCst);
        tell_waiting_writer(segment.header());
    }

    pub fn entry(&self) -> usize {
        self.entry
    }

    /// Sleeps until a message may be waiting, at most `timeout`; spins instead when `busy`.
    /// Returns whether one is.
    pub fn wait(&self, timeout: Duration, busy: bool) -> bool {
        let header = self.segment.header();
        if busy {
            let start = Instant::now();
            while start.elapsed() < timeout {
                if self.has_new() {
                    return true;
                }
                std::hint::spin_loop();
            }
            return self.has_new();
        }
        // SYNC POINT wake: announce the sleep before looking, so a writer publishing after our
        // look sees sleepers > 0 and wakes us (or changes wake_word so the futex returns).
        header.sleepers.fetch_add(1, Ordering::SeqCst);
        let word = header.wake_word.load(Ordering::SeqCst);
        if !self.has_new() {
            futex::wait(&header.wake_word, word, timeout);
        }
        // SYNC POINT wake: no longer asleep; the writer may skip its next futex wake.
        header.sleepers.fetch_sub(1, Ordering::SeqCst);
        self.has_new()
    }

    fn corrupt(&self, reason: String) -> ShmError {
        ShmError::Corrupt {
            name: self.segment.name().to_string(),
            reason,
        }
    }
}

impl Drop for RingReader {
    fn drop(&mut self) {
        // Samples still out hold their own bits; clearing the pid lets the writer reclaim them
        // once this process is gone, and frees the entry for the next subscriber.
        let entry = &self.segment.header().subscribers[self.entry];
        // Relaxed: the pid store below (SeqCst) publishes it.
        entry.reliable.store(0, Ordering::Relaxed);
        #[cfg(not(rosy_loom))]
        {
            entry.bell.store(0, Ordering::SeqCst);
            self.segment
                .header()
                .subscribers_version
                .fetch_add(1, Ordering::SeqCst);
        }
        // SYNC POINT pid: pairs with the pid loads of the writer and of a registering reader.
        if entry.held.load(Ordering::SeqCst) == 0 {
            entry.pid.store(0, Ordering::SeqCst);
        }
    }
}

/// Model checks of this module's protocol with loom: the real [`RingWriter`] and [`RingReader`]
/// on a heap-backed [`Segment`] whose atomics are loom's (see `sync.rs` and `segment.rs`).
/// Inline payloads are loom atomics too (relaxed words, `Segment::read_inline`); a chunk's bytes
/// are modelled here by one loom `UnsafeCell` per chunk, so loom reports any write of a chunk by
/// the writer that is not ordered after every reader's reads of it (a chunk reused while held).
///
/// Run: `RUSTFLAGS="--cfg rosy_loom" CARGO_TARGET_DIR=target/loom cargo test --lib --release loom_`
#[cfg(all(test, rosy_loom))]
mod loom_tests {
    use super::*;
    use crate::transport::shm::layout::{Geometry, SLOT_HEADER};
    use loom::cell::UnsafeCell;
    use loom::thread;

    /// Messages each model publishes.
    const MESSAGES: u64 = 3;

    fn segment(slot_count: usize, chunk_count: usize) -> Arc<Segment> {
        let geometry = Geometry {
            slot_count,
            slot_size: (SLOT_HEADER + 8).div_ceil(16) * 16,
            chunk_count,
            chunk_size: 64,
        };
        Arc::new(Segment::create("rosy.loom-model", geometry).unwrap())
    }

    fn model(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(preemptions);
        builder.check(f);
    }

    /// What one reader saw: checks every accepted message as it comes.
    #[derive(Default)]
    struct Seen {
        received: Vec<u64>,
    }

    impl Seen {
        /// Message `s` accepted with payload `payload`: it must be the one the reader was at
        /// (its cursor moved just past it), carry its own payload, and come after the last one.
        fn accept(&mut self, reader: &RingReader, tag: u32, payload: u64) {
            let s = tag as u64;
            assert_eq!(
                payload, s,
                "message {s} returned with message {payload}'s payload"
            );
            assert_eq!(
                reader.next,
                s + 1,
                "accepted {s} while at {}",
                reader.next - 1
            );
            assert!(
                self.received.last().is_none_or(|&last| last < s),
                "out of order"
            );
            self.received.push(s);
        }

        /// Everything the reader passed was either received or counted as lost.
        fn check_accounting(&self, reader: &RingReader) {
            assert_eq!(self.received.len() as u64 + reader.lost(), reader.next);
        }
    }

    fn take_inline(reader: &mut RingReader, seen: &mut Seen) -> bool {
        match reader.take().unwrap() {
            Some(Taken::Inline { tag, bytes }) => {
                let payload = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
                seen.accept(reader, tag, payload);
                true
            }
            Some(Taken::Chunk { .. }) => panic!("inline message came as a chunk"),
            None => false,
        }
    }

    fn drain_inline(reader: &mut RingReader, seen: &mut Seen) {
        while take_inline(reader, seen) {}
        assert_eq!(reader.next, MESSAGES);
        seen.check_accounting(reader);
    }

    /// Seqlock of inline slots: 3 messages through 2 slots, so the writer laps a reader that
    /// takes concurrently; no reader may return a torn or overwritten payload.
    #[test]
    fn loom_inline_never_torn() {
        model(3, || {
            let segment = segment(2, 0);
            let mut writer = RingWriter::new(segment.clone());
            let mut reader = RingReader::new(segment, 0).unwrap();
            let w = thread::spawn(move || {
                for s in 0..MESSAGES {
                    writer.publish(s as u32, 8, None, &[&s.to_le_bytes()]);
                }
            });
            let mut seen = Seen::default();
            for _ in 0..2 {
                take_inline(&mut reader, &mut seen);
                seen.check_accounting(&reader);
            }
            w.join().unwrap();
            drain_inline(&mut reader, &mut seen);
        });
    }

    /// Chunk bytes, as the test sees them: loom checks every access for ordering.
    struct Chunks(Vec<UnsafeCell<u64>>);
    // SAFETY: loom's UnsafeCell checks every access for causality; that is what this models.
    unsafe impl Sync for Chunks {}

    impl Chunks {
        fn write(&self, c: usize, value: u64) {
            // SAFETY: a plain write; loom panics if it races with a read or write of chunk c.
            self.0[c].with_mut(|p| unsafe { *p = value });
        }

        fn read(&self, c: usize) -> u64 {
            // SAFETY: as above.
            self.0[c].with(|p| unsafe { *p })
        }
    }

    /// Takes up to `takes` messages, each a chunk it holds until the end (so it holds several
    /// at once), checking each chunk's bytes when taken and again just before release.
    fn read_chunks(reader: &mut RingReader, chunks: &Chunks, takes: usize, seen: &mut Seen) {
        let mut held = Vec::new();
        for _ in 0..takes {
            match reader.take().unwrap() {
                Some(Taken::Chunk { tag, chunk, len }) => {
                    assert_eq!(len, 8);
                    seen.accept(reader, tag, chunks.read(chunk));
                    held.push((tag, chunk));
                }
                Some(Taken::Inline { .. }) => panic!("chunk message came inline"),
                None => {}
            }
            seen.check_accounting(reader);
        }
        for (tag, chunk) in held {
            assert_eq!(
                chunks.read(chunk),
                tag as u64,
                "chunk {chunk} rewritten while held"
            );
            RingReader::release(reader.segment(), reader.entry(), chunk);
        }
    }

    /// The pool: 3 chunk messages through 2 slots and 2 chunks, read in place by `readers`
    /// readers that hold what they take (`takes` each). The writer must reuse a chunk for the
    /// third message (one every reader has passed, or the oldest one in the ring nobody holds)
    /// or give up on it (PoolExhausted); it must never write a chunk a reader still holds.
    fn chunk_model(readers: usize, takes: usize, preemptions: usize) {
        model(preemptions, move || {
            let segment = segment(2, 2);
            let chunks = Arc::new(Chunks((0..2).map(|_| UnsafeCell::new(u64::MAX)).collect()));
            let mut writer = RingWriter::new(segment.clone());
            let readers: Vec<_> = (0..readers)
                .map(|_| {
                    let mut reader = RingReader::new(segment.clone(), 0).unwrap();
                    let chunks = chunks.clone();
                    thread::spawn(move || {
                        let mut seen = Seen::default();
                        read_chunks(&mut reader, &chunks, takes, &mut seen);
                    })
                })
                .collect();
            for _ in 0..MESSAGES {
                // A message the pool cannot take is not sent: the next one gets its number.
                let s = writer.next;
                match writer.allocate() {
                    Ok(c) => {
                        chunks.write(c, s);
                        writer.publish(s as u32, 8, Some(c), &[]);
                    }
                    Err(ShmError::PoolExhausted(_)) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            for r in readers {
                r.join().unwrap();
            }
        });
    }

    /// One reader holding two chunks at once while the writer needs one back.
    #[test]
    fn loom_chunk_never_reused_while_held() {
        chunk_model(1, 2, 3);
    }

    /// Two readers, each holding the chunk it takes: the writer reads both masks.
    #[test]
    fn loom_chunk_two_readers() {
        chunk_model(2, 1, 2);
    }

    /// Futex wake-up: a reader going to sleep while the writer publishes is always woken (the
    /// loom futex has no timeout, so a lost wake-up is a deadlock loom reports).
    #[test]
    fn loom_no_lost_wake_up() {
        model(3, || {
            let segment = segment(2, 0);
            let mut writer = RingWriter::new(segment.clone());
            let mut reader = RingReader::new(segment, 0).unwrap();
            let w = thread::spawn(move || {
                writer.publish(0, 8, None, &[&0u64.to_le_bytes()]);
            });
            while !reader.wait(Duration::from_secs(3600), false) {}
            let mut seen = Seen::default();
            assert!(take_inline(&mut reader, &mut seen));
            w.join().unwrap();
        });
    }
}
