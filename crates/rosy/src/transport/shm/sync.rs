//! The atomics of a segment: std's in every real build, loom's under `--cfg rosy_loom`, so the ring's
//! protocol (`ring.rs`) can be model-checked as written. Nothing else differs between the two.

#[cfg(rosy_loom)]
pub use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
#[cfg(not(rosy_loom))]
pub use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
