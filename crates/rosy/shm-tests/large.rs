//! Large messages and many topics through shared memory: frames of 2 to 25 MB read in place,
//! small and large messages mixed, 200 topics on one reader thread, the message size limit, and
//! a 25 MB sample held by a subscriber that is then killed.

use crate::support::{Proc, eventually, node, unique_domain, wait_until};
use crate::{probe, unique_segment};
use bytes::Bytes;
use rosy::Node;
use rosy::transport::shm::{ShmConfig, ShmPublisher, node_bytes, segment_bytes, segment_name};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// The /dev/shm/rosy.* mapping of this process that contains `addr`: (permissions, path).
fn shm_mapping_of(addr: usize) -> Option<(String, String)> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines().find_map(|line| {
        let mut parts = line.split_whitespace();
        let range = parts.next()?;
        let perms = parts.next()?;
        let path = parts.nth(3)?;
        let (lo, hi) = range.split_once('-')?;
        let (lo, hi) = (
            usize::from_str_radix(lo, 16).ok()?,
            usize::from_str_radix(hi, 16).ok()?,
        );
        ((lo..hi).contains(&addr) && path.starts_with("/dev/shm/rosy."))
            .then(|| (perms.to_string(), path.to_string()))
    })
}

/// Asserts that `bytes` are read in place from a chunk file of `segment`, mapped read-only (a
/// reader's mapping, not the writer's).
fn assert_read_in_place(bytes: &[u8], segment: &str, what: &str) {
    let mapping = shm_mapping_of(bytes.as_ptr() as usize);
    let chunk_prefix = format!("/dev/shm/{segment}.c");
    assert!(
        mapping
            .as_ref()
            .is_some_and(|(perms, path)| path.starts_with(&chunk_prefix) && perms.starts_with("r-")),
        "{what} at {:p} is not read in place from a chunk of {segment}: {mapping:?}",
        bytes.as_ptr()
    );
}

/// A frame whose bytes differ from every other frame's: byte i is `seq + 7 i` (mod 256).
fn pattern(seq: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (seq as usize + i * 7) as u8).collect()
}

/// Panics with the first differing byte unless `got == expected`.
fn assert_same_bytes(got: &[u8], expected: &[u8], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: length");
    if got != expected {
        let at = got.iter().zip(expected).position(|(a, b)| a != b);
        panic!("{what}: differs first at byte {at:?}");
    }
}

/// Waits until `listener` reads `publisher`'s segment of `topic`, and `publisher` knows it (so
/// it sends every message through the segment from now on, none by TCP).
async fn wait_attached(listener: &Node, publisher: &Node, topic: &str) {
    let (publisher_id, listener_id) = (publisher.id(), listener.id());
    let reads = |info: &rosy::topology::NodeInfo| {
        info.shm_reading
            .iter()
            .any(|(p, t)| p == &publisher_id && t == topic)
    };
    let attached = eventually(listener, T, |l| reads(&l.info())).await;
    assert!(
        attached,
        "{} never read the segment of {topic} of {}: {:?}",
        listener.name(),
        publisher.name(),
        listener.info()
    );
    let known = eventually(publisher, T, |p| {
        p.topology().get(&listener_id).is_some_and(reads)
    })
    .await;
    assert!(
        known,
        "{} never learnt that {} reads its segment of {topic}",
        publisher.name(),
        listener.name()
    );
}

/// The next message of `subscriber`, within `T`.
async fn next(subscriber: &mut rosy::Subscriber<()>, what: &str) -> rosy::node::Received {
    tokio::time::timeout(T, subscriber.recv_encoded())
        .await
        .unwrap_or_else(|_| panic!("{what} never arrived"))
        .expect("subscriber open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_of_2_6_and_25_mb_arrive_byte_exact_read_in_place() {
    let domain = unique_domain("large-frames");
    let camera = node("camera", &domain).await;
    let viewer = node("viewer", &domain).await;
    let mut frames = viewer.subscriber::<()>("frames").await.unwrap();
    let publisher = camera.publisher::<()>("frames").await.unwrap();
    camera.wait_for_listener("frames", T).await.unwrap();
    wait_attached(&viewer, &camera, "frames").await;
    let segment = segment_name(&domain, &camera.id(), "frames");
    for (seq, size) in [(1u64, 2_000_000usize), (2, 6_000_000), (3, 25_000_000)] {
        let expected = pattern(seq, size);
        // Written once, into the chunk the viewer reads.
        let mut loan = publisher.loan(size);
        assert!(loan.in_shared_memory(), "frame {seq}: no loan of shm");
        loan.copy_from_slice(&expected);
        assert_eq!(loan.send().await.unwrap(), 1, "frame {seq}: recipients");
        let got = next(&mut frames, &format!("frame {seq} of {size} bytes")).await;
        assert_same_bytes(&got.payload, &expected, &format!("frame {seq}"));
        assert_read_in_place(&got.payload, &segment, &format!("frame {seq}"));
    }
    assert_eq!(frames.lost(), 0);
    assert_eq!(camera.sent_by_transport(), (3, 0), "(shm, tcp) messages");
    let topology = viewer.topology();
    let camera_info = topology.get(&camera.id()).expect("viewer knows the camera");
    let way = rosy::topology::way_between(camera_info, &viewer.info(), "frames");
    assert_eq!(way.transport, "shm", "{way:?}");
    drop(frames);
    camera.close().await;
    viewer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_and_6_mb_messages_alternating_all_arrive_in_order() {
    let domain = unique_domain("large-mixed");
    let sender = node("sender", &domain).await;
    let receiver = node("receiver", &domain).await;
    let mut sub = receiver.subscriber::<()>("mixed").await.unwrap();
    let publisher = sender.publisher::<()>("mixed").await.unwrap();
    sender.wait_for_listener("mixed", T).await.unwrap();
    wait_attached(&receiver, &sender, "mixed").await;
    let segment = segment_name(&domain, &sender.id(), "mixed");
    let mut most_bytes = 0;
    for seq in 0..200u64 {
        let size = if seq % 2 == 0 { 100 } else { 6_000_000 };
        // The sequence number, then a fill that differs from the neighbours'.
        let mut message = vec![(seq % 251) as u8; size];
        message[..8].copy_from_slice(&seq.to_le_bytes());
        let sent = publisher
            .send_encoded(Bytes::from(message.clone()))
            .await
            .unwrap();
        assert_eq!(sent, 1, "message {seq}: recipients");
        most_bytes = most_bytes.max(segment_bytes(&domain, &sender.id(), "mixed"));
        // Paced: each arrives before the next goes.
        let got = next(&mut sub, &format!("message {seq} ({size} bytes)")).await;
        let got_seq = u64::from_le_bytes(got.payload[..8].try_into().unwrap());
        assert_eq!(got_seq, seq, "out of order");
        assert_same_bytes(&got.payload, &message, &format!("message {seq}"));
        if size > 1000 {
            assert_read_in_place(&got.payload, &segment, &format!("message {seq}"));
        }
    }
    assert_eq!(sub.lost(), 0);
    assert_eq!(sender.sent_by_transport(), (200, 0), "(shm, tcp) messages");
    assert_eq!(sender.dropped(), 0);
    // Chunk files sized to the 6 MB messages, a few of them at most (see NodeBuilder's docs).
    assert!(
        most_bytes <= 28 << 20,
        "the segment held up to {most_bytes} bytes"
    );
    drop(sub);
    sender.close().await;
    receiver.close().await;
}

/// `/proc/PID/status` `Threads:`.
fn threads_of(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no thread count in {status}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_topics_need_neither_more_threads_nor_much_shared_memory() {
    const N: u32 = 200;
    let domain = unique_domain("large-topics");
    // The listener in a process of its own, so its threads are its own.
    let mut listener = Proc::example("many_topics", &domain, &["listen", &N.to_string()]);
    listener.expect_line(&format!("listening to {N} topics"), T);
    let pid = listener.pid();
    let talker = node("talker", &domain).await;
    let mut publishers = Vec::new();
    for i in 0..N {
        let topic = format!("many/{i}");
        publishers.push(talker.publisher::<(u32, u64)>(&topic).await.unwrap());
    }
    for i in 0..N {
        talker
            .wait_for_listener(&format!("many/{i}"), T)
            .await
            .unwrap();
    }
    // The listener reads all 200 segments of the talker.
    let id = talker.id();
    let reading = |n: &Node| {
        n.topology().nodes().find(|p| p.pid == pid).map_or(0, |p| {
            p.shm_reading.iter().filter(|(p, _)| p == &id).count()
        })
    };
    let attached = eventually(&talker, T, |n| reading(n) == N as usize).await;
    assert!(
        attached,
        "the listener reads {} of {N} segments",
        reading(&talker)
    );
    for (i, publisher) in publishers.iter().enumerate() {
        assert_eq!(publisher.send(&(i as u32, 1)).await.unwrap(), 1, "many/{i}");
    }
    tokio::task::block_in_place(|| listener.expect_line(&format!("round 1 on all {N} topics"), T));
    assert_eq!(
        talker.sent_by_transport(),
        (N as u64, 0),
        "(shm, tcp) messages"
    );
    let threads = threads_of(pid);
    assert!(
        threads <= 16,
        "the listener of {N} topics runs {threads} threads"
    );
    let bytes = node_bytes(&domain, &id);
    assert!(
        bytes <= N as u64 * (256 << 10),
        "the talker's {N} segments hold {bytes} bytes of /dev/shm"
    );
    assert!(
        !listener.stderr().iter().any(|l| l.contains("wrong topic")),
        "{:?}",
        listener.stderr()
    );
    listener.signal(rustix::process::Signal::INT);
    assert!(listener.wait_exit(T).success(), "{:?}", listener.stderr());
    drop(publishers);
    talker.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_limit_is_refused_naming_the_limit_and_the_setting() {
    let domain = unique_domain("large-limit");
    let listener = node("listener", &domain).await;
    let mut sub = listener.subscriber::<()>("big").await.unwrap();
    let limited = rosy::Node::builder("limited")
        .domain_id(&domain)
        .interfaces(Some(vec!["lo".to_string()]))
        .max_message_size(1 << 20)
        .build()
        .await
        .unwrap();
    let publisher = limited.publisher::<()>("big").await.unwrap();
    limited.wait_for_listener("big", T).await.unwrap();
    wait_attached(&listener, &limited, "big").await;
    let check = |err: rosy::Error, len: usize, limit: usize| {
        assert!(
            matches!(&err, rosy::Error::MessageTooLarge { len: l, limit: m, .. } if *l == len && *m == limit),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains(&limit.to_string()) && text.contains("max_message_size"),
            "{text}"
        );
    };
    let err = publisher
        .send_encoded(Bytes::from(vec![1u8; 2_000_000]))
        .await
        .unwrap_err();
    check(err, 2_000_000, 1_048_576);
    // A loan that large is refused as well.
    let mut loan = publisher.loan(2_000_000);
    loan.fill(2);
    check(loan.send().await.unwrap_err(), 2_000_000, 1_048_576);
    // The limit itself passes: the next message the listener gets is this one.
    let at_limit = vec![3u8; 1 << 20];
    let sent = publisher
        .send_encoded(Bytes::from(at_limit.clone()))
        .await
        .unwrap();
    assert_eq!(sent, 1);
    let got = next(&mut sub, "the message at the limit").await;
    assert_same_bytes(&got.payload, &at_limit, "the message at the limit");
    assert_eq!(limited.sent_by_transport(), (1, 0), "(shm, tcp) messages");

    // The default limit: 64 MiB.
    let default = node("default", &domain).await;
    let publisher = default.publisher::<()>("big").await.unwrap();
    default.wait_for_listener("big", T).await.unwrap();
    let err = publisher
        .send_encoded(Bytes::from(vec![4u8; (64 << 20) + 1]))
        .await
        .unwrap_err();
    check(err, (64 << 20) + 1, 64 << 20);
    let marker = b"after the refused one".to_vec();
    publisher
        .send_encoded(Bytes::from(marker.clone()))
        .await
        .unwrap();
    let got = next(&mut sub, "the marker").await;
    assert_same_bytes(&got.payload, &marker, "the message after the refused one");
    assert_eq!(sub.lost(), 0);
    drop(sub);
    limited.close().await;
    default.close().await;
    listener.close().await;
}

/// Bytes of /dev/shm allocated to segment `name` and its chunk files.
fn files_bytes(name: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let chunks = format!("{name}.c");
    std::fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .filter(|e| {
            let f = e.file_name().to_string_lossy().into_owned();
            f == name || f.starts_with(&chunks)
        })
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.blocks() * 512)
        .sum()
}

#[test]
fn a_subscriber_killed_holding_a_25_mb_sample_leaks_nothing() {
    let name = unique_segment("held-25mb");
    let publisher = ShmPublisher::create(&name, &ShmConfig::default()).unwrap();
    let mut holder = Proc::spawn(
        "holder",
        probe(&["subscribe", &name, "--hold", "--count", "1"]),
    );
    holder.expect_line("subscribed", T);
    let mut loan = publisher.loan(25_000_000).unwrap();
    loan.fill(0x5a);
    loan.send(1);
    holder.expect_line("holding 1", T);
    let held = files_bytes(&name);
    assert!(
        held >= 25_000_000,
        "the 25 MB message takes only {held} bytes of /dev/shm"
    );
    holder.kill();
    // Small messages go on; the pool trims on sends, and the dead holder's chunk with it.
    let mut sent = 0u64;
    let trimmed = wait_until(Duration::from_secs(15), || {
        publisher.send(2, &sent.to_le_bytes()).unwrap();
        sent += 1;
        files_bytes(&name) <= 256 << 10
    });
    assert!(
        trimmed,
        "15 s after the holder died the segment still holds {} bytes ({sent} small messages sent)",
        files_bytes(&name)
    );
    drop(publisher);
    assert_eq!(files_bytes(&name), 0, "the segment's files outlive it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_of_its_own_config_gets_its_ring_and_others_the_default() {
    let domain = unique_domain("topic-config");
    let deep = rosy::transport::shm::ShmConfig {
        slots: 4096,
        ..Default::default()
    };
    let sender = rosy::Node::builder("sender")
        .domain_id(&domain)
        .interfaces(Some(vec!["lo".to_string()]))
        .mdns(false)
        .shm_topic_config("deep", deep.clone())
        .build()
        .await
        .unwrap();
    let receiver = node("receiver", &domain).await;
    let mut subscribers = Vec::new();
    for topic in ["deep", "plain"] {
        subscribers.push(receiver.subscriber::<()>(topic).await.unwrap());
        sender.wait_for_listener(topic, T).await.unwrap();
        sender.send(topic, &1u8).await.unwrap();
        wait_attached(&receiver, &sender, topic).await;
    }
    let bytes = |topic| rosy::transport::shm::segment_bytes(&domain, &sender.id(), topic);
    assert_eq!(
        bytes("deep"),
        deep.ring_bytes() as u64,
        "the topic's own ring"
    );
    assert_eq!(
        bytes("plain"),
        rosy::transport::shm::ShmConfig::default().ring_bytes() as u64,
        "the node's default ring"
    );
    drop(subscribers);
    sender.close().await;
    receiver.close().await;
}
