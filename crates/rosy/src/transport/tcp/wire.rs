//! The two halves of a connection's socket as the handshake and the link use them: bytes go out
//! and come in as they are, or through a [`Session`] that seals them (secure mode). Everything
//! above sees plain bytes either way. The socket is TCP, or, for a local link (see
//! [`super::local`]), a Unix socket.
//!
//! Writes never wait here ([`WireWrite::write_now`]); the callers wait for the socket with
//! [`WireWrite::writable`] and [`WireRead::read_buf`]. This module never interprets a byte.

use super::secure::Session;
use bytes::{Buf, Bytes, BytesMut};
use std::io::{self, IoSlice};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpStream, UnixStream, tcp, unix};

/// Buffers handed to one vectored write.
const MAX_IOVECS: usize = 64;
/// Longest a closing sealed link waits for its socket to take the close notice.
pub const CLOSE_NOTICE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// A connection's socket: TCP, or a Unix socket for a local link.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// Splits a connection into its halves, sealed by `session` when there is one.
pub(crate) fn split(stream: Stream, session: Option<Arc<dyn Session>>) -> (WireRead, WireWrite) {
    let (read, write) = match stream {
        Stream::Tcp(s) => {
            let (r, w) = s.into_split();
            (ReadSocket::Tcp(r), WriteSocket::Tcp(w))
        }
        Stream::Unix(s) => {
            let (r, w) = s.into_split();
            (ReadSocket::Unix(r), WriteSocket::Unix(w))
        }
    };
    (
        WireRead {
            socket: read,
            session: session.clone(),
        },
        WireWrite {
            socket: write,
            session,
        },
    )
}

impl std::os::fd::AsRawFd for Stream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }
}

enum ReadSocket {
    Tcp(tcp::OwnedReadHalf),
    Unix(unix::OwnedReadHalf),
}

enum WriteSocket {
    Tcp(tcp::OwnedWriteHalf),
    Unix(unix::OwnedWriteHalf),
}

/// A half's socket, borrowed: what the non-waiting reads and writes go to.
#[derive(Clone, Copy)]
enum Socket<'a> {
    Tcp(&'a TcpStream),
    Unix(&'a UnixStream),
}

impl ReadSocket {
    fn socket(&self) -> Socket<'_> {
        match self {
            ReadSocket::Tcp(h) => Socket::Tcp(h.as_ref()),
            ReadSocket::Unix(h) => Socket::Unix(h.as_ref()),
        }
    }
}

impl WriteSocket {
    fn socket(&self) -> Socket<'_> {
        match self {
            WriteSocket::Tcp(h) => Socket::Tcp(h.as_ref()),
            WriteSocket::Unix(h) => Socket::Unix(h.as_ref()),
        }
    }
}

impl Socket<'_> {
    async fn readable(self) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.readable().await,
            Socket::Unix(s) => s.readable().await,
        }
    }
    async fn writable(self) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.writable().await,
            Socket::Unix(s) => s.writable().await,
        }
    }
    fn try_write_vectored(self, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.try_write_vectored(slices),
            Socket::Unix(s) => s.try_write_vectored(slices),
        }
    }
    fn try_read(self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.try_read(buf),
            Socket::Unix(s) => s.try_read(buf),
        }
    }
}

/// `io::Write` and `io::Read` on either kind of socket, never waiting.
struct Unwaiting<'a>(Socket<'a>);

impl io::Write for Unwaiting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write_vectored(&[IoSlice::new(buf)])
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Read for Unwaiting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

/// The receiving half.
pub(crate) struct WireRead {
    socket: ReadSocket,
    session: Option<Arc<dyn Session>>,
}

impl WireRead {
    /// Reads what has come (waiting until something has) and appends it to `buf`: `Ok(0)` at
    /// the peer's end.
    pub async fn read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        let Some(session) = &self.session else {
            return match &mut self.socket {
                ReadSocket::Tcp(h) => h.read_buf(buf).await,
                ReadSocket::Unix(h) => h.read_buf(buf).await,
            };
        };
        loop {
            let mut input = Unwaiting(self.socket.socket());
            match session.open(&mut input, buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.socket.socket().readable().await?
                }
                other => return other,
            }
        }
    }

    /// Whether sealed bytes wait to be written: opening may have made some (a key update's
    /// answer), which the writer must send.
    pub fn pending_writes(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.pending())
    }

    /// Reads exactly `out.len()` bytes, keeping whatever came past them at the front of `buf`.
    pub async fn read_exact(&mut self, out: &mut [u8], buf: &mut BytesMut) -> io::Result<()> {
        while buf.len() < out.len() {
            if self.read_buf(buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        out.copy_from_slice(&buf[..out.len()]);
        buf.advance(out.len());
        Ok(())
    }
}

/// The sending half.
pub(crate) struct WireWrite {
    socket: WriteSocket,
    session: Option<Arc<dyn Session>>,
}

impl WireWrite {
    /// Writes `parts` in order without waiting, as far as the socket takes them: `Ok` when all
    /// went, `WouldBlock` with `parts` advanced past what was taken when the socket is full (or,
    /// sealed, when sealed bytes of them still wait: see [`WireWrite::pending`]). Adds what was
    /// taken to `taken`.
    pub fn write_now(&self, parts: &mut [Bytes], taken: &AtomicU64) -> io::Result<()> {
        let mut first = 0;
        loop {
            while first < parts.len() && parts[first].is_empty() {
                first += 1;
            }
            if first == parts.len() {
                // Sealed bytes of what was taken may wait: flush them (a seal of nothing).
                if self.pending() {
                    self.take(&[])?;
                    if self.pending() {
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                }
                return Ok(());
            }
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let count = (parts.len() - first).min(MAX_IOVECS);
            for (slice, part) in slices.iter_mut().zip(&parts[first..first + count]) {
                *slice = IoSlice::new(part);
            }
            let mut written = match self.take(&slices[..count]) {
                Ok(0) => {
                    return Err(match self.session {
                        Some(_) => io::ErrorKind::WouldBlock.into(),
                        None => io::ErrorKind::WriteZero.into(),
                    });
                }
                Ok(n) => {
                    taken.fetch_add(n as u64, Ordering::Relaxed);
                    n
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            while written > 0 {
                let part = &mut parts[first];
                let n = written.min(part.len());
                part.advance(n);
                written -= n;
                if part.is_empty() {
                    first += 1;
                }
            }
        }
    }

    /// One write: the socket's, or the session's seal (which may take bytes it has not yet
    /// written out).
    fn take(&self, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        let socket = self.socket.socket();
        match &self.session {
            None => socket.try_write_vectored(slices),
            Some(session) => session.seal(slices, &mut Unwaiting(socket)),
        }
    }

    /// Whether sealed bytes wait to be written.
    pub fn pending(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.pending())
    }

    /// Writes all of `parts`, waiting for the socket as needed.
    pub async fn write_all(&self, parts: &mut [Bytes], taken: &AtomicU64) -> io::Result<()> {
        loop {
            match self.write_now(parts, taken) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.socket.socket().writable().await?
                }
                other => return other,
            }
        }
    }

    /// Half-closes the connection: a sealed one says so first (so the peer can tell an end
    /// from a cut), waiting up to [`CLOSE_NOTICE_WAIT`] for the socket to take that notice;
    /// then FIN. The peer reads everything sent, then sees the end.
    pub async fn shut(&self) {
        if let Some(session) = &self.session {
            session.close();
            let taken = AtomicU64::new(0);
            let notice = self.write_all(&mut [], &taken);
            let _ = tokio::time::timeout(CLOSE_NOTICE_WAIT, notice).await;
        }
        self.fin();
    }

    /// [`WireWrite::shut`] without waiting: the close notice goes only if the socket takes it
    /// now.
    pub fn shut_now(&self) {
        if let Some(session) = &self.session {
            session.close();
            let _ = self.write_now(&mut [], &AtomicU64::new(0));
        }
        self.fin();
    }

    fn fin(&self) {
        let _ = match self.socket.socket() {
            Socket::Tcp(s) => socket2::SockRef::from(s).shutdown(std::net::Shutdown::Write),
            Socket::Unix(s) => socket2::SockRef::from(s).shutdown(std::net::Shutdown::Write),
        };
    }
}

/// `io::Write` and `io::Read` on a socket that never wait: what a provider's handshake uses
/// before the connection is split, and what a session seals into and opens from (a half's
/// socket) after.
pub struct NonBlocking<'a>(pub &'a TcpStream);

impl io::Write for NonBlocking<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Read for NonBlocking<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}
