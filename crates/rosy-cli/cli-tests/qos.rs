//! QoS from the command line: a transient-local value sent by `rosy topic send` reaches a
//! `rosy topic echo` started after it was sent; `rosy topic info` shows each endpoint's QoS and
//! warns about a pair that asks more than it is offered; bad QoS values are named.

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
    let mut bad = Proc::spawn(
        "send",
        rosy(
            &domain,
            &["topic", "send", "t", "1", "--qos-when-full", "block"],
        ),
    );
    assert!(!bad.wait_exit(T).success());
    let err = bad.stderr().join("\n");
    assert!(
        err.contains("block") && err.contains("drop_oldest or wait"),
        "{err}"
    );
}

/// `rosy speedtest` with a receiver that works 1 ms on each message: reliable, it gets all
/// 10,000, in processes of their own, over `transport`; a best-effort receiver beside it, and
/// the sender, keep their own pace (many times the slow one's, which 1 ms a message holds under
/// 1,000 msgs/s; a sender waiting for it would be as slow).
fn a_slow_reliable_receiver_gets_everything(transport: &str) {
    let domain = unique_domain(&format!("cli-slow-{}", &transport[2..]));
    let common = [transport, "--message-size", "1000"];
    let with = |extra: &[&'static str]| {
        let mut args = vec!["--json", "speedtest"];
        args.extend(extra);
        args.extend(common);
        args
    };
    let mut slow = Proc::spawn(
        "slow",
        rosy(
            &domain,
            &with(&[
                "recv",
                "--qos-reliability",
                "reliable",
                "--qos-depth",
                "64",
                "--work-time",
                "0.001",
            ]),
        ),
    );
    let mut bystander = Proc::spawn("bystander", rosy(&domain, &with(&["recv"])));
    let mut send = Proc::spawn(
        "send",
        rosy(
            &domain,
            &with(&["send", "--count", "10000", "--receivers", "2"]),
        ),
    );
    let report = |p: &mut Proc| -> serde_json::Value {
        assert!(
            p.wait_exit(Duration::from_secs(90)).success(),
            "{:?}",
            p.stderr()
        );
        let line = p.stdout().join("\n");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    };
    let (sent, fast, slow) = (report(&mut send), report(&mut bystander), report(&mut slow));
    let transport_used = &transport[2..];
    assert_eq!(sent["sent"], 10_000, "{sent}");
    assert_eq!(slow["transport"], transport_used, "{slow}");
    assert_eq!(slow["messages"], 10_000, "every message: {slow}");
    assert_eq!(slow["lost"], 0, "{slow}");
    let count = |r: &serde_json::Value, k: &str| r[k].as_u64().unwrap();
    assert_eq!(
        count(&fast, "messages") + count(&fast, "lost"),
        10_000,
        "the bystander got every message or counted it lost: {fast}"
    );
    let rate = |r: &serde_json::Value| r["msgs_per_s"].as_f64().unwrap();
    for (who, r) in [("sender", &sent), ("bystander", &fast)] {
        assert!(
            rate(r) > 5.0 * rate(&slow),
            "the {who} was held to the slow receiver's pace: {r} beside {slow}"
        );
    }
}

#[test]
fn a_slow_reliable_receiver_gets_everything_over_shm() {
    a_slow_reliable_receiver_gets_everything("--shm");
}

#[test]
fn a_slow_reliable_receiver_gets_everything_over_tcp() {
    a_slow_reliable_receiver_gets_everything("--tcp");
}
