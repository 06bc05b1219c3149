//! Two same-name listening nodes in one process, reached through shared memory by a sender
//! that gives every message to all of them (`Strategy::None`): each gets each message once.
//! Two `sync_shm` running at once (a new subscription beside a topology change) once attached
//! one segment twice and every message came twice (found from the Python package's tests).

use crate::support::unique_domain;
use rosy::codec::{Codec, MsgPack};
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

async fn node(name: &str, domain: &str) -> rosy::Node {
    rosy::Node::builder(name)
        .domain_id(domain)
        .interfaces(Some(vec!["lo".to_string()]))
        .mdns(false)
        .build()
        .await
        .unwrap()
}

/// Everything `s` holds now, decoded.
fn drain(s: &mut rosy::Subscriber<i64>) -> Vec<i64> {
    let mut got = Vec::new();
    while let Ok(Some(m)) = s.try_recv_encoded() {
        got.push(MsgPack.decode(&m.payload).unwrap());
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_name_nodes_in_one_process_get_each_message_once() {
    for _ in 0..3 {
        let domain = unique_domain("same-name");
        let sender = rosy::Node::builder("sender")
            .domain_id(&domain)
            .interfaces(Some(vec!["lo".to_string()]))
            .mdns(false)
            .load_balancing(rosy::Strategy::None)
            .build()
            .await
            .unwrap();
        let a = node("group", &domain).await;
        let b = node("group", &domain).await;
        let mut sa = a.subscriber::<i64>("t").await.unwrap();
        let mut sb = b.subscriber::<i64>("t").await.unwrap();
        // Until both get a probe: both connected (and, soon, reading shared memory).
        let deadline = std::time::Instant::now() + T;
        let (mut seen_a, mut seen_b) = (false, false);
        while !(seen_a && seen_b) {
            assert!(
                std::time::Instant::now() < deadline,
                "the listeners never got a probe"
            );
            sender.send("t", &-1i64).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            seen_a |= drain(&mut sa).contains(&-1);
            seen_b |= drain(&mut sb).contains(&-1);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        drain(&mut sa);
        drain(&mut sb);
        for i in 0..8i64 {
            sender.send("t", &i).await.unwrap();
        }
        // Until each has 8 (a duplicate arrives beside its original, so it is among them).
        let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
        let deadline = std::time::Instant::now() + T;
        while got_a.len() < 8 || got_b.len() < 8 {
            assert!(std::time::Instant::now() < deadline, "{got_a:?} {got_b:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
            got_a.extend(drain(&mut sa));
            got_b.extend(drain(&mut sb));
        }
        assert_eq!(got_a, (0..8).collect::<Vec<_>>(), "a");
        assert_eq!(got_b, (0..8).collect::<Vec<_>>(), "b");
        for n in [sender, a, b] {
            n.close().await;
        }
    }
}
