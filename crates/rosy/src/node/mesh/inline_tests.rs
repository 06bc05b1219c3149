//! Inline handlers (`Node::on_message`): every message reaches the handler, in order, over TCP
//! and shared memory, with no queue between; the handler may publish; transient-local is
//! refused with a reason. Inline services (`Node::add_service_inline`) answer same-host calls,
//! calls by TCP and the node's own, errors included.

use super::test_nodes::domain;
use crate::node::Node;
use crate::node::preference::TransportPreference;
use crate::qos::Qos;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

async fn node(name: &str, domain: &str, transport: TransportPreference) -> Node {
    Node::builder(name)
        .domain_id(domain)
        .mdns(false)
        .interfaces(Some(vec!["lo".to_string()]))
        .transport(transport)
        .build()
        .await
        .expect("node starts")
}

async fn in_order_and_may_publish(transport: TransportPreference) {
    let domain = domain("inline", transport);
    let (sender, handler_node) = (
        node("sender", &domain, transport).await,
        node("relay", &domain, transport).await,
    );
    let seen = Arc::new(Mutex::new(Vec::<u32>::new()));
    let (into, relay) = (seen.clone(), handler_node.clone());
    // The shared-memory reader is a thread of the node's own, not the runtime's: async work
    // goes to the runtime through its handle.
    let runtime = tokio::runtime::Handle::current();
    let _inline = handler_node
        .on_message("counts", Qos::default(), move |m| {
            let n: u32 = rmp_serde::from_slice(&m.payload).expect("a msgpack u32");
            into.lock().unwrap().push(n);
            // A handler may publish: it runs outside the mesh's locks.
            let relay = relay.clone();
            runtime.spawn(async move {
                let _ = relay.send("echoes", &n).await;
            });
        })
        .await
        .unwrap();
    let mut echoes = sender.subscriber::<u32>("echoes").await.unwrap();
    sender.wait_for_listener("counts", T).await.unwrap();
    handler_node.wait_for_listener("echoes", T).await.unwrap();
    let publisher = sender.publisher::<u32>("counts").await.unwrap();
    for i in 0..500u32 {
        publisher.send(&i).await.unwrap();
    }
    let all = wait(T, || seen.lock().unwrap().len() == 500).await;
    assert!(
        all,
        "500 messages reach the handler: {}",
        seen.lock().unwrap().len()
    );
    assert_eq!(
        *seen.lock().unwrap(),
        (0..500).collect::<Vec<_>>(),
        "in order"
    );
    let first = tokio::time::timeout(T, echoes.recv()).await.unwrap();
    assert!(first.is_some(), "what the handler published arrives");
}

async fn wait(timeout: Duration, ready: impl Fn() -> bool) -> bool {
    tokio::time::timeout(timeout, async {
        while !ready() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_handler_gets_every_message_in_order_over_tcp() {
    in_order_and_may_publish(TransportPreference::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_handler_gets_every_message_in_order_through_shared_memory() {
    in_order_and_may_publish(TransportPreference::Shm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_handler_cannot_be_transient_local() {
    let domain = domain("inline-latched", TransportPreference::Tcp);
    let node = node("latched", &domain, TransportPreference::Tcp).await;
    let refused = node.on_message("map", Qos::latched(), |_| {}).await;
    let Err(e) = refused else {
        panic!("a transient-local inline handler is refused");
    };
    assert!(e.to_string().contains("transient-local"), "{e}");
}

async fn an_inline_service_answers(transport: TransportPreference) {
    let domain = domain("inline-service", transport);
    let (provider, caller) = (
        node("provider", &domain, transport).await,
        node("caller", &domain, transport).await,
    );
    let on_reader = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = on_reader.clone();
    provider
        .add_service_inline("multiply", move |(a, b): (i64, i64)| {
            if std::thread::current().name() == Some("rosy-shm-reader") {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            a.checked_mul(b)
                .ok_or_else(|| crate::ServiceError::msg(format!("{a} * {b} overflows")))
        })
        .await
        .unwrap();
    caller
        .wait_for_service_provider("multiply", T)
        .await
        .unwrap();
    // Many calls: the first go by TCP while shared memory is set up, the later through it.
    for i in 0..300i64 {
        let product: i64 = caller.call("multiply", &(i, 3)).await.unwrap();
        assert_eq!(product, 3 * i);
    }
    let overflow = caller.call::<_, i64>("multiply", &(i64::MAX, 2)).await;
    let Err(e) = overflow else {
        panic!("an overflow is an error");
    };
    assert!(e.to_string().contains("overflows"), "{e}");
    // The provider calling itself runs the handler too.
    let own: i64 = provider.call("multiply", &(6, 7)).await.unwrap();
    assert_eq!(own, 42);
    // Through shared memory the handler ran on the reader thread that took the request in.
    let inline = on_reader.load(std::sync::atomic::Ordering::Relaxed);
    match transport {
        TransportPreference::Shm => assert!(inline > 200, "{inline} of 300 calls inline"),
        _ => assert_eq!(inline, 0),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_service_answers_over_tcp() {
    an_inline_service_answers(TransportPreference::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_service_answers_through_shared_memory() {
    an_inline_service_answers(TransportPreference::Shm).await;
}
