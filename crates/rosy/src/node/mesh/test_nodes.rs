//! Nodes for the in-process tests of the mesh: found through the registry (no mDNS), on
//! loopback, in a domain of the test's own.

use crate::node::Node;
use crate::node::preference::TransportPreference;
use std::time::Duration;

/// A node `name` in `domain` using `transport`, sends bounded by `send_timeout`.
pub(super) async fn node(
    name: &str,
    domain: &str,
    transport: TransportPreference,
    send_timeout: Duration,
) -> Node {
    Node::builder(name)
        .domain_id(domain)
        .mdns(false)
        .interfaces(Some(vec!["lo".to_string()]))
        .transport(transport)
        .send_timeout(send_timeout)
        .build()
        .await
        .expect("node starts")
}

/// A domain no other test (or run) uses: the test's name, the transport and this process.
pub(super) fn domain(test: &str, transport: TransportPreference) -> String {
    let t = match transport {
        TransportPreference::Tcp => "tcp",
        TransportPreference::Shm => "shm",
        TransportPreference::Auto => "auto",
    };
    format!("{test}-{}-{t}", std::process::id())
}
