//! Reliable subscriptions with nodes in this process, over TCP and on one host (shared memory):
//! a slow reliable subscriber gets every message in order while the publisher waits for it; a
//! frozen one makes `send` fail after the send timeout with an error naming it, and once it is
//! gone the publisher goes on.

use crate::codec::Codec;
use crate::error::Error;
use crate::node::Node;
use crate::node::preference::TransportPreference;
use crate::qos::{Qos, Reliability};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

async fn node(name: &str, domain: &str, transport: TransportPreference) -> Node {
    super::test_nodes::node(name, domain, transport, Duration::from_millis(500)).await
}

fn domain(test: &str, transport: TransportPreference) -> String {
    super::test_nodes::domain(&format!("reliable-{test}"), transport)
}

/// A slow reliable subscriber gets every message in order; a best-effort subscriber of another
/// node beside it gets them in order (any it lost while behind counted) and is not held to the
/// slow one's pace: it has the last while the slow one has read fewer than half. Over TCP what
/// the slow one has not read waits in the link's outbox; on one host, both read one ring, and
/// the slow one's node stages what it read while its subscription is full.
async fn slow_subscriber_gets_everything(transport: TransportPreference) {
    const MESSAGES: u32 = 10_000;
    let domain = domain("slow", transport);
    let publisher_node = node("publisher", &domain, transport).await;
    let subscriber_node = node("subscriber", &domain, transport).await;
    let bystander_node = node("bystander", &domain, transport).await;
    let mut slow = subscriber_node
        .subscriber_with_qos::<(u32, Vec<u8>)>("data", Qos::keep_last(64).reliable())
        .await
        .unwrap();
    let mut fast = bystander_node
        .subscriber::<(u32, Vec<u8>)>("data")
        .await
        .unwrap();
    let publisher = publisher_node
        .publisher::<(u32, Vec<u8>)>("data")
        .await
        .unwrap();
    // Wait until the publisher sees both listeners, the subscriber's QoS (and, on one host,
    // that they read its segment).
    let ready = publisher_node
        .wait_for_topology(T, |topology| {
            let nodes: Vec<_> = topology.nodes().collect();
            let listening = nodes.iter().filter(|n| n.listens_to("data")).count();
            let reliable = nodes.iter().any(|n| {
                n.topics
                    .iter()
                    .any(|t| t.qos.reliability == crate::qos::Reliability::Reliable)
            });
            let on_shm = nodes
                .iter()
                .filter(|n| {
                    n.shm_reading
                        .contains(&(publisher_node.id(), "data".to_string()))
                })
                .count();
            let shm_wanted = if transport == TransportPreference::Tcp {
                0
            } else {
                2
            };
            listening == 2 && reliable && on_shm == shm_wanted
        })
        .await;
    assert!(ready, "the publisher never saw both subscribers");
    let slow_count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reader = {
        let slow_count = slow_count.clone();
        tokio::spawn(async move {
            let mut got = Vec::with_capacity(MESSAGES as usize);
            while got.len() < MESSAGES as usize {
                let (i, _) = tokio::time::timeout(T, slow.recv()).await.unwrap().unwrap();
                got.push(i);
                slow_count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            (got, slow.lost())
        })
    };
    let bystander = {
        let slow_count = slow_count.clone();
        tokio::spawn(async move {
            // Best effort: it may lose the oldest if it falls behind (counted); it ends with
            // the last message.
            let mut got = Vec::with_capacity(MESSAGES as usize);
            while got.last() != Some(&(MESSAGES - 1)) {
                let (i, _) = tokio::time::timeout(T, fast.recv()).await.unwrap().unwrap();
                got.push(i);
            }
            let slow_then = slow_count.load(std::sync::atomic::Ordering::Relaxed);
            (got, fast.lost(), slow_then)
        })
    };
    let payload = vec![7u8; 1000];
    for i in 0..MESSAGES {
        publisher.send(&(i, payload.clone())).await.unwrap();
    }
    // The publisher's pace is its own: it has sent everything long before the slow one read it.
    let slow_when_sent = slow_count.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        slow_when_sent < MESSAGES as usize / 2,
        "the publisher was held back: it had sent everything only when the slow one had read \
         {slow_when_sent}"
    );
    let (got, lost) = reader.await.unwrap();
    assert_eq!(lost, 0);
    assert_eq!(
        got,
        (0..MESSAGES).collect::<Vec<_>>(),
        "every message, in order"
    );
    let (seen, lost, slow_then) = bystander.await.unwrap();
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "the bystander's in order"
    );
    assert_eq!(
        seen.len() as u64 + lost,
        MESSAGES as u64,
        "the bystander got every message or counted it lost"
    );
    assert!(
        slow_then < MESSAGES as usize / 2,
        "the best-effort subscriber was held back: it had everything only when the slow one \
         had read {slow_then}"
    );
    bystander_node.close().await;
    subscriber_node.close().await;
    publisher_node.close().await;
}

async fn frozen_subscriber_makes_send_fail_naming_it(transport: TransportPreference) {
    let domain = domain("frozen", transport);
    let publisher_node = node("publisher", &domain, transport).await;
    let subscriber_node = node("frozen-one", &domain, transport).await;
    let frozen = subscriber_node
        .subscriber_with_qos::<Vec<u8>>("data", Qos::keep_last(4).reliable())
        .await
        .unwrap();
    let publisher = publisher_node.publisher::<Vec<u8>>("data").await.unwrap();
    publisher_node.wait_for_listener("data", T).await.unwrap();
    let payload = vec![1u8; 64 << 10];
    let error = tokio::time::timeout(T, async {
        loop {
            if let Err(e) = publisher.send(&payload).await {
                break e;
            }
            // A send that completes at once never yields: let the timeout run (it must fire if
            // the subscriber's connection went and sends succeed with nobody to wait for).
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("send fails in time");
    match &error {
        Error::SlowSubscriber { subscriber, .. } => {
            assert!(subscriber.contains("frozen-one"), "{error}")
        }
        e => panic!("{e}"),
    }
    // Gone: the publisher goes on.
    drop(frozen);
    subscriber_node.close().await;
    tokio::time::timeout(T, async {
        while publisher.send(&payload).await.is_err() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("sends succeed once the frozen subscriber is gone");
    publisher_node.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reliable_subscriber_gets_everything_over_tcp() {
    slow_subscriber_gets_everything(TransportPreference::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reliable_subscriber_gets_everything_on_one_host() {
    slow_subscriber_gets_everything(TransportPreference::Auto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_reliable_subscriber_fails_sends_over_tcp() {
    frozen_subscriber_makes_send_fail_naming_it(TransportPreference::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_reliable_subscriber_fails_sends_on_one_host() {
    frozen_subscriber_makes_send_fail_naming_it(TransportPreference::Auto).await;
}

/// A keep_last(1) listener over TCP under a flood it cannot keep up with: little is ever queued
/// for it (so its latency stays low), and it ends with the newest message. Its node is made to
/// stop reading: a full reliable subscription beside it pauses the node's links.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_last_listener_under_a_flood_has_little_queued_for_it() {
    let transport = TransportPreference::Tcp;
    let domain = domain("keep-last", transport);
    let publisher_node = node("publisher", &domain, transport).await;
    let subscriber_node = node("subscriber", &domain, transport).await;
    let mut newest = subscriber_node
        .subscriber_with_qos::<(u32, Vec<u8>)>("flood", Qos::sensor_data())
        .await
        .unwrap();
    let mut stall = subscriber_node
        .subscriber_with_qos::<u8>("stall", Qos::keep_last(1).reliable())
        .await
        .unwrap();
    let publisher = publisher_node
        .publisher::<(u32, Vec<u8>)>("flood")
        .await
        .unwrap();
    let staller = publisher_node.publisher::<u8>("stall").await.unwrap();
    let ready = publisher_node
        .wait_for_topology(T, |topology| {
            topology.nodes().any(|n| {
                let qos = |topic: &str| n.topics.iter().find(|t| t.name == topic).map(|t| t.qos);
                qos("flood").is_some_and(|q| q.depth() == 1)
                    && qos("stall").is_some_and(|q| q.reliability == Reliability::Reliable)
            })
        })
        .await;
    assert!(ready, "the publisher never saw the subscriber's QoS");
    // One message fills the reliable subscription: the subscriber's node stops reading.
    staller.send(&1).await.unwrap();
    tokio::time::timeout(T, async {
        while !subscriber_node.mesh().local.backlog.full() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the reliable subscription fills");
    let link = publisher_node
        .mesh()
        .link_to(&subscriber_node.id())
        .expect("a link to the subscriber");
    let payload = vec![3u8; 1000];
    const MESSAGES: u32 = 20_000;
    let mut most_queued = 0;
    for i in 0..MESSAGES {
        publisher.send(&(i, payload.clone())).await.unwrap();
        most_queued = most_queued.max(link.queued_bytes());
    }
    // 64 KiB, plus the one frame that may be queued past the check.
    assert!(
        most_queued <= (64 << 10) + 2048,
        "{most_queued} bytes queued"
    );
    // Read again: the node takes what was queued; once that is through, newer messages pass.
    assert_eq!(stall.recv().await, Some(1));
    let last = tokio::time::timeout(T, async {
        let mut i = MESSAGES;
        loop {
            publisher.send(&(i, payload.clone())).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
            while let Ok(Some(m)) = newest.try_recv_encoded() {
                let (got, _): (u32, Vec<u8>) = crate::codec::MsgPack.decode(&m.payload).unwrap();
                if got >= MESSAGES {
                    return got;
                }
            }
            i += 1;
        }
    })
    .await
    .expect("newer messages arrive once the queue drained");
    assert!(last >= MESSAGES);
    subscriber_node.close().await;
    publisher_node.close().await;
}

/// A node announces the strongest QoS of the endpoints it has now: when the reliable one goes,
/// peers see the topic best effort again (and the other way round for a publisher).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_announced_qos_follows_the_endpoints_left() {
    let domain = domain("announced", TransportPreference::Tcp);
    let node = node("announcer", &domain, TransportPreference::Tcp).await;
    let announced = |role: crate::topology::TopicRole| {
        node.info()
            .topics
            .iter()
            .find(|t| t.name == "data" && t.role == role)
            .map(|t| t.qos)
    };
    let listen = crate::topology::TopicRole::Listen;
    let plain = node.subscriber::<u8>("data").await.unwrap();
    let reliable = node
        .subscriber_with_qos::<u8>("data", Qos::keep_last(8).reliable())
        .await
        .unwrap();
    assert_eq!(
        announced(listen).unwrap().reliability,
        Reliability::Reliable
    );
    drop(reliable);
    assert_eq!(announced(listen), Some(Qos::default()));
    drop(plain);
    assert_eq!(announced(listen), None);

    let publish = crate::topology::TopicRole::Publish;
    let latched = node
        .publisher_with_qos::<u8>("data", Qos::latched())
        .await
        .unwrap();
    let volatile = node.publisher::<u8>("data").await.unwrap();
    let both = announced(publish).unwrap();
    assert_eq!(both, Qos::latched().strongest(Qos::default()));
    assert_eq!(both.durability, crate::qos::Durability::TransientLocal);
    drop(latched);
    assert_eq!(announced(publish), Some(Qos::default()));
    drop(volatile);
    assert_eq!(announced(publish), None);
    node.close().await;
}

/// A reliable subscriber over TCP that stops reading for 8 s while messages wait for it (its
/// window closed: Linux counts that against `TCP_USER_TIMEOUT`, once 5 s here) keeps its
/// connection, and then gets every one of them: a peer that answers but takes nothing is slow,
/// not dead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reliable_subscriber_paused_for_seconds_keeps_its_connection() {
    let transport = TransportPreference::Tcp;
    let domain = domain("paused", transport);
    let publisher_node = node("publisher", &domain, transport).await;
    let subscriber_node = node("paused-one", &domain, transport).await;
    let mut paused = subscriber_node
        .subscriber_with_qos::<(u32, Vec<u8>)>("data", Qos::keep_last(4).reliable())
        .await
        .unwrap();
    let publisher = publisher_node
        .publisher::<(u32, Vec<u8>)>("data")
        .await
        .unwrap();
    publisher_node.wait_for_listener("data", T).await.unwrap();
    let link = publisher_node
        .mesh()
        .link_to(&subscriber_node.id())
        .expect("a link to the subscriber");
    // Enough to fill the subscriber's socket buffer: its window closes.
    const MESSAGES: u32 = 400;
    let payload = vec![5u8; 64 << 10];
    for i in 0..MESSAGES {
        publisher.send(&(i, payload.clone())).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(
        !link.is_closed(),
        "the connection to a paused subscriber was closed"
    );
    for i in 0..MESSAGES {
        let (got, _) = tokio::time::timeout(T, paused.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, i);
    }
    assert_eq!(paused.lost(), 0);
    subscriber_node.close().await;
    publisher_node.close().await;
}
