//! The signed ACL between secure nodes in one process, over TCP on loopback: exactly the
//! allowed flows happen. A node asking for what it may not do is refused at once
//! (`Error::Denied`); a rogue node (a member's certificate, its own checks removed) that
//! publishes, subscribes, calls or provides anyway is refused by its peers: its messages are
//! dropped and counted, nothing is routed to it, its calls fail, and it is never asked to answer
//! one. An ACL whose signature does not verify stops a node from starting.

mod common;

use common::{Altered, TestDomain};
use rosy::security::{Guard, LinkSecurity, SecurityMode};
use rosy::{Error, Node};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);
/// How long a refused flow is given to get through anyway.
const WINDOW: Duration = Duration::from_secs(2);

const ACL: &str = "
version: 2
identities:
  planner: [planner]
  motors: [\"motor_*\"]
  cameras: [camera]
  rogue: [rogue]
allow:
  - who: [planner]
    publish: [\"cmd/**\"]
    subscribe: [\"camera/**\"]
    call: [\"motor/*\"]
  - who: [motors]
    subscribe: [\"cmd/**\"]
    provide: [\"motor/*\"]
  - who: [cameras]
    publish: [\"camera/**\"]
  - who: [rogue]
    subscribe: [status]
deny:
  - who: [motors]
    subscribe: [cmd/secret]
";

/// A domain whose CA signed `ACL`, with identities issued after it (they carry it).
fn domain_with_acl() -> TestDomain {
    let domain = TestDomain::new("acl");
    std::fs::write(domain.dir.join("acl.yaml"), ACL).unwrap();
    rosy_security::provision::sign_acl(&domain.dir).unwrap();
    domain
}

async fn node(name: &str, domain: &str, security: Arc<dyn LinkSecurity>) -> Node {
    let guard = Guard {
        mode: SecurityMode::Enforce,
        provider: Some(security),
    };
    common::node(name, domain, guard).await.unwrap()
}

/// Counts what `node` receives on `topic`.
async fn count(node: &Node, topic: &str) -> Arc<AtomicUsize> {
    let got = Arc::new(AtomicUsize::new(0));
    let counter = got.clone();
    node.listen(topic, move |_, _: String| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    })
    .await
    .unwrap();
    got
}

async fn until(what: impl Fn() -> bool) -> bool {
    tokio::time::timeout(T, async {
        while !what() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_the_allowed_flows_happen() {
    let domain = domain_with_acl();
    let d = &domain.domain;
    let planner = node("planner", d, domain.security("planner")).await;
    let motor = node("motor_left", d, domain.security("motor_left")).await;
    let camera = node("camera", d, domain.security("camera")).await;
    let rogue = Altered {
        inner: domain.security("rogue"),
        claims_any_name: false,
        checks_nothing: true,
    };
    let rogue = node("rogue", d, Arc::new(rogue)).await;
    for n in [&planner, &motor, &camera, &rogue] {
        assert!(n.wait_for_topology(T, |t| t.nodes().count() == 3).await);
    }

    // A node asking for what it may not do is refused at once, naming the flow.
    let e = camera.publisher::<String>("cmd/vel").await.err().unwrap();
    assert!(matches!(e, Error::Denied { .. }), "{e}");
    assert!(
        e.to_string().contains("\"camera\"") && e.to_string().contains("cmd/vel"),
        "{e}"
    );
    // Deny beats allow: motors may subscribe to cmd/** but not cmd/secret.
    let e = motor
        .subscriber::<String>("cmd/secret")
        .await
        .err()
        .unwrap();
    assert!(matches!(e, Error::Denied { .. }), "{e}");
    assert!(motor.subscriber::<String>("cmd/vel").await.is_ok());
    motor.stop_listening("cmd/vel").await;

    // Allowed: planner -> motor on cmd/vel; a rogue publishing there is dropped and counted.
    let to_motor = count(&motor, "cmd/vel").await;
    planner.wait_for_listener("cmd/vel", T).await.unwrap();
    planner.send("cmd/vel", "go").await.unwrap();
    assert!(until(|| to_motor.load(Ordering::SeqCst) == 1).await);
    rogue.wait_for_listener("cmd/vel", T).await.unwrap();
    for _ in 0..5 {
        rogue.send("cmd/vel", "hijack").await.unwrap();
    }
    assert!(
        until(|| motor.denied() >= 5).await,
        "denied {}",
        motor.denied()
    );
    assert_eq!(to_motor.load(Ordering::SeqCst), 1);
    // The refusal is visible to the mesh's tools: the motor announces it.
    let refusal = (
        "rogue".to_string(),
        "publish".to_string(),
        "cmd/vel".to_string(),
    );
    assert!(
        planner
            .wait_for_topology(T, |t| t
                .nodes()
                .any(|n| n.name == "motor_left" && n.denied.contains(&refusal)))
            .await,
        "the motor did not announce the refusal"
    );

    // Egress: the camera routes camera/frames to the planner, never to the rogue, whose
    // subscription it does not even show. (The rogue subscribes to "status", which it may, after
    // camera/frames: once the camera shows that one, it has had the other's announcement.)
    let to_planner = count(&planner, "camera/frames").await;
    let to_rogue = count(&rogue, "camera/frames").await;
    let _status = count(&rogue, "status").await;
    assert!(
        camera
            .wait_for_topology(T, |t| {
                !t.listeners("status").is_empty() && !t.listeners("camera/frames").is_empty()
            })
            .await
    );
    let listeners: Vec<String> = camera
        .topology()
        .listeners("camera/frames")
        .iter()
        .map(|n| n.name.clone())
        .collect();
    assert_eq!(listeners, vec!["planner".to_string()]);
    for _ in 0..5 {
        camera.send("camera/frames", "frame").await.unwrap();
    }
    assert!(until(|| to_planner.load(Ordering::SeqCst) == 5).await);
    tokio::time::sleep(WINDOW).await;
    assert_eq!(to_rogue.load(Ordering::SeqCst), 0);

    // Calls: the planner may call motor/enable; the rogue is refused by the provider.
    motor
        .add_service("motor/enable", |on: bool| async move {
            Ok::<bool, rosy::ServiceError>(on)
        })
        .await
        .unwrap();
    planner
        .wait_for_service_provider("motor/enable", T)
        .await
        .unwrap();
    assert!(
        planner
            .call::<bool, bool>("motor/enable", &true)
            .await
            .unwrap()
    );
    rogue
        .wait_for_service_provider("motor/enable", T)
        .await
        .unwrap();
    let e = rogue
        .call::<bool, bool>("motor/enable", &true)
        .await
        .err()
        .unwrap();
    assert!(matches!(e, Error::Refused { .. }), "{e}");
    assert!(e.to_string().contains("\"rogue\""), "{e}");

    // A rogue provider is never asked: the planner finds no provider it may use.
    rogue
        .add_service("motor/brake", |on: bool| async move {
            Ok::<bool, rosy::ServiceError>(on)
        })
        .await
        .unwrap();
    // Once the planner sees the rogue stop listening to "status" (announced after the
    // service), it has had the rogue's claim to provide motor/brake: it does not show it.
    rogue.stop_listening("status").await;
    assert!(
        planner
            .wait_for_topology(T, |t| t.listeners("status").is_empty())
            .await
    );
    assert!(planner.topology().providers("motor/brake").is_empty());
    let e = planner
        .call::<bool, bool>("motor/brake", &true)
        .await
        .err()
        .unwrap();
    assert!(matches!(e, Error::NoProvider { .. }), "{e}");
    // The control: an allowed provider of the same service answers.
    motor
        .add_service("motor/brake", |on: bool| async move {
            Ok::<bool, rosy::ServiceError>(!on)
        })
        .await
        .unwrap();
    assert!(
        planner
            .wait_for_topology(T, |t| t.providers("motor/brake").len() == 1)
            .await
    );
    for _ in 0..4 {
        assert!(
            !planner
                .call::<bool, bool>("motor/brake", &true)
                .await
                .unwrap()
        );
    }

    for n in [planner, motor, camera, rogue] {
        n.close().await;
    }
}

#[test]
fn an_acl_with_a_bad_signature_stops_the_node() {
    let domain = domain_with_acl();
    let camera = domain.issue("camera");
    let edited = ACL.replace("subscribe: [status]", "subscribe: [\"**\"]");
    std::fs::write(camera.join("acl.yaml"), edited).unwrap();
    let e = rosy_security::TlsSecurity::from_dir(&camera, &domain.domain)
        .err()
        .unwrap();
    assert!(
        e.contains("does not verify") && e.contains("rosy security sign-acl"),
        "{e}"
    );
    std::fs::remove_file(camera.join("acl.yaml.sig")).unwrap();
    let e = rosy_security::TlsSecurity::from_dir(&camera, &domain.domain)
        .err()
        .unwrap();
    assert!(e.contains("no signature"), "{e}");
}

#[tokio::test]
async fn a_revoked_certificate_is_refused_by_its_peers_and_by_itself() {
    let domain = domain_with_acl();
    let victim_dir = domain.issue("camera");
    let serial = rosy_security::credentials::Credentials::load(&victim_dir)
        .unwrap()
        .identity
        .serial;
    let revoking = ACL.to_string() + &format!("revoked_serials: [\"{serial}\"]\n");
    std::fs::write(domain.dir.join("acl.yaml"), revoking).unwrap();
    rosy_security::provision::sign_acl(&domain.dir).unwrap();
    let planner = domain.security("planner"); // carries the new ACL
    // Its old ACL still lets the revoked node start; its peers refuse it.
    let revoked = rosy_security::TlsSecurity::from_dir(&victim_dir, &domain.domain).unwrap();
    let (dialer, acceptor) = common::tcp_pair().await;
    let (_, accepted) = common::handshake_both(&revoked, &dialer, &*planner, &acceptor).await;
    let e = accepted.err().unwrap().to_string();
    assert!(e.contains("revoked") && e.contains(&serial), "{e}");
    // Given the new ACL, it refuses to start itself.
    rosy_security::provision::copy_acl(&domain.dir, &victim_dir).unwrap();
    let e = rosy_security::TlsSecurity::from_dir(&victim_dir, &domain.domain)
        .err()
        .unwrap();
    assert!(e.contains("revoked"), "{e}");
}

/// A running node given a newer signed ACL (`sign-acl --to` its credentials) applies it at
/// once: its link to a peer the new ACL revokes closes, and the peer's redials are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_node_applies_a_new_acl_and_drops_a_revoked_peer() {
    let domain = domain_with_acl();
    let d = &domain.domain;
    let planner_dir = domain.issue("planner");
    let camera_dir = domain.issue("camera");
    let load = |dir: &std::path::Path| -> Arc<dyn LinkSecurity> {
        Arc::new(rosy_security::TlsSecurity::from_dir(dir, d).unwrap())
    };
    let planner = node("planner", d, load(&planner_dir)).await;
    let camera = node("camera", d, load(&camera_dir)).await;
    assert!(
        planner
            .wait_for_topology(T, |t| t.nodes().count() == 1)
            .await
    );

    let serial = rosy_security::credentials::Credentials::load(&camera_dir)
        .unwrap()
        .identity
        .serial;
    let newer =
        ACL.replace("version: 2", "version: 3") + &format!("revoked_serials: [\"{serial}\"]\n");
    std::fs::write(domain.dir.join("acl.yaml"), newer).unwrap();
    rosy_security::provision::sign_acl(&domain.dir).unwrap();
    let applied = std::time::Instant::now();
    rosy_security::provision::copy_acl(&domain.dir, &planner_dir).unwrap();
    assert!(
        planner
            .wait_for_topology(T, |t| t.nodes().count() == 0)
            .await,
        "the revoked camera is still connected"
    );
    eprintln!(
        "link to the revoked peer closed {:?} after the new ACL landed",
        applied.elapsed()
    );
    // The camera keeps redialing (its own ACL is the old one) and is refused every time.
    tokio::time::sleep(WINDOW).await;
    assert_eq!(planner.topology().nodes().count(), 0);
    camera.close().await;
    planner.close().await;
}
