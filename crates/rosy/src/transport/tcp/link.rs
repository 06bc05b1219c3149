//! One TCP connection to one peer once its handshake ([`super::handshake`]) is done: a reader
//! task and a batching writer task.
//!
//! Memory follows bytes received, never a declared length (see [`frame::grow`]); a frame that
//! makes no progress (not one byte of it arrives) for [`LinkTimeouts::stall`] (10 s) closes its
//! link, so a peer that starts a large frame and stops holds nothing for long.
//!
//! Senders encode their frames straight into the link's outbox (no allocation per message):
//! small frames are gathered in one buffer, large payloads stay in their own and are written
//! from there. The writer task takes everything queued at once and writes it with one vectored
//! write (batching under load); a frame sent after a pause goes straight to the socket from the
//! sender (no task wake-up). The outbox holds at most [`OUTBOX_BYTES`]: a sender waits while the
//! peer is slow and gives up after its send timeout, so memory stays bounded and nobody hangs
//! forever.
//!
//! A link never interprets frames beyond the handshake: the reader hands each one to a
//! [`FrameSink`] and reports the link's end once.

pub use super::error::LinkError;
use super::frame::{self, Frame, FrameAt, FrameHead, FrameKind};
pub use super::handshake::{Handshaken, Hello, LinkTimeouts, Listener, Remote, accept, dial};
use super::wire::{WireRead, WireWrite};
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Bytes that may wait in one link's outbox.
pub const OUTBOX_BYTES: usize = 32 << 20;
/// Bytes beyond [`OUTBOX_BYTES`] that node infos may take: what this node is (its topics, the
/// segments it reads) must reach a peer whose outbox is full of messages, or the peer's view of
/// it stays stale until the next change.
const NODE_INFO_ALLOWANCE: usize = 4 << 20;
/// A frame sent sooner than this after the previous one is queued for batching.
const BUSY_GAP_NS: u64 = 50_000;
/// Payloads at least this large are written from their own buffer, not copied into the batch.
const DIRECT_WRITE: usize = 32 << 10;
/// Small frames are gathered into chunks of this size (more than [`DIRECT_WRITE`], so any small
/// frame fits in an empty one).
const GATHER_CHUNK: usize = 64 << 10;
/// Bytes the writer takes from the outbox at once. Taken in steps, written chunks come back
/// (and room frees) while the rest is written, not all at the end.
const BATCH_BYTES: usize = 1 << 20;
/// Written chunks a busy link keeps for the next frames (a batch's worth, given back after
/// [`SPARE_KEEP`] idle). Without them a sender faster than the socket gathered into fresh
/// buffers that were freed after each write: the allocator gave their pages back and the
/// sender faulted fresh ones in, a page fault every four 1 kB frames.
const SPARE_CHUNKS: usize = BATCH_BYTES / GATHER_CHUNK;
/// How long an idle link keeps its spare chunks.
const SPARE_KEEP: Duration = Duration::from_secs(1);

/// Receives what a link reads. Implemented by the node; called from the link's reader task.
pub trait FrameSink: Send + Sync + 'static {
    /// One frame from the peer (never `Hello`, which the handshake consumed).
    fn on_frame(&self, link: &Arc<Link>, frame: Frame);
    /// Frames read together, in the order they came, found in `chunk`. By default each goes to
    /// [`FrameSink::on_frame`]; a sink may take runs of them at once.
    fn on_frames(&self, link: &Arc<Link>, chunk: &Bytes, frames: &[FrameAt]) {
        for frame in frames {
            self.on_frame(link, frame.frame(chunk));
        }
    }
    /// The link ended; `error` says why when it was not a clean close.
    fn on_close(&self, link: &Arc<Link>, error: Option<LinkError>);
    /// Asked before reading more bytes: a wait until the sink can take more frames (its
    /// reliable subscriptions are full), or `None` to read on. The link reads nothing meanwhile,
    /// so the peer's sends wait (TCP flow control) instead of anything being dropped.
    fn backpressure(&self) -> Option<std::pin::Pin<Box<dyn Future<Output = ()> + Send + '_>>> {
        None
    }
}

static NEXT_LINK_ID: AtomicU64 = AtomicU64::new(1);

/// What waits to be written on one link, in order: `parts` (chunks of frames gathered earlier,
/// large payloads in their own buffers), then `tail`, the chunk where small frames are being
/// gathered.
#[derive(Default)]
struct Outbox {
    parts: VecDeque<Part>,
    tail: BytesMut,
    /// Written chunks, emptied, for `tail` to take (at most [`SPARE_CHUNKS`]).
    spare: Vec<BytesMut>,
    /// Bytes queued and not written yet (what the writer is writing now included).
    pending: usize,
    /// The socket is being written to, by the writer task or by a sender's fast path: nobody
    /// else may write to it meanwhile.
    writing: bool,
    /// Shut the sending side once everything is written.
    finish: bool,
}

/// Bytes waiting in the outbox: a chunk of gathered frames (reused once written), or bytes
/// someone else owns (a large payload, the rest of a fast-path write).
struct Part {
    bytes: Bytes,
    chunk: bool,
}

impl Outbox {
    /// Appends one encoded frame.
    fn push(&mut self, head: &FrameHead<'_>, payload: &Bytes) {
        if payload.len() >= DIRECT_WRITE {
            self.make_room(head.wire_len(0));
            head.encode(&mut self.tail, payload.len());
            self.close_chunk();
            self.parts.push_back(Part {
                bytes: payload.clone(),
                chunk: false,
            });
        } else {
            self.make_room(head.wire_len(payload.len()));
            head.encode(&mut self.tail, payload.len());
            self.tail.extend_from_slice(payload);
        }
        self.pending += head.wire_len(payload.len());
    }

    /// Makes room for `need` bytes in the tail, moving a full chunk to `parts`.
    fn make_room(&mut self, need: usize) {
        if self.tail.capacity() - self.tail.len() >= need {
            return;
        }
        self.close_chunk();
        self.tail = match self.spare.pop() {
            Some(chunk) if chunk.capacity() >= need => chunk,
            _ => BytesMut::with_capacity(need.max(GATHER_CHUNK)),
        };
    }

    /// Moves the frames gathered in the tail to `parts`.
    fn close_chunk(&mut self) {
        if !self.tail.is_empty() {
            let chunk = std::mem::take(&mut self.tail).freeze();
            self.parts.push_back(Part {
                bytes: chunk,
                chunk: true,
            });
        }
    }

    /// Takes what waits, in order, up to about [`BATCH_BYTES`], into `batch`; `chunks` says
    /// which parts are this outbox's chunks (to [`Outbox::recycle`] once written).
    fn take_batch(&mut self, batch: &mut Vec<Bytes>, chunks: &mut Vec<bool>) {
        let mut taken = 0;
        while taken < BATCH_BYTES {
            if self.parts.is_empty() {
                self.close_chunk();
            }
            let Some(part) = self.parts.pop_front() else {
                break;
            };
            taken += part.bytes.len();
            batch.push(part.bytes);
            chunks.push(part.chunk);
        }
    }

    /// Keeps a written chunk for reuse when it is this outbox's own and there is room.
    fn recycle(&mut self, written: Bytes) {
        if self.spare.len() >= SPARE_CHUNKS {
            return;
        }
        // Unique once written: nobody else holds a gathered chunk.
        if let Ok(mut chunk) = written.try_into_mut() {
            chunk.clear();
            // Takes back the front the writes advanced past (no allocation: the buffer is ours).
            chunk.reserve(GATHER_CHUNK);
            if chunk.capacity() <= 2 * GATHER_CHUNK {
                self.spare.push(chunk);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.parts.is_empty() && self.tail.is_empty()
    }
}

/// The sending half of an established connection, shared by everyone sending to that peer.
pub struct Link {
    /// Unique in this process, to tell a replaced link from its successor.
    pub id: u64,
    pub peer: Hello,
    /// Who the peer proved to be, on a secure link (sealed, or local).
    pub identity: Option<super::secure::PeerIdentity>,
    /// Where the peer is.
    pub remote: Remote,
    outbox: std::sync::Mutex<Outbox>,
    /// Wakes the writer task: something was queued, or the link closes.
    queued: Notify,
    /// Wakes senders waiting for room in the outbox.
    room: Notify,
    /// The socket's sending half (sealed in secure mode): written by whoever holds
    /// `Outbox::writing`.
    wire: WireWrite,
    /// When the link was made, and when a frame was last sent on it (ns since then).
    born: std::time::Instant,
    last_send: AtomicU64,
    /// Bytes the socket has taken so far: what shows a peer reading while frames wait.
    written: AtomicU64,
    shutdown: watch::Sender<bool>,
}

impl Link {
    fn outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a frame: straight to the socket when nothing is queued and the socket takes it
    /// without waiting (the low-latency path), else through the outbox, waiting up to `wait`
    /// for room in it.
    pub async fn send(&self, frame: Frame, wait: Duration) -> Result<(), LinkError> {
        self.send_parts(frame.head(), &frame.payload, wait).await
    }

    /// [`Link::send`] of a frame given by its parts: the name is copied into the outbox, a small
    /// payload too, a large one is written from its own buffer.
    pub async fn send_parts(
        &self,
        head: FrameHead<'_>,
        payload: &Bytes,
        wait: Duration,
    ) -> Result<(), LinkError> {
        if self.try_send(&head, payload)? {
            return Ok(());
        }
        // The outbox is full: wait for room. A future of its own, boxed: the common case reads
        // no clock, registers no waiter, and its future stays small (it is made per message).
        Box::pin(self.wait_for_room(head, payload, wait)).await
    }

    async fn wait_for_room(
        &self,
        head: FrameHead<'_>,
        payload: &Bytes,
        wait: Duration,
    ) -> Result<(), LinkError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if self.try_enqueue(&head, payload)? {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, room).await.is_err() {
                return Err(LinkError::Full(wait));
            }
        }
    }

    /// Queues a frame when the outbox has room for it (an empty outbox takes any frame).
    fn try_enqueue(&self, head: &FrameHead<'_>, payload: &Bytes) -> Result<bool, LinkError> {
        let mut outbox = self.outbox();
        self.enqueue_locked(&mut outbox, head, payload)
    }

    fn enqueue_locked(
        &self,
        outbox: &mut std::sync::MutexGuard<'_, Outbox>,
        head: &FrameHead<'_>,
        payload: &Bytes,
    ) -> Result<bool, LinkError> {
        if self.is_closed() || outbox.finish {
            return Err(LinkError::Closed);
        }
        let cost = head.wire_len(payload.len());
        let fits = |bound: usize| outbox.pending == 0 || outbox.pending + cost <= bound;
        let room = match head.kind {
            // A marker is a few bytes that order what follows, a goodbye a few that end the
            // link: neither waits for room.
            FrameKind::ShmSwitch | FrameKind::Goodbye => true,
            FrameKind::NodeInfo => fits(OUTBOX_BYTES + NODE_INFO_ALLOWANCE),
            _ => fits(OUTBOX_BYTES),
        };
        if !room {
            return Ok(false);
        }
        outbox.push(head, payload);
        // A writer at work looks again before it stops.
        if !outbox.writing {
            self.queued.notify_one();
        }
        Ok(true)
    }

    /// Sends a frame without waiting: `Ok(true)` when it went to the socket (its unwritten
    /// rest, if any, queued first in the outbox) or into the outbox, `Ok(false)` when the
    /// outbox is full.
    pub(crate) fn try_send(
        &self,
        head: &FrameHead<'_>,
        payload: &Bytes,
    ) -> Result<bool, LinkError> {
        {
            let mut outbox = self.outbox();
            // Busy (the writer at work, frames waiting): queue behind them, in one batch.
            if outbox.writing || !outbox.is_empty() || outbox.finish || self.is_closed() {
                return self.enqueue_locked(&mut outbox, head, payload);
            }
            // Idle. Frames close together still go through the writer task, which writes them
            // in one system call; a frame after a pause goes straight out (no task wake-up).
            let now = self.born.elapsed().as_nanos() as u64;
            let previous = self.last_send.swap(now, Ordering::Relaxed);
            if now.saturating_sub(previous) < BUSY_GAP_NS {
                return self.enqueue_locked(&mut outbox, head, payload);
            }
            outbox.writing = true;
        }
        let mut encoded = BytesMut::with_capacity(head.wire_len(0));
        head.encode(&mut encoded, payload.len());
        let mut parts = [encoded.freeze(), payload.clone()];
        let written = self.wire.write_now(&mut parts, &self.written);
        let mut outbox = self.outbox();
        outbox.writing = false;
        match written {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // The socket is full: the rest goes first, before whatever was queued meanwhile.
                for part in parts.into_iter().rev().filter(|p| !p.is_empty()) {
                    outbox.pending += part.len();
                    outbox.parts.push_front(Part {
                        bytes: part,
                        chunk: false,
                    });
                }
            }
            Err(e) => {
                drop(outbox);
                self.close();
                return Err(LinkError::Io(e));
            }
        }
        // The writer waits while this path writes: wake it for what came meanwhile, a finish,
        // or sealed bytes the socket did not take yet.
        let wake = !outbox.is_empty() || outbox.finish || self.wire.pending();
        drop(outbox);
        if wake {
            self.queued.notify_one();
        }
        Ok(true)
    }

    /// Bytes of frames queued for the writer now (not yet written to the socket).
    pub fn queued_bytes(&self) -> usize {
        self.outbox().pending
    }

    /// Bytes the socket has taken since the link was made: rises while the peer reads.
    pub fn written_bytes(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Queues a frame without waiting (replies, node info): bounded only by the outbox budget,
    /// which a `ShmSwitch` marker does not count against (it must follow what is queued, now)
    /// and node infos may pass by [`NODE_INFO_ALLOWANCE`].
    pub fn send_now(&self, frame: Frame) -> Result<(), LinkError> {
        match self.try_enqueue(&frame.head(), &frame.payload)? {
            true => Ok(()),
            false => Err(LinkError::Full(Duration::ZERO)),
        }
    }

    /// Writes what is queued, then closes the link. Wait for [`Link::closed`] to know when.
    pub fn finish(&self) {
        if self.is_closed() {
            return;
        }
        self.outbox().finish = true;
        self.queued.notify_one();
    }

    /// Closes the link at once: queued frames are dropped, the reader stops.
    pub fn close(&self) {
        self.shutdown.send_replace(true);
        self.room.notify_waiters();
        self.queued.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Resolves once the link is closed, by either side.
    pub async fn closed(&self) {
        let mut rx = self.shutdown.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }
}

/// Starts the reader and writer tasks of a handshaken connection.
pub fn start(conn: Handshaken, sink: Arc<dyn FrameSink>) -> Arc<Link> {
    let link = Arc::new(Link {
        id: NEXT_LINK_ID.fetch_add(1, Ordering::Relaxed),
        peer: conn.peer,
        identity: conn.identity,
        remote: conn.remote,
        outbox: std::sync::Mutex::new(Outbox::default()),
        queued: Notify::new(),
        room: Notify::new(),
        wire: conn.write,
        born: std::time::Instant::now(),
        last_send: AtomicU64::new(0),
        written: AtomicU64::new(0),
        shutdown: watch::channel(false).0,
    });
    tokio::spawn(write_loop(link.clone()));
    tokio::spawn(read_loop(
        conn.read,
        conn.buf,
        conn.stall,
        link.clone(),
        sink,
    ));
    link
}

/// The writer task: takes everything queued at once and writes it, until the link closes or,
/// after [`Link::finish`], the outbox is empty.
async fn write_loop(link: Arc<Link>) {
    let mut batch: Vec<Bytes> = Vec::new();
    // Which parts of `batch` are the outbox's chunks, to hand back once written.
    let mut chunks: Vec<bool> = Vec::new();
    let mut written_chunks: Vec<Bytes> = Vec::new();
    let mut spares = false;
    let finished = loop {
        let finish = {
            let mut outbox = link.outbox();
            if link.is_closed() {
                break false;
            }
            if !outbox.writing && (!outbox.is_empty() || link.wire.pending()) {
                outbox.writing = true;
                outbox.take_batch(&mut batch, &mut chunks);
                None
            } else {
                // Nothing queued, or a sender's fast path at work (it wakes us when done).
                spares = !outbox.spare.is_empty();
                Some(outbox.finish && !outbox.writing && outbox.is_empty())
            }
        };
        match finish {
            Some(true) => break true,
            Some(false) => {
                tokio::select! {
                    _ = link.queued.notified() => {}
                    _ = link.closed() => break false,
                    // A link idle that long gives its spare chunks back.
                    _ = tokio::time::sleep(SPARE_KEEP), if spares => link.outbox().spare.clear(),
                }
                continue;
            }
            None => {}
        }
        let bytes: usize = batch.iter().map(Bytes::len).sum();
        let result = tokio::select! {
            r = link.wire.write_all(&mut batch, &link.written) => r,
            _ = link.closed() => Ok(()),
        };
        // Other parts are dropped here, outside the lock (a large payload's buffer may be freed).
        written_chunks.extend(
            batch
                .drain(..)
                .zip(chunks.drain(..))
                .filter(|(_, chunk)| *chunk && result.is_ok())
                .map(|(part, _)| part),
        );
        {
            let mut outbox = link.outbox();
            outbox.pending -= bytes;
            outbox.writing = false;
            for chunk in written_chunks.drain(..) {
                outbox.recycle(chunk);
            }
        }
        link.room.notify_waiters();
        if let Err(e) = result {
            tracing::debug!("write to {} failed: {e}", link.remote);
            break false;
        }
    };
    if finished {
        link.wire.shut().await;
    } else {
        link.wire.shut_now();
        link.close();
    }
    // After a finish, the reader goes on until the peer closes too: closing with unread bytes
    // would send a reset, and a reset can make the peer drop what it has not read yet.
}

async fn read_loop(
    mut wire: WireRead,
    mut buf: BytesMut,
    stall: Duration,
    link: Arc<Link>,
    sink: Arc<dyn FrameSink>,
) {
    let mut frames = Vec::new();
    let error = loop {
        // Every complete frame read so far goes to the sink at once, sharing one chunk of the
        // buffer (one delivery per run of a topic's messages under load, not one per message).
        let (used, bad) = frame::scan(&buf, &mut frames);
        let mut bad = bad.map(LinkError::from);
        if let Some(hello) = frames.iter().position(|f| f.kind == FrameKind::Hello) {
            frames.truncate(hello);
            bad = Some(LinkError::BadHello("a second hello".into()));
        }
        if !frames.is_empty() {
            let chunk = buf.split_to(used).freeze();
            sink.on_frames(&link, &chunk, &frames);
            frames.clear();
        }
        if bad.is_some() {
            break bad;
        }
        if link.is_closed() {
            break None;
        }
        if let Some(room) = sink.backpressure() {
            tokio::select! {
                _ = room => {}
                _ = link.closed() => break None,
            }
        }
        frame::grow(&mut buf);
        // Between frames a link may idle for ever (keepalive watches the peer); inside one,
        // every `stall` at least one byte must come.
        let pending = buf.len();
        let deadline = async {
            if pending == 0 {
                std::future::pending::<()>().await
            } else {
                tokio::time::sleep(stall).await
            }
        };
        tokio::select! {
            read = wire.read_buf(&mut buf) => match read {
                Ok(0) if buf.is_empty() => break None,
                Ok(0) => break Some(LinkError::Truncated(buf.len())),
                Ok(_) => {
                    if wire.pending_writes() {
                        // Opening made sealed bytes to send (a key update's answer).
                        link.queued.notify_one();
                    }
                }
                Err(e) => break Some(e.into()),
            },
            _ = link.closed() => break None,
            _ = deadline => break Some(LinkError::Stalled(stall, pending)),
        }
    };
    link.close();
    sink.on_close(&link, error);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec_id::CodecId;
    use crate::transport::tcp::secure::Guard;
    use std::sync::Mutex;

    /// Collects what a link reads.
    #[derive(Default)]
    struct Collect {
        frames: Mutex<Vec<Frame>>,
        closed: Notify,
    }

    impl FrameSink for Collect {
        fn on_frame(&self, _: &Arc<Link>, frame: Frame) {
            self.frames.lock().unwrap().push(frame);
        }
        fn on_close(&self, _: &Arc<Link>, _: Option<LinkError>) {
            self.closed.notify_one();
        }
    }

    fn hello(name: &str) -> Hello {
        Hello {
            domain: "link-tests".into(),
            node_id: format!("{name}-id"),
            node_name: name.into(),
            certificate: None,
        }
    }

    /// Both sides of a connection on loopback, handshake done: (dialer's, acceptor's).
    async fn handshaken() -> (Handshaken, Handshaken) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let timeouts = LinkTimeouts::default();
        let accepting = tokio::spawn(async move {
            let (stream, remote) = listener.accept().await.unwrap();
            accept(
                crate::transport::tcp::wire::Stream::Tcp(stream),
                Remote::Tcp(remote),
                &hello("b"),
                &timeouts,
                &Guard::off(),
            )
            .await
            .unwrap()
        });
        let dialed = dial(addr, &hello("a"), &timeouts, &Guard::off())
            .await
            .unwrap();
        (dialed, accepting.await.unwrap())
    }

    /// A connected pair on loopback: (dialer's link, acceptor's sink).
    async fn pair() -> (Arc<Link>, Arc<Collect>, Arc<Link>) {
        let (dialed, accepted) = handshaken().await;
        let received = Arc::new(Collect::default());
        let sender = start(dialed, Arc::new(Collect::default()));
        let receiver = start(accepted, received.clone());
        (sender, received, receiver)
    }

    fn topic(name: &str, sender: u8, seq: u32, len: usize) -> Frame {
        let mut payload = vec![sender; len.max(5)];
        payload[1..5].copy_from_slice(&seq.to_le_bytes());
        Frame::new(
            FrameKind::Topic,
            CodecId::Raw,
            0,
            name,
            Bytes::from(payload),
        )
    }

    /// A sender faster than the socket gathers into chunks the writer hands back: after the
    /// first batch, frames go into the same buffers again (no fresh memory, no page faults),
    /// a large payload is never kept as a chunk, and the bytes written are the frames in order.
    #[test]
    fn written_chunks_are_gathered_into_again() {
        let mut outbox = Outbox::default();
        let small = |seq: u32| topic("t", 1, seq, 1000);
        let (mut batch, mut chunks) = (Vec::new(), Vec::new());
        let mut first_buffers = std::collections::HashSet::new();
        let mut wire = Vec::new();
        let mut expected = BytesMut::new();
        let mut seq = 0;
        for round in 0..3 {
            // A batch's worth (what a writer keeps spare chunks for).
            while outbox.pending < BATCH_BYTES - GATHER_CHUNK {
                let frame = small(seq);
                seq += 1;
                frame.head().encode(&mut expected, frame.payload.len());
                expected.extend_from_slice(&frame.payload);
                outbox.push(&frame.head(), &frame.payload);
            }
            if round == 1 {
                // A large payload in between: written from its own buffer, never recycled.
                let large = topic("t", 2, seq, DIRECT_WRITE * 2);
                large.head().encode(&mut expected, large.payload.len());
                expected.extend_from_slice(&large.payload);
                outbox.push(&large.head(), &large.payload);
                assert!(
                    !large.payload.is_unique(),
                    "the outbox holds the payload itself"
                );
            }
            while !outbox.is_empty() {
                outbox.take_batch(&mut batch, &mut chunks);
                for (part, chunk) in batch.drain(..).zip(chunks.drain(..)) {
                    wire.extend_from_slice(&part);
                    outbox.pending -= part.len();
                    if round == 0 {
                        first_buffers.insert(part.as_ptr() as usize);
                    } else if chunk {
                        assert!(
                            first_buffers.contains(&(part.as_ptr() as usize)),
                            "round {round}: a chunk in fresh memory"
                        );
                    }
                    if chunk {
                        outbox.recycle(part);
                    }
                }
                assert!(outbox.spare.len() <= SPARE_CHUNKS);
            }
        }
        assert!(
            wire[..] == expected[..],
            "the bytes written are not the frames in order"
        );

        // Three batches' worth is taken in three steps (room frees, chunks come back, as the
        // rest is written).
        let mut steps = 0;
        while outbox.pending < 3 * BATCH_BYTES {
            let frame = small(seq);
            outbox.push(&frame.head(), &frame.payload);
        }
        while !outbox.is_empty() {
            outbox.take_batch(&mut batch, &mut chunks);
            let taken: usize = batch.drain(..).map(|b| b.len()).sum();
            outbox.pending -= taken;
            assert!(
                taken <= BATCH_BYTES + GATHER_CHUNK,
                "{taken} bytes in one step"
            );
            steps += 1;
        }
        assert_eq!(steps, 3);
        assert!(
            outbox
                .spare
                .iter()
                .all(|c| c.capacity() == GATHER_CHUNK && c.is_empty())
        );
    }

    /// Small frames (gathered in the outbox), large ones (written from their own buffers) and
    /// frames after pauses (written by the sender itself) from two senders at once: every frame
    /// arrives whole, each sender's in its order, and nothing stays queued.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn frames_of_every_size_arrive_whole_and_in_order() {
        let (link, received, _receiver) = pair().await;
        const EACH: u32 = 3_000;
        let senders: Vec<_> = (0..2u8)
            .map(|who| {
                let link = link.clone();
                tokio::spawn(async move {
                    for seq in 0..EACH {
                        let len = match seq % 100 {
                            0 => 200 << 10,
                            1..=9 => 40 << 10,
                            n => n as usize * 3,
                        };
                        let frame = topic("t", who, seq, len);
                        link.send(frame, Duration::from_secs(10)).await.unwrap();
                        if seq % 500 == 0 {
                            // A pause: the next frame takes the sender's own path.
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                    }
                })
            })
            .collect();
        for s in senders {
            s.await.unwrap();
        }
        tokio::time::timeout(Duration::from_secs(30), async {
            while received.frames.lock().unwrap().len() < 2 * EACH as usize {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("every frame arrives");
        let frames = received.frames.lock().unwrap();
        let mut next = [0u32; 2];
        for f in frames.iter() {
            let who = f.payload[0];
            let seq = u32::from_le_bytes(f.payload[1..5].try_into().unwrap());
            assert_eq!(seq, next[who as usize], "sender {who} in order");
            assert!(f.payload[5..].iter().all(|b| *b == who), "frame whole");
            assert_eq!(f.name(), "t");
            next[who as usize] += 1;
        }
        assert_eq!(next, [EACH, EACH]);
        assert_eq!(link.queued_bytes(), 0);
    }

    /// A peer that reads nothing: the outbox fills to its bound, then a send waits its timeout
    /// and fails, and `send_now` fails at once; nothing beyond the bound is held but a marker
    /// and, within their allowance, node infos.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_outbox_bounds_memory_and_fails_sends_in_time() {
        // The peer does the handshake, then never reads again.
        let (dialed, _held) = handshaken().await;
        let link = start(dialed, Arc::new(Collect::default()));
        let payload = Bytes::from(vec![1u8; 1 << 20]);
        let error = loop {
            let frame = Frame::new(FrameKind::Topic, CodecId::Raw, 0, "t", payload.clone());
            if let Err(e) = link.send(frame, Duration::from_millis(200)).await {
                break e;
            }
            assert!(link.queued_bytes() <= OUTBOX_BYTES);
        };
        assert!(matches!(error, LinkError::Full(_)), "{error}");
        assert!(link.queued_bytes() > OUTBOX_BYTES - (2 << 20));
        let larger = Bytes::from(vec![2u8; 2 << 20]);
        let larger = Frame::new(FrameKind::Topic, CodecId::Raw, 0, "t", larger);
        assert!(matches!(link.send_now(larger), Err(LinkError::Full(_))));
        // A `ShmSwitch` marker must follow what is queued at once: it never waits for room.
        let marker = Frame::new(FrameKind::ShmSwitch, CodecId::Raw, 0, "t", Bytes::new());
        let before = link.queued_bytes();
        link.send_now(marker).unwrap();
        assert!(link.queued_bytes() > before);
        // Nor is a node info refused (the peer's view of this node would go stale), within an
        // allowance of its own.
        let sized = |kind| Frame::new(kind, CodecId::Raw, 0, "", vec![3u8; 64 << 10].into());
        let info = || sized(FrameKind::NodeInfo);
        while link.send_now(sized(FrameKind::Topic)).is_ok() {}
        let before = link.queued_bytes();
        link.send_now(info())
            .expect("a node info where a message of its size is refused");
        assert!(link.queued_bytes() > before);
        while link.send_now(info()).is_ok() {}
        assert!(link.queued_bytes() <= OUTBOX_BYTES + NODE_INFO_ALLOWANCE);
        assert!(link.queued_bytes() > OUTBOX_BYTES + NODE_INFO_ALLOWANCE - (64 << 10) - 64);
        link.close();
        let frame = Frame::new(FrameKind::Topic, CodecId::Raw, 0, "t", payload);
        assert!(matches!(
            link.send(frame, Duration::from_millis(200)).await,
            Err(LinkError::Closed)
        ));
    }

    /// `finish` writes out everything queued before the connection ends.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finish_writes_everything_queued_first() {
        let (link, received, _receiver) = pair().await;
        for seq in 0..2_000 {
            let len = if seq % 50 == 0 { 64 << 10 } else { 100 };
            link.send_now(topic("t", 0, seq, len)).unwrap();
        }
        link.finish();
        tokio::time::timeout(Duration::from_secs(10), link.closed())
            .await
            .expect("the link closes once the peer closed too");
        let frames = received.frames.lock().unwrap();
        assert_eq!(frames.len(), 2_000);
        assert_eq!(link.queued_bytes(), 0);
    }
}
