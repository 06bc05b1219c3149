//! What a node lets in before it knows who is calling: descriptors, connections in handshake,
//! and how much it says about those it turns away.
//!
//! - At start a node raises its soft `RLIMIT_NOFILE` to the hard limit ([`raise_fd_limit`]).
//! - An accepted connection whose descriptor lies in the top [`fd_reserve`] of the soft limit is
//!   closed at once: descriptors are handed out lowest first, so that many are (nearly) all that
//!   is left, and they are kept for the registry, shared memory, mDNS and dialing out.
//! - At most `max_handshakes` (64) accepted connections may be in handshake at once; further
//!   ones are closed at once.
//! - Refusals and accept errors are logged through a [`RateLimit`]: a burst of a few lines, then
//!   one a second, each saying how many were left out.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most connections in handshake at once, by default.
pub const MAX_HANDSHAKES: usize = 64;

/// Raises the soft descriptor limit to the hard limit; returns the soft limit in force after.
pub fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let before = limit.current;
        limit.current = limit.maximum;
        match setrlimit(Resource::Nofile, limit) {
            Ok(()) => tracing::debug!(
                "raised the descriptor limit from {before:?} to {:?}",
                limit.maximum
            ),
            Err(e) => tracing::debug!("cannot raise the descriptor limit: {e}"),
        }
    }
    getrlimit(Resource::Nofile).current
}

/// The current soft descriptor limit (`None`: unlimited).
pub fn fd_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// Descriptors kept free of accepted connections under a soft limit of `limit`: 64, or half of
/// a limit below 128.
pub fn fd_reserve(limit: u64) -> u64 {
    64.min(limit / 2)
}

/// Whether an accepted connection on descriptor `fd` eats into the reserve.
pub fn in_reserve(fd: i32, limit: Option<u64>) -> bool {
    match limit {
        Some(limit) => fd as u64 + fd_reserve(limit) >= limit,
        None => false,
    }
}

/// Lets through a burst of `burst` lines, then one per `every`; counts the rest.
pub struct RateLimit {
    burst: u32,
    every: Duration,
    state: Mutex<RateState>,
}

struct RateState {
    tokens: u32,
    refilled: Instant,
    suppressed: u64,
}

impl RateLimit {
    pub fn new(burst: u32, every: Duration) -> Self {
        RateLimit {
            burst,
            every,
            state: Mutex::new(RateState {
                tokens: burst,
                refilled: Instant::now(),
                suppressed: 0,
            }),
        }
    }

    /// `Some(n)`: log now, mentioning `n` lines left out since the last one; `None`: stay quiet.
    pub fn allow(&self) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let earned = (now.duration_since(s.refilled).as_nanos() / self.every.as_nanos().max(1))
            .min(self.burst as u128) as u32;
        if earned > 0 {
            s.tokens = (s.tokens + earned).min(self.burst);
            s.refilled = now;
        }
        if s.tokens == 0 {
            s.suppressed += 1;
            return None;
        }
        s.tokens -= 1;
        Some(std::mem::take(&mut s.suppressed))
    }
}

/// " (N more like it not logged)" when N > 0.
pub fn suppressed_note(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} more refused or failed connections not logged)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_line_per_period_with_the_count_left_out() {
        let limit = RateLimit::new(3, Duration::from_millis(200));
        let allowed: Vec<_> = (0..100).map(|_| limit.allow()).collect();
        assert_eq!(allowed.iter().filter(|a| a.is_some()).count(), 3);
        std::thread::sleep(Duration::from_millis(210));
        assert_eq!(limit.allow(), Some(97));
        assert_eq!(limit.allow(), None);
    }

    #[test]
    fn the_reserve_is_the_top_of_the_limit() {
        assert!(!in_reserve(100, Some(1024)));
        assert!(in_reserve(960, Some(1024)));
        assert!(!in_reserve(191, Some(256)));
        assert!(in_reserve(192, Some(256)));
        assert!(!in_reserve(1_000_000, None));
    }
}
