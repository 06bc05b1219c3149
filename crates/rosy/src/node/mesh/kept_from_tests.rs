//! `NodeBuilder::never_routes_to`: a node's messages never reach nodes of the names it keeps
//! them from (a bridge's exporters), over TCP or shared memory, while every other listener,
//! and every other publisher's messages to those nodes, flow as before.

use super::test_nodes::domain;
use crate::node::Node;
use crate::node::preference::TransportPreference;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

async fn node(
    name: &str,
    domain: &str,
    transport: TransportPreference,
    kept_from: &[&str],
) -> Node {
    let mut builder = Node::builder(name)
        .domain_id(domain)
        .mdns(false)
        .interfaces(Some(vec!["lo".to_string()]))
        .transport(transport);
    for name in kept_from {
        builder = builder.never_routes_to(name);
    }
    builder.build().await.expect("node starts")
}

async fn kept_from_exporters(transport: TransportPreference) {
    let domain = domain("kept-from", transport);
    let importer = node("importer", &domain, transport, &["exporter"]).await;
    let plain = node("plain", &domain, transport, &[]).await;
    let exporter = node("exporter", &domain, transport, &[]).await;
    let reader = node("reader", &domain, transport, &[]).await;
    let mut exported = exporter.subscriber::<u32>("scan").await.unwrap();
    let mut read = reader.subscriber::<u32>("scan").await.unwrap();
    for sender in [&importer, &plain] {
        sender
            .wait_for_listeners("scan", 2, T)
            .await
            .expect("both listeners seen");
    }
    let from_importer = importer.publisher::<u32>("scan").await.unwrap();
    let from_plain = plain.publisher::<u32>("scan").await.unwrap();
    for i in 0..10u32 {
        from_importer.send(&i).await.unwrap();
    }
    from_plain.send(&100).await.unwrap();
    let mut heard = Vec::new();
    for _ in 0..11 {
        heard.push(tokio::time::timeout(T, read.recv()).await.unwrap().unwrap());
    }
    heard.sort();
    let mut sent: Vec<u32> = (0..10).collect();
    sent.push(100);
    assert_eq!(heard, sent, "the reader hears both publishers");
    // The exporter hears the plain node's message and none of the importer's.
    let got = tokio::time::timeout(T, exported.recv()).await.unwrap();
    assert_eq!(
        got,
        Some(100),
        "the exporter's first message is the plain node's"
    );
    assert!(exported.try_recv_encoded().unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_never_go_to_kept_names_over_tcp() {
    kept_from_exporters(TransportPreference::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_never_go_to_kept_names_through_shared_memory() {
    kept_from_exporters(TransportPreference::Shm).await;
}
