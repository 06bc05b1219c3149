//! Tests of the shared-memory transport within one process: publisher and subscribers on one
//! segment, loss, reliability, crashes simulated, foreign files.

use super::*;
use std::time::{Duration, Instant};

fn name(test: &str) -> String {
    segment_name("unit", &format!("{:016x}", std::process::id()), test)
}

fn small() -> ShmConfig {
    ShmConfig {
        slots: 8,
        inline_max: 64,
        max_message: 4096,
        pool_chunks: 4,
        pool_bytes: 0,
        pool_max_bytes: 0,
    }
}

fn file_bytes(name: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/dev/shm/{name}")).map_or(0, |m| m.blocks() * 512)
}

/// Bytes of /dev/shm of a segment and its chunk files.
fn shm_bytes_of(name: &str) -> u64 {
    std::fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .filter(|e| {
            let f = e.file_name().to_string_lossy().into_owned();
            f == name || f.starts_with(&format!("{name}.c"))
        })
        .map(|e| file_bytes(&e.file_name().to_string_lossy()))
        .sum()
}

#[test]
fn memory_follows_the_messages_that_flow() {
    let n = name("sized");
    let publisher = ShmPublisher::create(&n, &ShmConfig::default()).unwrap();
    let mut sub = ShmSubscriber::open(&n).unwrap();
    publisher.send(1, b"small").unwrap();
    assert!(
        shm_bytes_of(&n) <= 256 << 10,
        "a topic of small messages holds {} bytes",
        shm_bytes_of(&n)
    );
    assert_eq!(publisher.shm_bytes() as u64, shm_bytes_of(&n));
    assert_eq!(&*sub.try_recv().unwrap().unwrap(), b"small");
    // 1 MB frames, read as they come: one or two chunk files of ~1.1 MiB.
    for i in 0..20 {
        let mut frame = publisher.loan(1_000_000).unwrap();
        frame.fill(i);
        frame.send(2);
        let sample = sub.try_recv().unwrap().unwrap();
        assert!(
            sample.iter().all(|&b| b == i),
            "frame {i}: {:?}",
            &sample[..8]
        );
        assert!(sub.maps(sample.as_ptr()), "frame {i} not in place");
    }
    assert!(
        shm_bytes_of(&n) <= 6 << 20,
        "a topic of 1 MB frames holds {} bytes",
        shm_bytes_of(&n)
    );
    // Any size up to the limit, read in place; over it, an error naming the limit.
    let big = vec![7u8; 25_000_000];
    publisher.send(3, &big).unwrap();
    let sample = sub.try_recv().unwrap().unwrap();
    assert!(sample.in_place() && *sample == big[..]);
    drop(sample);
    let err = publisher.loan(DEFAULT_MAX_MESSAGE + 1).err().unwrap();
    assert!(err.to_string().contains("limit of 67108864"), "{err}");
    // Small messages again: after a while the chunk files go.
    let deadline = Instant::now() + Duration::from_secs(10);
    while shm_bytes_of(&n) > 256 << 10 && Instant::now() < deadline {
        publisher.send(4, b"small").unwrap();
        while sub.try_recv().unwrap().is_some() {}
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        shm_bytes_of(&n) <= 256 << 10,
        "chunk files stayed: {} bytes",
        shm_bytes_of(&n)
    );
    sub.prune();
    assert_eq!(sub.mapped_bytes(), ShmConfig::default().ring_bytes());
}

#[test]
fn messages_arrive_in_order_inline_and_in_chunks() {
    let n = name("order");
    let publisher = ShmPublisher::create(&n, &small()).unwrap();
    let mut sub = ShmSubscriber::open(&n).unwrap();
    for i in 0..20u32 {
        let payload = vec![i as u8; if i % 2 == 0 { 10 } else { 1000 }];
        publisher.send(i, &payload).unwrap();
        let sample = sub.try_recv().unwrap().unwrap();
        assert_eq!(sample.tag(), i);
        assert_eq!(&*sample, &payload[..]);
        assert_eq!(sample.in_place(), i % 2 == 1);
    }
    assert!(sub.try_recv().unwrap().is_none());
    assert_eq!(sub.lost(), 0);
}

#[test]
fn a_reliable_subscriber_makes_the_publisher_wait_and_loses_nothing() {
    let n = name("reliable");
    let publisher = ShmPublisher::create(&n, &small()).unwrap();
    let reliable = ShmSubscriber::open(&n).unwrap();
    reliable.set_reliable(true);
    let mut reliable = reliable;
    let mut best_effort = ShmSubscriber::open(&n).unwrap();
    // Inline messages: 8 slots, then the writer must wait.
    for i in 0..8u32 {
        publisher.send(i, &[i as u8]).unwrap();
    }
    let err = publisher.send(8, &[8]).unwrap_err();
    assert!(
        matches!(&err, ShmError::ReaderBehind { pid, .. } if *pid == std::process::id()),
        "{err}"
    );
    assert_eq!(reliable.try_recv().unwrap().unwrap().tag(), 0);
    publisher.send(8, &[8]).unwrap();
    // Chunk messages: the 4 chunks are never taken back from under the reliable reader.
    let big = [7u8; 1000];
    let mut sent = 9;
    let mut received = vec![0];
    for _ in 0..40 {
        match publisher.send(sent, &big) {
            Ok(()) => sent += 1,
            Err(ShmError::ReaderBehind { .. }) => {
                let sample = reliable.try_recv().unwrap().unwrap();
                received.push(sample.tag());
            }
            Err(e) => panic!("{e}"),
        }
    }
    while let Some(sample) = reliable.try_recv().unwrap() {
        received.push(sample.tag());
    }
    assert_eq!(received, (0..sent).collect::<Vec<_>>(), "all, in order");
    assert_eq!(reliable.lost(), 0);
    // The best-effort reader beside it lost the oldest instead of slowing anyone.
    let mut best = Vec::new();
    while let Some(sample) = best_effort.try_recv().unwrap() {
        best.push(sample.tag());
    }
    assert!(best_effort.lost() > 0 && best.last() == Some(&(sent - 1)));
    // Gone, it no longer holds the publisher back.
    drop(reliable);
    for i in 0..20 {
        publisher.send(100 + i, &[0]).unwrap();
    }
}

#[test]
fn a_publisher_that_waits_when_full_waits_for_best_effort_readers_and_is_woken_by_them() {
    let n = name("waits");
    let publisher = ShmPublisher::create(&n, &small()).unwrap();
    publisher.set_waits_for_readers(true);
    let mut sub = ShmSubscriber::open(&n).unwrap();
    // Inline: the 8 slots fill, then the ninth waits for the (best-effort) reader.
    for i in 0..8u32 {
        publisher.send(i, &[i as u8]).unwrap();
    }
    assert!(matches!(
        publisher.send(8, &[8]),
        Err(ShmError::ReaderBehind { .. })
    ));
    // Asleep until the reader takes one, from another thread.
    let waiting = publisher.announce_wait();
    assert!(publisher.send(8, &[8]).is_err(), "nobody moved yet");
    let reader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let first = sub.try_recv().unwrap().unwrap().tag();
        (sub, first)
    });
    let start = Instant::now();
    waiting.sleep(Duration::from_secs(10));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the reader's take woke the writer"
    );
    let (mut sub, first) = reader.join().unwrap();
    assert_eq!(first, 0);
    publisher.send(8, &[8]).unwrap();
    // Chunks too: never one the reader has not taken; a released sample wakes a writer as well.
    let big = [3u8; 1000];
    let mut sent = 9;
    let mut received = vec![0];
    for _ in 0..40 {
        match publisher.send(sent, &big) {
            Ok(()) => sent += 1,
            Err(ShmError::ReaderBehind { .. }) => {
                received.push(sub.try_recv().unwrap().unwrap().tag())
            }
            Err(e) => panic!("{e}"),
        }
    }
    // Once its wait timed out, the publisher drops the oldest for a best-effort reader.
    publisher.send_parts_dropping_oldest(sent, &[&big]).unwrap();
    assert!(
        publisher.waits_for_readers(),
        "still waits for the next one"
    );
    while let Some(sample) = sub.try_recv().unwrap() {
        received.push(sample.tag());
    }
    assert_eq!(
        sub.lost(),
        1,
        "only the one sent dropping the oldest cost a message"
    );
    assert_eq!(received.len() as u32, sent, "{received:?}");
    assert_eq!(received.last(), Some(&sent));
    // Told not to wait, it drops the oldest again.
    publisher.set_waits_for_readers(false);
    for i in 0..20 {
        publisher.send(200 + i, &[0]).unwrap();
    }
}

#[test]
fn a_waiting_publisher_does_not_wait_for_a_dead_reader() {
    let n = name("waits-dead");
    let publisher = ShmPublisher::create(&n, &small()).unwrap();
    publisher.set_waits_for_readers(true);
    let sub = ShmSubscriber::open(&n).unwrap();
    for i in 0..8u32 {
        publisher.send(i, &[i as u8]).unwrap();
    }
    assert!(publisher.send(8, &[8]).is_err());
    // A reader process that died between two messages (no chunk held): its entry names a pid
    // that no longer exists.
    let dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    let mut dead = dead;
    dead.wait().unwrap();
    sub.fake_pid(dead_pid);
    std::mem::forget(sub);
    for i in 8..30u32 {
        publisher.send(i, &[i as u8]).unwrap();
    }
    // Chunk messages too (the chunk a dead reader never passed is taken back).
    for i in 30..60u32 {
        publisher.send(i, &[0u8; 1000]).unwrap();
    }
}

#[test]
fn a_slow_subscriber_loses_the_oldest_and_counts_them() {
    let n = name("slow");
    let publisher = ShmPublisher::create(&n, &small()).unwrap();
    let mut sub = ShmSubscriber::open(&n).unwrap();
    for i in 0..20u32 {
        publisher.send(i, &[i as u8]).unwrap();
    }
    let first = sub.try_recv().unwrap().unwrap();
    assert_eq!(first.tag(), 12, "the 8 newest remain");
    assert_eq!(sub.lost(), 12);
}

#[test]
fn a_held_chunk_is_never_reused_and_the_pool_recovers() {
    let n = name("held");
    let publisher = ShmPublisher::create(&n, &small()).unwrap();
    let mut sub = ShmSubscriber::open(&n).unwrap();
    publisher.send(1, &[1; 1000]).unwrap();
    let held = sub.try_recv().unwrap().unwrap();
    for i in 0..50u32 {
        publisher.send(i + 2, &[2; 1000]).unwrap();
    }
    assert!(held.iter().all(|&b| b == 1), "a held chunk was overwritten");
    drop(held);
    // Three chunks are free plus the released one: the pool keeps working.
    for i in 0..50u32 {
        publisher.send(i, &[3; 1000]).unwrap();
    }
}

#[test]
fn a_loan_is_read_in_place() {
    let n = name("loan");
    let publisher = ShmPublisher::create(&n, &small()).unwrap();
    let mut sub = ShmSubscriber::open(&n).unwrap();
    let mut loan = publisher.loan(3000).unwrap();
    loan.copy_from_slice(&[9; 3000]);
    loan.send(5);
    let sample = sub.try_recv().unwrap().unwrap();
    assert!(sub.maps(sample.as_ptr()));
    assert_eq!(sample.as_ptr() as usize % 16, 0);
    assert_eq!(sample.len(), 3000);
    assert!(publisher.loan(5000).is_err(), "larger than a chunk");
}

#[test]
fn foreign_bytes_and_missing_segments_are_refused_clearly() {
    let n = name("foreign");
    std::fs::write(format!("/dev/shm/{n}"), vec![0x5a; 8192]).unwrap();
    let err = ShmSubscriber::open(&n).err().unwrap();
    assert!(
        err.to_string().contains("not a valid rosy segment"),
        "{err}"
    );
    // A publisher replaces it.
    let publisher = ShmPublisher::create(&n, &small()).unwrap();
    assert!(ShmSubscriber::open(&n).is_ok());
    drop(publisher);
    assert!(matches!(
        ShmSubscriber::open(&n),
        Err(ShmError::NotFound(_))
    ));
}

#[test]
fn only_names_rosy_makes_are_rosy_files() {
    let seg = "rosy.lab-1.0123456789abcdef.fedcba9876543210";
    assert_eq!(rosy_file_domain(seg), Some("lab-1"));
    assert_eq!(rosy_file_domain(&format!("{seg}.c3.17")), Some("lab-1"));
    assert_eq!(
        rosy_file_domain("rosy.lab.0123456789abcdef.bell"),
        Some("lab")
    );
    assert_eq!(
        rosy_file_domain(&bell_name("a_b", 7)),
        Some("a_b"),
        "bell_name makes a rosy name"
    );
    for foreign in [
        "rosy.x",
        "rosy.lab.notes",
        "rosy.lab.0123456789abcdef",
        "rosy..0123456789abcdef.fedcba9876543210",
        "rosy....0123456789abcdef.fedcba9876543210",
        "rosy.lab.0123456789abcdef.fedcba9876543210.tmp",
        "rosy.lab.0123456789abcdef.fedcba9876543210.c3",
        "rosy.lab.0123456789abcdef.fedcba9876543210.cx.1",
        "rosy.lab.0123456789abcde.fedcba9876543210",
        "rosy.lab.0123456789abcdef.bell.old",
        "rosy-host-id",
        "rosy-registry",
        "not-rosy",
    ] {
        assert_eq!(rosy_file_domain(foreign), None, "{foreign}");
    }
}

#[test]
fn stale_removal_touches_only_rosy_names_of_its_domain() {
    let domain = format!("unit-stale-{}", std::process::id());
    let old = std::time::SystemTime::now() - Duration::from_secs(60);
    let plant = |name: &str| {
        let path = format!("/dev/shm/{name}");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(8192).unwrap();
        file.set_modified(old).unwrap();
        path
    };
    // Old, not rosy's layout: removed only under a name rosy makes, of this domain.
    let junk = plant(&format!("rosy.{domain}.0123456789abcdef.fedcba9876543210"));
    let other_domain = plant(&format!("rosy.{domain}x.0123456789abcdef.fedcba9876543210"));
    let foreign = [
        plant(&format!("rosy.{domain}.notes")),
        plant(&format!(
            "rosy.{domain}.0123456789abcdef.fedcba9876543210.tmp"
        )),
        plant(&format!("not-rosy-{domain}")),
    ];
    let removed = remove_stale_segments(Some(&domain)).unwrap();
    assert!(!std::path::Path::new(&junk).exists(), "{removed:?}");
    assert!(std::path::Path::new(&other_domain).exists(), "{removed:?}");
    for path in &foreign {
        assert!(std::path::Path::new(path).exists(), "{path} removed");
    }
    let err = remove_stale_segments(Some("..")).unwrap_err();
    assert!(err.to_string().contains("'.' is not allowed"), "{err}");
    for path in foreign.iter().chain([&other_domain]) {
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn a_live_owner_keeps_its_segment() {
    let n = name("owned");
    let _publisher = ShmPublisher::create(&n, &small()).unwrap();
    assert!(matches!(
        ShmPublisher::create(&n, &small()),
        Err(ShmError::InUse { .. })
    ));
}

#[test]
fn a_sleeping_subscriber_wakes_on_send() {
    let n = name("wake");
    let publisher = ShmPublisher::create(&n, &small()).unwrap();
    let sub = ShmSubscriber::open(&n).unwrap();
    let waiter = std::thread::spawn(move || sub.wait(Duration::from_secs(10)));
    // The waiter may or may not be asleep yet; either way it must see the message.
    publisher.send(1, b"x").unwrap();
    assert!(waiter.join().unwrap());
}

#[test]
fn the_pool_grows_while_samples_are_held() {
    let n = name("grow");
    let publisher = ShmPublisher::create(&n, &ShmConfig::default()).unwrap();
    let mut sub = ShmSubscriber::open(&n).unwrap();
    let mut held = Vec::new();
    for i in 0..10u8 {
        let mut frame = publisher
            .loan(1_000_000)
            .unwrap_or_else(|e| panic!("frame {i}: {e}"));
        frame.fill(i);
        frame.send(1);
        held.push(sub.try_recv().unwrap().unwrap());
    }
    assert!(held.iter().enumerate().all(|(i, s)| s[0] == i as u8));
}
