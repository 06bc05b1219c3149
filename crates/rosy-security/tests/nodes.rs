//! Secure nodes in one process, over TCP on loopback: members exchange topics and calls; a
//! plain node of the same domain (the intruder) gets nothing, reaches nobody and its call fails,
//! where with security off the same intruder reads and writes everything (the control); a node
//! with another CA's certificate, or calling itself by a name its certificate does not grant,
//! is never connected.

mod common;

use common::{Altered, TestDomain, node};
use rosy::Node;
use rosy::security::{Guard, LinkSecurity, SecurityMode};
use std::sync::Arc;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);
/// How long an intruder is given to get something: longer than discovery and a handshake take
/// between members (both well under a second here).
const WINDOW: Duration = Duration::from_secs(3);

fn enforce(security: Arc<dyn LinkSecurity>) -> Guard {
    Guard {
        mode: SecurityMode::Enforce,
        provider: Some(security),
    }
}

/// Waits until `node` sees `count` other nodes (its topology holds its peers, not itself).
async fn sees(node: &Node, count: usize) -> bool {
    node.wait_for_topology(T, |t| t.nodes().count() >= count)
        .await
}

/// A listener on "cmd" that counts what it gets; a service "arm" that answers its argument + 1.
async fn victim(node: &Node) -> Arc<std::sync::atomic::AtomicUsize> {
    let got = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = got.clone();
    node.listen("cmd", move |_topic, _: String| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    })
    .await
    .unwrap();
    node.add_service("arm", |x: u32| async move {
        Ok::<u32, rosy::ServiceError>(x + 1)
    })
    .await
    .unwrap();
    got
}

/// What an intruder achieves against a mesh of `planner` (listener, provider) and `camera`
/// (publisher): (messages it got to the listener, messages it read of the camera's, whether
/// its call succeeded).
async fn intrude(planner: &Node, camera: &Node, intruder: &Node) -> (usize, usize, bool) {
    let got = victim(planner).await;
    let mut stolen = intruder
        .subscriber::<String>("camera/frames")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WINDOW;
    let mut read = 0;
    while tokio::time::Instant::now() < deadline {
        let _ = intruder.send("cmd", "drive").await;
        let _ = camera.send("camera/frames", "frame").await;
        if tokio::time::timeout(Duration::from_millis(100), stolen.recv())
            .await
            .is_ok()
        {
            read += 1;
        }
    }
    let call = intruder.call::<u32, u32>("arm", &41).await;
    (
        got.load(std::sync::atomic::Ordering::SeqCst),
        read,
        call.is_ok(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_talk_and_a_plain_intruder_gets_nothing() {
    let domain = TestDomain::new("intruder");
    let planner = node(
        "planner",
        &domain.domain,
        enforce(domain.security("planner")),
    )
    .await
    .unwrap();
    let camera = node("camera", &domain.domain, enforce(domain.security("*")))
        .await
        .unwrap();
    assert!(sees(&planner, 1).await && sees(&camera, 1).await);

    // Members: a call and a topic.
    let got = victim(&planner).await;
    camera
        .wait_for_service_provider("arm", T)
        .await
        .expect("the camera sees the planner's service");
    assert_eq!(camera.call::<u32, u32>("arm", &1).await.unwrap(), 2);
    camera.wait_for_listener("cmd", T).await.unwrap();
    camera.send("cmd", "drive").await.unwrap();
    tokio::time::timeout(T, async {
        while got.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the planner gets the camera's message");
    planner.remove_service("arm").await;
    planner.stop_listening("cmd").await;

    // The intruder: a plain node of the same domain id.
    let intruder = node("intruder", &domain.domain, Guard::off())
        .await
        .unwrap();
    let (delivered, read, called) = intrude(&planner, &camera, &intruder).await;
    assert_eq!((delivered, read, called), (0, 0, false));
    assert_eq!(
        intruder.topology().nodes().count(),
        0,
        "the intruder connected to a member"
    );
    intruder.close().await;
    planner.close().await;
    camera.close().await;
}

/// The control: the same intrusion with security off everywhere works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_security_off_the_same_intruder_gets_everything() {
    let domain = TestDomain::new("control");
    let planner = node("planner", &domain.domain, Guard::off()).await.unwrap();
    let camera = node("camera", &domain.domain, Guard::off()).await.unwrap();
    let intruder = node("intruder", &domain.domain, Guard::off())
        .await
        .unwrap();
    assert!(sees(&intruder, 2).await);
    let (delivered, read, called) = intrude(&planner, &camera, &intruder).await;
    assert!(
        delivered > 0 && read > 0 && called,
        "{delivered} {read} {called}"
    );
    intruder.close().await;
    planner.close().await;
    camera.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_cas_node_and_a_node_lying_about_its_name_are_never_connected() {
    let domain = TestDomain::new("strangers");
    let planner = node(
        "planner",
        &domain.domain,
        enforce(domain.security("planner")),
    )
    .await
    .unwrap();
    let impostors = TestDomain::impostor_of(&domain);
    let impostor = node("camera", &domain.domain, enforce(impostors.security("*")))
        .await
        .unwrap();
    // A member's certificate for "camera", in a node that calls itself "planner".
    let liar = node(
        "planner",
        &domain.domain,
        enforce(Arc::new(Altered {
            inner: domain.security("camera"),
            claims_any_name: true,
            checks_nothing: false,
        })),
    )
    .await
    .unwrap();
    // The control: the same certificate under its own name connects.
    let honest = node("camera", &domain.domain, enforce(domain.security("camera")))
        .await
        .unwrap();
    assert!(sees(&planner, 1).await);
    tokio::time::sleep(WINDOW).await;
    let seen: Vec<String> = planner.topology().nodes().map(|n| n.id.clone()).collect();
    assert_eq!(seen, vec![honest.id()]);
    assert_eq!(impostor.topology().nodes().count(), 0);
    assert_eq!(liar.topology().nodes().count(), 0);
    for n in [planner, impostor, liar, honest] {
        n.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refuses_to_start_under_a_name_its_certificate_does_not_grant() {
    let domain = TestDomain::new("ownname");
    let e = node(
        "planner",
        &domain.domain,
        enforce(domain.security("camera")),
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("\"planner\"") && e.contains("\"camera\"") && e.contains("rosy security issue"),
        "{e}"
    );
    let patterned = node(
        "camera_front",
        &domain.domain,
        enforce(domain.security("camera_*")),
    );
    patterned.await.unwrap().close().await;
}

/// Permissive mode, for moving a running mesh over: a permissive node talks to plain and secure
/// nodes alike, while the plain and the secure node still never meet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permissive_node_talks_to_plain_and_secure_ones() {
    let domain = TestDomain::new("permissive");
    let permissive = Guard {
        mode: SecurityMode::Permissive,
        provider: Some(domain.security("*")),
    };
    let middle = node("middle", &domain.domain, permissive).await.unwrap();
    let plain = node("old", &domain.domain, Guard::off()).await.unwrap();
    let secure = node("new", &domain.domain, enforce(domain.security("*")))
        .await
        .unwrap();
    assert!(
        sees(&middle, 2).await,
        "the permissive node did not meet both"
    );
    let got = victim(&middle).await;
    for sender in [&plain, &secure] {
        sender.wait_for_listener("cmd", T).await.unwrap();
        sender.send("cmd", "hello").await.unwrap();
    }
    tokio::time::timeout(T, async {
        while got.load(std::sync::atomic::Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the permissive node gets both");
    tokio::time::sleep(WINDOW).await;
    let names =
        |n: &Node| -> Vec<String> { n.topology().nodes().map(|i| i.name.clone()).collect() };
    assert_eq!(names(&plain), vec!["middle".to_string()]);
    assert_eq!(names(&secure), vec!["middle".to_string()]);
    for n in [middle, plain, secure] {
        n.close().await;
    }
}
