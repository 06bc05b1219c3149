//! `kill -9` on either side, and segments that are not rosy's.

use crate::support::{Proc, wait_until};
use crate::{probe, unique_segment};
use rosy::transport::shm::{
    ShmConfig, ShmError, ShmPublisher, ShmSubscriber, remove_stale_segments,
};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

#[test]
fn a_subscriber_killed_holding_a_chunk_does_not_dry_up_the_pool() {
    let name = unique_segment("held");
    let config = ShmConfig {
        pool_chunks: 4,
        ..ShmConfig::default()
    };
    let publisher = ShmPublisher::create(&name, &config).unwrap();
    let mut holder = Proc::spawn(
        "holder",
        probe(&["subscribe", &name, "--hold", "--count", "3"]),
    );
    holder.expect_line("subscribed", T);
    // Three large messages: the holder keeps all three chunks in samples.
    for i in 0..3u64 {
        let mut loan = publisher.loan(100_000).unwrap();
        loan.fill(i as u8);
        loan.send(1);
    }
    holder.expect_line("holding 3", T);
    holder.kill();
    // 10k more large messages through a pool of 4: only possible if the dead holder's chunks
    // come back.
    for i in 0..10_000u64 {
        let mut loan = publisher
            .loan(100_000)
            .unwrap_or_else(|e| panic!("pool ran dry at message {i}: {e}"));
        loan[0] = i as u8;
        loan.send(2);
    }
}

#[test]
fn subscribers_notice_a_killed_publisher_and_take_up_its_successor() {
    let name = unique_segment("killed");
    let mut publisher =
        Proc::spawn_holding_stdin("publisher", probe(&["publish", &name, "10", "32"]));
    publisher.expect_line("ready", T);
    assert!(
        wait_until(T, || publisher
            .stdout()
            .iter()
            .any(|l| l.starts_with("sent 10 "))),
        "{:?}",
        publisher.stdout()
    );
    let mut subscriber = ShmSubscriber::open(&name).unwrap();
    publisher.kill();
    let killed = Instant::now();
    let noticed = wait_until(Duration::from_secs(1), || {
        matches!(subscriber.try_recv(), Err(ShmError::PublisherGone(_)))
    });
    assert!(noticed, "a killed publisher went unnoticed for 1 s");
    eprintln!("publisher death noticed after {:?}", killed.elapsed());
    drop(subscriber);

    let removed = remove_stale_segments(Some("shm-tests")).unwrap();
    // Removed now, or already by a node starting in a test beside this one.
    assert!(
        !std::path::Path::new(&format!("/dev/shm/{name}")).exists(),
        "{name} not cleaned: {removed:?}"
    );

    let successor = Proc::spawn_holding_stdin(
        "successor",
        probe(&["publish", &name, "100", "32", "--wait-subscribers", "1"]),
    );
    successor.expect_line("ready", T);
    let mut reader = Proc::spawn("reader", probe(&["subscribe", &name, "--count", "100"]));
    assert!(reader.wait_exit(T).success());
    assert!(
        reader
            .stdout()
            .contains(&"received 100 lost 0 torn 0 disorder 0".to_string()),
        "{:?}",
        reader.stdout()
    );
}

#[test]
fn a_segment_of_random_bytes_at_a_rosy_name_is_refused_clearly() {
    let name = unique_segment("random");
    let mut bytes = vec![0u8; 1 << 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[2];
    }
    std::fs::write(format!("/dev/shm/{name}"), &bytes).unwrap();
    let mut reader = Proc::spawn("reader", probe(&["subscribe", &name, "--timeout", "2"]));
    let status = reader.wait_exit(T);
    assert!(
        !status.success(),
        "{:?} {:?}",
        reader.stdout(),
        reader.stderr()
    );
    let stderr = reader.stderr().join("\n");
    assert!(
        stderr.contains("is not a valid rosy segment") && stderr.contains(&name),
        "{stderr}"
    );
    std::fs::remove_file(format!("/dev/shm/{name}")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starting_node_removes_dead_segments_of_every_domain() {
    let name = unique_segment("dead-elsewhere");
    let mut publisher =
        Proc::spawn_holding_stdin("publisher", probe(&["publish", &name, "1", "32"]));
    publisher.expect_line("ready", T);
    let path = format!("/dev/shm/{name}");
    // Checked while its owner lives: once it is dead, any node starting in a test running beside
    // this one may remove the file first (as it should).
    assert!(std::path::Path::new(&path).exists());
    publisher.kill();
    // A node of another domain than the segment's ("shm-tests") starts: the memory goes back.
    let node = rosy::Node::builder("cleaner")
        .domain_id(format!("other-{}", std::process::id()))
        .interfaces(Some(vec!["lo".to_string()]))
        .build()
        .await
        .unwrap();
    assert!(
        !std::path::Path::new(&path).exists(),
        "{name} of a dead process outlived a node start"
    );
    node.close().await;
}
