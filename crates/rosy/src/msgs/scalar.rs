//! [`Scalar`]: one sample of a value over time (a battery voltage, a motor current), for plots.

use super::stamp::Timestamp;

/// One sample of a time series; Foxglove's Plot panel plots `value` against `timestamp`.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    serde::Serialize,
    serde::Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Scalar {
    /// When the value was sampled.
    pub timestamp: Timestamp,
    /// The sampled value, in whatever unit the topic uses.
    pub value: f64,
}
