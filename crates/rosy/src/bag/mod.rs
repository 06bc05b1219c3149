//! Bags: recordings of topic messages as MCAP files (<https://mcap.dev>).
//!
//! [`BagWriter`] writes messages exactly as they travelled (their encoded bytes, never
//! re-encoded), one MCAP channel per topic and codec: `message_encoding` is the codec's name
//! (`msgpack`, `json`, `raw`, `rkyv` or a custom codec's name) and the channel's schema is named
//! after the Rust type when the publisher announced it; or, for Foxglove, as JSON with a JSON
//! schema ([`BagWriter::json_channel`], fed by `rosy::msgs::JsonForm`). Chunks are
//! uncompressed, zstd or lz4 ([`BagCompression`]) and finished at least every
//! [`FLUSH_INTERVAL`], so a recorder killed with `kill -9` loses at most that much.
//!
//! [`Bag`] reads a whole file record by record (decompressing zstd and lz4 chunks), without
//! trusting its summary, so a bag its
//! recorder never finished (no footer) is still read up to its last complete record, while a
//! file cut in the middle of a finished record, damaged, or not MCAP at all is refused with a
//! [`BagError`] naming the file and the problem.
//!
//! This module only touches files: it never joins a mesh (the `rosy bag` commands do that) and
//! never panics on what it reads.

mod read;
mod write;

pub use read::{Bag, BagChannel, BagMessage, BagSummary, TopicSummary};
pub use write::{BagCompression, BagWriter, FLUSH_INTERVAL};

/// Channel metadata key holding the rosy codec name of a channel's messages.
pub const CODEC_KEY: &str = "rosy.codec";
/// Channel metadata key holding the Rust type name of a channel's messages (may be empty).
pub const TYPE_KEY: &str = "rosy.type";
/// Channel metadata key holding the quality of service the topic's publisher announced
/// (`rosy::qos::Qos` as JSON); absent when it announced none.
pub const QOS_KEY: &str = "rosy.qos";

/// Why a bag could not be written or read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BagError {
    /// The file could not be opened, mapped, flushed or removed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// [`BagWriter::create`] was given a path that already exists; a bag is never overwritten.
    #[error("{path} already exists: choose another path or remove it first")]
    Exists {
        /// The file.
        path: String,
    },
    /// The file is empty or does not begin with the MCAP magic bytes.
    #[error("{path} is not an MCAP file: {reason}")]
    NotMcap {
        /// The file.
        path: String,
        /// What was found instead.
        reason: String,
    },
    /// The file ends inside its magic or header, or in the middle of a record its recorder had
    /// finished (an incomplete copy), not where a stopped recorder leaves a file.
    #[error("{path} is truncated: {reason}")]
    Truncated {
        /// The file.
        path: String,
        /// Where the file ends and what it still needed.
        reason: String,
    },
    /// A record is out of place, impossible or unreadable, fails its checksum or does not
    /// decompress.
    #[error("{path} is damaged at byte {offset}: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// Byte offset in the file of the damaged record (for a record inside a compressed
        /// chunk, the chunk's offset).
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A valid MCAP file that rosy cannot read: its chunks use a compression other than zstd
    /// or lz4.
    #[error("{path}: {reason}")]
    Unsupported {
        /// The file.
        path: String,
        /// What rosy does not read, and how to convert the file.
        reason: String,
    },
    /// The `mcap` writer failed (creating the file's header, a schema or channel, a message, a
    /// chunk or the summary).
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The `mcap` crate's error.
        source: mcap::McapError,
    },
}

fn show(path: &std::path::Path) -> String {
    path.display().to_string()
}
