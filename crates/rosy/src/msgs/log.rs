//! Log lines (`foxglove.Log`, what the Log panel lists).

use super::stamp::Timestamp;

/// How severe a log line is; numbered as Foxglove numbers them.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde_repr::Serialize_repr,
    serde_repr::Deserialize_repr,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[repr(u8)]
pub enum LogLevel {
    /// Not given (Foxglove's `UNKNOWN`, 0; the default).
    #[default]
    Unknown = 0,
    /// Detail for debugging (`DEBUG`, 1).
    Debug = 1,
    /// Normal operation (`INFO`, 2).
    Info = 2,
    /// Something unexpected that did not stop the work (`WARNING`, 3).
    Warning = 3,
    /// Something failed (`ERROR`, 4).
    Error = 4,
    /// Something failed and the program cannot go on (`FATAL`, 5).
    Fatal = 5,
}

/// One log line: who (`name`, a node), where (`file`, `line`), what and when.
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    serde::Serialize,
    serde::Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Log {
    /// When the line was logged.
    pub timestamp: Timestamp,
    /// How severe it is.
    pub level: LogLevel,
    /// The text.
    pub message: String,
    /// Who logged it: the node's or process's name.
    pub name: String,
    /// The source file it was logged from.
    pub file: String,
    /// The line in `file` it was logged from.
    pub line: u32,
}
