//! [`Timestamp`]: the time stamp every message type here carries, as Foxglove writes it.

/// A point in time as Foxglove writes it: seconds and nanoseconds since the Unix epoch.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Timestamp {
    /// Whole seconds since the Unix epoch.
    pub sec: u32,
    /// Nanoseconds past `sec`, 0 to 999 999 999.
    pub nsec: u32,
}

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_nanos(since.as_nanos() as u64)
    }

    /// From nanoseconds since the Unix epoch.
    pub fn from_nanos(ns: u64) -> Timestamp {
        Timestamp {
            sec: (ns / 1_000_000_000) as u32,
            nsec: (ns % 1_000_000_000) as u32,
        }
    }

    /// Nanoseconds since the Unix epoch.
    pub fn as_nanos(&self) -> u64 {
        self.sec as u64 * 1_000_000_000 + self.nsec as u64
    }
}

impl ArchivedTimestamp {
    /// Nanoseconds since the Unix epoch.
    pub fn as_nanos(&self) -> u64 {
        self.sec.to_native() as u64 * 1_000_000_000 + self.nsec.to_native() as u64
    }
}
