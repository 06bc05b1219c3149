//! Log lines (`foxglove.Log`, what the Log panel lists).

use super::Timestamp;

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
    #[default]
    Unknown = 0,
    Debug = 1,
    Info = 2,
    Warning = 3,
    Error = 4,
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
    pub timestamp: Timestamp,
    pub level: LogLevel,
    pub message: String,
    pub name: String,
    pub file: String,
    pub line: u32,
}
