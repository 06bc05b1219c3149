//! Reliable subscriptions with nodes in this process, over TCP and on one host (shared memory):
//! a slow reliable subscriber gets every message in order while the publisher waits for it; a
//! frozen one makes `send` fail after the send timeout with an error naming it, and once it is
//! gone the publisher goes on.

use crate::node::preference::TransportPreference;
use crate::qos::Qos;
use crate::{Error, Node};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

async fn node(name: &str, domain: &str, transport: TransportPreference) -> Node {
    super::test_nodes::node(name, domain, transport, Duration::from_millis(500)).await
}

fn domain(test: &str, transport: TransportPreference) -> String {
    super::test_nodes::domain(&format!("reliable-{test}"), transport)
}

async fn slow_subscriber_gets_everything(transport: TransportPreference) {
    const MESSAGES: u32 = 10_000;
    let domain = domain("slow", transport);
    let publisher_node = node("publisher", &domain, transport).await;
    let subscriber_node = node("subscriber", &domain, transport).await;
    let mut slow = subscriber_node
        .subscriber_with_qos::<(u32, Vec<u8>)>("data", Qos::keep_last(64).reliable())
        .await
        .unwrap();
    let publisher = publisher_node
        .publisher::<(u32, Vec<u8>)>("data")
        .await
        .unwrap();
    publisher_node.wait_for_listener("data", T).await.unwrap();
    // Wait until the publisher sees the subscriber's QoS (and, on one host, its reading).
    tokio::time::timeout(T, async {
        while !publisher_node.topology().nodes().any(|n| {
            n.topics
                .iter()
                .any(|t| t.qos.reliability == crate::qos::Reliability::Reliable)
        }) {
            publisher_node.topology_changed().await;
        }
    })
    .await
    .unwrap();
    let reader = tokio::spawn(async move {
        let mut got = Vec::with_capacity(MESSAGES as usize);
        while got.len() < MESSAGES as usize {
            let (i, _) = tokio::time::timeout(T, slow.recv()).await.unwrap().unwrap();
            got.push(i);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        (got, slow.lost())
    });
    let payload = vec![7u8; 1000];
    for i in 0..MESSAGES {
        publisher.send(&(i, payload.clone())).await.unwrap();
    }
    let (got, lost) = reader.await.unwrap();
    assert_eq!(lost, 0);
    assert_eq!(
        got,
        (0..MESSAGES).collect::<Vec<_>>(),
        "every message, in order"
    );
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
