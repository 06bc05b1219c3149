//! A node that closes says goodbye on each link: its peers dial it no more, neither when its
//! links end nor while discovery still reports it, and it accepts no connection meanwhile.

use super::test_nodes::{domain, node};
use crate::node::Node;
use crate::node::preference::TransportPreference;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

/// Waits, at most `T`, until `done` holds.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < T, "{what} did not happen within {T:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closing_node_is_not_dialed_again() {
    let transport = TransportPreference::Tcp;
    let domain = domain("goodbye", transport);
    let mut nodes: Vec<Node> = Vec::new();
    for name in ["a", "b", "c"] {
        nodes.push(node(name, &domain, transport, T).await);
    }
    for n in &nodes {
        assert!(n.wait_for_topology(T, |t| t.nodes().count() == 2).await);
    }
    // The node that closes has the largest id: the others are the ones that dial it at once
    // when its link ends (the larger id of a pair waits before dialing), so without the goodbye
    // each of them dials it again while discovery still reports it.
    nodes.sort_by_key(|n| n.id());
    let leaving = nodes.pop().expect("three nodes");
    let leaving_id = leaving.id();
    let before: Vec<u64> = nodes.iter().map(|n| n.mesh().dials_started()).collect();

    leaving.close().await;
    for n in &nodes {
        assert!(n.wait_for_topology(T, |t| t.nodes().count() == 1).await);
        wait_until("the registry entry's removal", || {
            !n.mesh().knows(&leaving_id)
        })
        .await;
    }

    let after: Vec<u64> = nodes.iter().map(|n| n.mesh().dials_started()).collect();
    assert_eq!(after, before, "a peer dialed the node that said goodbye");
    // The two left are still connected to each other, over the link they had.
    assert!(nodes[0].mesh().link_to(&nodes[1].id()).is_some());
    for n in nodes {
        n.close().await;
    }
}
