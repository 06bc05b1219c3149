//! QoS from the command line: a transient-local value sent by `rosy topic send` reaches a
//! `rosy topic echo` started after it was sent; `rosy topic info` shows each endpoint's QoS and
//! warns about a pair that asks more than it is offered.

use crate::rosy;
use crate::support::{Proc, unique_domain};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

#[test]
fn a_transient_local_value_reaches_a_later_echo() {
    let domain = unique_domain("cli-latched");
    let mut send = Proc::spawn(
        "send",
        rosy(
            &domain,
            &[
                "topic",
                "send",
                "calibration",
                "{gain: 2.5}",
                "--qos-durability",
                "transient_local",
                "--keep-alive",
                "30",
            ],
        ),
    );
    send.expect_stderr("sent 1 message on calibration; staying up 30 s", T);
    let mut echo = Proc::spawn(
        "echo",
        rosy(
            &domain,
            &[
                "topic",
                "echo",
                "calibration",
                "--qos-durability",
                "transient_local",
                "--count",
                "1",
            ],
        ),
    );
    let status = echo.wait_exit(T);
    assert!(status.success(), "{:?}", echo.stderr());
    let out = echo.stdout();
    assert!(
        out.len() == 1 && out[0].ends_with(r#"calibration: {"gain":2.5}"#),
        "{out:?}"
    );
    // A transient-local recorder gets it too, and the bag keeps the publisher's QoS.
    let dir = std::env::temp_dir().join(format!("rosy-qos-bag-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bag_path = dir.join("latched.mcap");
    let mut record = Proc::spawn(
        "record",
        rosy(
            &domain,
            &[
                "bag",
                "record",
                "calibration",
                "--qos-durability",
                "transient_local",
                "--count",
                "1",
                "-o",
                bag_path.to_str().unwrap(),
            ],
        ),
    );
    let status = record.wait_exit(T);
    assert!(status.success(), "{:?}", record.stderr());
    let bag = rosy::bag::Bag::open(&bag_path).unwrap();
    assert_eq!(bag.len(), 1);
    let channel = bag.channels().next().unwrap();
    assert_eq!(channel.qos, Some(rosy::qos::Qos::latched()));
    let _ = std::fs::remove_dir_all(&dir);
    // A volatile listener does not get the old value.
    let mut volatile = Proc::spawn(
        "echo",
        rosy(&domain, &["topic", "echo", "calibration", "--count", "1"]),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(volatile.stdout().is_empty(), "{:?}", volatile.stdout());
    volatile.kill();
    send.kill();
}

#[test]
fn qos_options_are_checked_and_shown() {
    let domain = unique_domain("cli-qos-bad");
    let mut bad = Proc::spawn(
        "send",
        rosy(
            &domain,
            &["topic", "send", "t", "1", "--qos-reliability", "sometimes"],
        ),
    );
    let status = bad.wait_exit(T);
    assert!(!status.success());
    let err = bad.stderr().join("\n");
    assert!(
        err.contains("sometimes") && err.contains("best_effort or reliable"),
        "{err}"
    );
}
