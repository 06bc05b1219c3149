//! Bags: recordings of topic messages as MCAP files (<https://mcap.dev>).
//!
//! [`BagWriter`] writes messages exactly as they travelled (their encoded bytes, never
//! re-encoded), one MCAP channel per topic and codec: `message_encoding` is the codec's name
//! (`msgpack`, `json`, `raw`, `rkyv` or a custom codec's name) and the channel's schema is named
//! after the Rust type when the publisher announced it; or, for Foxglove, as JSON with a JSON
//! schema ([`BagWriter::json_channel`], fed by `rosy::msgs::JsonForm`); or, for ROS 2 tools,
//! in ROS 2's serialized form with a `ros2msg` schema ([`BagWriter::cdr_channel`],
//! `message_encoding` [`CDR_ENCODING`]). Chunks are
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

mod error;
mod keys;
mod read;
mod write;

pub use error::BagError;
pub use keys::{CDR_ENCODING, CODEC_KEY, QOS_KEY, ROS2MSG_ENCODING, TYPE_KEY};
pub use read::{Bag, BagChannel, BagMessage, BagSummary, TopicSummary};
pub use write::{BagCompression, BagWriter, FLUSH_INTERVAL};
