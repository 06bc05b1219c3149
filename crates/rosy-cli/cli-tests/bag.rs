//! `rosy bag record|info|play` against a real mesh: 1,000 msgs/s of 1 kB recorded without a
//! loss and played back in order with their spacing; a recorder killed with -9; damaged files.
//! Each test works in its own temporary directory and removes it.

use crate::rosy;
use crate::support::{Proc, unique_domain, wait_until};
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// Runs `rosy ARGS` to its end: (exit code, stdout lines, stderr text).
fn run(domain: &str, args: &[&str]) -> (Option<i32>, Vec<String>, String) {
    let mut proc = Proc::spawn("rosy", rosy(domain, args));
    let status = proc.wait_exit(T);
    (status.code(), proc.stdout(), proc.stderr().join("\n"))
}

fn info_json(path: &Path) -> Option<serde_json::Value> {
    let (code, out, _) = run("unused", &["bag", "info", "--json", path.to_str()?]);
    (code == Some(0))
        .then(|| serde_json::from_str(out.first()?).ok())
        .flatten()
}

/// A directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(unique_domain(&format!("rosy-bag-{test}")));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sends `count` messages `(i, 1000 bytes of text)` on `topic`, one per millisecond against
/// absolute deadlines, once the topic has a listener. Returns the sending node, still open:
/// the caller closes it once the recording is checked, so the test does not depend on what a
/// closing node still delivers.
async fn feed(domain: &str, topic: &str, count: u64) -> rosy::Node {
    let node = crate::support::node("feeder", domain).await;
    node.wait_for_listener(topic, T)
        .await
        .expect("the recorder listens");
    let publisher = node.publisher::<(u64, String)>(topic).await.unwrap();
    let padding = "x".repeat(1000);
    let start = tokio::time::Instant::now();
    for i in 0..count {
        tokio::time::sleep_until(start + Duration::from_millis(i)).await;
        publisher.send(&(i, padding.clone())).await.unwrap();
    }
    node
}

/// The sequence numbers below `n` that `feed` sent and the bag at `path` lacks.
fn missing(path: &Path, n: u64) -> Vec<u64> {
    let Ok(bag) = rosy::bag::Bag::open(path) else {
        return Vec::new();
    };
    let got: std::collections::BTreeSet<u64> = bag
        .messages()
        .filter_map(|m| rmp_serde::from_slice::<(u64, String)>(m.data).ok())
        .map(|(seq, _)| seq)
        .collect();
    (0..n).filter(|i| !got.contains(i)).collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_at_1000_per_second_is_complete_and_plays_back_in_order_and_time() {
    const N: u64 = 2000;
    let domain = unique_domain("bag-rate");
    let dir = TempDir::new("rate");
    let bag = dir.path("load.mcap");
    let mut recorder = Proc::spawn(
        "record",
        rosy(
            &domain,
            &[
                "bag",
                "record",
                "load",
                "-o",
                bag.to_str().unwrap(),
                "--count",
                &N.to_string(),
                // A bound: a recorder missing messages still ends, and says what it lost.
                "--duration",
                "20",
            ],
        ),
    );
    let feeder = feed(&domain, "load", N).await;
    let status = tokio::task::block_in_place(|| recorder.wait_exit(T));
    assert!(status.success(), "{:?}", recorder.stderr());
    let missing = missing(&bag, N);
    assert!(
        recorder
            .stdout()
            .first()
            .is_some_and(|l| l.starts_with(&format!("recorded {N} messages"))),
        "{:?} {:?}, the sender's node dropped {}, missing: {missing:?}",
        recorder.stdout(),
        recorder.stderr(),
        feeder.dropped()
    );
    feeder.close().await;

    // Every message is there, with its codec and type.
    let info = tokio::task::block_in_place(|| info_json(&bag)).expect("bag info --json");
    assert_eq!(info["messages"], N, "{info}");
    assert_eq!(info["finished"], true, "{info}");
    let topic = &info["topics"][0];
    assert_eq!(
        (&topic["topic"], &topic["messages"], &topic["codec"]),
        (&"load".into(), &N.into(), &"msgpack".into()),
        "{info}"
    );
    assert!(topic["type"].as_str().unwrap().contains("u64"), "{info}");

    // The recorded bytes are the sent ones, in order.
    let recorded = rosy::bag::Bag::open(&bag).unwrap();
    let times: Vec<u64> = recorded.messages().map(|m| m.log_time).collect();
    for (i, m) in recorded.messages().enumerate() {
        let (seq, padding): (u64, String) = rmp_serde::from_slice(m.data).unwrap();
        assert_eq!((seq, padding.len()), (i as u64, 1000));
    }

    // Played into `rosy topic echo`: all of them, in order, with the recorded spacing.
    let mut echo = Proc::spawn(
        "echo",
        rosy(
            &domain,
            &["topic", "echo", "load", "--json", "--count", &N.to_string()],
        ),
    );
    let mut play = Proc::spawn(
        "play",
        rosy(&domain, &["bag", "play", bag.to_str().unwrap()]),
    );
    tokio::task::block_in_place(|| {
        assert!(play.wait_exit(T).success(), "{:?}", play.stderr());
        assert!(echo.wait_exit(T).success(), "{:?}", echo.stderr());
    });
    let lines = echo.stdout();
    assert_eq!(lines.len(), N as usize, "{:?}", echo.stderr());
    let mut received = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["value"][0], i as u64, "message {i} out of order");
        received.push(v["time"].as_f64().unwrap());
    }
    let recorded_span = (times[times.len() - 1] - times[0]) as f64 / 1e9;
    let received_span = received[received.len() - 1] - received[0];
    assert!(
        (received_span - recorded_span).abs() < 0.05 * recorded_span + 0.05,
        "played over {received_span:.3} s, recorded over {recorded_span:.3} s"
    );
    // Each message's time after the first, played vs recorded: apart from a constant shift
    // (the first message's own delay), the typical message is within 3 ms of its time. Loose
    // on purpose: a loaded machine delays some messages, absolute deadlines catch up.
    let errors: Vec<f64> = (0..times.len())
        .map(|i| (received[i] - received[0]) - (times[i] - times[0]) as f64 / 1e9)
        .collect();
    let shift = median(errors.clone());
    let deviation = median(errors.iter().map(|e| (e - shift).abs()).collect());
    eprintln!(
        "recorded over {recorded_span:.3} s, played over {received_span:.3} s, \
         median deviation from the recorded times {:.3} ms",
        deviation * 1e3
    );
    assert!(
        deviation < 0.003,
        "median deviation from the recorded times {:.3} ms",
        deviation * 1e3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorder_killed_with_9_leaves_a_readable_bag() {
    const N: u64 = 300;
    let domain = unique_domain("bag-kill");
    let dir = TempDir::new("kill");
    let bag = dir.path("killed.mcap");
    let mut recorder = Proc::spawn(
        "record",
        rosy(
            &domain,
            &["bag", "record", "load", "-o", bag.to_str().unwrap()],
        ),
    );
    let feeder = feed(&domain, "load", N).await;
    tokio::task::block_in_place(|| {
        // The recorder writes out what it got within a second, while still running.
        let flushed = wait_until(Duration::from_secs(10), || {
            info_json(&bag).is_some_and(|i| i["messages"] == N)
        });
        assert!(
            flushed,
            "{:?}, the sender's node dropped {}, missing: {:?}",
            info_json(&bag),
            feeder.dropped(),
            missing(&bag, N)
        );
        recorder.kill();

        let info = info_json(&bag).expect("the killed recorder's bag reads");
        assert_eq!(info["finished"], false, "{info}");
        assert_eq!(info["messages"], N, "{info}");
        let (code, out, _) = run(&domain, &["bag", "info", bag.to_str().unwrap()]);
        assert_eq!(code, Some(0));
        assert!(
            out.iter()
                .any(|l| l.starts_with("state:") && l.contains("unfinished")),
            "{out:?}"
        );
        let (code, out, err) = run(
            &domain,
            &[
                "bag",
                "play",
                "--immediate",
                "--no-wait",
                bag.to_str().unwrap(),
            ],
        );
        assert_eq!(code, Some(0), "{err}");
        assert!(err.contains("is unfinished"), "{err}");
        assert!(
            out.first()
                .is_some_and(|l| l.starts_with(&format!("played {N} messages"))),
            "{out:?}"
        );
    });
    feeder.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorder_stopped_with_sigterm_finishes_its_bag() {
    const N: u64 = 100;
    let domain = unique_domain("bag-term");
    let dir = TempDir::new("term");
    let bag = dir.path("term.mcap");
    let mut recorder = rosy(
        &domain,
        &["bag", "record", "load", "-o", bag.to_str().unwrap()],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let feeder = feed(&domain, "load", N).await;
    tokio::task::block_in_place(|| {
        let flushed = wait_until(Duration::from_secs(10), || {
            info_json(&bag).is_some_and(|i| i["messages"] == N)
        });
        let pid = rustix::process::Pid::from_raw(recorder.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let exited = wait_until(T, || recorder.try_wait().unwrap().is_some());
        if !exited {
            let _ = recorder.kill();
        }
        let output = recorder.wait_with_output().unwrap();
        assert!(
            flushed,
            "the sender's node dropped {}, missing: {:?}",
            feeder.dropped(),
            missing(&bag, N)
        );
        assert!(exited && output.status.success(), "{output:?}");
        let out = String::from_utf8_lossy(&output.stdout);
        assert!(out.starts_with(&format!("recorded {N} messages")), "{out}");
        let info = info_json(&bag).expect("bag info --json");
        assert_eq!(
            (&info["finished"], &info["messages"]),
            (&true.into(), &N.into()),
            "{info}"
        );
    });
    feeder.close().await;
}

#[test]
fn damaged_or_foreign_files_get_clear_errors_and_empty_recordings_leave_no_file() {
    let domain = unique_domain("bag-bad");
    let dir = TempDir::new("bad");

    let good = dir.path("good.mcap");
    let mut writer = rosy::bag::BagWriter::create(&good).unwrap();
    let channel = writer.channel("t", "raw", "").unwrap();
    for i in 0..100u64 {
        writer.write(channel, i, i, &[7; 1000]).unwrap();
    }
    writer.finish().unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path("cut.mcap");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let text = dir.path("notes.mcap");
    std::fs::write(&text, "these are my notes, not a bag\n").unwrap();

    let (code, _, err) = run(&domain, &["bag", "info", good.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    let good = good.to_str().unwrap();
    let (code, _, err) = run(&domain, &["bag", "play", good, "--topics", "nope"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("has no topic \"nope\"; it has: t"), "{err}");
    let (code, _, err) = run(&domain, &["bag", "play", good, "--rate", "0"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--rate 0 is not a positive number"), "{err}");
    let (code, _, err) = run(&domain, &["bag", "play", good, "--wait", "0.2"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("no node in domain") && err.contains("--no-wait"),
        "{err}"
    );
    for command in ["info", "play"] {
        let (code, _, err) = run(&domain, &["bag", command, cut.to_str().unwrap()]);
        assert_eq!(code, Some(1), "{command}: {err}");
        assert!(
            err.contains(&format!("{} is truncated", cut.display())),
            "{command}: {err}"
        );
        let (code, _, err) = run(&domain, &["bag", command, text.to_str().unwrap()]);
        assert_eq!(code, Some(1), "{command}: {err}");
        assert!(
            err.contains(&format!("{} is not an MCAP file", text.display())),
            "{command}: {err}"
        );
    }
    let (code, _, err) = run(
        &domain,
        &["bag", "info", dir.path("missing.mcap").to_str().unwrap()],
    );
    assert_eq!(code, Some(1));
    assert!(
        err.contains("missing.mcap") && err.contains("No such file"),
        "{err}"
    );

    // No PATH and no bag in the current directory.
    let empty_dir = dir.path("empty");
    std::fs::create_dir(&empty_dir).unwrap();
    let mut command = rosy(&domain, &["bag", "info"]);
    command.current_dir(&empty_dir);
    let mut proc = Proc::spawn("info", command);
    assert_eq!(proc.wait_exit(T).code(), Some(2));
    assert!(proc.stderr().join("\n").contains("no *.mcap file"));

    // A recording that gets nothing leaves no file, and says so.
    let nothing = dir.path("nothing.mcap");
    let (code, _, err) = run(
        &domain,
        &[
            "bag",
            "record",
            "silence",
            "-o",
            nothing.to_str().unwrap(),
            "--duration",
            "0.3",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("no file written"), "{err}");
    assert!(!nothing.exists());
}
