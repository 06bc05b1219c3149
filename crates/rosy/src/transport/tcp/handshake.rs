//! The handshake that opens every connection: in secure mode first the provider's (TLS 1.3, see
//! [`super::secure`]), then each side sends the preamble (magic, version) and a [`Hello`] frame
//! (domain, node id, name); the acceptor checks the dialer's preamble before reading anything
//! else and refuses a wrong domain, or a hello its certificate does not grant, with a `Reject`
//! frame. A dialer whose security differs from the acceptor's is told so, not left waiting.
//! Both sides bound the handshake with [`LinkTimeouts::handshake`] (5 s), and the hello to
//! [`frame::MAX_HELLO_LEN`] (4 KiB). Also the socket options every connection gets (keepalive, user timeout, no delay).
//!
//! What a connection does once the handshake is done lives in [`super::link`]; nothing here reads
//! or writes a frame after the hellos.

use super::error::LinkError;
use super::frame::{self, Frame, FrameKind, PREAMBLE_LEN};
use super::secure::{Guard, LinkSecurity, PeerIdentity, SecurityError, SecurityMode, Side};
use super::wire::{self, Stream, WireRead, WireWrite};
use crate::codec_id::CodecId;
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use tokio::net::TcpStream;

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
/// The first frame each side sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The sender's domain id; a peer of another domain is refused.
    pub domain: String,
    /// The sender's node id (at most 64 bytes), unique in the mesh.
    pub node_id: String,
    /// The sender's node name (checked as every name is, see [`crate::names::check_name`]).
    pub node_name: String,
    /// The sender's certificate (DER), on a local link only (see [`super::local`]); over TLS
    /// the handshake carried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<serde_bytes::ByteBuf>,
}

/// Where a link's peer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remote {
    /// At this TCP address.
    Tcp(SocketAddr),
    /// On this host, over a local link: the process the kernel says holds the other end.
    Local {
        /// Its process id.
        pid: u32,
        /// The user it runs as.
        uid: u32,
    },
}

impl std::fmt::Display for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Remote::Tcp(addr) => write!(f, "{addr}"),
            Remote::Local { pid, uid } => write!(f, "this host (pid {pid}, uid {uid})"),
        }
    }
}

impl Remote {
    /// What refusals are remembered by: the peer's IP address, or its user on this host.
    pub fn origin(&self) -> String {
        match self {
            Remote::Tcp(addr) => addr.ip().to_string(),
            Remote::Local { uid, .. } => format!("local uid {uid}"),
        }
    }
}

/// How long sent data may go unacknowledged, or a peer's window stay closed, before the kernel
/// drops the connection (`TCP_USER_TIMEOUT`). Linux counts a peer that answers but reads nothing
/// (a reliable subscriber paused in a long handler, its window at zero) against this too: it
/// must be long enough not to cut such a peer off and lose what is queued for it. 30 s is also
/// what keepalive takes to find an idle peer gone (5 s, then 5 probes 5 s apart).
const USER_TIMEOUT: Duration = Duration::from_secs(30);

fn tune(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    let socket = socket2::SockRef::from(stream);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(5))
        .with_interval(Duration::from_secs(5))
        .with_retries(5);
    let _ = socket.set_tcp_keepalive(&keepalive);
    let _ = socket.set_tcp_user_timeout(Some(USER_TIMEOUT));
}

pub(super) fn hello_frame(hello: &Hello) -> Frame {
    // MessagePack with structs as maps, as rosy's msgpack codec writes them.
    let mut payload = Vec::new();
    hello
        .serialize(&mut rmp_serde::Serializer::new(&mut payload).with_struct_map())
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
async fn read_hello_frame(wire: &mut WireRead, buf: &mut BytesMut) -> Result<Frame, LinkError> {
    loop {
        if let Some(frame) = frame::decode_hello(buf)? {
            return Ok(frame);
        }
        if buf.capacity() == buf.len() {
            buf.reserve(frame::MAX_HELLO_LEN);
        }
        if wire.read_buf(buf).await? == 0 {
            return Err(LinkError::Closed);
        }
    }
}

pub(super) async fn read_hello(
    wire: &mut WireRead,
    buf: &mut BytesMut,
    ours: &Hello,
) -> Result<Hello, LinkError> {
    let mut preamble = [0u8; PREAMBLE_LEN];
    wire.read_exact(&mut preamble, buf).await?;
    frame::check_preamble(&preamble)?;
    let frame = read_hello_frame(wire, buf).await?;
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
    let hello: Hello =
        rmp_serde::from_slice(&frame.payload).map_err(|e| LinkError::BadHello(e.to_string()))?;
    crate::names::check_name("node", &hello.node_name).map_err(LinkError::BadHello)?;
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

/// Checks that a peer's hello says only what its certificate grants: its name, and a node id
/// beginning with its key's id (so no node takes over another's id).
pub(super) fn check_identity(
    hello: &Hello,
    identity: Option<&PeerIdentity>,
) -> Result<(), LinkError> {
    let Some(identity) = identity else {
        return Ok(());
    };
    if !identity.grants(&hello.node_name) {
        return Err(LinkError::Identity(format!(
            "the peer calls itself {:?} but its certificate grants the name {:?}",
            hello.node_name, identity.name
        )));
    }
    if !hello.node_id.starts_with(&identity.key_id) {
        return Err(LinkError::Identity(format!(
            "the peer's node id {:?} is not one of its key's (they begin with {:?})",
            hello.node_id, identity.key_id
        )));
    }
    Ok(())
}

/// A socket a node accepts connections on: TCP, or its local socket (see [`super::local`]).
pub enum Listener {
    /// Peers on any host.
    Tcp(tokio::net::TcpListener),
    /// Same-host peers of a secure node.
    Local(super::local::LocalListener),
}

impl Listener {
    /// The next connection, and where it comes from.
    pub(crate) async fn accept(&self) -> std::io::Result<(Stream, Remote)> {
        match self {
            Listener::Tcp(l) => {
                let (stream, addr) = l.accept().await?;
                Ok((Stream::Tcp(stream), Remote::Tcp(addr)))
            }
            Listener::Local(l) => {
                let (stream, remote) = l.accept().await?;
                Ok((Stream::Unix(stream), remote))
            }
        }
    }
}

/// A connection whose handshake is done, ready for [`super::link::start`].
pub struct Handshaken {
    pub(super) read: WireRead,
    pub(super) write: WireWrite,
    /// Bytes read past the peer's hello: the start of its first frames.
    pub(super) buf: BytesMut,
    /// Who the peer said it is.
    pub peer: Hello,
    /// Who the peer proved to be (secure links only).
    pub identity: Option<PeerIdentity>,
    /// Where the peer is.
    pub remote: Remote,
    /// Whether this side dialed (else it accepted).
    pub dialed: bool,
    pub(super) stall: Duration,
}

/// The first byte of a TLS handshake record: what a secure dialer sends first.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Dials `addr` and performs the handshake: sealed first when `guard` secures links. In
/// permissive mode a peer that turns out to be plain is dialed again, plainly.
pub async fn dial(
    addr: SocketAddr,
    ours: &Hello,
    timeouts: &LinkTimeouts,
    guard: &Guard,
) -> Result<Handshaken, LinkError> {
    tokio::time::timeout(timeouts.handshake, async {
        match dial_once(addr, ours, timeouts, guard.sealing()).await {
            Err(LinkError::Security(SecurityError::PeerNotSecure))
                if guard.mode == SecurityMode::Permissive =>
            {
                tracing::warn!(
                    "{addr} is not secure; connecting plainly (ROSY_SECURITY=permissive)"
                );
                dial_once(addr, ours, timeouts, None).await
            }
            other => other,
        }
    })
    .await
    .map_err(|_| LinkError::HandshakeTimeout(timeouts.handshake))?
}

async fn dial_once(
    addr: SocketAddr,
    ours: &Hello,
    timeouts: &LinkTimeouts,
    sealing: Option<&Arc<dyn LinkSecurity>>,
) -> Result<Handshaken, LinkError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| LinkError::Connect { addr, source })?;
    tune(&stream);
    let (session, identity) = match sealing {
        Some(provider) => {
            let (session, identity) = provider.handshake(&stream, Side::Dialer).await?;
            (Some(session), Some(identity))
        }
        None => (None, None),
    };
    let (mut read, write) = wire::split(Stream::Tcp(stream), session);
    let mut out = BytesMut::new();
    out.extend_from_slice(&frame::preamble());
    hello_frame(ours).encode(&mut out);
    write
        .write_all(&mut [out.freeze()], &AtomicU64::new(0))
        .await?;
    let mut buf = BytesMut::with_capacity(frame::MAX_HELLO_LEN);
    let peer = match read_hello(&mut read, &mut buf, ours).await {
        // A TLS 1.3 dialer finishes its handshake before the acceptor has checked its
        // certificate: a refusal of it arrives here, as a record that does not open.
        Err(LinkError::Io(e))
            if identity.is_some() && e.kind() == std::io::ErrorKind::InvalidData =>
        {
            return Err(LinkError::Security(SecurityError::Refused(e.to_string())));
        }
        other => other?,
    };
    check_identity(&peer, identity.as_ref())?;
    Ok(Handshaken {
        read,
        write,
        buf,
        peer,
        identity,
        remote: Remote::Tcp(addr),
        dialed: true,
        stall: timeouts.stall,
    })
}

/// Performs the acceptor's side of the handshake on a fresh connection: a local one as
/// [`super::local::accept`] does, a TCP one as [`accept_tcp`] does.
pub async fn accept(
    stream: Stream,
    remote: Remote,
    ours: &Hello,
    timeouts: &LinkTimeouts,
    guard: &Guard,
) -> Result<Handshaken, LinkError> {
    match (stream, remote) {
        (Stream::Tcp(stream), Remote::Tcp(addr)) => {
            accept_tcp(stream, addr, ours, timeouts, guard).await
        }
        (Stream::Unix(stream), remote @ Remote::Local { .. }) => {
            super::local::accept(stream, remote, ours, timeouts, guard).await
        }
        (_, remote) => Err(LinkError::BadHello(format!(
            "a connection from {remote} came on the other kind of socket"
        ))),
    }
}

/// Performs the acceptor's side of the handshake on a fresh TCP connection. A dialer that does
/// not match this node's security is told so (a plain one by a `Reject` frame it can log, a
/// secure one by a plain preamble its TLS sees is not TLS) and refused, except that a
/// permissive node accepts plain dialers.
async fn accept_tcp(
    stream: TcpStream,
    remote: SocketAddr,
    ours: &Hello,
    timeouts: &LinkTimeouts,
    guard: &Guard,
) -> Result<Handshaken, LinkError> {
    tokio::time::timeout(timeouts.handshake, async {
        tune(&stream);
        let mut first = [0u8; 1];
        if stream.peek(&mut first).await? == 0 {
            return Err(LinkError::Closed);
        }
        let dialer_seals = first[0] == TLS_HANDSHAKE_RECORD;
        let (session, identity) = match (guard.sealing(), dialer_seals) {
            (Some(provider), true) => {
                let (session, identity) = provider.handshake(&stream, Side::Acceptor).await?;
                (Some(session), Some(identity))
            }
            (None, true) => {
                turn_away(&stream, None).await;
                return Err(LinkError::PeerSecure);
            }
            (Some(_), false) if guard.mode == SecurityMode::Enforce => {
                let reason = format!(
                    "node {:?} requires security (ROSY_SECURITY=enforce): the dialer is plain",
                    ours.node_name
                );
                turn_away(&stream, Some(reason)).await;
                return Err(LinkError::Security(SecurityError::PeerNotSecure));
            }
            (Some(_), false) => {
                tracing::warn!(
                    "a plain node connected from {remote}; accepted (ROSY_SECURITY=permissive)"
                );
                (None, None)
            }
            (None, false) => (None, None),
        };
        let (mut read, write) = wire::split(Stream::Tcp(stream), session);
        let mut buf = BytesMut::with_capacity(frame::MAX_HELLO_LEN);
        let checked = match read_hello(&mut read, &mut buf, ours).await {
            Ok(peer) => check_identity(&peer, identity.as_ref()).map(|()| peer),
            Err(e) => Err(e),
        };
        let peer = answer_hello(&write, ours, checked).await?;
        Ok(Handshaken {
            read,
            write,
            buf,
            peer,
            identity,
            remote: Remote::Tcp(remote),
            dialed: false,
            stall: timeouts.stall,
        })
    })
    .await
    .map_err(|_| LinkError::HandshakeTimeout(timeouts.handshake))?
}

/// The acceptor's answer to the dialer's hello, `checked`: its own preamble and hello, or a
/// `Reject` frame saying why (for a wrong domain or identity, which the dialer should log)
/// before the connection is shut.
pub(super) async fn answer_hello(
    write: &WireWrite,
    ours: &Hello,
    checked: Result<Hello, LinkError>,
) -> Result<Hello, LinkError> {
    let mut out = BytesMut::new();
    out.extend_from_slice(&frame::preamble());
    match checked {
        Ok(peer) => {
            hello_frame(ours).encode(&mut out);
            write
                .write_all(&mut [out.freeze()], &AtomicU64::new(0))
                .await?;
            Ok(peer)
        }
        Err(
            e @ (LinkError::WrongDomain { .. } | LinkError::Identity(_) | LinkError::Security(_)),
        ) => {
            let reason = Bytes::from(e.to_string());
            Frame::new(FrameKind::Reject, CodecId::Raw, 0, "", reason).encode(&mut out);
            let _ = write
                .write_all(&mut [out.freeze()], &AtomicU64::new(0))
                .await;
            write.shut().await;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Answers a dialer whose security does not match this node's with a plain preamble and, for a
/// plain dialer, a `Reject` frame saying why; reads what it sent first, so that closing does
/// not reset the connection before the answer is read.
async fn turn_away(stream: &TcpStream, reason: Option<String>) {
    let mut sent = [0u8; frame::MAX_HELLO_LEN];
    let _ = stream.try_read(&mut sent);
    let mut out = BytesMut::new();
    out.extend_from_slice(&frame::preamble());
    if let Some(reason) = reason {
        Frame::new(FrameKind::Reject, CodecId::Raw, 0, "", Bytes::from(reason)).encode(&mut out);
    }
    let mut rest = &out[..];
    while !rest.is_empty() {
        if stream.writable().await.is_err() {
            return;
        }
        match stream.try_write(rest) {
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        }
    }
    let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write);
}
