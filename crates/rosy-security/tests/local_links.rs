//! Same-host members link over their local sockets (`rosy::transport::tcp::local`): no TLS
//! handshake, each end checks the other's certificate, and they talk. The control: with local
//! links off, the same nodes make a TLS handshake at each end of each link. The certificate
//! check on a local link refuses what the TLS handshake refuses: another CA's certificate, a
//! revoked one, another domain's.

mod common;

use common::{Counted, TestDomain, node_builder};
use rosy::Node;
use rosy::security::{Guard, LinkSecurity, SecurityMode};
use std::sync::Arc;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn enforce(security: Arc<dyn LinkSecurity>) -> Guard {
    Guard {
        mode: SecurityMode::Enforce,
        provider: Some(security),
    }
}

/// Three members on this host, with local links on or off; each node's provider counts.
async fn three_members(local_links: bool) -> (TestDomain, Vec<(Node, Arc<Counted>)>) {
    let domain = TestDomain::new(if local_links { "local" } else { "tls" });
    let mut nodes = Vec::new();
    for name in ["planner", "camera", "lidar"] {
        let counted = Counted::new(domain.security(name));
        let node = node_builder(name, &domain.domain, enforce(counted.clone()))
            .local_links(local_links)
            .build()
            .await
            .unwrap();
        nodes.push((node, counted));
    }
    for (node, _) in &nodes {
        assert!(
            node.wait_for_topology(T, |t| t.nodes().count() == 2).await,
            "{} did not see both others",
            node.name()
        );
    }
    // They talk: a call from the lidar to the planner's service.
    nodes[0]
        .0
        .add_service("plus_one", |x: u32| async move {
            Ok::<u32, rosy::ServiceError>(x + 1)
        })
        .await
        .unwrap();
    nodes[2]
        .0
        .wait_for_service_provider("plus_one", T)
        .await
        .unwrap();
    assert_eq!(
        nodes[2].0.call::<u32, u32>("plus_one", &41).await.unwrap(),
        42
    );
    (domain, nodes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_host_members_link_locally_without_a_tls_handshake() {
    let (domain, nodes) = three_members(true).await;
    for (node, counted) in &nodes {
        let (handshakes, vouched) = counted.counts();
        assert_eq!(handshakes, 0, "{} made TLS handshakes", node.name());
        // Each end of each of its two links checked the other's certificate.
        assert!(
            vouched >= 2,
            "{} checked {vouched} certificates",
            node.name()
        );
    }
    // A dial-only tool (as `rosy service call` is) has no socket of its own, and dials theirs.
    let tool = Counted::new(domain.security("rosy-tool"));
    let tool_node = node_builder("rosy-tool", &domain.domain, enforce(tool.clone()))
        .dial_only(true)
        .build()
        .await
        .unwrap();
    tool_node
        .wait_for_service_provider("plus_one", T)
        .await
        .unwrap();
    assert_eq!(tool_node.call::<u32, u32>("plus_one", &1).await.unwrap(), 2);
    assert_eq!(tool.counts().0, 0, "the tool made TLS handshakes");
    assert!(tool.counts().1 >= 1);
    assert_eq!(
        sockets(&domain),
        3,
        "one socket per member, none for the tool"
    );
    tool_node.close().await;
    for (node, _) in nodes {
        node.close().await;
    }
    assert_eq!(sockets(&domain), 0, "closed nodes left their sockets");
}

/// The local sockets in `domain`'s registry directory.
fn sockets(domain: &TestDomain) -> usize {
    std::fs::read_dir(rosy::discovery::registry::domain_dir(&domain.domain))
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".sock"))
                .count()
        })
        .unwrap_or(0)
}

/// The control: the same members with local links off seal every link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_local_links_off_every_same_host_link_is_a_tls_handshake() {
    let (_domain, nodes) = three_members(false).await;
    for (node, counted) in &nodes {
        let (handshakes, vouched) = counted.counts();
        assert!(
            handshakes >= 2,
            "{} made {handshakes} handshakes",
            node.name()
        );
        assert_eq!(vouched, 0, "{} made a local link", node.name());
    }
    for (node, _) in nodes {
        node.close().await;
    }
}

/// A node of another CA for the same domain id, on this host: it reaches the members' local
/// sockets (same user, same registry directory) and is refused by the certificate check, as
/// over TLS; the members still talk among themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_cas_node_on_this_host_is_refused_on_the_local_link() {
    let domain = TestDomain::new("local-impostor");
    let planner = Counted::new(domain.security("planner"));
    let planner_node = node_builder("planner", &domain.domain, enforce(planner.clone()))
        .build()
        .await
        .unwrap();
    let impostors = TestDomain::impostor_of(&domain);
    let impostor = Counted::new(impostors.security("camera"));
    let impostor_node = node_builder("camera", &domain.domain, enforce(impostor.clone()))
        .build()
        .await
        .unwrap();
    let honest = node_builder("lidar", &domain.domain, enforce(domain.security("lidar")))
        .build()
        .await
        .unwrap();
    assert!(
        planner_node
            .wait_for_topology(T, |t| t.nodes().count() == 1)
            .await
    );
    // Both sides tried: whichever dialed, each checked the other's certificate and refused it.
    let tried = tokio::time::timeout(T, async {
        while planner.counts().1 < 2 || impostor.counts().1 < 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        tried.is_ok(),
        "counts {:?} {:?}",
        planner.counts(),
        impostor.counts()
    );
    let seen: Vec<String> = planner_node
        .topology()
        .nodes()
        .map(|n| n.id.clone())
        .collect();
    assert_eq!(seen, vec![honest.id()]);
    assert_eq!(impostor_node.topology().nodes().count(), 0);
    assert_eq!(
        planner.counts().0 + impostor.counts().0,
        0,
        "a TLS handshake was tried"
    );
    for n in [planner_node, impostor_node, honest] {
        n.close().await;
    }
}

/// The certificate check itself, as the other end of a local link runs it.
#[test]
fn a_local_links_certificate_check_refuses_what_tls_refuses() {
    let domain = TestDomain::new("vouch");
    let planner = domain.security("planner");
    let camera = domain.security("camera");
    let identity = planner
        .vouch(&camera.local_certificate().unwrap())
        .expect("a member's certificate");
    assert_eq!(identity.name, "camera");
    assert_eq!(identity.key_id, camera.id_prefix());

    let impostors = TestDomain::impostor_of(&domain);
    let impostor = impostors.security("camera");
    let e = planner
        .vouch(&impostor.local_certificate().unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("certificate"), "{e}");

    let elsewhere = TestDomain::new("vouch-elsewhere");
    let other_domain = elsewhere.security("camera");
    assert!(
        planner
            .vouch(&other_domain.local_certificate().unwrap())
            .is_err()
    );
    assert!(planner.vouch(b"not a certificate").is_err());
}
