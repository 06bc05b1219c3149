//! The receive queue behind each subscription: bounded, and when full it drops the oldest
//! message and counts the loss, so a slow subscriber never stalls the connection it shares.

use crate::codec::CodecId;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::Notify;

/// One received message, still encoded.
#[derive(Clone, Debug)]
pub struct Received {
    pub codec: CodecId,
    pub payload: Bytes,
}

pub(crate) struct SubQueue {
    pub topic: String,
    items: Mutex<VecDeque<Received>>,
    capacity: usize,
    ready: Notify,
    lost: AtomicU64,
    closed: AtomicBool,
}

impl SubQueue {
    pub fn new(topic: &str, capacity: usize) -> Self {
        SubQueue {
            topic: topic.to_string(),
            items: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            capacity: capacity.max(1),
            ready: Notify::new(),
            lost: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    pub fn push(&self, message: Received) {
        {
            let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
            if items.len() >= self.capacity {
                items.pop_front();
                self.lost.fetch_add(1, Ordering::Relaxed);
            }
            items.push_back(message);
        }
        self.ready.notify_one();
    }

    /// Appends several messages with one lock and one wake-up.
    pub fn push_many(&self, messages: &[Received]) {
        {
            let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
            for message in messages {
                if items.len() >= self.capacity {
                    items.pop_front();
                    self.lost.fetch_add(1, Ordering::Relaxed);
                }
                items.push_back(message.clone());
            }
        }
        self.ready.notify_one();
    }

    /// The oldest queued message, without waiting.
    pub fn try_pop(&self) -> Option<Received> {
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }

    /// Whether the queue is closed (the node closed or the subscription ended).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub async fn pop(&self) -> Option<Received> {
        loop {
            if let Some(m) = self
                .items
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front()
            {
                return Some(m);
            }
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            self.ready.notified().await;
        }
    }

    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ready.notify_one();
    }

    /// Counts messages lost before they reached this queue (shared memory overwrote them).
    pub fn add_lost(&self, n: u64) {
        self.lost.fetch_add(n, Ordering::Relaxed);
    }

    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(i: u8) -> Received {
        Received {
            codec: CodecId::Raw,
            payload: Bytes::from(vec![i]),
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_the_oldest_and_counts_it() {
        let q = SubQueue::new("t", 2);
        for i in 0..5 {
            q.push(msg(i));
        }
        assert_eq!(q.lost(), 3);
        assert_eq!(q.pop().await.unwrap().payload[0], 3);
        assert_eq!(q.try_pop().unwrap().payload[0], 4);
        assert!(q.try_pop().is_none());
        assert!(!q.is_closed());
        q.close();
        assert!(q.pop().await.is_none());
    }
}
