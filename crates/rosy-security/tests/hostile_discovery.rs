//! Hostile mDNS with the right tag (anyone on the LAN can copy it off the air): discovery is a
//! hint, the connection authenticates. A made-up node announced with the tag is dialed and
//! turned away, never joins; an announcement of a real member's id at the attacker's address
//! adds an address to try, never takes the member's place: when the member's link breaks, the
//! node comes back to the member, not to the attacker.
//!
//! Needs multicast on loopback (scripts/test runs the tests in a namespace that routes it
//! there). The member is reached through a proxy (its registry entry rewritten to name it), so
//! that the test can break the link and hold it broken while the attacker's address is tried.

mod common;

use common::{TestDomain, endpoint, route_through, wait_until};
use rosy::Node;
use rosy::discovery::mdns::MdnsAnnouncer;
use rosy::discovery::{Announcement, DiscoveryConfig, SecureDiscovery};
use rosy::security::{Guard, LinkSecurity, SecurityMode};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy to `target` that can break its connections and turn new ones away.
struct Proxy {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    refusing: Arc<AtomicBool>,
    /// Bumped to break every connection made so far.
    cut: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let refusing = Arc::new(AtomicBool::new(false));
        let (cut, cuts) = tokio::sync::watch::channel(0u64);
        let (count, refuse) = (accepted.clone(), refusing.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if refuse.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let Ok(mut server) = TcpStream::connect(target).await else {
                    continue;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let mut cuts = cuts.clone();
                cuts.mark_unchanged();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            accepted,
            refusing,
            cut,
        }
    }

    fn break_links(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

/// A listener that counts the connections it gets and closes each at once (an attacker with no
/// credentials of the domain).
async fn attacker() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dialed = Arc::new(AtomicUsize::new(0));
    let count = dialed.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (addr, dialed)
}

/// The string value of `key` in `node`'s registry entry.
fn field(node: &Node, domain: &str, key: &str) -> String {
    let (_, text, _) = common::entry(node, domain);
    let key = format!("\"{key}\":\"");
    let start = text.find(&key).expect("the field") + key.len();
    let end = start + text[start..].find('"').expect("its end");
    text[start..end].to_string()
}

/// Announces, over mDNS on loopback with the domain's tag, a node `id` of host `host` at `at`.
fn announce(id: &str, host: &str, at: SocketAddr, domain: &str, tag: &str) -> MdnsAnnouncer {
    let config = DiscoveryConfig {
        domain: domain.to_string(),
        interfaces: Some(vec!["lo".into()]),
        mdns: true,
        registry: false,
        secure: Some(SecureDiscovery { tag: tag.into() }),
    };
    let fake = Announcement {
        id: id.into(),
        name: "planner".into(),
        domain: domain.to_string(),
        host_id: host.into(),
        pid: 1,
        endpoints: vec![at],
        version: 1,
        tool: false,
        dial_only: false,
    };
    let (events, _heard) = tokio::sync::mpsc::unbounded_channel();
    MdnsAnnouncer::start(&config, &fake, events).expect("mDNS on loopback")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_announcements_with_the_right_tag_are_dialed_turned_away_and_never_take_a_members_place()
 {
    let test = TestDomain::new("hostile-mdns");
    let domain = test.domain.clone();
    let guard = |name: &str| Guard {
        mode: SecurityMode::Enforce,
        provider: Some(test.security(name)),
    };
    // The member: found through the registry only, reached through the proxy.
    let planner = common::node("planner", &domain, guard("planner"))
        .await
        .unwrap();
    let got = Arc::new(Mutex::new(Vec::<u64>::new()));
    let sink = got.clone();
    planner
        .listen("seq", move |_topic, seq: u64| {
            let sink = sink.clone();
            async move { sink.lock().unwrap().push(seq) }
        })
        .await
        .unwrap();
    let host = field(&planner, &domain, "host_id");
    let proxy = Proxy::start(endpoint(&planner, &domain)).await;
    route_through(&planner, &domain, proxy.addr);

    // The node under attack: it browses mDNS on loopback and dials whatever it is told of.
    let camera_security = test.security("camera");
    let tag = camera_security.discovery_tag(&domain);
    let camera = Node::builder("camera")
        .domain_id(domain.as_str())
        .transport(rosy::TransportPreference::Tcp)
        .interfaces(Some(vec!["lo".into()]))
        .mdns(true)
        .dial_only(true)
        // Which TCP addresses it dials is the subject: no local link to the same-host member.
        .local_links(false)
        .security(Guard {
            mode: SecurityMode::Enforce,
            provider: Some(camera_security),
        })
        .build()
        .await
        .unwrap();
    let publisher = camera.publisher::<u64>("seq").await.unwrap();
    let sending = tokio::spawn(async move {
        for seq in 0u64.. {
            let _ = publisher.send(&seq).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let count = || got.lock().unwrap().len();
    wait_until("the member's messages", || count() >= 20).await;

    // A made-up node with the tag: dialed (the hint is heard), turned away, never joins.
    let (fake_at, fake_dialed) = attacker().await;
    let _fake = announce("f00df00df00df00d-fake", &host, fake_at, &domain, &tag);
    wait_until("the made-up node dialed", || {
        fake_dialed.load(Ordering::SeqCst) >= 1
    })
    .await;
    assert_eq!(
        camera.topology().nodes().count(),
        1,
        "only the member is connected"
    );

    // The member's id announced at the attacker's address. The member's link breaks and the
    // proxy turns every dial away until the attacker's address has been tried.
    let (hijack_at, hijack_dialed) = attacker().await;
    let _hijack = announce(&planner.id(), &host, hijack_at, &domain, &tag);
    proxy.refusing.store(true, Ordering::SeqCst);
    proxy.break_links();
    wait_until("the attacker's address for the member tried", || {
        hijack_dialed.load(Ordering::SeqCst) >= 1
    })
    .await;
    assert!(
        !camera
            .topology()
            .nodes()
            .any(|n| n.id.as_str() == planner.id()),
        "no link to the member's id while its address turns dials away"
    );
    // The member's own address works again: the node comes back to it.
    let links_before = proxy.accepted.load(Ordering::SeqCst);
    proxy.refusing.store(false, Ordering::SeqCst);
    let back = count();
    wait_until("the member's messages again", || count() >= back + 20).await;
    assert!(proxy.accepted.load(Ordering::SeqCst) > links_before);
    assert_eq!(camera.topology().nodes().count(), 1);
    let got = got.lock().unwrap().clone();
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order, once each");

    sending.abort();
    camera.close().await;
    planner.close().await;
}
