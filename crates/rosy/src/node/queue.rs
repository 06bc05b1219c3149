//! The receive queue behind each subscription: bounded, and when full it drops the oldest
//! message and counts the loss, so a slow subscriber never stalls the connection it shares.
//!
//! A subscription with an *inline handler* (`Node::on_message`) has no queue at all: the
//! delivering thread runs the handler for each message, outside the mesh's locks.
//!
//! A *reliable* subscription's queue never drops: past its capacity it is counted in the node's
//! [`Backlog`], and the node's readers stop handing more over until it has room again: TCP links
//! stop reading (the sender's outbox holds the rest), the shared-memory reader stages up to
//! 32 MiB and then leaves the ring unread. Past that the publisher waits (up to its send timeout).

use crate::codec::CodecId;
use crate::qos::Qos;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use tokio::sync::Notify;

/// One received message, still encoded.
#[derive(Clone, Debug)]
pub struct Received {
    /// The codec that wrote the payload.
    pub codec: CodecId,
    /// The message's bytes.
    pub payload: Bytes,
}

/// A function run for each message on the thread that delivers it (`Node::on_message`).
pub(crate) type Inline = Arc<dyn Fn(&Received) + Send + Sync>;

/// The reliable subscriptions of one node that are at or past their capacity.
#[derive(Default)]
pub(crate) struct Backlog {
    over: AtomicUsize,
    room: Notify,
    /// Called when a queue gets room again (wakes the shared-memory reader).
    on_room: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl Backlog {
    /// Whether some reliable subscription is full: readers take no more for now.
    pub fn full(&self) -> bool {
        self.over.load(Ordering::Acquire) > 0
    }

    /// Waits until no reliable subscription is full.
    pub async fn room(&self) {
        loop {
            let notified = self.room.notified();
            if !self.full() {
                return;
            }
            notified.await;
        }
    }

    /// What to call when a full queue gets room (set once).
    pub fn on_room(&self, f: impl Fn() + Send + Sync + 'static) {
        let _ = self.on_room.set(Box::new(f));
    }
}

pub(crate) struct SubQueue {
    pub topic: String,
    /// The QoS its subscriber asked (announced for the topic while the queue is subscribed).
    pub qos: Qos,
    items: Mutex<VecDeque<Received>>,
    capacity: usize,
    ready: Notify,
    lost: AtomicU64,
    closed: AtomicBool,
    /// Transient-local QoS: history for late joiners is handed to this queue.
    transient_local: bool,
    /// Reliable QoS: never drops; counted in the node's backlog while full.
    reliable: Option<Arc<Backlog>>,
    over: AtomicBool,
    /// Run for each message instead of queueing it (see `Node::on_message`).
    inline: Option<Inline>,
}

impl SubQueue {
    /// A queue of `capacity`, transient-local or not, reliable when given the node's backlog.
    pub fn with_qos(
        topic: &str,
        capacity: usize,
        transient_local: bool,
        reliable: Option<Arc<Backlog>>,
    ) -> Self {
        SubQueue {
            qos: Qos::default(),
            reliable,
            over: AtomicBool::new(false),
            transient_local,
            topic: topic.to_string(),
            items: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            capacity: capacity.max(1),
            ready: Notify::new(),
            lost: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            inline: None,
        }
    }

    /// This queue, its messages handed to `handler` as they come instead of queued.
    pub fn with_inline(mut self, handler: Inline) -> Self {
        self.inline = Some(handler);
        self
    }

    /// The handler messages go to instead of the queue, if any. The delivering code calls it
    /// outside the mesh's locks (a handler may publish).
    pub fn inline(&self) -> Option<&Inline> {
        self.inline.as_ref()
    }

    pub fn push(&self, message: Received) {
        self.push_many(std::slice::from_ref(&message));
    }

    /// Appends several messages with one lock and one wake-up.
    pub fn push_many(&self, messages: &[Received]) {
        {
            let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
            for message in messages {
                if items.len() >= self.capacity && self.reliable.is_none() {
                    items.pop_front();
                    self.lost.fetch_add(1, Ordering::Relaxed);
                }
                items.push_back(message.clone());
            }
            if let Some(backlog) = &self.reliable {
                if items.len() >= self.capacity && !self.over.swap(true, Ordering::AcqRel) {
                    backlog.over.fetch_add(1, Ordering::AcqRel);
                }
            }
        }
        self.ready.notify_one();
    }

    /// The oldest queued message, without waiting.
    pub fn try_pop(&self) -> Option<Received> {
        let (message, left) = {
            let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
            (items.pop_front(), items.len())
        };
        if message.is_some() && left < self.capacity {
            self.leave_backlog();
        }
        message
    }

    /// Whether the queue is closed (the node closed or the subscription ended).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub async fn pop(&self) -> Option<Received> {
        loop {
            let (message, left) = {
                let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
                (items.pop_front(), items.len())
            };
            if let Some(m) = message {
                if left < self.capacity {
                    self.leave_backlog();
                }
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
        // Nobody reads a closed queue: it must not hold the node's readers back.
        self.leave_backlog();
    }

    fn leave_backlog(&self) {
        if let Some(backlog) = &self.reliable {
            if self.over.swap(false, Ordering::AcqRel) {
                backlog.over.fetch_sub(1, Ordering::AcqRel);
                backlog.room.notify_waiters();
                if let Some(f) = backlog.on_room.get() {
                    f();
                }
            }
        }
    }

    pub fn reliable(&self) -> bool {
        self.reliable.is_some()
    }

    /// Counts messages lost before they reached this queue (shared memory overwrote them).
    pub fn add_lost(&self, n: u64) {
        self.lost.fetch_add(n, Ordering::Relaxed);
    }

    pub fn transient_local(&self) -> bool {
        self.transient_local
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
        let q = SubQueue::with_qos("t", 2, false, None);
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

    /// A reliable queue never drops; it holds its node's readers back while at capacity, and
    /// lets them go once a message is taken, whether by waiting (`pop`) or not (`try_pop`).
    #[tokio::test]
    async fn a_reliable_queue_keeps_everything_and_is_full_until_read() {
        let backlog = Arc::new(Backlog::default());
        let q = SubQueue::with_qos("t", 2, false, Some(backlog.clone()));
        for i in 0..3 {
            q.push(msg(i));
        }
        assert_eq!(q.lost(), 0);
        assert!(backlog.full());
        assert_eq!(q.try_pop().unwrap().payload[0], 0);
        assert!(backlog.full(), "2 left: still at capacity");
        assert_eq!(q.try_pop().unwrap().payload[0], 1);
        assert!(!backlog.full(), "taken without waiting: room again");
        q.push(msg(3));
        assert!(backlog.full());
        assert_eq!(q.pop().await.unwrap().payload[0], 2);
        assert!(!backlog.full(), "taken by waiting: room again");
        assert_eq!(q.try_pop().unwrap().payload[0], 3);
    }
}
