//! How long N nodes take to form a full mesh in one process (one host): each round starts N
//! nodes at once and times until every one is connected to all the others, and counts the CPU
//! time the process spent meanwhile (all threads). Three modes a round:
//!
//! - `plain`: TCP on loopback;
//! - `secure`: as a secure node runs by default, same-host peers over local links (a Unix
//!   socket and a certificate check each end, `rosy::transport::tcp::local`);
//! - `secure-tls`: secure with local links off, every link a TLS handshake (what peers on other
//!   hosts cost each other).
//!
//! Prints one JSON line per round and mode; `scripts/bench-security` runs it and reports
//! medians and the ratios to plain.
//!
//!     cargo run --release -p rosy-security --example join_time -- [NODES] [ROUNDS] [MODE]

use rosy::security::{Guard, SecurityMode};
use rosy::{Node, TransportPreference};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(120);

async fn start(name: String, domain: String, guard: Guard, local_links: bool) -> Node {
    Node::builder(&name)
        .local_links(local_links)
        .domain_id(domain)
        .transport(TransportPreference::Tcp)
        .interfaces(Some(vec!["lo".into()]))
        .mdns(false)
        .security(guard)
        .build()
        .await
        .expect("a node starts")
}

/// The CPU time this process has used, all threads, in seconds.
fn cpu_seconds() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Starts `count` nodes with `guard` and returns the seconds until all are connected, and the
/// CPU seconds the process used meanwhile.
async fn join(count: usize, domain: &str, guard: &Guard, local_links: bool) -> (f64, f64) {
    let began = Instant::now();
    let cpu_began = cpu_seconds();
    let nodes: Vec<Node> = futures_join(
        (0..count)
            .map(|i| {
                let name = format!("n{i}");
                tokio::spawn(start(name, domain.to_string(), guard.clone(), local_links))
            })
            .collect(),
    )
    .await;
    for node in &nodes {
        assert!(
            node.wait_for_topology(BOUND, |t| t.nodes().count() == count - 1)
                .await,
            "the mesh did not form within {BOUND:?}"
        );
    }
    let took = (began.elapsed().as_secs_f64(), cpu_seconds() - cpu_began);
    for node in nodes {
        node.close().await;
    }
    took
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<Node>>) -> Vec<Node> {
    let mut nodes = Vec::with_capacity(handles.len());
    for handle in handles {
        nodes.push(handle.await.expect("a node's start did not panic"));
    }
    nodes
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args
        .next()
        .map_or(50, |a| a.parse().expect("NODES is a number"));
    let rounds: usize = args
        .next()
        .map_or(3, |a| a.parse().expect("ROUNDS is a number"));
    // A mode's name runs only that mode (to profile one).
    let only = args.next();
    let root = std::env::temp_dir().join(format!("rosy-join-time-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let domain = format!("join-time-{}", std::process::id());
    let ca = rosy_security::provision::create_domain(&root, &domain).expect("a CA");
    let member = root.join("member");
    rosy_security::provision::issue(&ca, "*", &member).expect("a member identity");
    let secure = Guard {
        mode: SecurityMode::Enforce,
        provider: Some(Arc::new(
            rosy_security::TlsSecurity::from_dir(&member, &domain).expect("credentials"),
        )),
    };
    for round in 1..=rounds {
        let modes = [
            ("plain", Guard::off(), true),
            ("secure", secure.clone(), true),
            ("secure-tls", secure.clone(), false),
        ];
        for (mode, guard, local_links) in modes {
            if only.as_deref().is_some_and(|only| only != mode) {
                continue;
            }
            // A domain per run: the next round never meets a node of the last.
            let run_domain = match mode {
                "plain" => format!("{domain}-plain{round}"),
                _ => domain.clone(),
            };
            let (seconds, cpu) = join(count, &run_domain, &guard, local_links).await;
            println!(
                "{{\"round\": {round}, \"mode\": \"{mode}\", \"nodes\": {count}, \"seconds\": {seconds:.3}, \"cpu_seconds\": {cpu:.3}}}"
            );
            // Let the last run's registry entries and sockets go before the next.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}
