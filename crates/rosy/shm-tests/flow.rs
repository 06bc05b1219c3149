//! Many subscribers keep up and get everything; a slow one loses the oldest, counted.

use crate::support::Proc;
use crate::{probe, unique_segment};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn result_line(p: &Proc) -> String {
    p.stdout()
        .into_iter()
        .find(|l| l.starts_with("received "))
        .unwrap_or_default()
}

/// A publisher that waits for its slowest reader: whatever the scheduler does (a subscriber
/// descheduled for longer than the ring takes to fill), each gets every message. Before it
/// waited, a subscriber kept from running under load lost the oldest (129 of 100,000 once).
#[test]
fn three_subscribers_get_100k_messages_whole_and_in_order() {
    let name = unique_segment("three");
    let publisher = Proc::spawn_holding_stdin(
        "publisher",
        probe(&[
            "publish",
            &name,
            "100000",
            "100",
            "--wait-subscribers",
            "3",
            "--burst",
            "500",
            "--wait-for-readers",
        ]),
    );
    publisher.expect_line("ready", T);
    let mut subscribers: Vec<Proc> = (0..3)
        .map(|i| {
            Proc::spawn(
                &format!("subscriber {i}"),
                probe(&["subscribe", &name, "--count", "100000"]),
            )
        })
        .collect();
    for s in &mut subscribers {
        assert!(s.wait_exit(T).success(), "{:?}", s.stderr());
        assert_eq!(
            result_line(s),
            "received 100000 lost 0 torn 0 disorder 0",
            "{}",
            s.name
        );
    }
}

#[test]
fn a_slow_subscriber_loses_the_oldest_and_never_slows_the_publisher() {
    let name = unique_segment("slow");
    let mut publisher = Proc::spawn_holding_stdin(
        "publisher",
        probe(&["publish", &name, "20000", "64", "--wait-subscribers", "1"]),
    );
    publisher.expect_line("ready", T);
    let mut slow = Proc::spawn(
        "slow",
        probe(&["subscribe", &name, "--count", "20000", "--slow-ms", "1"]),
    );
    // Blocking on the slow reader would take 20 s; the publisher must be done long before.
    let done = crate::support::wait_until(Duration::from_secs(5), || {
        publisher
            .stdout()
            .iter()
            .any(|l| l.starts_with("sent 20000"))
    });
    assert!(
        done,
        "the publisher waited for its slow subscriber: {:?}",
        publisher.stdout()
    );
    assert!(slow.wait_exit(T).success(), "{:?}", slow.stderr());
    let line = result_line(&slow);
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let [received, lost, torn, disorder] = numbers[..] else {
        panic!("unexpected report {line:?}");
    };
    assert!(
        lost > 0,
        "a 1 ms/message reader of a burst must lose some: {line}"
    );
    assert_eq!(received + lost, 20000, "{line}");
    assert_eq!((torn, disorder), (0, 0), "{line}");
    publisher.kill();
}
