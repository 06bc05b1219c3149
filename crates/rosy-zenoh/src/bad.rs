//! Samples and queries from zenoh that a bridge drops (garbage on a `rosy/...` key, an unknown
//! codec, a payload that does not read as its codec says): each kind of problem is logged once
//! per key, then only counted, so a peer flooding garbage neither fills the log nor stops
//! the bridge.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many (key, problem) pairs are remembered before problems are only counted.
const SAID_MAX: usize = 1024;

#[derive(Default)]
pub struct Dropped {
    said: Mutex<HashSet<(String, String)>>,
    count: AtomicU64,
}

impl Dropped {
    /// Drops what came on `key` because of `why`: logs it the first time, counts it always.
    pub fn drop_one(&self, key: &str, why: &str) {
        self.count.fetch_add(1, Ordering::Relaxed);
        // The kind of problem is the text before its first ':' (details vary per message).
        let kind = why.split(':').next().unwrap_or(why).to_string();
        let first = {
            let mut said = self.said.lock().unwrap_or_else(|e| e.into_inner());
            said.len() < SAID_MAX && said.insert((key.to_string(), kind))
        };
        if first {
            tracing::warn!("zenoh bridge: dropped what came on {key}: {why} (said once per key)");
        }
    }

    /// How many were dropped so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}
