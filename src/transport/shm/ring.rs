//! The SPMC ring's protocol: one writer, many readers, each with its own cursor; a slow reader
//! loses the oldest messages (counted), the writer never waits for anyone, and no reader ever
//! returns a message that was overwritten while it read.
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

use super::ShmError;
use super::futex;
use super::layout::{INLINE, MAX_SUBSCRIBERS, SEQ_DROPPED};
use super::segment::{Segment, monotonic_ns, pid_alive};
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};
use std::time::{Duration, Instant};

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
        }
    }

    pub fn segment(&self) -> &Arc<Segment> {
        &self.segment
    }

    /// Chunks some live reader holds, and the oldest message a live reader may still take.
    /// Readers found dead are unregistered on the way.
    fn readers_state(&self) -> (u64, u64) {
        let mut held = 0;
        let mut oldest_needed = self.next;
        for entry in &self.segment.header().subscribers {
            let pid = entry.pid.load(Ordering::SeqCst);
            if pid == 0 {
                continue;
            }
            // SYNC POINT held: pairs with the reader's SeqCst fetch_or + seq re-check.
            let mask = entry.held.load(Ordering::SeqCst);
            if mask != 0 && !pid_alive(pid) {
                tracing::debug!("reclaiming chunks {mask:#x} of dead subscriber {pid}");
                entry.held.store(0, Ordering::SeqCst);
                let _ = entry
                    .pid
                    .compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst);
                continue;
            }
            held |= mask;
            // SYNC POINT cursor: pairs with the reader's SeqCst store after each take.
            oldest_needed = oldest_needed.min(entry.cursor.load(Ordering::SeqCst));
        }
        (held, oldest_needed)
    }

    /// Finds a chunk to write a new message into: a free one (the lowest, most likely still in
    /// cache), else one whose message every reader has passed, else the oldest one in the ring
    /// that no reader holds (its message becomes lost for readers that had not reached it).
    pub fn allocate(&mut self) -> Result<usize, ShmError> {
        let count = self.chunk_message.len();
        if count == 0 {
            return Err(ShmError::NoPool(self.segment.name().to_string()));
        }
        let (held, oldest_needed) = self.readers_state();
        let busy = |c: usize, this: &Self| held & (1 << c) != 0 || this.loaned & (1 << c) != 0;
        let free = (0..count)
            .find(|&c| !busy(c, self) && self.chunk_message[c].is_none_or(|s| s < oldest_needed));
        if let Some(c) = free {
            if let Some(s) = self.chunk_message[c].take() {
                // Every reader is past message s: nobody will look at its slot for it again.
                let slots = self.slot_chunk.len();
                self.slot_chunk[(s as usize) % slots] = INLINE;
                // SYNC POINT drop: as below, in case a reader registered meanwhile.
                self.segment
                    .slot(s)
                    .seq
                    .store(SEQ_DROPPED, Ordering::SeqCst);
                if self.readers_state().0 & (1 << c) != 0 {
                    return Err(ShmError::PoolExhausted(self.segment.name().to_string()));
                }
            }
            self.loaned |= 1 << c;
            return Ok(c);
        }
        let oldest = (0..count)
            .filter(|&c| !busy(c, self))
            .filter_map(|c| self.chunk_message[c].map(|s| (s, c)))
            .min();
        let Some((s, c)) = oldest else {
            return Err(ShmError::PoolExhausted(self.segment.name().to_string()));
        };
        // Take message s's chunk back: readers that reach s see it overwritten.
        // SYNC POINT drop: SeqCst, so a reader whose re-check still saw 2s+2 set its held bit
        // before this store, and the held load below will see it.
        self.segment
            .slot(s)
            .seq
            .store(SEQ_DROPPED, Ordering::SeqCst);
        let slots = self.slot_chunk.len();
        self.slot_chunk[(s as usize) % slots] = INLINE;
        self.chunk_message[c] = None;
        // Readers might have set their bit between our load and the store: look again.
        if self.readers_state().0 & (1 << c) != 0 {
            return Err(ShmError::PoolExhausted(self.segment.name().to_string()));
        }
        self.loaned |= 1 << c;
        Ok(c)
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
        let old = self.slot_chunk[i];
        if old != INLINE {
            self.chunk_message[old as usize] = None;
        }
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
                let mut at = self.segment.slot_data(s);
                for part in parts {
                    // SAFETY: the caller checked len <= inline capacity, and `at` stays within
                    // the slot's inline bytes; readers only copy these bytes and validate the
                    // copy with the seqlock, so writing while they copy is detected, not trusted.
                    unsafe {
                        std::ptr::copy_nonoverlapping(part.as_ptr(), at, part.len());
                        at = at.add(part.len());
                    }
                }
            }
        }
        // SYNC POINT write-end: Release; pairs with the reader's Acquire load of seq, making
        // len, tag, chunk and the payload visible to a reader that sees 2s+2.
        slot.seq.store(2 * s + 2, Ordering::Release);
        self.next = s + 1;
        let header = self.segment.header();
        // SYNC POINT published: pairs with the reader's Acquire load of write_seq.
        header.write_seq.store(s + 1, Ordering::Release);
        header.heartbeat_ns.store(monotonic_ns(), Ordering::Relaxed);
        // SYNC POINT wake: SeqCst pair with the reader's sleepers increment in `wait`.
        header.wake_word.fetch_add(1, Ordering::SeqCst);
        if header.sleepers.load(Ordering::SeqCst) > 0 {
            futex::wake_all(&header.wake_word);
        }
    }

    /// Readers registered now.
    pub fn readers(&self) -> usize {
        self.segment
            .header()
            .subscribers
            .iter()
            .filter(|e| e.pid.load(Ordering::Relaxed) != 0)
            .count()
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
    /// Registers a reader that starts at the newest message.
    pub fn new(segment: Arc<Segment>) -> Result<Self, ShmError> {
        let pid = std::process::id();
        let header = segment.header();
        let mut entry = None;
        for (i, e) in header.subscribers.iter().enumerate() {
            let current = e.pid.load(Ordering::SeqCst);
            let free = current == 0 || !pid_alive(current);
            if free
                && e.pid
                    .compare_exchange(current, pid, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                e.held.store(0, Ordering::SeqCst);
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
        let next = header.write_seq.load(Ordering::Acquire);
        header.subscribers[entry]
            .cursor
            .store(next, Ordering::SeqCst);
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

    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Whether a message is waiting.
    pub fn has_new(&self) -> bool {
        self.segment.header().write_seq.load(Ordering::Acquire) > self.next
    }

    /// Takes the next message, if any. Errs only on a corrupt slot.
    pub fn take(&mut self) -> Result<Option<Taken>, ShmError> {
        let taken = self.take_inner();
        // SYNC POINT cursor: tells the writer which messages this reader is past.
        self.segment.header().subscribers[self.entry]
            .cursor
            .store(self.next, Ordering::SeqCst);
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
            let len = slot.len.load(Ordering::Relaxed) as usize;
            let tag = slot.tag.load(Ordering::Relaxed);
            let chunk = slot.chunk.load(Ordering::Relaxed);
            if chunk == INLINE {
                if len > g.inline_capacity() {
                    return Err(
                        self.corrupt(format!("slot of message {s} claims {len} inline bytes"))
                    );
                }
                let mut bytes = Vec::with_capacity(len);
                // SAFETY: len <= inline capacity (checked), so the source lies in this slot's
                // inline bytes; the destination has capacity len. The copy may be torn if the
                // writer laps us meanwhile: the seq re-check below discards it then.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        self.segment.slot_data(s),
                        bytes.as_mut_ptr(),
                        len,
                    );
                    bytes.set_len(len);
                }
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
            let entry = &self.segment.header().subscribers[self.entry];
            // SYNC POINT held: SeqCst, with the writer's SeqCst seq stores and held loads.
            entry.held.fetch_or(1 << c, Ordering::SeqCst);
            if slot.seq.load(Ordering::SeqCst) != seq {
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
        segment.header().subscribers[entry]
            .held
            .fetch_and(!(1 << chunk), Ordering::SeqCst);
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
        if entry.held.load(Ordering::SeqCst) == 0 {
            entry.pid.store(0, Ordering::SeqCst);
        }
    }
}
