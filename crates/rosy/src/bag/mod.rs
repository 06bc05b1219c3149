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
pub enum BagError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} already exists: choose another path or remove it first")]
    Exists { path: String },
    #[error("{path} is not an MCAP file: {reason}")]
    NotMcap { path: String, reason: String },
    #[error("{path} is truncated: {reason}")]
    Truncated { path: String, reason: String },
    #[error("{path} is damaged at byte {offset}: {reason}")]
    Corrupt {
        path: String,
        offset: u64,
        reason: String,
    },
    #[error("{path}: {reason}")]
    Unsupported { path: String, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: mcap::McapError,
    },
}

fn show(path: &std::path::Path) -> String {
    path.display().to_string()
}
