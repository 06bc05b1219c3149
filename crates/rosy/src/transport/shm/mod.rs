//! Shared-memory transport: one named segment per (publisher node, topic) holding an SPMC ring
//! of slots, chunk files beside it for large payloads (sized to what flows, `pool.rs`), futex
//! wake-ups per segment or through a subscriber's doorbell (`bell.rs`), and crash recovery.
//!
//! - [`ShmPublisher`] writes messages: small ones inline in a slot, larger ones (any size up to
//!   [`ShmConfig::max_message`]) in a chunk file, which [`ShmPublisher::loan`] hands out for
//!   filling in place (zero copy).
//! - [`ShmSubscriber`] reads them: inline ones copied, chunk ones in place as a [`Sample`]
//!   borrowing the mapping; the chunk is not reused while the sample lives.
//! - A slow subscriber loses the oldest messages and counts them ([`ShmSubscriber::lost`]); the
//!   publisher never waits for anyone, unless the subscriber asked to be reliable or the
//!   publisher to wait for every reader ([`ShmPublisher::set_waits_for_readers`]: then
//!   `ShmError::ReaderBehind`, and [`ShmPublisher::announce_wait`] sleeps until a reader moves);
//!   a torn message is never returned.
//! - A subscriber killed while holding samples is found by pid and its chunks reclaimed; a
//!   killed publisher is noticed (`PublisherGone`) and its segment removed by
//!   [`remove_stale_segments`].
//! - A file another process truncates kills nobody: every mapping is guarded (`sigbus.rs`);
//!   sends on it fail with [`ShmError::Truncated`] (the caller sends by TCP), reads stop.
//!
//! ```
//! use rosy::transport::shm::{ShmConfig, ShmPublisher, ShmSubscriber, segment_name};
//! let name = segment_name("doc", &format!("{:032x}", std::process::id()), "camera/frames");
//! let publisher = ShmPublisher::create(&name, &ShmConfig::default()).unwrap();
//! let mut subscriber = ShmSubscriber::open(&name).unwrap();
//! publisher.send(7, b"hello").unwrap();
//! let mut frame = publisher.loan(1_000_000).unwrap();
//! frame.fill(0xab);                      // written once, in shared memory
//! frame.send(8);
//! let hello = subscriber.try_recv().unwrap().unwrap();
//! assert_eq!((&*hello, hello.tag()), (&b"hello"[..], 7));
//! let big = subscriber.try_recv().unwrap().unwrap();
//! assert!(big.len() == 1_000_000 && big.iter().all(|&b| b == 0xab));
//! ```
//!
//! Nothing here knows about topics, codecs or nodes beyond the segment name.

mod bell;
mod config;
mod error;
mod file;
mod futex;
mod housekeeping;
pub(crate) mod layout;
pub(crate) mod pool;
mod publisher;
pub(crate) mod ring;
mod segment;
mod sigbus;
mod subscriber;
mod sync;
#[cfg(test)]
mod tests;

pub use bell::{Doorbell, bell_name};
pub use config::{DEFAULT_MAX_MESSAGE, ShmConfig};
pub use error::ShmError;
pub use file::pid_alive;
pub use housekeeping::{
    PREFIX, node_bytes, remove_stale_segments, rosy_file_domain, segment_bytes, segment_name,
};
pub use publisher::{Loan, ShmPublisher};
pub use ring::RoomWait;
pub use segment::monotonic_ns;
pub use subscriber::{Sample, ShmSubscriber};
