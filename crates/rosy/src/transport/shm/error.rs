//! [`ShmError`]: what can go wrong with a segment, each naming the segment or file.

/// Errors of the shared-memory transport; each names the segment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShmError {
    /// A system call on the segment's file failed.
    #[error("shared-memory segment {name}: cannot {action}: {source}")]
    Io {
        /// The segment or chunk file.
        name: String,
        /// What was being done (`"open"`, `"map"`, `"reserve"`...).
        action: &'static str,
        /// What the system said.
        source: std::io::Error,
    },
    /// No such segment (its publisher has not created it, or removed it).
    #[error("shared-memory segment {0} does not exist")]
    NotFound(String),
    /// The segment exists but its publisher has not finished setting it up.
    #[error("shared-memory segment {0} is still being created")]
    NotReady(String),
    /// The file is not a rosy segment of this version (foreign, damaged or stale).
    #[error("{name} is not a valid rosy segment: {reason}")]
    Corrupt {
        /// The file.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The segment's publisher is alive: it cannot be taken over or removed.
    #[error("shared-memory segment {name} belongs to running process {pid}")]
    InUse {
        /// The segment.
        name: String,
        /// The publisher's pid.
        pid: u32,
    },
    /// The segment's publisher died or closed it.
    #[error("the publisher of shared-memory segment {0} is gone")]
    PublisherGone(String),
    /// Every reader slot of the segment is taken.
    #[error("shared-memory segment {name} already serves {max} subscribers")]
    TooManySubscribers {
        /// The segment.
        name: String,
        /// Its reader slots.
        max: usize,
    },
    /// A message is larger than the segment's limit.
    #[error(
        "message of {len} bytes exceeds the shared-memory message limit of {max} bytes of segment {name}"
    )]
    TooLarge {
        /// The segment.
        name: String,
        /// The message's size in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The segment was made without a pool for large messages.
    #[error("shared-memory segment {0} has no payload pool for large messages")]
    NoPool(String),
    /// Subscribers hold every chunk: no room for a new message.
    #[error("every chunk of shared-memory segment {0} is held by subscribers")]
    PoolExhausted(String),
    /// A reader the writer waits for (a reliable one, or any when the publisher waits when
    /// full) has not taken the oldest message, which the ring would overwrite.
    #[error(
        "subscriber (pid {pid}) of shared-memory segment {name} has not read the oldest message yet, and its publisher waits for it"
    )]
    ReaderBehind {
        /// The segment.
        name: String,
        /// The reader's pid.
        pid: u32,
    },
    /// /dev/shm is full: the bytes could not be reserved.
    #[error(
        "/dev/shm has no room for {len} more bytes ({name}); free space there or raise its size (Docker: --shm-size)"
    )]
    NoSpace {
        /// The file that needed them.
        name: String,
        /// The bytes asked for.
        len: usize,
    },
    /// Another process truncated a mapped file; reads of it stopped.
    #[error(
        "shared-memory file {0} was truncated by another process; its messages go by TCP (check what else writes to /dev/shm)"
    )]
    Truncated(String),
    /// A [`ShmConfig`] value out of range, named in the message.
    #[error("invalid shared-memory configuration: {0}")]
    Config(String),
}

impl ShmError {
    pub(super) fn io(name: &str, action: &'static str, source: std::io::Error) -> Self {
        ShmError::Io {
            name: name.to_string(),
            action,
            source,
        }
    }
}
