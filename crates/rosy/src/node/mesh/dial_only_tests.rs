//! Dial-only nodes (command-line tools that only look and call): they dial every other node,
//! nobody dials them, and two of them never connect; their calls and messages still go both
//! ways over the connections they made.

use crate::node::Node;
use crate::node::preference::TransportPreference;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

async fn node(name: &str, domain: &str, dial_only: bool) -> Node {
    Node::builder(name)
        .domain_id(domain)
        .mdns(false)
        .interfaces(Some(vec!["lo".to_string()]))
        .transport(TransportPreference::Tcp)
        .dial_only(dial_only)
        .build()
        .await
        .expect("node starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_only_nodes_reach_others_but_never_each_other() {
    let domain = super::test_nodes::domain("dial-only", TransportPreference::Tcp);
    let provider = node("provider", &domain, false).await;
    provider
        .add_service("multiply", |(a, b): (i64, i64)| async move { Ok(a * b) })
        .await
        .unwrap();
    let mut heard = provider.subscriber::<u32>("reports").await.unwrap();
    let first = node("caller", &domain, true).await;
    let second = node("caller", &domain, true).await;
    for (i, caller) in [&first, &second].into_iter().enumerate() {
        caller
            .wait_for_service_provider("multiply", T)
            .await
            .unwrap();
        let product: i64 = caller.call("multiply", &(i as i64 + 2, 3)).await.unwrap();
        assert_eq!(product, (i as i64 + 2) * 3);
        // Messages go both ways over the connection the dial-only node made.
        caller.wait_for_listener("reports", T).await.unwrap();
        caller.send("reports", &(i as u32)).await.unwrap();
        assert_eq!(
            tokio::time::timeout(T, heard.recv()).await.unwrap(),
            Some(i as u32)
        );
    }
    // Each caller knows the other (discovery) yet is connected to the provider only, and waits
    // for no connection to it.
    tokio::time::sleep(crate::node::mesh::links::FALLBACK_DIAL_AFTER * 2).await;
    for (caller, other) in [(&first, &second), (&second, &first)] {
        let peers: Vec<String> = caller.topology().nodes().map(|n| n.id.clone()).collect();
        assert_eq!(
            peers,
            vec![provider.id()],
            "a dial-only node meets no other"
        );
        assert!(caller.mesh().link_to(&other.id()).is_none());
        assert_eq!(caller.unconnected_peers(), 0);
    }
    assert_eq!(provider.topology().nodes().count(), 2);
    first.close().await;
    second.close().await;
    provider.close().await;
}
