//! `rosy speedtest send|recv` between two processes, over shared memory and over TCP.

use crate::rosy;
use crate::support::{Proc, unique_domain};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// Runs a paced 1 s test and returns the receiver's JSON report. Both sides are reliable: a
/// best-effort receiver starved of CPU for a few milliseconds loses 1 MB messages by design
/// (their chunks are taken back), which would make "none lost" a statement about the machine's
/// load rather than about the report.
fn run(transport: &str, size: &str) -> serde_json::Value {
    run_on(transport, size, "1")
}

/// As [`run`], spreading the messages over `topics` topics.
fn run_on(transport: &str, size: &str, topics: &str) -> serde_json::Value {
    let domain = unique_domain(&format!("speed-{transport}"));
    let common = [
        transport,
        "--message-size",
        size,
        "--run-time",
        "1",
        "--sleep-time",
        "0.001",
        "--topics",
        topics,
        "--qos-reliability",
        "reliable",
    ];
    let mut recv_args = vec!["speedtest", "recv", "--json"];
    recv_args.extend(common);
    let mut send_args = vec!["speedtest", "send"];
    send_args.extend(common);
    let mut recv = Proc::spawn("recv", rosy(&domain, &recv_args));
    let mut send = Proc::spawn("send", rosy(&domain, &send_args));
    assert!(send.wait_exit(T).success(), "{:?}", send.stderr());
    assert!(recv.wait_exit(T).success(), "{:?}", recv.stderr());
    let line = recv.stdout().join("\n");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

fn check(report: &serde_json::Value, transport: &str, size: u64) {
    let keys: Vec<&str> = report
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = [
        "transport",
        "message_size",
        "messages",
        "msgs_per_s",
        "latency_ms_p50",
        "latency_ms_p99",
        "mb_per_s",
        "lost",
        "topics",
        "shm_bytes",
        "rss_bytes",
        "threads",
        "wakeups_per_message",
    ];
    expected.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, expected);
    assert_eq!(report["transport"], transport, "{report}");
    assert_eq!(report["message_size"], size);
    // Paced at 1 ms: a few hundred messages, none lost, latencies in order.
    assert!(report["messages"].as_u64().unwrap() > 50, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    let (p50, p99) = (
        report["latency_ms_p50"].as_f64().unwrap(),
        report["latency_ms_p99"].as_f64().unwrap(),
    );
    assert!(p50 > 0.0 && p50 <= p99, "{report}");
}

#[test]
fn speedtest_over_shared_memory_reports_what_arrived() {
    check(&run("--shm", "1MB"), "shm", 1_000_000);
}

#[test]
fn speedtest_over_tcp_reports_what_arrived() {
    check(&run("--tcp", "1kB"), "tcp", 1000);
}

#[test]
fn speedtest_over_many_topics_counts_what_they_cost() {
    let report = run_on("--shm", "100", "50");
    check(&report, "shm", 100);
    assert_eq!(report["topics"], 50, "{report}");
    // The receiver: one reader thread for 50 segments (tokio's workers, mDNS, registry...).
    let threads = report["threads"].as_u64().unwrap();
    assert!((1..=16).contains(&threads), "{report}");
    assert!(report["rss_bytes"].as_u64().unwrap() > 0, "{report}");
    // Its own /dev/shm is its doorbell (one page): the segments are the sender's.
    assert_eq!(report["shm_bytes"], 4096, "{report}");
}

/// The wake-ups a message costs a sleeping same-host subscriber (its process's voluntary
/// context switches per message, from /proc): a count, stable where times are not. Today two
/// (the node's shared-memory reader thread, then the subscriber's task); the latency issue's
/// target is 1.2. This holds the line: a third wake-up a message fails it.
#[test]
fn a_sleeping_subscriber_pays_at_most_two_wakeups_a_message() {
    let report = paced_run(&[]);
    let wakeups = report["wakeups_per_message"].as_f64().unwrap();
    // Under load a subscriber may find several messages queued at one wake-up (fewer than two
    // a message), never more than its threads' wake-ups for each.
    assert!(wakeups > 0.1 && wakeups <= 2.3, "{report}");
}

/// An inline handler (`Node::on_message`, `speedtest recv --inline`) runs on the thread that
/// takes the message in: a sleeping process is woken once a message (the latency issue's
/// target, 1.2), where a subscriber's task costs a second wake-up.
#[test]
fn an_inline_handler_is_woken_once_a_message() {
    let report = paced_run(&["--inline"]);
    let wakeups = report["wakeups_per_message"].as_f64().unwrap();
    assert!(wakeups > 0.5 && wakeups <= 1.2, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
}

/// A paced run (0 B every 0.5 ms for 1 s, shared memory) to a receiver with `extra` arguments;
/// its report.
fn paced_run(extra: &[&str]) -> serde_json::Value {
    let domain = unique_domain("speed-wakeups");
    let common = ["--shm", "--message-size", "0", "--run-time", "1"];
    let mut recv_args = vec!["speedtest", "recv", "--json"];
    recv_args.extend(common);
    recv_args.extend(extra);
    let mut send_args = vec!["speedtest", "send", "--sleep-time", "0.0005"];
    send_args.extend(common);
    let mut recv = Proc::spawn("recv", rosy(&domain, &recv_args));
    let mut send = Proc::spawn("send", rosy(&domain, &send_args));
    assert!(send.wait_exit(T).success(), "{:?}", send.stderr());
    assert!(recv.wait_exit(T).success(), "{:?}", recv.stderr());
    let line = recv.stdout().join("\n");
    let report: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    assert!(report["messages"].as_u64().unwrap() > 200, "{report}");
    report
}

/// `rosy speedtest serve` and `call` over shared memory, 1,000 calls one after the other (each
/// side sleeps between them: an answer or a request is what wakes it): every call answered
/// with its own bytes; each side reports its wake-ups a call (`serve` over the calls it
/// counted, `call` around each call). Returns (caller, server).
fn call_run(serve_extra: &[&str]) -> (serde_json::Value, serde_json::Value) {
    let domain = unique_domain("speed-calls");
    let mut serve_args = vec!["--json", "speedtest", "serve", "--shm"];
    serve_args.extend(serve_extra);
    let mut serve = Proc::spawn("serve", rosy(&domain, &serve_args));
    let call_args = [
        "--json",
        "speedtest",
        "call",
        "--shm",
        "--count",
        "1000",
        "--message-size",
        "100",
    ];
    let mut call = Proc::spawn("call", rosy(&domain, &call_args));
    let report = |p: &mut Proc| -> serde_json::Value {
        assert!(
            p.wait_exit(Duration::from_secs(60)).success(),
            "{:?}",
            p.stderr()
        );
        let line = p.stdout().join("\n");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    };
    let caller = report(&mut call);
    let server = report(&mut serve);
    assert_eq!(caller["calls"], 1000, "{caller}");
    assert_eq!(server["calls"], 1000, "{server}");
    assert_eq!(server["ended"], true, "{server}");
    (caller, server)
}

/// A same-host call to a sleeping provider whose handler answers inline
/// (`Node::add_service_inline`, `serve --inline`) wakes the provider once (its shared-memory
/// reader thread runs the handler; a task-run handler costs three), and the caller at most
/// twice (its reader thread, and its task unless the task's short spin for the answer caught
/// it: how often it does is a matter of time, so the benchmark reports it, not this test).
#[test]
fn a_same_host_call_wakes_an_inline_provider_once() {
    let (caller, server) = call_run(&["--inline"]);
    let per = |r: &serde_json::Value| r["wakeups_per_call"].as_f64().unwrap();
    assert!(
        per(&server) > 0.5 && per(&server) <= 1.2,
        "the provider: {server}"
    );
    assert!(per(&caller) <= 2.2, "the caller: {caller}");
}
