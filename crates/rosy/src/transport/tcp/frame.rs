//! The wire format of rosy's TCP transport.
//!
//! A connection opens with an 8-byte preamble, [`MAGIC`] then the protocol version (u16 LE) and
//! two reserved bytes, so a stranger speaking another protocol is turned away before anything
//! else is parsed. Then both sides exchange frames:
//!
//! ```text
//! u32 LE  length of what follows (header rest + name + payload), at most MAX_FRAME_LEN
//! u8      kind            (FrameKind)
//! u8      codec           (CodecId byte)
//! u16 LE  name length     (at most MAX_NAME_LEN; topic or service name)
//! u64 LE  id              (request id for services, 0 otherwise)
//! ...     name (UTF-8), then payload
//! ```
//!
//! [`decode`] takes one frame off a buffer; [`scan`] finds every complete frame of a read in
//! place (a connection's reader hands them on sharing one chunk). Every length, kind, codec and
//! string read here is bounded and checked; a bad frame is a [`FrameError`] that closes the one
//! connection it came on. This module does no I/O.

use crate::codec_id::CodecId;
use crate::names::MAX_NAME_LEN;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::ops::Range;

/// The first bytes of every rosy connection.
pub const MAGIC: [u8; 4] = *b"ROSY";
/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// Length of the preamble: magic, version, reserved.
pub const PREAMBLE_LEN: usize = 8;
/// Bytes of a frame header after the length prefix.
pub const HEADER_LEN: usize = 12;
/// The largest frame accepted: 256 MiB (a 4 GB length prefix is refused, not allocated).
pub const MAX_FRAME_LEN: usize = 256 << 20;
/// The largest hello accepted (its length prefix counted in): a hello holds a domain, a node id
/// and a name, a few hundred bytes. Checked before the peer is known, so a stranger's declared
/// length never sizes anything.
pub const MAX_HELLO_LEN: usize = 4 << 10;
/// A receive buffer grows by at least this much, and by at most the bytes already received:
/// memory follows what a peer actually sent, never the length it declared.
pub const READ_STEP: usize = 64 << 10;

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// First frame of each side: msgpack `Hello` (domain, node id, name).
    Hello = 1,
    /// The sender's full `NodeInfo` (msgpack), sent after the hello and on every change.
    NodeInfo = 2,
    /// A topic message: name = topic.
    Topic = 3,
    /// A service request: name = service, id = request id.
    Request = 4,
    /// A successful response to request `id`.
    Response = 5,
    /// A failed request `id`: payload = one `ResponseError` byte, then UTF-8 text.
    ResponseError = 6,
    /// The sender refuses the connection; payload = reason (UTF-8). The connection then closes.
    Reject = 7,
    /// From now on the sender's messages on topic `name` come through shared memory: every
    /// earlier one was sent on this connection before this frame. With id 1, the other way:
    /// the sender starts reading the receiver's segment of `name` and asks to be told so.
    ShmSwitch = 8,
    /// The sender is closing: it accepts and dials no more, and writes what it has queued
    /// before its connections end. Its peers do not dial it again (a node that starts anew has
    /// a new id).
    Goodbye = 9,
}

impl FrameKind {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => FrameKind::Hello,
            2 => FrameKind::NodeInfo,
            3 => FrameKind::Topic,
            4 => FrameKind::Request,
            5 => FrameKind::Response,
            6 => FrameKind::ResponseError,
            7 => FrameKind::Reject,
            8 => FrameKind::ShmSwitch,
            9 => FrameKind::Goodbye,
            _ => return None,
        })
    }
}

/// Why a service request failed on the provider's side (first payload byte of `ResponseError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ResponseError {
    /// The handler returned an error; the text is its message.
    Handler = 1,
    /// The provider does not (or no longer) host this service.
    NoSuchService = 2,
    /// The request's codec or bytes do not match what the handler expects.
    CodecMismatch = 3,
    /// The domain's ACL does not let the caller call this service.
    Denied = 4,
}

impl ResponseError {
    /// The error for a response frame's id byte, `None` for a byte no error uses.
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => ResponseError::Handler,
            2 => ResponseError::NoSuchService,
            3 => ResponseError::CodecMismatch,
            4 => ResponseError::Denied,
            _ => return None,
        })
    }
}

/// One frame, its name and payload sharing the received buffer (no copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// What the frame carries.
    pub kind: FrameKind,
    /// The codec that wrote the payload.
    pub codec: CodecId,
    /// A request's id (a response carries its request's), a message's history mark, or 0.
    pub id: u64,
    /// The topic or service name, UTF-8 (empty for frames that have none).
    pub name: Bytes,
    /// The payload, as the codec wrote it.
    pub payload: Bytes,
}

impl Frame {
    /// A frame of `kind` named `name` carrying `payload`.
    pub fn new(kind: FrameKind, codec: CodecId, id: u64, name: &str, payload: Bytes) -> Self {
        Frame {
            kind,
            codec,
            id,
            name: Bytes::copy_from_slice(name.as_bytes()),
            payload,
        }
    }

    /// The name as text (checked to be UTF-8 when the frame was decoded).
    pub fn name(&self) -> &str {
        std::str::from_utf8(&self.name).unwrap_or("")
    }

    /// Its header fields and name.
    pub fn head(&self) -> FrameHead<'_> {
        FrameHead {
            kind: self.kind,
            codec: self.codec,
            id: self.id,
            name: &self.name,
        }
    }

    /// Bytes this frame takes on the wire.
    pub fn wire_len(&self) -> usize {
        self.head().wire_len(self.payload.len())
    }

    /// Appends the length prefix, header and name (not the payload) to `out`.
    pub fn encode_head(&self, out: &mut BytesMut) {
        self.head().encode(out, self.payload.len());
    }

    /// Appends the whole frame to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        self.encode_head(out);
        out.put_slice(&self.payload);
    }
}

/// A frame's header fields and name, to encode without making a [`Frame`] (a link encodes
/// topic messages straight into its outbox).
pub struct FrameHead<'a> {
    /// What the frame carries.
    pub kind: FrameKind,
    /// The codec that wrote the payload.
    pub codec: CodecId,
    /// As [`Frame::id`].
    pub id: u64,
    /// The topic or service name's bytes.
    pub name: &'a [u8],
}

impl FrameHead<'_> {
    /// Appends the length prefix, header and name of a frame whose payload is `payload_len`
    /// bytes to `out`.
    pub fn encode(&self, out: &mut BytesMut, payload_len: usize) {
        debug_assert!(self.name.len() <= MAX_NAME_LEN);
        out.reserve(4 + HEADER_LEN + self.name.len());
        out.put_u32_le((HEADER_LEN + self.name.len() + payload_len) as u32);
        out.put_u8(self.kind as u8);
        out.put_u8(self.codec.to_byte());
        out.put_u16_le(self.name.len() as u16);
        out.put_u64_le(self.id);
        out.put_slice(self.name);
    }

    /// Bytes the frame takes on the wire.
    pub fn wire_len(&self, payload_len: usize) -> usize {
        4 + HEADER_LEN + self.name.len() + payload_len
    }
}

/// A malformed preamble or frame. Each closes the connection it arrived on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The preamble's magic is not rosy's: the peer speaks another protocol.
    #[error("wrong magic {0:02x?}: not a rosy peer")]
    WrongMagic([u8; 4]),
    /// The peer speaks another version of the protocol.
    #[error("protocol version {theirs} is not supported (this node speaks {PROTOCOL_VERSION})")]
    WrongVersion {
        /// The peer's version.
        theirs: u16,
    },
    /// A frame declares more than [`MAX_FRAME_LEN`] bytes.
    #[error("frame length {0} exceeds the limit of {MAX_FRAME_LEN} bytes")]
    TooLong(usize),
    /// A hello declares more than [`MAX_HELLO_LEN`] bytes.
    #[error("hello length {0} exceeds the limit of {MAX_HELLO_LEN} bytes")]
    HelloTooLong(usize),
    /// A frame declares fewer bytes than its header takes.
    #[error("frame length {0} is shorter than a frame header")]
    TooShort(usize),
    /// The kind byte names no [`FrameKind`].
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    /// The codec byte names no codec.
    #[error("unknown codec byte {0}")]
    UnknownCodec(u8),
    /// The name's length does not fit the frame or exceeds the longest name.
    #[error(
        "name length {name_len} does not fit in a frame of {frame_len} bytes or exceeds {MAX_NAME_LEN}"
    )]
    BadNameLength {
        /// The declared name length.
        name_len: usize,
        /// The declared frame length.
        frame_len: usize,
    },
    /// The name's bytes are not UTF-8.
    #[error("name is not UTF-8")]
    NameNotUtf8,
}

/// The preamble this build sends.
pub fn preamble() -> [u8; PREAMBLE_LEN] {
    let v = PROTOCOL_VERSION.to_le_bytes();
    [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], v[0], v[1], 0, 0]
}

/// Checks a peer's preamble.
pub fn check_preamble(bytes: &[u8; PREAMBLE_LEN]) -> Result<(), FrameError> {
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if magic != MAGIC {
        return Err(FrameError::WrongMagic(magic));
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != PROTOCOL_VERSION {
        return Err(FrameError::WrongVersion { theirs: version });
    }
    Ok(())
}

/// Takes one frame off the front of `buf` if it is complete. `Ok(None)`: more bytes needed.
/// Nothing is reserved here: the caller grows `buf` with [`grow`] as bytes arrive.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
    decode_limited(buf, MAX_FRAME_LEN)
}

/// The first frame of a connection, the hello, bounded by [`MAX_HELLO_LEN`] (4 KiB, length
/// prefix included): a larger declared length is refused as soon as its 4 bytes are here.
pub fn decode_hello(buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
    decode_limited(buf, MAX_HELLO_LEN - 4)
}

fn decode_limited(buf: &mut BytesMut, limit: usize) -> Result<Option<Frame>, FrameError> {
    let Some(head) = parse_head(buf, limit)? else {
        return Ok(None);
    };
    let mut frame = buf.split_to(4 + head.len);
    frame.advance(4 + HEADER_LEN);
    let name = frame.split_to(head.name_len).freeze();
    if std::str::from_utf8(&name).is_err() {
        return Err(FrameError::NameNotUtf8);
    }
    Ok(Some(Frame {
        kind: head.kind,
        codec: head.codec,
        id: head.id,
        name,
        payload: frame.freeze(),
    }))
}

/// A frame's header as read off the wire.
struct Head {
    kind: FrameKind,
    codec: CodecId,
    name_len: usize,
    id: u64,
    /// Bytes after the length prefix.
    len: usize,
}

/// Reads the header of the frame at the start of `buf`: `Ok(None)` until the whole frame is
/// there, an error as soon as the length or the header is (a bad one is refused before its
/// body is waited for).
fn parse_head(buf: &[u8], limit: usize) -> Result<Option<Head>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLong(len));
    }
    if len > limit {
        return Err(FrameError::HelloTooLong(len));
    }
    if len < HEADER_LEN {
        return Err(FrameError::TooShort(len));
    }
    if buf.len() < 4 + HEADER_LEN {
        return Ok(None);
    }
    let kind = FrameKind::from_byte(buf[4]).ok_or(FrameError::UnknownKind(buf[4]))?;
    let codec = CodecId::from_byte(buf[5]).ok_or(FrameError::UnknownCodec(buf[5]))?;
    let name_len = u16::from_le_bytes([buf[6], buf[7]]) as usize;
    if name_len > MAX_NAME_LEN || HEADER_LEN + name_len > len {
        return Err(FrameError::BadNameLength {
            name_len,
            frame_len: len,
        });
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    let id = u64::from_le_bytes(buf[8..16].try_into().expect("8 bytes"));
    Ok(Some(Head {
        kind,
        codec,
        name_len,
        id,
        len,
    }))
}

/// A frame found in a chunk of received bytes: its header, and where its name and payload lie
/// in the chunk. Frames read together are handed on so, the chunk shared, rather than each
/// cut into buffers of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameAt {
    /// What the frame carries.
    pub kind: FrameKind,
    /// The codec that wrote the payload.
    pub codec: CodecId,
    /// As [`Frame::id`].
    pub id: u64,
    /// The name's bytes in the chunk (checked to be UTF-8).
    pub name: Range<usize>,
    /// The payload's bytes in the chunk.
    pub payload: Range<usize>,
}

impl FrameAt {
    /// The frame itself, its name and payload sharing `chunk` (no copy).
    pub fn frame(&self, chunk: &Bytes) -> Frame {
        Frame {
            kind: self.kind,
            codec: self.codec,
            id: self.id,
            name: chunk.slice(self.name.clone()),
            payload: chunk.slice(self.payload.clone()),
        }
    }
}

/// Finds the frames complete at the start of `buf`, in order, and appends them to `found`.
/// Returns the bytes they take, and the error of a malformed frame after them if one is there
/// (the frames before it stand). A name is checked to be UTF-8 once per run of frames that
/// carry the same one.
pub fn scan(buf: &[u8], found: &mut Vec<FrameAt>) -> (usize, Option<FrameError>) {
    let mut at = 0;
    let mut checked_name = 0..0;
    loop {
        let head = match parse_head(&buf[at..], MAX_FRAME_LEN) {
            Ok(Some(head)) => head,
            Ok(None) => return (at, None),
            Err(e) => return (at, Some(e)),
        };
        let name = at + 4 + HEADER_LEN..at + 4 + HEADER_LEN + head.name_len;
        if buf[name.clone()] != buf[checked_name.clone()] {
            if std::str::from_utf8(&buf[name.clone()]).is_err() {
                return (at, Some(FrameError::NameNotUtf8));
            }
            checked_name = name.clone();
        }
        let end = at + 4 + head.len;
        found.push(FrameAt {
            kind: head.kind,
            codec: head.codec,
            id: head.id,
            payload: name.end..end,
            name,
        });
        at = end;
    }
}

/// Makes room in `buf` for the next read: [`READ_STEP`] more bytes, or, while a large frame
/// is arriving, up to as many bytes as `buf` already holds (the buffer at most doubles per
/// step), never the rest of the frame's declared length at once. So a peer that declares
/// 240 MB and sends 100 bytes costs this side about 64 KiB, and one that sends all of it costs
/// what it sent (at most twice that while the buffer doubles).
pub fn grow(buf: &mut BytesMut) {
    let spare = buf.capacity() - buf.len();
    if spare >= READ_STEP / 4 {
        return;
    }
    let missing = if buf.len() >= 4 {
        let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        (4 + len.min(MAX_FRAME_LEN)).saturating_sub(buf.len())
    } else {
        0
    };
    buf.reserve(READ_STEP.max(missing.min(buf.len())));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str, payload: &[u8]) -> Frame {
        Frame::new(
            FrameKind::Topic,
            CodecId::MsgPack,
            0,
            name,
            Bytes::copy_from_slice(payload),
        )
    }

    /// Decoded one at a time, or scanned in place from a shared chunk: the same frames, whatever
    /// pieces the bytes arrive in.
    #[test]
    fn frames_round_trip_even_when_split_anywhere() {
        let frames = vec![
            topic("a", b"1"),
            topic("a", b""),
            Frame::new(
                FrameKind::Request,
                CodecId::Json,
                42,
                "multiply",
                Bytes::from_static(b"[2,2]"),
            ),
            topic("camera/frames", &vec![7u8; 100_000]),
            topic("", b"unnamed"),
        ];
        let mut wire = BytesMut::new();
        for f in &frames {
            f.encode(&mut wire);
        }
        for step in [1, 3, 17, 4096, wire.len()] {
            let (mut decoding, mut scanning) = (BytesMut::new(), BytesMut::new());
            let (mut decoded, mut scanned) = (Vec::new(), Vec::new());
            for piece in wire.chunks(step) {
                decoding.extend_from_slice(piece);
                while let Some(f) = decode(&mut decoding).unwrap() {
                    decoded.push(f);
                }
                scanning.extend_from_slice(piece);
                let mut found = Vec::new();
                let (used, bad) = scan(&scanning, &mut found);
                assert_eq!(bad, None);
                let chunk = scanning.split_to(used).freeze();
                scanned.extend(found.iter().map(|f| f.frame(&chunk)));
            }
            assert_eq!(decoded, frames, "decoded, split every {step} bytes");
            assert_eq!(scanned, frames, "scanned, split every {step} bytes");
            assert!(decoding.is_empty() && scanning.is_empty());
        }
    }

    #[test]
    fn a_scan_keeps_the_frames_before_a_bad_one_and_names_it() {
        let mut wire = BytesMut::new();
        topic("t", b"x").encode(&mut wire);
        topic("t", b"y").encode(&mut wire);
        let good = wire.len();
        let mut bad_name = BytesMut::new();
        topic("u", b"z").encode(&mut bad_name);
        bad_name[16] = 0xff;
        wire.extend_from_slice(&bad_name);
        let mut found = Vec::new();
        assert_eq!(
            scan(&wire, &mut found),
            (good, Some(FrameError::NameNotUtf8))
        );
        assert_eq!(found.len(), 2);
        let mut unknown = BytesMut::from(&wire[..good]);
        unknown.extend_from_slice(&[20, 0, 0, 0, 99, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        found.clear();
        assert_eq!(
            scan(&unknown, &mut found),
            (good, Some(FrameError::UnknownKind(99)))
        );
        assert_eq!(found.len(), 2);
    }

    #[test]
    fn a_4_gb_length_is_refused_before_allocating() {
        let mut buf = BytesMut::from(&u32::MAX.to_le_bytes()[..]);
        assert_eq!(
            decode(&mut buf),
            Err(FrameError::TooLong(u32::MAX as usize))
        );
        assert!(buf.capacity() < 1 << 20);
    }

    #[test]
    fn bad_headers_are_named() {
        let mut good = BytesMut::new();
        topic("t", b"x").encode(&mut good);
        let mut kind = good.clone();
        kind[4] = 99;
        assert_eq!(decode(&mut kind), Err(FrameError::UnknownKind(99)));
        let mut codec = good.clone();
        codec[5] = 42;
        assert_eq!(decode(&mut codec), Err(FrameError::UnknownCodec(42)));
        let mut name = good.clone();
        name[6] = 200;
        assert!(matches!(
            decode(&mut name),
            Err(FrameError::BadNameLength { .. })
        ));
        let mut short = BytesMut::from(&5u32.to_le_bytes()[..]);
        assert_eq!(decode(&mut short), Err(FrameError::TooShort(5)));
        let mut utf8 = good.clone();
        utf8[16] = 0xff;
        assert_eq!(decode(&mut utf8), Err(FrameError::NameNotUtf8));
    }

    #[test]
    fn memory_grows_with_bytes_received_not_with_a_declared_length() {
        // A 240 MB frame announced, 100 bytes of it sent.
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&(240u32 << 20).to_le_bytes());
        buf.extend_from_slice(&[3, 1, 0, 0]);
        buf.extend_from_slice(&[0u8; 100]);
        assert_eq!(decode(&mut buf), Ok(None));
        grow(&mut buf);
        assert!(buf.capacity() <= 2 * READ_STEP, "{}", buf.capacity());
        // Fed 1 MiB in reads of what `grow` made room for: at most about twice that held.
        while buf.len() < 1 << 20 {
            grow(&mut buf);
            let room = buf.capacity() - buf.len();
            buf.extend_from_slice(&vec![0u8; room.min((1 << 20) - buf.len())]);
            assert_eq!(decode(&mut buf), Ok(None));
        }
        assert!(
            buf.capacity() <= (2 << 20) + READ_STEP,
            "{}",
            buf.capacity()
        );
    }

    #[test]
    fn a_hello_longer_than_4_kib_is_refused_from_its_length_alone() {
        let mut buf = BytesMut::from(&(200u32 << 20).to_le_bytes()[..]);
        assert_eq!(
            decode_hello(&mut buf),
            Err(FrameError::HelloTooLong(200 << 20))
        );
        let mut small = BytesMut::new();
        topic("", &[0u8; 100]).encode(&mut small);
        assert!(decode_hello(&mut small).unwrap().is_some());
        let mut big = BytesMut::new();
        topic("", &vec![0u8; MAX_HELLO_LEN]).encode(&mut big);
        assert!(matches!(
            decode_hello(&mut big),
            Err(FrameError::HelloTooLong(_))
        ));
    }

    #[test]
    fn a_truncated_frame_waits_for_more() {
        let mut wire = BytesMut::new();
        topic("t", b"hello").encode(&mut wire);
        let mut buf = BytesMut::from(&wire[..wire.len() - 1]);
        assert_eq!(decode(&mut buf), Ok(None));
    }

    #[test]
    fn preambles_are_checked() {
        assert_eq!(check_preamble(&preamble()), Ok(()));
        assert!(matches!(
            check_preamble(b"HTTP/1.1"),
            Err(FrameError::WrongMagic(_))
        ));
        let mut newer = preamble();
        newer[4] = 9;
        assert_eq!(
            check_preamble(&newer),
            Err(FrameError::WrongVersion { theirs: 9 })
        );
    }
}
