//! Calls in flight when the link they went on closes, while the provider lives: a duplicate link
//! replacing theirs (two nodes dialing each other at once) or a dropped connection that is dialed
//! again. Every call must get its answer, and the provider must run each handler once.
//!
//! Two nodes in this process, found through the registry (no mDNS), on loopback. The handler
//! holds every call until the test has broken the link, so all of them are in flight then.

use crate::error::ServiceError;
use crate::node::Node;
use crate::node::preference::TransportPreference;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::watch;

const CALLS: i64 = 40;
const T: Duration = Duration::from_secs(20);

#[derive(Clone, Copy)]
enum Break {
    /// The caller dials the provider again; the link dialed by the smaller id stays.
    Duplicate,
    /// The caller's link to the provider is closed; the smaller id dials again.
    Drop,
}

async fn node(name: &str, domain: &str, transport: TransportPreference) -> Node {
    super::test_nodes::node(name, domain, transport, Duration::from_secs(1)).await
}

async fn calls_survive(what: Break, transport: TransportPreference) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let domain = format!(
        "call-recovery-{}-{}",
        std::process::id(),
        match (what, transport) {
            (Break::Duplicate, TransportPreference::Tcp) => "dup-tcp",
            (Break::Duplicate, _) => "dup-auto",
            (Break::Drop, TransportPreference::Tcp) => "drop-tcp",
            (Break::Drop, _) => "drop-auto",
        }
    );
    let provider = node("provider", &domain, transport).await;
    let caller = node("caller", &domain, transport).await;

    let runs = Arc::new(AtomicUsize::new(0));
    let (release, released) = watch::channel(false);
    {
        let runs = runs.clone();
        provider
            .add_service("multiply", move |(a, b): (i64, i64)| {
                let runs = runs.clone();
                let mut released = released.clone();
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    let _ = released.wait_for(|r| *r).await;
                    Ok::<_, ServiceError>(a * b)
                }
            })
            .await
            .unwrap();
    }
    caller
        .wait_for_service_provider("multiply", T)
        .await
        .expect("the caller sees the provider");

    let calls: Vec<_> = (0..CALLS)
        .map(|i| {
            let caller = caller.clone();
            tokio::spawn(async move {
                (
                    i,
                    caller.call_timeout::<_, i64>("multiply", &(i, 3), T).await,
                )
            })
        })
        .collect();
    // Every call has reached the handler, so every one is pending on the current link.
    tokio::time::timeout(T, async {
        while runs.load(Ordering::SeqCst) < CALLS as usize {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("every call reaches the provider");

    let peer = provider.id();
    let mesh = caller.mesh();
    let before = mesh.link_to(&peer).expect("a link to the provider");
    match what {
        Break::Duplicate => {
            // Make the duplicate from the side whose dial wins, so the link the calls are on
            // is the one closed (the other way round, the new one would be closed at once).
            let winner = if caller.id() < peer {
                &caller
            } else {
                &provider
            };
            let other = if caller.id() < peer {
                peer.clone()
            } else {
                caller.id()
            };
            assert!(winner.mesh().dial_again(&other).await, "second dial fails");
        }
        Break::Drop => before.close(),
    }
    tokio::time::timeout(T, before.closed())
        .await
        .expect("the old link closes");
    tokio::time::timeout(T, async {
        loop {
            if mesh
                .link_to(&peer)
                .is_some_and(|l| l.id != before.id && !l.is_closed())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("a new link to the provider");
    release.send(true).unwrap();

    for call in calls {
        let (i, answer) = call.await.unwrap();
        assert_eq!(
            answer.unwrap_or_else(|e| panic!("call {i} failed: {e}")),
            i * 3
        );
    }
    // Sent again on the new link, each call ran its handler once.
    assert_eq!(runs.load(Ordering::SeqCst), CALLS as usize);
    caller.close().await;
    provider.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_survive_a_duplicate_link_replacing_theirs_over_tcp() {
    calls_survive(Break::Duplicate, TransportPreference::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_survive_a_duplicate_link_replacing_theirs_on_one_host() {
    calls_survive(Break::Duplicate, TransportPreference::Auto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_survive_a_dropped_link_dialed_again_over_tcp() {
    calls_survive(Break::Drop, TransportPreference::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_survive_a_dropped_link_dialed_again_on_one_host() {
    calls_survive(Break::Drop, TransportPreference::Auto).await;
}
