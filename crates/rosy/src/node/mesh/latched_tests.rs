//! Transient-local topics with nodes in this process, over TCP and on one host (shared
//! memory): late joiners get the last `depth` messages once, in order, before newer ones;
//! volatile ones get nothing old; a restarted subscriber gets them again; a second subscriber of
//! the same node and one in the publisher's own node are seeded too.

use crate::node::Node;
use crate::node::preference::TransportPreference;
use crate::qos::Qos;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

async fn node(name: &str, domain: &str, transport: TransportPreference) -> Node {
    super::test_nodes::node(name, domain, transport, Duration::from_secs(1)).await
}

fn domain(test: &str, transport: TransportPreference) -> String {
    super::test_nodes::domain(&format!("latched-{test}"), transport)
}

async fn next(sub: &mut crate::Subscriber<u32>) -> u32 {
    tokio::time::timeout(T, sub.recv())
        .await
        .expect("a message in time")
        .expect("the node is open")
}

/// Sends 1..=15 with depth 10 before anyone listens; a late transient-local subscriber gets
/// 6..=15 then the newer 16; a volatile one only 16; a restarted one 6..=16 (16 was sent
/// before it came); a second one in the first subscriber's node 7..=16, seeded.
async fn late_joiners(transport: TransportPreference) {
    let domain = domain("late", transport);
    let publisher_node = node("publisher", &domain, transport).await;
    let publisher = publisher_node
        .publisher_with_qos::<u32>("map", Qos::keep_last(10).transient_local())
        .await
        .unwrap();
    for i in 1..=15u32 {
        publisher.send(&i).await.unwrap();
    }

    let late = node("late", &domain, transport).await;
    let mut latched = late
        .subscriber_with_qos::<u32>("map", Qos::keep_last(10).transient_local())
        .await
        .unwrap();
    let mut volatile = late.subscriber::<u32>("map").await.unwrap();
    for want in 6..=15 {
        assert_eq!(next(&mut latched).await, want);
    }
    publisher_node
        .wait_for_listener("map", T)
        .await
        .expect("the publisher sees the late joiner");
    publisher.send(&16).await.unwrap();
    assert_eq!(
        next(&mut latched).await,
        16,
        "newer messages come after the history"
    );
    assert_eq!(
        next(&mut volatile).await,
        16,
        "a volatile subscriber gets nothing old"
    );

    // A second transient-local subscriber of the same node, later: seeded, depth 10.
    let mut second = late
        .subscriber_with_qos::<u32>("map", Qos::keep_last(10).transient_local())
        .await
        .unwrap();
    for want in 7..=16 {
        assert_eq!(next(&mut second).await, want);
    }
    // Depth 1 takes only the last.
    let mut one = late
        .subscriber_with_qos::<u32>("map", Qos::latched())
        .await
        .unwrap();
    assert_eq!(next(&mut one).await, 16);

    // A restarted subscriber (a new node) gets them again, once.
    late.close().await;
    let restarted = node("late", &domain, transport).await;
    let mut again = restarted
        .subscriber_with_qos::<u32>("map", Qos::keep_last(10).transient_local())
        .await
        .unwrap();
    for want in 7..=16 {
        assert_eq!(next(&mut again).await, want);
    }
    // Until the publisher has seen the closed node go, it is a listener of the same name, and
    // same-name listeners share a topic's messages: wait for the restarted one alone.
    let start = std::time::Instant::now();
    while publisher_node
        .topology()
        .listeners("map")
        .iter()
        .map(|n| n.id.clone())
        .collect::<Vec<_>>()
        != [restarted.id()]
    {
        assert!(
            start.elapsed() < T,
            "the publisher sees the restarted subscriber alone"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    publisher.send(&17).await.unwrap();
    assert_eq!(next(&mut again).await, 17, "each history message came once");

    // A subscriber in the publisher's own node is seeded from its history.
    let mut own = publisher_node
        .subscriber_with_qos::<u32>("map", Qos::keep_last(3).transient_local())
        .await
        .unwrap();
    for want in 15..=17 {
        assert_eq!(next(&mut own).await, want);
    }
    restarted.close().await;
    publisher_node.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_joiners_get_the_history_over_tcp() {
    late_joiners(TransportPreference::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_joiners_get_the_history_on_one_host() {
    late_joiners(TransportPreference::Auto).await;
}
