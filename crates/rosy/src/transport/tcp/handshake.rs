//! The handshake that opens every connection: each side sends the preamble (magic, version) and
//! a [`Hello`] frame (domain, node id, name); the acceptor checks the dialer's preamble before
//! reading anything else and refuses a wrong domain with a `Reject` frame. Both sides bound the
//! handshake with [`LinkTimeouts::handshake`] (5 s), and the hello to [`frame::MAX_HELLO_LEN`]
//! (4 KiB). Also the socket options every connection gets (keepalive, user timeout, no delay).
//!
//! What a connection does once the handshake is done lives in [`super::link`]; nothing here reads
//! or writes a frame after the hellos.

use super::error::LinkError;
use super::frame::{self, Frame, FrameKind, PREAMBLE_LEN};
use crate::codec_id::CodecId;
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

fn hello_frame(hello: &Hello) -> Frame {
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

/// A connection whose handshake is done, ready for [`super::link::start`].
pub struct Handshaken {
    pub(super) stream: TcpStream,
    /// Bytes read past the peer's hello: the start of its first frames.
    pub(super) buf: BytesMut,
    /// Who the peer said it is.
    pub peer: Hello,
    /// The peer's address.
    pub remote: SocketAddr,
    /// Whether this side dialed (else it accepted).
    pub dialed: bool,
    pub(super) stall: Duration,
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
