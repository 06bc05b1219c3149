//! [`BagError`]: why a bag could not be written or read, each naming the file, and how a
//! path is written in one.

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
    /// [`BagWriter::create`](crate::bag::BagWriter::create) was given a path that already exists;
    /// a bag is never overwritten.
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

/// A path as a [`BagError`] names it.
pub(super) fn show(path: &std::path::Path) -> String {
    path.display().to_string()
}
