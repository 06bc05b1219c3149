//! The `ShmSwitch` marker against a link replaced by a duplicate. The two ends of a replaced
//! link need not agree on what its end meant: the side that replaced it sees a link that was no
//! longer current close, while the other may see its current link end before the new one
//! arrives, forget the peer, and read the peer's segment again behind a new, closed gate. Its
//! publisher must then say the switch again on the new link, or the listener holds what it
//! reads from shared memory for good (a stall seen once in CI, between two processes).

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

/// Sends on `sender` until a message sent from now on reaches `received`; panics saying `why`
/// when none does within [`T`].
async fn flows(
    sender: &crate::node::topic::Publisher<u64>,
    received: &mut crate::node::topic::Subscriber<u64>,
    seq: &mut u64,
    why: &str,
) {
    let first = *seq;
    tokio::time::timeout(T, async {
        loop {
            sender.send(seq).await.unwrap();
            *seq += 1;
            if let Ok(Some(n)) =
                tokio::time::timeout(Duration::from_millis(10), received.recv()).await
                && n >= first
            {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{why}"));
}

/// A publisher and a listener of `t` through shared memory, the switch made: messages flow.
async fn switched_pair(
    test: &str,
) -> (
    Node,
    Node,
    crate::node::topic::Publisher<u64>,
    crate::node::topic::Subscriber<u64>,
    u64,
) {
    let d = domain(test, TransportPreference::Shm);
    let publisher = node("publisher", &d, TransportPreference::Shm, T).await;
    let listener = node("listener", &d, TransportPreference::Shm, T).await;
    let mut received = listener.subscriber::<u64>("t").await.unwrap();
    let sender = publisher.publisher::<u64>("t").await.unwrap();
    publisher.wait_for_listener("t", T).await.unwrap();
    let key = (publisher.id(), "t".to_string());
    let shm = listener.mesh().same_host.routes.as_ref().expect("shm");
    let mut seq = 0;
    while !(shm.reading().contains(&key) && gate_opens(&listener, &key).await) {
        flows(&sender, &mut received, &mut seq, "messages flow").await;
    }
    flows(
        &sender,
        &mut received,
        &mut seq,
        "messages flow through shm",
    )
    .await;
    (publisher, listener, sender, received, seq)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switch_is_said_again_on_the_link_that_replaced_the_one_it_went_on() {
    let (publisher, listener, sender, mut received, mut seq) =
        switched_pair("switch-replaced").await;
    let (pub_id, lis_id) = (publisher.id(), listener.id());
    // The marker is taken to be lost with the link it went on: the gate is shut.
    lock(&listener.mesh().same_host.gates).insert((pub_id.clone(), "t".into()), Default::default());
    // A duplicate, dialed by the smaller id, replaces the link.
    let replaced = if pub_id < lis_id {
        publisher.mesh().dial_again(&lis_id).await
    } else {
        listener.mesh().dial_again(&pub_id).await
    };
    assert!(replaced, "second dial");
    flows(
        &sender,
        &mut received,
        &mut seq,
        "messages flow on the link that replaced the one the marker went on",
    )
    .await;
    publisher.close().await;
    listener.close().await;
}

/// The listener stops reading the publisher's segment and starts again between two of its
/// announcements (or with the one between lost): to the publisher nothing changed, but the
/// listener reads behind a new, closed gate. It asks for the switch, and messages flow on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_reads_a_segment_again_is_told_the_switch_again() {
    let (publisher, listener, sender, mut received, mut seq) = switched_pair("switch-asked").await;
    let pub_id = publisher.id();
    let key = (pub_id.clone(), "t".to_string());
    let shm = listener.mesh().same_host.routes.as_ref().expect("shm");
    // Detached and attached again, announcing nothing in between.
    let announced = listener.info().shm_reading;
    assert!(shm.detach(&pub_id, "t"));
    lock(&listener.mesh().same_host.gates).remove(&key);
    listener.mesh().sync_shm();
    assert!(shm.reading().contains(&key), "attached again");
    assert_eq!(
        listener.info().shm_reading,
        announced,
        "announced no change"
    );
    flows(
        &sender,
        &mut received,
        &mut seq,
        "messages flow after the listener read the segment again",
    )
    .await;
    publisher.close().await;
    listener.close().await;
}

/// A second attach of a segment already read (a detach that removed the claim between another
/// `sync_shm`'s claim and its attach once did this) reads nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_attached_twice_is_read_once() {
    let (publisher, listener, sender, mut received, mut seq) = switched_pair("attach-twice").await;
    let pub_id = publisher.id();
    let shm = listener.mesh().same_host.routes.as_ref().expect("shm");
    shm.forget(&pub_id, "t");
    let sink: std::sync::Weak<dyn super::shm::reader::SegmentSink> = listener.mesh().me.clone();
    assert!(
        matches!(shm.attach(&pub_id, "t", sink), Ok(true)),
        "attached again"
    );
    // Whatever was in flight before, then these once each, in order.
    let first = seq;
    for _ in 0..50 {
        sender.send(&seq).await.unwrap();
        seq += 1;
    }
    let mut got = Vec::new();
    tokio::time::timeout(T, async {
        while got.last() != Some(&(seq - 1)) {
            match received.recv().await {
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
        while let Some(n) = received.recv().await {
            got.push(n);
        }
    })
    .await
    .ok();
    assert_eq!(got, (first..seq).collect::<Vec<_>>());
    publisher.close().await;
    listener.close().await;
}
