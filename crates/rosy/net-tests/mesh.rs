//! Topics, services, load balancing, domains, reconnects and large topologies between processes.

use crate::support::{Proc, eventually, node, unique_domain, wait_until};
use std::time::{Duration, Instant};

const HELLO: &str = "Received \"hello world\" on topic=some-topic";
const T: Duration = Duration::from_secs(15);

#[test]
fn a_topic_message_reaches_a_listener_in_another_process() {
    let domain = unique_domain("topic");
    let listener = Proc::example("topic_listener", &domain, &[]);
    listener.expect_line("Listening...", T);
    let mut sender = Proc::example("topic_sender", &domain, &[]);
    assert!(sender.wait_exit(T).success(), "{:?}", sender.stderr());
    listener.expect_line(HELLO, T);
}

#[test]
fn a_service_call_returns_the_providers_answer_and_its_error() {
    let domain = unique_domain("service");
    let provider = Proc::example("service_provider", &domain, &[]);
    provider.expect_line("Started service...", T);
    let mut caller = Proc::example("service_caller", &domain, &[]);
    assert!(caller.wait_exit(T).success(), "{:?}", caller.stderr());
    assert_eq!(caller.stdout(), ["Calculating 2 * 2...", "Result: 4"]);

    let mut overflow = Proc::example("service_caller", &domain, &["4611686018427387904", "4"]);
    assert!(!overflow.wait_exit(T).success());
    let stderr = overflow.stderr().join("\n");
    assert!(stderr.contains("overflows a 64-bit integer"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_name_listeners_share_and_other_names_get_everything() {
    let domain = unique_domain("balance");
    let group: Vec<Proc> = (0..3)
        .map(|_| Proc::example("topic_listener", &domain, &["--name", "rr"]))
        .collect();
    let solo = Proc::example("topic_listener", &domain, &["--name", "solo"]);
    let sender = node("tester", &domain).await;
    let all_known = eventually(&sender, T, |n| {
        n.topology().listeners("some-topic").len() == 4
    })
    .await;
    assert!(
        all_known,
        "only {} listeners found",
        sender.topology().listeners("some-topic").len()
    );

    const N: usize = 300;
    for _ in 0..N {
        assert_eq!(
            sender
                .send("some-topic", &("hello", "world"))
                .await
                .unwrap(),
            2
        );
    }
    let done = wait_until(T, || {
        solo.count(HELLO) == N && group.iter().map(|p| p.count(HELLO)).sum::<usize>() == N
    });
    let counts: Vec<usize> = group.iter().map(|p| p.count(HELLO)).collect();
    assert!(done, "group got {counts:?}, solo got {}", solo.count(HELLO));
    for count in counts {
        assert!(
            (N / 3 - 1..=N / 3 + 1).contains(&count),
            "uneven share {count}"
        );
    }
    sender.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_domains_never_see_each_other() {
    let (a, b) = (unique_domain("dom-a"), unique_domain("dom-b"));
    let provider = Proc::example("service_provider", &a, &[]);
    provider.expect_line("Started service...", T);
    let same = node("same", &a).await;
    let other = node("other", &b).await;
    same.wait_for_service_provider("multiply", T).await.unwrap();
    // Everything `same` could see, `other` would have seen by now too: it started no later.
    assert!(!other.service_has_providers("multiply"));
    assert!(other.topology().is_empty(), "{:?}", other.topology());
    let err = other.call::<_, i64>("multiply", &(2, 2)).await.unwrap_err();
    assert!(matches!(err, rosy::Error::NoProvider { .. }), "{err}");
    assert_eq!(same.call::<_, i64>("multiply", &(3, 4)).await.unwrap(), 12);
    same.close().await;
    other.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_listener_leaves_the_topology_and_its_successor_gets_messages() {
    let domain = unique_domain("reconnect");
    let watcher = node("watcher", &domain).await;
    let mut sender = Proc::example(
        "topic_sender",
        &domain,
        &["--count", "100000", "--interval", "0.02"],
    );
    let mut first = Proc::example("topic_listener", &domain, &[]);
    first.expect_line(HELLO, T);
    assert!(
        eventually(&watcher, T, |n| n.topology().listeners("some-topic").len()
            == 1)
        .await,
        "watcher never saw the listener"
    );

    first.kill();
    let killed = Instant::now();
    assert!(
        eventually(&watcher, Duration::from_secs(5), |n| n
            .topology()
            .listeners("some-topic")
            .is_empty())
        .await,
        "the killed listener was still in the topology 5 s later"
    );
    eprintln!(
        "killed listener left the topology after {:?}",
        killed.elapsed()
    );

    let second = Proc::example("topic_listener", &domain, &[]);
    second.expect_line("Listening...", T);
    let ready = Instant::now();
    second.expect_line(HELLO, Duration::from_secs(2));
    eprintln!(
        "restarted listener got a message {:?} after it was ready",
        ready.elapsed()
    );
    sender.kill();
    watcher.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_500_topics_and_100_services_is_known_whole() {
    let domain = unique_domain("big");
    let big = node("big", &domain).await;
    let mut subscribers = Vec::new();
    for i in 0..500 {
        subscribers.push(
            big.subscriber::<u32>(&format!("sensors/{i:03}/data"))
                .await
                .unwrap(),
        );
    }
    for i in 0..100 {
        big.add_service(&format!("service/{i:03}"), move |x: u32| async move {
            Ok(x + i)
        })
        .await
        .unwrap();
    }
    let observer = node("observer", &domain).await;
    let whole = eventually(&observer, T, |n| {
        n.topology().nodes().any(|info| {
            // Services add rosy's own (hidden) request topic beside the 500.
            let topics = info
                .topics
                .iter()
                .filter(|t| !rosy::node::is_internal_topic(&t.name))
                .count();
            topics == 500 && info.services.len() == 100
        })
    })
    .await;
    assert!(whole, "observer never saw all 500 topics and 100 services");
    assert_eq!(
        observer.call::<_, u32>("service/042", &1).await.unwrap(),
        43
    );
    observer.send("sensors/499/data", &7u32).await.unwrap();
    let got = tokio::time::timeout(T, subscribers[499].recv())
        .await
        .unwrap();
    assert_eq!(got, Some(7));

    // A change reaches the peer within a second.
    big.stop_listening("sensors/000/data").await;
    drop(subscribers.remove(0));
    let changed = Instant::now();
    assert!(
        eventually(&observer, Duration::from_secs(1), |n| n
            .topology()
            .listeners("sensors/000/data")
            .is_empty())
        .await,
        "topology change took longer than 1 s"
    );
    eprintln!("topology change seen after {:?}", changed.elapsed());
    big.close().await;
    observer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_with_errors_a_caller_can_match() {
    let domain = unique_domain("errors");
    let provider = node("provider", &domain).await;
    provider
        .add_service("slow", |ms: u64| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(ms)
        })
        .await
        .unwrap();
    provider
        .add_service("fail", |_: ()| async move {
            Err::<(), _>(rosy::ServiceError::msg("disk on fire"))
        })
        .await
        .unwrap();
    let started = std::sync::Arc::new(tokio::sync::Notify::new());
    let started_in_handler = started.clone();
    provider
        .add_service("hold", move |ms: u64| {
            let started = started_in_handler.clone();
            async move {
                started.notify_one();
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(ms)
            }
        })
        .await
        .unwrap();
    let caller = node("caller", &domain).await;
    caller.wait_for_service_provider("hold", T).await.unwrap();
    caller.wait_for_service_provider("slow", T).await.unwrap();
    caller.wait_for_service_provider("fail", T).await.unwrap();

    let err = caller
        .call_timeout::<_, u64>("slow", &2_000u64, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(matches!(err, rosy::Error::Timeout { .. }), "{err}");
    let err = caller.call::<_, ()>("fail", &()).await.unwrap_err();
    match err {
        rosy::Error::Handler { message, .. } => assert_eq!(message, "disk on fire"),
        other => panic!("expected a handler error, got {other}"),
    }
    let err = caller
        .call::<_, u64>("slow", &"not a number")
        .await
        .unwrap_err();
    assert!(matches!(err, rosy::Error::CodecMismatch { .. }), "{err}");
    let err = caller.call::<_, u64>("nobody", &1u64).await.unwrap_err();
    assert!(matches!(err, rosy::Error::NoProvider { .. }), "{err}");

    // The provider goes away during a call.
    let call = {
        let caller = caller.clone();
        tokio::spawn(async move { caller.call::<_, u64>("hold", &5_000u64).await })
    };
    tokio::time::timeout(T, started.notified())
        .await
        .expect("the call reached its handler");
    drop(provider);
    let err = tokio::time::timeout(T, call)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, rosy::Error::ProviderGone { .. }), "{err}");
    caller.close().await;
}

/// Sends N numbered messages of mixed sizes from one node to another over `transport`.
async fn numbered_burst(
    transport: rosy::TransportPreference,
    n: u64,
) -> (
    rosy::Node,
    rosy::Subscriber<(u64, serde_bytes::ByteBuf)>,
    rosy::Node,
) {
    let domain = unique_domain("order");
    let build = |name: &str| {
        rosy::Node::builder(name)
            .domain_id(&domain)
            .interfaces(Some(vec!["lo".to_string()]))
            .transport(transport)
            .queue_capacity(1 << 16)
            .build()
    };
    let receiver = build("receiver").await.unwrap();
    let subscriber = receiver
        .subscriber::<(u64, serde_bytes::ByteBuf)>("seq")
        .await
        .unwrap();
    let sender = build("sender").await.unwrap();
    sender.wait_for_listener("seq", T).await.unwrap();
    let task_sender = sender.clone();
    tokio::spawn(async move {
        for i in 0..n {
            // Mixed sizes and bursts: some frames go straight to the socket, some through the
            // outbox, some are split between the two; large ones use shared-memory chunks.
            let size = if i % 97 == 0 {
                300_000
            } else {
                (i % 7) as usize * 100
            };
            let payload = serde_bytes::ByteBuf::from(vec![i as u8; size]);
            task_sender.send("seq", &(i, payload)).await.unwrap();
            if i % 1000 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    (sender, subscriber, receiver)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tcp_messages_from_one_sender_arrive_in_order_and_all() {
    const N: u64 = 20_000;
    let (sender, mut subscriber, receiver) =
        numbered_burst(rosy::TransportPreference::Tcp, N).await;
    for expected in 0..N {
        let Ok(Some((i, payload))) = tokio::time::timeout(T, subscriber.recv()).await else {
            panic!("stalled waiting for message {expected}");
        };
        assert_eq!(i, expected, "message {i} arrived when {expected} was due");
        assert!(payload.iter().all(|&b| b == i as u8), "message {i} is torn");
    }
    assert_eq!(subscriber.lost(), 0);
    sender.close().await;
    receiver.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_shared_memory_order_holds_and_losses_are_counted() {
    const N: u64 = 20_000;
    let (sender, mut subscriber, receiver) =
        numbered_burst(rosy::TransportPreference::Auto, N).await;
    let mut last: Option<u64> = None;
    let mut received = 0u64;
    loop {
        // A slow reader may lose messages (never the publisher's problem); it must not see any
        // out of order or torn, and every loss is counted.
        let Ok(Some((i, payload))) =
            tokio::time::timeout(Duration::from_secs(5), subscriber.recv()).await
        else {
            break;
        };
        assert!(
            last.is_none_or(|l| i > l),
            "message {i} arrived after {last:?}"
        );
        assert!(payload.iter().all(|&b| b == i as u8), "message {i} is torn");
        last = Some(i);
        received += 1;
        if i == N - 1 {
            break;
        }
    }
    assert_eq!(last, Some(N - 1), "the last message never came");
    let (lost, dropped) = (subscriber.lost(), sender.dropped());
    assert!(
        received + lost + dropped >= N,
        "{received} received + {lost} lost + {dropped} dropped < {N}"
    );
    assert!(
        receiver.info().shm_reading.iter().any(|(_, t)| t == "seq"),
        "the receiver never read the sender's segment"
    );
    eprintln!(
        "shm burst: {received} received, {lost} lost by the reader, {dropped} dropped by the sender"
    );
    sender.close().await;
    receiver.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoded_services_and_batched_receives_serve_bindings() {
    // What the Python package uses: a service handler working on encoded bytes, answering a
    // typed Rust caller; a subscriber drained without waiting.
    let domain = unique_domain("encoded");
    let provider = node("provider", &domain).await;
    provider
        .add_service_encoded(
            rosy::topology::ServiceInfo {
                name: "echo-len".into(),
                codec: rosy::codec::CodecId::MsgPack,
                codec_name: "msgpack".into(),
                request_type: "python".into(),
                response_type: "python".into(),
            },
            |request: rosy::node::Received| async move {
                if request.payload.is_empty() {
                    return Err(rosy::ServiceError::msg("empty request"));
                }
                let mut out = Vec::new();
                rosy::codec::Codec::encode(&rosy::codec::MsgPack, &request.payload.len(), &mut out)
                    .unwrap();
                Ok(rosy::node::Received {
                    codec: rosy::codec::CodecId::MsgPack,
                    payload: out.into(),
                })
            },
        )
        .await
        .unwrap();
    let caller = node("caller", &domain).await;
    caller
        .wait_for_service_provider("echo-len", T)
        .await
        .unwrap();
    // "abc" in msgpack is 4 bytes (fixstr header + 3).
    let len: usize = caller.call("echo-len", &"abc").await.unwrap();
    assert_eq!(len, 4);
    let info = caller
        .topology()
        .nodes()
        .flat_map(|n| n.services.clone())
        .find(|s| s.name == "echo-len")
        .expect("the encoded service is announced");
    assert_eq!(info.request_type, "python");

    let mut sub = caller.subscriber::<u32>("burst").await.unwrap();
    assert!(sub.try_recv_encoded().unwrap().is_none());
    provider.wait_for_listener("burst", T).await.unwrap();
    for i in 0..5u32 {
        provider.send("burst", &i).await.unwrap();
    }
    let first = tokio::time::timeout(T, sub.recv_encoded())
        .await
        .unwrap()
        .unwrap();
    let mut got = vec![first];
    let deadline = std::time::Instant::now() + T;
    while got.len() < 5 && std::time::Instant::now() < deadline {
        match sub.try_recv_encoded().unwrap() {
            Some(m) => got.push(m),
            None => tokio::task::yield_now().await,
        }
    }
    let values: Vec<u32> = got
        .iter()
        .map(|m| rosy::codec::Codec::decode(&rosy::codec::MsgPack, &m.payload).unwrap())
        .collect();
    assert_eq!(values, vec![0, 1, 2, 3, 4]);
    caller.close().await;
    assert!(matches!(sub.try_recv_encoded(), Err(rosy::Error::Closed)));
    provider.close().await;
}
