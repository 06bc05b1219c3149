//! A man in the middle of a link between two secure nodes: each tampering (a flipped byte, a
//! record dropped, repeated, held back, cut short or made up) closes the link at the first bad
//! record, no damaged, repeated or reordered message reaches the subscriber, and the link comes
//! back by itself through the same path. The control: with security off the same proxy hands
//! the subscriber a damaged message.
//!
//! The path: the subscriber's registry entry is rewritten to name a proxy's port, and the
//! publisher, a dial-only node, dials whatever the entry names; the subscriber never dials it.

mod common;

use common::{Attack, TestDomain, endpoint, route_through, wait_until};
use rosy::Node;
// Bytes as msgpack bin, so a payload is its bytes on the wire (a run of FILL).
use rosy::msgs::Blob;
use rosy::security::{Guard, SecurityMode};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

const PAYLOAD: usize = 2000;
/// The byte every payload is made of, after its first eight (the message's number).
const FILL: u8 = 0x5a;
/// Messages received before the proxy is armed, and after the link is back.
const BEFORE: usize = 20;
const AFTER: usize = 20;

/// Message `seq`: its number, then [`FILL`].
fn payload(seq: u64) -> Vec<u8> {
    let mut p = vec![FILL; PAYLOAD];
    p[..8].copy_from_slice(&seq.to_le_bytes());
    p
}

/// What the proxy saw and did.
#[derive(Default)]
struct ProxyState {
    /// Connections accepted (the first is attacked once armed; later ones pass untouched).
    connections: AtomicUsize,
    armed: AtomicBool,
    /// When the attack was made, and when the attacked connection's receiving end (the
    /// subscriber's node) closed it.
    hit_at: Mutex<Option<Instant>>,
    closed_at: Mutex<Option<Instant>>,
}

/// A proxy to `target` applying `attack` to the first connection's dialer-to-acceptor bytes
/// once armed: to whole TLS records when `tls`, else (plain) a flipped [`FILL`] byte.
async fn proxy(target: SocketAddr, attack: Attack, tls: bool) -> (SocketAddr, Arc<ProxyState>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(ProxyState::default());
    let shared = state.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let Ok(server) = TcpStream::connect(target).await else {
                continue;
            };
            let first = shared.connections.fetch_add(1, Ordering::SeqCst) == 0;
            let (client_read, mut client_write) = client.into_split();
            let (mut server_read, server_write) = server.into_split();
            let state = shared.clone();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                if first {
                    *state.closed_at.lock().unwrap() = Some(Instant::now());
                }
            });
            let state = shared.clone();
            tokio::spawn(async move {
                let attack = first.then_some(attack);
                forward(client_read, server_write, attack, tls, &state).await;
            });
        }
    });
    (addr, state)
}

/// Copies the dialer's bytes to the acceptor, applying `attack` (if any) once armed.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    attack: Option<Attack>,
    tls: bool,
    state: &ProxyState,
) {
    let mut pending = Vec::new();
    let mut done = attack.is_none();
    let mut held: Option<Vec<u8>> = None;
    let mut buf = vec![0u8; 65536];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let armed = !done && state.armed.load(Ordering::SeqCst);
        if !tls {
            let mut chunk = buf[..n].to_vec();
            // Plain: flip one byte in the middle of a run of FILL, which lies inside a payload.
            if armed && let Some(at) = chunk.windows(64).position(|w| w.iter().all(|&b| b == FILL))
            {
                chunk[at + 32] ^= 0x01;
                done = true;
                *state.hit_at.lock().unwrap() = Some(Instant::now());
            }
            if to.write_all(&chunk).await.is_err() {
                return;
            }
            continue;
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(record) = common::next_record(&mut pending) {
            let hit = if !done && state.armed.load(Ordering::SeqCst) {
                done = true;
                *state.hit_at.lock().unwrap() = Some(Instant::now());
                common::hit(attack.expect("armed only with an attack"), record)
            } else {
                common::untouched(record, &mut held)
            };
            if !common::pass_on(&mut to, hit, &mut held).await {
                return;
            }
        }
    }
}

/// What the subscriber got, in order: each message's number and whether its bytes were intact.
type Got = Arc<Mutex<Vec<(u64, bool)>>>;

/// Runs `attack` on a link from a publisher to a subscriber through the proxy; returns what the
/// subscriber got, the proxy's state and the message count at arming.
async fn attacked(attack: Attack, secure: bool) -> (Vec<(u64, bool)>, Arc<ProxyState>, usize) {
    let test = TestDomain::new(&format!("mitm-{}", format!("{attack:?}").to_lowercase()));
    let guard = |name: &str| match secure {
        true => Guard {
            mode: SecurityMode::Enforce,
            provider: Some(test.security(name)),
        },
        false => Guard::off(),
    };
    // A plain run gets a domain of its own: the secure one's registry directory is private.
    let domain = match secure {
        true => test.domain.clone(),
        false => format!("{}-plain", test.domain),
    };
    let planner = common::node("planner", &domain, guard("planner"))
        .await
        .unwrap();
    let got: Got = Arc::default();
    let sink = got.clone();
    planner
        .listen("seq", move |_topic, bytes: Blob| {
            let sink = sink.clone();
            async move {
                let bytes = bytes.0;
                let seq = u64::from_le_bytes(bytes[..8].try_into().unwrap());
                sink.lock().unwrap().push((seq, bytes == payload(seq)));
            }
        })
        .await
        .unwrap();
    let target = endpoint(&planner, &domain);
    let (via, state) = proxy(target, attack, secure).await;
    route_through(&planner, &domain, via);

    let camera = Node::builder("camera")
        .domain_id(domain.as_str())
        .transport(rosy::TransportPreference::Tcp)
        .interfaces(Some(vec!["lo".into()]))
        .mdns(false)
        .dial_only(true)
        // The link under attack is a TLS one, as between two hosts: not a local link.
        .local_links(false)
        .security(guard("camera"))
        .build()
        .await
        .unwrap();
    let publisher = camera.publisher::<Blob>("seq").await.unwrap();
    let sending = tokio::spawn(async move {
        for seq in 0u64.. {
            let _ = publisher.send(&Blob(payload(seq))).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });

    let count = || got.lock().unwrap().len();
    wait_until("the first messages through the proxy", || count() >= BEFORE).await;
    let at_arming = count();
    state.armed.store(true, Ordering::SeqCst);
    if secure {
        wait_until("the link back through the proxy", || {
            state.connections.load(Ordering::SeqCst) >= 2
        })
        .await;
        let back = count();
        wait_until("messages over the new link", || count() >= back + AFTER).await;
    } else {
        wait_until("the attack", || state.hit_at.lock().unwrap().is_some()).await;
        wait_until("messages after the attack", || count() >= at_arming + AFTER).await;
    }
    sending.abort();
    camera.close().await;
    planner.close().await;
    let got = got.lock().unwrap().clone();
    (got, state, at_arming)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tampering_closes_the_link_delivers_nothing_bad_and_the_link_comes_back() {
    for attack in [
        Attack::FlipByte,
        Attack::Drop,
        Attack::Duplicate,
        Attack::Reorder,
        Attack::Truncate,
        Attack::Inject,
    ] {
        let (got, state, at_arming) = attacked(attack, true).await;
        // Nothing damaged, repeated or out of order reached the subscriber.
        assert!(
            got.iter().all(|&(_, intact)| intact),
            "{attack:?}: a damaged message was delivered"
        );
        assert!(
            got.windows(2).all(|w| w[0].0 < w[1].0),
            "{attack:?}: a message was repeated or reordered: {:?}",
            got.iter().map(|g| g.0).collect::<Vec<_>>()
        );
        // The subscriber's node closed the attacked connection at once.
        let hit = state.hit_at.lock().unwrap().expect("the attack was made");
        let closed = state.closed_at.lock().unwrap().expect("the link closed");
        assert!(
            closed.duration_since(hit) < Duration::from_secs(5),
            "{attack:?}: the link stayed up {:?} after the attack",
            closed.duration_since(hit)
        );
        // The link came back through the same proxy, and messages flowed again.
        assert!(state.connections.load(Ordering::SeqCst) >= 2);
        assert!(got.len() >= at_arming + AFTER, "{attack:?}: {}", got.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_security_the_same_proxy_hands_over_a_damaged_message() {
    let (got, state, _) = attacked(Attack::FlipByte, false).await;
    assert!(state.hit_at.lock().unwrap().is_some());
    let damaged = got.iter().filter(|&&(_, intact)| !intact).count();
    assert_eq!(
        damaged, 1,
        "the flipped byte reached the subscriber in one message"
    );
}
