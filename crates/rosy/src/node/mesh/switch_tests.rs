//! The switch from TCP to shared memory when links and readers come and go: the `ShmSwitch`
//! marker against a link replaced by a duplicate (the two ends of a replaced link need not
//! agree on what its end meant: the side that replaced it sees a link that was no longer
//! current close, while the other may see its current link end before the new one arrives,
//! forget the peer, and read the peer's segment again behind a new, closed gate), a listener
//! that reads a segment again unannounced, and a segment attached twice. Each once left a
//! listener holding what it read from shared memory for good, or reading it twice (the zenoh
//! sites tests, between processes, under load).

use super::lock;
use super::test_nodes::{domain, node};
use crate::node::Node;
use crate::node::preference::TransportPreference;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// Whether `listener`'s gate for `key` opens within a second.
async fn gate_opens(listener: &Node, key: &(String, String)) -> bool {
    let open = || {
        lock(&listener.mesh().same_host.gates)
            .get(key)
            .is_some_and(|g| g.open)
    };
    tokio::time::timeout(Duration::from_secs(1), async {
        while !open() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .is_ok()
}

/// A publisher and a listener of `t` through shared memory, the switch made.
struct Pair {
    publisher: Node,
    listener: Node,
    sender: crate::node::topic::Publisher<u64>,
    received: crate::node::topic::Subscriber<u64>,
    /// The next sequence number to send.
    seq: u64,
}

impl Pair {
    async fn new(test: &str) -> Pair {
        let d = domain(test, TransportPreference::Shm);
        let publisher = node("publisher", &d, TransportPreference::Shm, T).await;
        let listener = node("listener", &d, TransportPreference::Shm, T).await;
        let received = listener.subscriber::<u64>("t").await.unwrap();
        let sender = publisher.publisher::<u64>("t").await.unwrap();
        publisher.wait_for_listener("t", T).await.unwrap();
        let mut pair = Pair {
            publisher,
            listener,
            sender,
            received,
            seq: 0,
        };
        let key = pair.key();
        while !(pair.shm().reading().contains(&key) && gate_opens(&pair.listener, &key).await) {
            pair.flows("messages flow").await;
        }
        pair.flows("messages flow through shared memory").await;
        pair
    }

    /// (publisher, topic): the segment the listener reads, and its gate.
    fn key(&self) -> (String, String) {
        (self.publisher.id(), "t".to_string())
    }

    /// The listener's shared memory.
    fn shm(&self) -> &super::shm::routes::ShmRoutes {
        self.listener.mesh().same_host.routes.as_ref().expect("shm")
    }

    /// Sends until a message sent from now on arrives; panics saying `why` when none does
    /// within [`T`].
    async fn flows(&mut self, why: &str) {
        let first = self.seq;
        tokio::time::timeout(T, async {
            loop {
                self.sender.send(&self.seq).await.unwrap();
                self.seq += 1;
                if let Ok(Some(n)) =
                    tokio::time::timeout(Duration::from_millis(10), self.received.recv()).await
                    && n >= first
                {
                    return;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{why}"));
    }

    async fn close(self) {
        self.publisher.close().await;
        self.listener.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switch_is_said_again_on_the_link_that_replaced_the_one_it_went_on() {
    let mut pair = Pair::new("switch-replaced").await;
    let (pub_id, lis_id) = (pair.publisher.id(), pair.listener.id());
    // The marker is taken to be lost with the link it went on: the gate is shut.
    lock(&pair.listener.mesh().same_host.gates).insert(pair.key(), Default::default());
    // A duplicate, dialed by the smaller id, replaces the link.
    let replaced = if pub_id < lis_id {
        pair.publisher.mesh().dial_again(&lis_id).await
    } else {
        pair.listener.mesh().dial_again(&pub_id).await
    };
    assert!(replaced, "second dial");
    pair.flows("messages flow on the link that replaced the one the marker went on")
        .await;
    pair.close().await;
}

/// The listener stops reading the publisher's segment and starts again between two of its
/// announcements (or with the one between lost): to the publisher nothing changed, but the
/// listener reads behind a new, closed gate. It asks for the switch, and messages flow on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_reads_a_segment_again_is_told_the_switch_again() {
    let mut pair = Pair::new("switch-asked").await;
    let key = pair.key();
    // Detached and attached again, announcing nothing in between.
    let announced = pair.listener.info().shm_reading;
    assert!(pair.shm().detach(&key.0, &key.1));
    lock(&pair.listener.mesh().same_host.gates).remove(&key);
    pair.listener.mesh().sync_shm();
    assert!(pair.shm().reading().contains(&key), "attached again");
    assert_eq!(
        pair.listener.info().shm_reading,
        announced,
        "announced no change"
    );
    pair.flows("messages flow after the listener read the segment again")
        .await;
    pair.close().await;
}

/// A second attach of a segment already read (a detach that removed the claim between another
/// `sync_shm`'s claim and its attach once did this) reads nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_attached_twice_is_read_once() {
    let mut pair = Pair::new("attach-twice").await;
    let key = pair.key();
    pair.shm().forget(&key.0, &key.1);
    let sink: std::sync::Weak<dyn super::shm::reader::SegmentSink> =
        pair.listener.mesh().me.clone();
    assert!(
        matches!(pair.shm().attach(&key.0, &key.1, sink), Ok(true)),
        "attached again"
    );
    // Whatever was in flight before, then these once each, in order.
    let first = pair.seq;
    for _ in 0..50 {
        pair.sender.send(&pair.seq).await.unwrap();
        pair.seq += 1;
    }
    let last = pair.seq - 1;
    let mut got = Vec::new();
    tokio::time::timeout(T, async {
        while got.last() != Some(&last) {
            match pair.received.recv().await {
                Some(n) if n >= first => got.push(n),
                Some(_) => {}
                None => break,
            }
        }
    })
    .await
    .expect("the last message arrives");
    // A message read twice arrives twice, the second copy after the last one read once.
    tokio::time::timeout(Duration::from_millis(300), async {
        while let Some(n) = pair.received.recv().await {
            got.push(n);
        }
    })
    .await
    .ok();
    assert_eq!(got, (first..=last).collect::<Vec<_>>());
    pair.close().await;
}
