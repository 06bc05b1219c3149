//! [`Bag`]: reads an MCAP file record by record, from its start, and indexes its messages.
//!
//! The reader never trusts a summary or an index: it walks every record, so it reads a file
//! whose recorder was killed (no footer) up to the last complete record. It tells such an
//! unfinished bag apart from a damaged one by how the file ends: the recorder's unfinished
//! chunk still carries its placeholder length, while a finished record cut short, an
//! impossible record or a bad checksum is refused with a [`BagError`]. It never panics on
//! what it reads and never writes.

use super::error::{BagError, show};
use super::keys::{CODEC_KEY, QOS_KEY, TYPE_KEY};
use mcap::records::{Record, op};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One channel of a bag: a topic and how its messages are encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BagChannel {
    /// The MCAP channel id, unique within the bag.
    pub id: u16,
    /// The topic its messages were recorded from.
    pub topic: String,
    /// The channel's `message_encoding`: the rosy codec name for bags rosy wrote.
    pub encoding: String,
    /// The Rust type name (the schema's name), "" when unknown.
    pub type_name: String,
    /// The quality of service its publisher announced, when the bag recorded one.
    pub qos: Option<crate::qos::Qos>,
}

/// One message of a bag, borrowed from the mapped file.
#[derive(Clone, Copy, Debug)]
pub struct BagMessage<'a> {
    /// The channel it was recorded on.
    pub channel: &'a BagChannel,
    /// The MCAP sequence number; rosy's writer numbers each channel's messages from 1.
    pub sequence: u32,
    /// Nanoseconds since the Unix epoch: when the recorder received the message.
    pub log_time: u64,
    /// Nanoseconds since the Unix epoch: the publish time its writer gave (rosy's recorder
    /// gives its receive time, the same as `log_time`).
    pub publish_time: u64,
    /// The message's bytes, encoded as the channel's `encoding` says.
    pub data: &'a [u8],
}

#[derive(Clone, Copy, Debug)]
struct MessageRef {
    /// Where `start` points: 0 the file, `n` the `n`th decompressed chunk.
    source: u32,
    channel: u16,
    sequence: u32,
    log_time: u64,
    publish_time: u64,
    start: usize,
    len: usize,
}

enum Bytes {
    Empty,
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Empty => &[],
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// A bag read whole: its channels and an index of its messages in file order.
pub struct Bag {
    path: PathBuf,
    bytes: Bytes,
    channels: BTreeMap<u16, BagChannel>,
    messages: Vec<MessageRef>,
    /// The decompressed contents of compressed chunks, which their messages point into.
    decompressed: Vec<Vec<u8>>,
    /// `None` for a finished file; for an unfinished one, why reading stopped where it did.
    unfinished: Option<String>,
}

impl std::fmt::Debug for Bag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bag")
            .field("path", &self.path)
            .field("messages", &self.messages.len())
            .field("unfinished", &self.unfinished)
            .finish()
    }
}

/// What a bag holds, as `rosy bag info` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BagSummary {
    /// The file, as [`Bag::path`] shows it.
    pub path: String,
    /// The file's size in bytes.
    pub size_bytes: u64,
    /// False when the recorder never finished the file (killed): it was read up to its last
    /// complete record.
    pub finished: bool,
    /// Why an unfinished bag ends where it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unfinished: Option<String>,
    /// How many messages the bag holds.
    pub messages: u64,
    /// First and last log times, nanoseconds since the Unix epoch (0 for an empty bag).
    pub start_ns: u64,
    /// The last log time, nanoseconds since the Unix epoch (0 for an empty bag).
    pub end_ns: u64,
    /// From the first log time to the last, in seconds.
    pub duration_s: f64,
    /// One entry per channel, sorted by topic, then codec.
    pub topics: Vec<TopicSummary>,
}

/// One topic's part of a bag (one entry per topic and encoding).
#[derive(Clone, Debug, serde::Serialize)]
pub struct TopicSummary {
    /// The topic.
    pub topic: String,
    /// How many of the bag's messages are on this channel.
    pub messages: u64,
    /// Share of the bag's messages, in percent.
    pub share: f64,
    /// The channel's `message_encoding` (see [`BagChannel::encoding`]).
    pub codec: String,
    /// The Rust type name of its messages, "" when unknown; `type` in JSON.
    #[serde(rename = "type")]
    pub type_name: String,
}

const HEADER_LEN: usize = 9; // opcode + u64 length
const MESSAGE_HEADER_LEN: usize = 2 + 4 + 8 + 8;

impl Bag {
    /// Opens and reads `path`.
    pub fn open(path: &Path) -> Result<Bag, BagError> {
        let io = |source| BagError::Io {
            path: show(path),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let bytes = if len == 0 {
            Bytes::Empty
        } else {
            // SAFETY: the map is only read. Another process appending to the file (a live
            // recording) does not invalidate the mapped length; rosy never shrinks a bag.
            Bytes::Mapped(unsafe { memmap2::Mmap::map(&file) }.map_err(io)?)
        };
        Bag::read(path, bytes)
    }

    /// Reads a bag held in memory (`path` only names it in errors).
    pub fn from_vec(path: &Path, data: Vec<u8>) -> Result<Bag, BagError> {
        Bag::read(path, Bytes::Owned(data))
    }

    fn read(path: &Path, bytes: Bytes) -> Result<Bag, BagError> {
        let mut bag = Bag {
            path: path.to_path_buf(),
            bytes,
            channels: BTreeMap::new(),
            messages: Vec::new(),
            decompressed: Vec::new(),
            unfinished: None,
        };
        let mut scan = Scan {
            path,
            schemas: BTreeMap::new(),
            channels: BTreeMap::new(),
            messages: Vec::new(),
            decompressed: Vec::new(),
            source: 0,
        };
        bag.unfinished = scan.file(bag.bytes.as_slice())?;
        bag.channels = scan.channels;
        bag.messages = scan.messages;
        bag.decompressed = scan.decompressed;
        Ok(bag)
    }

    /// The file read (for [`Bag::from_vec`], the path it was given).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.bytes.as_slice().len() as u64
    }

    /// Whether the recorder finished the file (summary and footer written).
    pub fn finished(&self) -> bool {
        self.unfinished.is_none()
    }

    /// For an unfinished bag, why reading stopped where it did.
    pub fn unfinished(&self) -> Option<&str> {
        self.unfinished.as_deref()
    }

    /// The bag's channels, in id order.
    pub fn channels(&self) -> impl Iterator<Item = &BagChannel> {
        self.channels.values()
    }

    /// How many messages the bag holds.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether the bag holds no message.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The `i`th message in file order.
    pub fn message(&self, i: usize) -> Option<BagMessage<'_>> {
        let m = self.messages.get(i)?;
        let source = match m.source {
            0 => self.bytes.as_slice(),
            n => self.decompressed.get(n as usize - 1)?.as_slice(),
        };
        Some(BagMessage {
            channel: self.channels.get(&m.channel)?,
            sequence: m.sequence,
            log_time: m.log_time,
            publish_time: m.publish_time,
            data: source.get(m.start..m.start + m.len)?,
        })
    }

    /// The messages in file order.
    pub fn messages(&self) -> impl Iterator<Item = BagMessage<'_>> {
        (0..self.messages.len()).filter_map(|i| self.message(i))
    }

    /// Counts, times and topics.
    pub fn summary(&self) -> BagSummary {
        let mut counts: BTreeMap<u16, u64> = BTreeMap::new();
        let (mut start, mut end) = (u64::MAX, 0);
        for m in &self.messages {
            *counts.entry(m.channel).or_default() += 1;
            start = start.min(m.log_time);
            end = end.max(m.log_time);
        }
        if self.messages.is_empty() {
            start = 0;
        }
        let total = self.messages.len() as u64;
        let mut topics: Vec<TopicSummary> = self
            .channels
            .values()
            .map(|c| {
                let n = counts.get(&c.id).copied().unwrap_or(0);
                TopicSummary {
                    topic: c.topic.clone(),
                    messages: n,
                    share: if total > 0 {
                        100.0 * n as f64 / total as f64
                    } else {
                        0.0
                    },
                    codec: c.encoding.clone(),
                    type_name: c.type_name.clone(),
                }
            })
            .collect();
        topics.sort_by(|a, b| (&a.topic, &a.codec).cmp(&(&b.topic, &b.codec)));
        BagSummary {
            path: show(&self.path),
            size_bytes: self.size(),
            finished: self.finished(),
            unfinished: self.unfinished.clone(),
            messages: total,
            start_ns: start,
            end_ns: end,
            duration_s: end.saturating_sub(start) as f64 / 1e9,
            topics,
        }
    }
}

struct Scan<'p> {
    path: &'p Path,
    schemas: BTreeMap<u16, String>,
    channels: BTreeMap<u16, BagChannel>,
    messages: Vec<MessageRef>,
    decompressed: Vec<Vec<u8>>,
    /// Where the records being read live: 0 the file, `n` the `n`th decompressed chunk.
    source: u32,
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

fn opcode_name(opcode: u8) -> String {
    match opcode {
        op::HEADER => "header".into(),
        op::FOOTER => "footer".into(),
        op::SCHEMA => "schema".into(),
        op::CHANNEL => "channel".into(),
        op::MESSAGE => "message".into(),
        op::CHUNK => "chunk".into(),
        op::MESSAGE_INDEX => "message index".into(),
        op::CHUNK_INDEX => "chunk index".into(),
        op::STATISTICS => "statistics".into(),
        op::DATA_END => "data end".into(),
        o => format!("opcode {o:#04x}"),
    }
}

impl Scan<'_> {
    fn corrupt(&self, offset: usize, reason: impl Into<String>) -> BagError {
        BagError::Corrupt {
            path: show(self.path),
            offset: offset as u64,
            reason: reason.into(),
        }
    }

    /// Walks the whole file. Returns why it is unfinished, or `None` when it ends with a footer.
    fn file(&mut self, buf: &[u8]) -> Result<Option<String>, BagError> {
        let magic = mcap::MAGIC;
        let path = show(self.path);
        if buf.is_empty() {
            return Err(BagError::NotMcap {
                path,
                reason: "the file is empty".into(),
            });
        }
        if buf.len() < magic.len() && magic.starts_with(buf) {
            return Err(BagError::Truncated {
                path,
                reason: format!("it ends after {} bytes, inside the MCAP magic", buf.len()),
            });
        }
        if !buf.starts_with(magic) {
            return Err(BagError::NotMcap {
                path,
                reason: "it does not begin with the MCAP magic bytes".into(),
            });
        }
        let mut pos = magic.len();
        let mut first = true;
        let mut data_ended = false;
        loop {
            let left = buf.len() - pos;
            if left == 0 {
                if first {
                    return Err(BagError::Truncated {
                        path,
                        reason: "it ends right after the MCAP magic, before its header".into(),
                    });
                }
                return Ok(Some(format!(
                    "it ends after its last complete record (byte {pos}) with no summary or \
                     footer: the recorder was stopped before it could finish the file"
                )));
            }
            if left < HEADER_LEN {
                return Ok(Some(format!(
                    "it ends inside a record's header at byte {pos}, with no summary or footer: \
                     the recorder was stopped before it could finish the file"
                )));
            }
            let opcode = buf[pos];
            let len = u64_at(buf, pos + 1);
            let body_start = pos + HEADER_LEN;
            let available = (buf.len() - body_start) as u64;
            if len > available {
                if first {
                    return Err(BagError::Truncated {
                        path,
                        reason: format!(
                            "its header record needs {len} bytes but only {available} follow"
                        ),
                    });
                }
                // The recorder writes a chunk with a placeholder length and fills it in when it
                // finishes the chunk; message indexes follow each finished chunk.
                if (opcode == op::CHUNK && len == u64::MAX) || opcode == op::MESSAGE_INDEX {
                    return Ok(Some(format!(
                        "it ends inside an unfinished {} at byte {pos}, with no summary or \
                         footer: the recorder was stopped before it could finish the file",
                        opcode_name(opcode)
                    )));
                }
                return Err(BagError::Truncated {
                    path,
                    reason: format!(
                        "the {} record at byte {pos} needs {len} bytes but the file ends {available} \
                         bytes into it (an incomplete copy?)",
                        opcode_name(opcode)
                    ),
                });
            }
            let body = &buf[body_start..body_start + len as usize];
            if first && opcode != op::HEADER {
                return Err(self.corrupt(
                    pos,
                    format!(
                        "the file starts with a {} record instead of a header",
                        opcode_name(opcode)
                    ),
                ));
            }
            first = false;
            match opcode {
                op::FOOTER => {
                    let end = body_start + len as usize;
                    if buf.len() - end == magic.len() && buf[end..] == *magic {
                        return Ok(None);
                    }
                    return Err(self.corrupt(
                        pos,
                        "the footer is not followed by the MCAP magic at the end of the file",
                    ));
                }
                op::DATA_END => data_ended = true,
                op::CHUNK if !data_ended => self.chunk(buf, pos, body_start, body)?,
                op::SCHEMA | op::CHANNEL | op::MESSAGE if !data_ended => {
                    self.record(pos, opcode, body_start, body)?
                }
                0 => return Err(self.corrupt(pos, "a record has opcode 0, which MCAP never uses")),
                _ => {}
            }
            pos = body_start + len as usize;
        }
    }

    fn chunk(
        &mut self,
        buf: &[u8],
        pos: usize,
        body_start: usize,
        body: &[u8],
    ) -> Result<(), BagError> {
        let (header, data) = match parse_checked(op::CHUNK, body) {
            Ok(Record::Chunk { header, data }) => (header, data),
            Ok(_) => unreachable!("parse_record(CHUNK) gives a chunk"),
            Err(e) => return Err(self.corrupt(pos, format!("unreadable chunk: {e}"))),
        };
        if !header.compression.is_empty() {
            if !matches!(header.compression.as_str(), "zstd" | "lz4") {
                return Err(BagError::Unsupported {
                    path: show(self.path),
                    reason: format!(
                        "its chunks are compressed with {}; rosy reads zstd, lz4 and uncompressed \
                         MCAP (convert it with `mcap compress --compression zstd`)",
                        header.compression
                    ),
                });
            }
            let records = decompress(&header.compression, &data, header.uncompressed_size)
                .map_err(|reason| self.corrupt(pos, reason))?;
            check_crc(&records, header.uncompressed_crc).map_err(|r| self.corrupt(pos, r))?;
            self.decompressed.push(records);
            self.source = self.decompressed.len() as u32;
            let records = std::mem::take(self.decompressed.last_mut().expect("just pushed"));
            let result = self.records(&records, 0, records.len(), Some(pos));
            *self.decompressed.last_mut().expect("just pushed") = records;
            self.source = 0;
            return result;
        }
        let data: &[u8] = &data;
        check_crc(data, header.uncompressed_crc).map_err(|r| self.corrupt(pos, r))?;
        // `data` is a sub-slice of `buf`: find where it starts, so messages can point into it.
        let data_start = body_start + (data.as_ptr() as usize - body.as_ptr() as usize);
        self.records(buf, data_start, data_start + data.len(), None)
    }

    /// Reads the records of a chunk's contents, `buf[start..end]`; `chunk` is the file offset
    /// of a decompressed chunk, which errors name (offsets in `buf` are not the file's).
    fn records(
        &mut self,
        buf: &[u8],
        start: usize,
        end: usize,
        chunk: Option<usize>,
    ) -> Result<(), BagError> {
        let mut at = start;
        while at < end {
            if end - at < HEADER_LEN {
                return Err(
                    self.corrupt(chunk.unwrap_or(at), "a record inside a chunk is cut short")
                );
            }
            let opcode = buf[at];
            let len = u64_at(buf, at + 1);
            let start = at + HEADER_LEN;
            if len > (end - start) as u64 {
                return Err(self.corrupt(
                    chunk.unwrap_or(at),
                    format!(
                        "a {} record inside a chunk needs {len} bytes but the chunk has {}",
                        opcode_name(opcode),
                        end - start
                    ),
                ));
            }
            let body = &buf[start..start + len as usize];
            if opcode == 0 {
                return Err(
                    self.corrupt(chunk.unwrap_or(at), "a record inside a chunk has opcode 0")
                );
            }
            self.record(chunk.unwrap_or(at), opcode, start, body)?;
            at = start + len as usize;
        }
        Ok(())
    }

    fn record(
        &mut self,
        pos: usize,
        opcode: u8,
        body_start: usize,
        body: &[u8],
    ) -> Result<(), BagError> {
        match opcode {
            op::MESSAGE => {
                if body.len() < MESSAGE_HEADER_LEN {
                    return Err(self.corrupt(pos, "a message record is too short"));
                }
                let channel = u16::from_le_bytes([body[0], body[1]]);
                if !self.channels.contains_key(&channel) {
                    return Err(self.corrupt(
                        pos,
                        format!("a message is on channel {channel}, which was never defined"),
                    ));
                }
                self.messages.push(MessageRef {
                    source: self.source,
                    channel,
                    sequence: u32::from_le_bytes([body[2], body[3], body[4], body[5]]),
                    log_time: u64_at(body, 6),
                    publish_time: u64_at(body, 14),
                    start: body_start + MESSAGE_HEADER_LEN,
                    len: body.len() - MESSAGE_HEADER_LEN,
                });
            }
            op::SCHEMA => match parse_checked(opcode, body) {
                Ok(Record::Schema { header, .. }) => {
                    self.schemas.insert(header.id, header.name);
                }
                Ok(_) => {}
                Err(e) => return Err(self.corrupt(pos, format!("unreadable schema: {e}"))),
            },
            op::CHANNEL => match parse_checked(opcode, body) {
                Ok(Record::Channel(c)) => {
                    let type_name = c
                        .metadata
                        .get(TYPE_KEY)
                        .cloned()
                        .or_else(|| self.schemas.get(&c.schema_id).cloned())
                        .unwrap_or_default();
                    let encoding = if c.message_encoding.is_empty() {
                        c.metadata.get(CODEC_KEY).cloned().unwrap_or_default()
                    } else {
                        c.message_encoding
                    };
                    // A QoS that does not parse (another tool's, a damaged one) is no QoS.
                    let qos = c
                        .metadata
                        .get(QOS_KEY)
                        .and_then(|q| serde_json::from_str(q).ok());
                    self.channels.insert(
                        c.id,
                        BagChannel {
                            id: c.id,
                            topic: c.topic,
                            encoding,
                            type_name,
                            qos,
                        },
                    );
                }
                Ok(_) => {}
                Err(e) => return Err(self.corrupt(pos, format!("unreadable channel: {e}"))),
            },
            _ => {}
        }
        Ok(())
    }
}

/// The largest chunk rosy decompresses: a damaged size field must not reserve more.
const MAX_CHUNK: u64 = 1 << 30;

/// A compressed chunk's records (`zstd` or `lz4`), checked to be `size` bytes as declared.
fn decompress(compression: &str, data: &[u8], size: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    if size > MAX_CHUNK {
        return Err(format!(
            "a chunk declares {size} bytes uncompressed, more than the {MAX_CHUNK} rosy reads"
        ));
    }
    // Reserved from what is there, not from the declared size alone: a damaged header must not
    // reserve a gigabyte (the output still grows to the real size).
    let reserve = (size as usize)
        .min(data.len().saturating_mul(16))
        .min(64 << 20);
    let mut out = Vec::with_capacity(reserve);
    // One byte more than declared is read, so a chunk that is larger is caught.
    let limit = size + 1;
    let result = match compression {
        "zstd" => {
            zstd::stream::read::Decoder::new(data).and_then(|d| d.take(limit).read_to_end(&mut out))
        }
        "lz4" => lz4::Decoder::new(data).and_then(|d| d.take(limit).read_to_end(&mut out)),
        other => {
            return Err(format!(
                "its chunks are compressed with {other:?}; rosy reads zstd, lz4 and uncompressed \
                 MCAP (convert it with `mcap compress --compression zstd`)"
            ));
        }
    };
    result.map_err(|e| format!("a {compression} chunk does not decompress: {e}"))?;
    if out.len() as u64 != size {
        return Err(format!(
            "a {compression} chunk decompresses to {} bytes, its header says {size}",
            out.len()
        ));
    }
    Ok(out)
}

/// Checks a chunk's records against the CRC its header gives (0: none given).
fn check_crc(records: &[u8], expected: u32) -> Result<(), String> {
    if expected == 0 {
        return Ok(());
    }
    let crc = crc32fast::hash(records);
    if crc != expected {
        return Err(format!(
            "the chunk's checksum is {crc:08x}, its header says {expected:08x}"
        ));
    }
    Ok(())
}

/// `mcap::parse_record`, once the record's length fields are known to fit it.
fn parse_checked(opcode: u8, body: &[u8]) -> Result<Record<'_>, String> {
    lengths_fit(opcode, body)?;
    mcap::parse_record(opcode, body).map_err(|e| e.to_string())
}

/// Checks that every length-prefixed field of a chunk, schema or channel record fits in the
/// record, before the `mcap` crate parses it: it reserves a declared string length up front, so
/// a damaged length would allocate up to 4 GiB (found by fuzzing `rosy::fuzzing::bag_reader`).
fn lengths_fit(opcode: u8, body: &[u8]) -> Result<(), String> {
    /// Skips one u32-length-prefixed field at `at`, within `end`.
    fn field(body: &[u8], at: usize, end: usize) -> Result<usize, String> {
        let len = body
            .get(at..at + 4)
            .filter(|_| at + 4 <= end)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| format!("a field at byte {at} runs past its record"))?;
        let next = at + 4 + len;
        if next > end {
            return Err(format!(
                "a field at byte {at} declares {len} bytes, more than its record holds"
            ));
        }
        Ok(next)
    }
    let end = body.len();
    match opcode {
        // start u64, end u64, uncompressed size u64, crc u32, then the compression name.
        op::CHUNK => field(body, 28, end).map(drop),
        // id u16, then name, encoding, data.
        op::SCHEMA => {
            let at = field(body, 2, end)?;
            let at = field(body, at, end)?;
            field(body, at, end).map(drop)
        }
        // id u16, schema id u16, topic, message encoding, then the metadata map: its byte
        // length, then key and value strings within it.
        op::CHANNEL => {
            let at = field(body, 4, end)?;
            let at = field(body, at, end)?;
            let map_end = field(body, at, end)?;
            let mut at = at + 4;
            while at < map_end {
                at = field(body, at, map_end)?;
                at = field(body, at, map_end)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_length_past_its_record_is_refused_before_parsing() {
        // A channel: id, schema id, topic "t", encoding "", metadata of 0 bytes.
        let mut channel = vec![1, 0, 0, 0];
        channel.extend_from_slice(&1u32.to_le_bytes());
        channel.push(b't');
        channel.extend_from_slice(&0u32.to_le_bytes());
        channel.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(lengths_fit(op::CHANNEL, &channel), Ok(()));
        let mut huge = channel.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            lengths_fit(op::CHANNEL, &huge)
                .unwrap_err()
                .contains("declares")
        );
        // A metadata entry whose key claims more than the map.
        let mut entry = channel[..channel.len() - 4].to_vec();
        entry.extend_from_slice(&8u32.to_le_bytes());
        entry.extend_from_slice(&1000u32.to_le_bytes());
        entry.extend_from_slice(&[0; 4]);
        assert!(lengths_fit(op::CHANNEL, &entry).is_err());
        // A chunk whose compression name claims 4 GiB.
        let mut chunk = vec![0u8; 28];
        chunk.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(lengths_fit(op::CHUNK, &chunk).is_err());
    }
    use crate::bag::BagWriter;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rosy-bag-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write_bag(path: &Path, n: u64) {
        let mut w = BagWriter::create(path).unwrap();
        let a = w.channel("a", "msgpack", "my::Type").unwrap();
        let b = w.channel("b", "json", "").unwrap();
        for i in 0..n {
            let channel = if i % 4 == 3 { b } else { a };
            w.write(channel, 1_000_000_000 + i * 1_000_000, 0, &[i as u8; 100])
                .unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn a_channels_qos_is_recorded_and_read_back() {
        let dir = temp("qos");
        let path = dir.join("q.mcap");
        let mut w = BagWriter::create(&path).unwrap();
        w.set_qos("map", crate::qos::Qos::latched().reliable());
        let map = w.channel("map", "msgpack", "").unwrap();
        let plain = w.channel("odom", "msgpack", "").unwrap();
        w.write(map, 1, 1, &[0x90]).unwrap();
        w.write(plain, 2, 2, &[0x90]).unwrap();
        w.finish().unwrap();
        let bag = Bag::open(&path).unwrap();
        let qos = |topic: &str| bag.channels().find(|c| c.topic == topic).unwrap().qos;
        assert_eq!(qos("map"), Some(crate::qos::Qos::latched().reliable()));
        assert_eq!(qos("odom"), None);
    }

    #[test]
    fn a_cdr_channel_is_written_in_ros2s_form_and_reads_back_as_its_ros2_type() {
        let dir = temp("cdr");
        let path = dir.join("ros2.mcap");
        let mut w = BagWriter::create(&path).unwrap();
        let definition = "float64 temperature\nfloat64 variance\n";
        let t = w
            .cdr_channel("temp", "sensor_msgs/msg/Temperature", Some(definition))
            .unwrap();
        assert_eq!(
            w.cdr_channel("temp", "sensor_msgs/msg/Temperature", Some(definition))
                .unwrap(),
            t
        );
        let bare = w.cdr_channel("odd", "my_msgs/msg/Odd", None).unwrap();
        w.write(t, 1, 1, &[0, 1, 0, 0, 7]).unwrap();
        w.write(bare, 2, 2, &[0, 1, 0, 0]).unwrap();
        w.finish().unwrap();

        let bytes = std::fs::read(&path).unwrap();
        let mut schemas = Vec::new();
        let mut channels = Vec::new();
        for record in mcap::read::LinearReader::new(&bytes).unwrap() {
            match record.unwrap() {
                Record::Schema { header, data } => {
                    schemas.push((header.name, header.encoding, data.into_owned()))
                }
                Record::Channel(c) => channels.push(c),
                _ => {}
            }
        }
        assert_eq!(
            schemas,
            vec![
                (
                    "sensor_msgs/msg/Temperature".to_string(),
                    "ros2msg".to_string(),
                    definition.as_bytes().to_vec()
                ),
                ("my_msgs/msg/Odd".to_string(), "ros2msg".to_string(), vec![]),
            ]
        );
        assert!(channels.iter().all(|c| c.message_encoding == "cdr"));
        assert_eq!(channels[0].metadata[CODEC_KEY], "raw");
        assert_eq!(
            channels[0].metadata[TYPE_KEY],
            "sensor_msgs/msg/Temperature"
        );

        let bag = Bag::open(&path).unwrap();
        let m = bag.message(0).unwrap();
        assert_eq!(m.data, &[0, 1, 0, 0, 7]);
        assert_eq!(m.channel.encoding, "cdr");
        assert_eq!(m.channel.type_name, "sensor_msgs/msg/Temperature");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_ros2_recorders_channel_reads_as_its_schemas_type() {
        // As rosbag2 writes it: no rosy metadata, the type only in the schema's name.
        let mut out = std::io::Cursor::new(Vec::new());
        {
            let mut w = mcap::Writer::new(&mut out).unwrap();
            let schema = w
                .add_schema(
                    "sensor_msgs/msg/Temperature",
                    "ros2msg",
                    b"float64 temperature",
                )
                .unwrap();
            let metadata = BTreeMap::from([("offered_qos_profiles".to_string(), String::new())]);
            let c = w.add_channel(schema, "/temp", "cdr", &metadata).unwrap();
            let header = mcap::records::MessageHeader {
                channel_id: c,
                sequence: 1,
                log_time: 5,
                publish_time: 5,
            };
            w.write_to_known_channel(&header, &[0, 1, 0, 0, 1]).unwrap();
            w.finish().unwrap();
        }
        let bag = Bag::from_vec(Path::new("ros2.mcap"), out.into_inner()).unwrap();
        let c = bag.channels().next().unwrap();
        assert_eq!(
            (c.topic.as_str(), c.encoding.as_str(), c.type_name.as_str()),
            ("/temp", "cdr", "sensor_msgs/msg/Temperature")
        );
        assert_eq!(c.qos, None);
    }

    #[test]
    fn a_written_bag_reads_back_with_its_summary() {
        let dir = temp("roundtrip");
        let path = dir.join("a.mcap");
        write_bag(&path, 100);
        assert!(matches!(
            BagWriter::create(&path),
            Err(BagError::Exists { .. })
        ));
        let bag = Bag::open(&path).unwrap();
        assert!(bag.finished());
        assert_eq!(bag.len(), 100);
        let m = bag.message(5).unwrap();
        assert_eq!((m.channel.topic.as_str(), m.data), ("a", &[5u8; 100][..]));
        assert_eq!(m.log_time, 1_005_000_000);
        let s = bag.summary();
        assert_eq!(s.messages, 100);
        assert_eq!((s.start_ns, s.end_ns), (1_000_000_000, 1_099_000_000));
        assert!((s.duration_s - 0.099).abs() < 1e-9);
        assert_eq!(s.topics.len(), 2);
        assert_eq!((s.topics[0].messages, s.topics[0].share), (75, 75.0));
        assert_eq!(s.topics[0].type_name, "my::Type");
        assert_eq!(
            (s.topics[1].codec.as_str(), s.topics[1].messages),
            ("json", 25)
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn compressed_bags_read_back_whole() {
        use crate::bag::BagCompression;
        let dir = temp("compressed");
        for compression in [BagCompression::Zstd, BagCompression::Lz4] {
            let path = dir.join(format!("{compression}.mcap"));
            let mut w = BagWriter::create_compressed(&path, compression).unwrap();
            let a = w.channel("a", "msgpack", "my::Type").unwrap();
            for i in 0..300u64 {
                w.write(a, i, i, &[i as u8; 1000]).unwrap();
                if i == 100 {
                    w.flush().unwrap();
                }
            }
            w.finish().unwrap();
            let raw = std::fs::read(&path).unwrap();
            // 300 kB of repeated bytes compress well: the chunks really are compressed.
            assert!(raw.len() < 50_000, "{compression}: {} bytes", raw.len());
            let bag = Bag::open(&path).unwrap();
            assert!(bag.finished());
            assert_eq!(bag.len(), 300);
            let m = bag.message(250).unwrap();
            assert_eq!((m.log_time, m.data), (250, &[250u8; 1000][..]));
            // A flipped byte inside a compressed chunk is refused, not read as other data.
            let mut damaged = raw.clone();
            let middle = raw.len() / 4;
            damaged[middle] ^= 0x55;
            if let Err(e) = Bag::from_vec(&path, damaged) {
                let e = e.to_string();
                assert!(e.contains("damaged") || e.contains("truncated"), "{e}");
            }
        }
        // A compression rosy does not know is named.
        let e = decompress("brotli", b"", 0).unwrap_err();
        assert!(e.contains("brotli"), "{e}");
        assert!(decompress("zstd", b"nonsense", 10).is_err());
        assert!(
            decompress("zstd", b"", MAX_CHUNK + 1)
                .unwrap_err()
                .contains("more than")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_unfinished_bag_is_read_up_to_its_last_chunk() {
        let dir = temp("unfinished");
        let path = dir.join("a.mcap");
        let mut w = BagWriter::create(&path).unwrap();
        let a = w.channel("a", "raw", "").unwrap();
        for i in 0..10u64 {
            w.write(a, i, i, b"x").unwrap();
        }
        w.flush().unwrap();
        for i in 10..15u64 {
            w.write(a, i, i, b"y").unwrap();
        }
        // What `kill -9` leaves: the flushed chunk, then a chunk with its placeholder length.
        let mut data = std::fs::read(&path).unwrap();
        let cut = data.len();
        data.extend_from_slice(&[op::CHUNK]);
        data.extend_from_slice(&u64::MAX.to_le_bytes());
        data.extend_from_slice(&[0; 20]);
        let bag = Bag::from_vec(&path, data.clone()).unwrap();
        assert_eq!(bag.len(), 10);
        assert!(bag.unfinished().unwrap().contains("unfinished chunk"));
        let bag = Bag::from_vec(&path, data[..cut].to_vec()).unwrap();
        assert_eq!(bag.len(), 10);
        assert!(!bag.finished());
        drop(w);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn damaged_files_are_refused_with_the_reason() {
        let dir = temp("damaged");
        let path = dir.join("a.mcap");
        write_bag(&path, 100);
        let data = std::fs::read(&path).unwrap();
        let err = |bytes: &[u8]| {
            Bag::from_vec(&path, bytes.to_vec())
                .unwrap_err()
                .to_string()
        };
        let e = err(&data[..data.len() / 2]);
        assert!(
            e.contains("is truncated") && e.contains("chunk record"),
            "{e}"
        );
        assert!(err(b"").contains("empty"));
        assert!(err(&data[..4]).contains("inside the MCAP magic"));
        assert!(err(b"hello, world, not a bag").contains("not an MCAP file"));
        let mut flipped = data.clone();
        let middle = data.len() / 3;
        flipped[middle] ^= 0xff;
        let e = err(&flipped);
        assert!(e.contains("damaged") || e.contains("truncated"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
