//! One TCP connection to one peer: the handshake, a reader task and a batching writer task.
//!
//! The handshake: each side sends the preamble (magic, version) and a `Hello` frame (domain,
//! node id, name); the acceptor checks the dialer's preamble before reading anything else and
//! refuses a wrong domain with a `Reject` frame. Both sides bound the handshake with
//! [`LinkTimeouts::handshake`] (5 s), and the hello to [`frame::MAX_HELLO_LEN`] (4 KiB).
//!
//! Memory follows bytes received, never a declared length (see [`frame::grow`]); a frame that
//! makes no progress (not one byte of it arrives) for [`LinkTimeouts::stall`] (10 s) closes its
//! link, so a peer that starts a large frame and stops holds nothing for long.
//!
//! The writer takes frames from an unbounded queue whose bytes are bounded by a semaphore
//! ([`OUTBOX_BYTES`]): a sender waits while the peer is slow and gives up after its send timeout,
//! so memory stays bounded and nobody hangs forever. Small frames queued together go out in one
//! write (batching under load); large payloads are written straight from their buffer.
//!
//! A link never interprets frames beyond the handshake: the reader hands each one to a
//! [`FrameSink`] and reports the link's end once.

use super::frame::{self, Frame, FrameError, FrameKind, PREAMBLE_LEN};
use crate::codec::{Codec, CodecId, MsgPack};
use bytes::{Buf, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Semaphore, mpsc, watch};

/// Longest a handshake may take, by default.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a started frame may go without a byte of it arriving, by default.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The time bounds of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkTimeouts {
    /// The whole handshake (connect, preamble, both hellos).
    pub handshake: Duration,
    /// A frame that has begun arriving, while no further byte of it comes.
    pub stall: Duration,
}

impl Default for LinkTimeouts {
    fn default() -> Self {
        LinkTimeouts {
            handshake: HANDSHAKE_TIMEOUT,
            stall: STALL_TIMEOUT,
        }
    }
}
/// Bytes that may wait in one link's outbox.
pub const OUTBOX_BYTES: usize = 32 << 20;
/// Small frames are gathered up to this many bytes per write.
const BATCH_BYTES: usize = 256 << 10;
/// A frame sent sooner than this after the previous one is queued for batching.
const BUSY_GAP_NS: u64 = 50_000;
/// Payloads at least this large are written from their own buffer, not copied into the batch.
const DIRECT_WRITE: usize = 32 << 10;

/// The first frame each side sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub domain: String,
    pub node_id: String,
    pub node_name: String,
}

/// Why a connection could not be made or was closed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("connecting to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad frame: {0}")]
    Frame(#[from] FrameError),
    #[error("handshake did not finish within {0:?}")]
    HandshakeTimeout(Duration),
    #[error("no byte of a started frame arrived for {0:?} ({1} bytes of it pending)")]
    Stalled(Duration, usize),
    #[error("peer's hello is malformed: {0}")]
    BadHello(String),
    #[error("peer is in domain {theirs:?}, this node in {ours:?}")]
    WrongDomain { theirs: String, ours: String },
    #[error("peer refused the connection: {0}")]
    Rejected(String),
    #[error("the connection is closed")]
    Closed,
    #[error("the peer closed the connection in the middle of a frame ({0} bytes pending)")]
    Truncated(usize),
    #[error("the peer did not take the message within {0:?} (its outbox stayed full)")]
    Full(Duration),
}

/// Receives what a link reads. Implemented by the node; called from the link's reader task.
pub trait FrameSink: Send + Sync + 'static {
    /// One frame from the peer (never `Hello`, which the handshake consumed).
    fn on_frame(&self, link: &Arc<Link>, frame: Frame);
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

/// What the writer task takes: a frame, the news that a sender left the unwritten tail of a
/// frame in `Link::leftover`, or the order to flush and close.
enum Outgoing {
    Frame(Frame),
    Leftover,
    Finish,
}

/// The sending half of an established connection, shared by everyone sending to that peer.
pub struct Link {
    /// Unique in this process, to tell a replaced link from its successor.
    pub id: u64,
    pub peer: Hello,
    pub remote: SocketAddr,
    /// Whether this side dialed.
    pub dialed: bool,
    queue: mpsc::UnboundedSender<Outgoing>,
    /// Items in `queue` not written yet. While it is 0, a sender may write straight to the socket.
    queued: AtomicUsize,
    /// The socket's sending half, shared by the writer task and senders taking the fast path.
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    /// What a fast-path sender could not write without waiting; written before anything queued.
    leftover: std::sync::Mutex<Option<[Bytes; 2]>>,
    /// When the link was made, and when a frame was last sent on it (ns since then).
    born: std::time::Instant,
    last_send: AtomicU64,
    budget: Arc<Semaphore>,
    shutdown: watch::Sender<bool>,
}

impl Link {
    /// Sends a frame: straight to the socket when nothing is queued and the socket takes it
    /// without waiting (the low-latency path), else through the outbox, waiting up to `wait`
    /// for room in it.
    pub async fn send(&self, frame: Frame, wait: Duration) -> Result<(), LinkError> {
        let frame = match self.try_send_direct(frame) {
            Ok(None) => return Ok(()),
            Ok(Some(frame)) => frame,
            Err(e) => return Err(e),
        };
        let cost = frame.wire_len().min(OUTBOX_BYTES) as u32;
        match self.budget.clone().try_acquire_many_owned(cost) {
            Ok(permit) => permit.forget(),
            Err(tokio::sync::TryAcquireError::Closed) => return Err(LinkError::Closed),
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                match tokio::time::timeout(wait, self.budget.acquire_many(cost)).await {
                    Ok(Ok(permit)) => permit.forget(),
                    Ok(Err(_)) => return Err(LinkError::Closed),
                    Err(_) => return Err(LinkError::Full(wait)),
                }
            }
        }
        self.enqueue(Outgoing::Frame(frame))
    }

    fn enqueue(&self, item: Outgoing) -> Result<(), LinkError> {
        // Counted before it is queued, so no fast-path sender can overtake it.
        self.queued.fetch_add(1, Ordering::AcqRel);
        self.queue.send(item).map_err(|_| LinkError::Closed)
    }

    /// The fast path: `Ok(None)` when the frame went (or its tail was handed to the writer
    /// task), `Ok(Some(frame))` when it must be queued.
    fn try_send_direct(&self, frame: Frame) -> Result<Option<Frame>, LinkError> {
        // Under load, frames close together go through the writer task, which writes them in
        // one system call; a frame after a pause goes straight out, saving a task wake-up.
        let now = self.born.elapsed().as_nanos() as u64;
        let previous = self.last_send.swap(now, Ordering::Relaxed);
        if now.saturating_sub(previous) < BUSY_GAP_NS || self.queued.load(Ordering::Acquire) != 0 {
            return Ok(Some(frame));
        }
        let Ok(writer) = self.writer.try_lock() else {
            return Ok(Some(frame));
        };
        // Checked again under the lock: a frame queued meanwhile must go first.
        if self.queued.load(Ordering::Acquire) != 0 || self.is_closed() {
            return Ok(Some(frame));
        }
        let mut head = BytesMut::with_capacity(4 + frame::HEADER_LEN + frame.name.len());
        frame.encode_head(&mut head);
        let mut parts = [head.freeze(), frame.payload];
        for part in parts.iter_mut() {
            while !part.is_empty() {
                match writer.try_write(part) {
                    Ok(n) => part.advance(n),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        // The socket is full: the writer task finishes this frame before
                        // anything else, since it needs the lock we hold to write at all.
                        *self.leftover.lock().unwrap_or_else(|e| e.into_inner()) = Some(parts);
                        drop(writer);
                        self.enqueue(Outgoing::Leftover)?;
                        return Ok(None);
                    }
                    Err(e) => {
                        drop(writer);
                        self.close();
                        return Err(LinkError::Io(e));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Bytes of frames queued for the writer now (not yet written to the socket).
    pub fn queued_bytes(&self) -> usize {
        OUTBOX_BYTES.saturating_sub(self.budget.available_permits())
    }

    /// Queues a frame without waiting (replies, node info): bounded only by the outbox budget.
    pub fn send_now(&self, frame: Frame) -> Result<(), LinkError> {
        let cost = frame.wire_len().min(OUTBOX_BYTES) as u32;
        match self.budget.try_acquire_many(cost) {
            Ok(permit) => permit.forget(),
            Err(tokio::sync::TryAcquireError::Closed) => return Err(LinkError::Closed),
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                return Err(LinkError::Full(Duration::ZERO));
            }
        }
        self.enqueue(Outgoing::Frame(frame))
    }

    /// Writes what is queued, then closes the link. Wait for [`Link::closed`] to know when.
    pub fn finish(&self) {
        if self.enqueue(Outgoing::Finish).is_err() {
            self.close();
        }
    }

    /// Closes the link at once: queued frames are dropped, the reader stops.
    pub fn close(&self) {
        self.budget.close();
        self.shutdown.send_replace(true);
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

fn tune(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    let socket = socket2::SockRef::from(stream);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(5))
        .with_interval(Duration::from_secs(5))
        .with_retries(5);
    let _ = socket.set_tcp_keepalive(&keepalive);
    let _ = socket.set_tcp_user_timeout(Some(Duration::from_secs(5)));
}

fn hello_frame(hello: &Hello) -> Frame {
    let mut payload = Vec::new();
    MsgPack
        .encode(hello, &mut payload)
        .expect("a Hello always encodes");
    Frame::new(
        FrameKind::Hello,
        CodecId::MsgPack,
        0,
        "",
        Bytes::from(payload),
    )
}

/// Reads the hello frame (at most [`frame::MAX_HELLO_LEN`] bytes; `buf` never grows past a
/// few KiB here).
async fn read_hello_frame(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<Frame, LinkError> {
    loop {
        if let Some(frame) = frame::decode_hello(buf)? {
            return Ok(frame);
        }
        if buf.capacity() == buf.len() {
            buf.reserve(frame::MAX_HELLO_LEN);
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(LinkError::Closed);
        }
    }
}

async fn read_hello(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    ours: &Hello,
) -> Result<Hello, LinkError> {
    let mut preamble = [0u8; PREAMBLE_LEN];
    stream.read_exact(&mut preamble).await?;
    frame::check_preamble(&preamble)?;
    let frame = read_hello_frame(stream, buf).await?;
    match frame.kind {
        FrameKind::Hello => {}
        FrameKind::Reject => {
            return Err(LinkError::Rejected(
                String::from_utf8_lossy(&frame.payload).into_owned(),
            ));
        }
        other => {
            return Err(LinkError::BadHello(format!(
                "expected a hello, got {other:?}"
            )));
        }
    }
    let hello: Hello = MsgPack
        .decode(&frame.payload)
        .map_err(|e| LinkError::BadHello(e.to_string()))?;
    crate::discovery::host::check_name("node", &hello.node_name).map_err(LinkError::BadHello)?;
    if hello.node_id.len() > 64 {
        return Err(LinkError::BadHello("node id longer than 64 bytes".into()));
    }
    if hello.domain != ours.domain {
        return Err(LinkError::WrongDomain {
            theirs: hello.domain,
            ours: ours.domain.clone(),
        });
    }
    Ok(hello)
}

/// A connection whose handshake is done, ready for [`start`].
pub struct Handshaken {
    stream: TcpStream,
    buf: BytesMut,
    pub peer: Hello,
    pub remote: SocketAddr,
    pub dialed: bool,
    stall: Duration,
}

/// Dials `addr` and performs the handshake.
pub async fn dial(
    addr: SocketAddr,
    ours: &Hello,
    timeouts: &LinkTimeouts,
) -> Result<Handshaken, LinkError> {
    tokio::time::timeout(timeouts.handshake, async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|source| LinkError::Connect { addr, source })?;
        tune(&stream);
        let mut out = BytesMut::new();
        out.extend_from_slice(&frame::preamble());
        hello_frame(ours).encode(&mut out);
        stream.write_all(&out).await?;
        let mut buf = BytesMut::with_capacity(frame::MAX_HELLO_LEN);
        let peer = read_hello(&mut stream, &mut buf, ours).await?;
        Ok(Handshaken {
            stream,
            buf,
            peer,
            remote: addr,
            dialed: true,
            stall: timeouts.stall,
        })
    })
    .await
    .map_err(|_| LinkError::HandshakeTimeout(timeouts.handshake))?
}

/// Performs the acceptor's side of the handshake on a fresh connection.
pub async fn accept(
    mut stream: TcpStream,
    remote: SocketAddr,
    ours: &Hello,
    timeouts: &LinkTimeouts,
) -> Result<Handshaken, LinkError> {
    tokio::time::timeout(timeouts.handshake, async {
        tune(&stream);
        let mut buf = BytesMut::with_capacity(frame::MAX_HELLO_LEN);
        let mut out = BytesMut::new();
        out.extend_from_slice(&frame::preamble());
        match read_hello(&mut stream, &mut buf, ours).await {
            Ok(peer) => {
                hello_frame(ours).encode(&mut out);
                stream.write_all(&out).await?;
                Ok(Handshaken {
                    stream,
                    buf,
                    peer,
                    remote,
                    dialed: false,
                    stall: timeouts.stall,
                })
            }
            Err(e @ LinkError::WrongDomain { .. }) => {
                let reason = Bytes::from(e.to_string());
                Frame::new(FrameKind::Reject, CodecId::Raw, 0, "", reason).encode(&mut out);
                let _ = stream.write_all(&out).await;
                Err(e)
            }
            Err(e) => Err(e),
        }
    })
    .await
    .map_err(|_| LinkError::HandshakeTimeout(timeouts.handshake))?
}

/// Starts the reader and writer tasks of a handshaken connection.
pub fn start(conn: Handshaken, sink: Arc<dyn FrameSink>) -> Arc<Link> {
    let (queue, frames) = mpsc::unbounded_channel();
    let (read, write) = conn.stream.into_split();
    let link = Arc::new(Link {
        id: NEXT_LINK_ID.fetch_add(1, Ordering::Relaxed),
        peer: conn.peer,
        remote: conn.remote,
        dialed: conn.dialed,
        queue,
        queued: AtomicUsize::new(0),
        writer: tokio::sync::Mutex::new(write),
        leftover: std::sync::Mutex::new(None),
        born: std::time::Instant::now(),
        last_send: AtomicU64::new(0),
        budget: Arc::new(Semaphore::new(OUTBOX_BYTES)),
        shutdown: watch::channel(false).0,
    });
    tokio::spawn(write_loop(frames, link.clone()));
    tokio::spawn(read_loop(read, conn.buf, conn.stall, link.clone(), sink));
    link
}

async fn write_loop(mut queue: mpsc::UnboundedReceiver<Outgoing>, link: Arc<Link>) {
    let mut batch = BytesMut::with_capacity(BATCH_BYTES + 1024);
    let mut finished = false;
    while !finished {
        let first = tokio::select! {
            f = queue.recv() => f,
            _ = link.closed() => None,
        };
        let Some(mut next) = first else { break };
        let mut stream = link.writer.lock().await;
        let (mut spent, mut taken) = (0, 0);
        let result: std::io::Result<()> = async {
            let leftover = link
                .leftover
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            for part in leftover.iter().flatten() {
                stream.write_all(part).await?;
            }
            loop {
                taken += 1;
                match next {
                    Outgoing::Finish => {
                        finished = true;
                        break;
                    }
                    Outgoing::Leftover => {}
                    Outgoing::Frame(frame) => {
                        spent += frame.wire_len().min(OUTBOX_BYTES);
                        if frame.payload.len() >= DIRECT_WRITE {
                            frame.encode_head(&mut batch);
                            stream.write_all(&batch).await?;
                            batch.clear();
                            stream.write_all(&frame.payload).await?;
                        } else {
                            frame.encode(&mut batch);
                        }
                    }
                }
                if batch.len() >= BATCH_BYTES {
                    break;
                }
                match queue.try_recv() {
                    Ok(more) => next = more,
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                stream.write_all(&batch).await?;
                batch.clear();
            }
            Ok(())
        }
        .await;
        link.queued.fetch_sub(taken, Ordering::AcqRel);
        link.budget.add_permits(spent);
        if let Err(e) = result {
            tracing::debug!("write to {} failed: {e}", link.remote);
            break;
        }
        if finished {
            let _ = stream.shutdown().await;
        }
    }
    if !finished {
        link.writer.lock().await.shutdown().await.ok();
        link.close();
    }
    // After a finish, the reader goes on until the peer closes too: closing with unread bytes
    // would send a reset, and a reset can make the peer drop what it has not read yet.
}

async fn read_loop(
    mut stream: OwnedReadHalf,
    mut buf: BytesMut,
    stall: Duration,
    link: Arc<Link>,
    sink: Arc<dyn FrameSink>,
) {
    let error = loop {
        match frame::decode(&mut buf) {
            Ok(Some(frame)) => {
                if frame.kind == FrameKind::Hello {
                    break Some(LinkError::BadHello("a second hello".into()));
                }
                sink.on_frame(&link, frame);
                continue;
            }
            Ok(None) => {}
            Err(e) => break Some(e.into()),
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
            read = stream.read_buf(&mut buf) => match read {
                Ok(0) if buf.is_empty() => break None,
                Ok(0) => break Some(LinkError::Truncated(buf.len())),
                Ok(_) => {}
                Err(e) => break Some(e.into()),
            },
            _ = link.closed() => break None,
            _ = deadline => break Some(LinkError::Stalled(stall, pending)),
        }
    };
    link.close();
    sink.on_close(&link, error);
}
