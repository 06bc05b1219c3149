//! A truncated live segment (issue 8): any process of the same user can `truncate` a file in
//! /dev/shm, and every process mapping it used to die of SIGBUS. Here a `rosy topic send`
//! publishes to a `rosy topic echo` through shared memory; the test truncates the topic's
//! segment (or its chunk files) while messages flow. Both processes must live, say what
//! happened, and the messages must go on (by TCP); at most the one message in the segment at the
//! moment it was cut may be lost.

use crate::support::{Proc, unique_domain, wait_until};
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);
const MESSAGES: usize = 200;

fn rosy(domain: &str, args: &[&str]) -> Command {
    let mut command = crate::support::rosy(domain, args);
    command.env("ROSY_MDNS", "0");
    command
}

/// The files in /dev/shm of `domain` whose names contain `part`.
fn files(domain: &str, part: &str) -> Vec<std::path::PathBuf> {
    let prefix = format!("rosy.{domain}.");
    std::fs::read_dir("/dev/shm")
        .map(|dir| {
            dir.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix) && n.contains(part))
                .map(|n| std::path::Path::new("/dev/shm").join(n))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether process `pid` runs (exists and is not a zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(") ")
            .next()
            .is_some_and(|rest| !rest.starts_with('Z'))
    })
}

fn maps_file(pid: u32, path: &std::path::Path) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .is_ok_and(|maps| maps.contains(&*path.to_string_lossy()))
}

/// Sends `MESSAGES` copies of `value` through shared memory, truncates the files whose names
/// contain the topic's segment name and `part` once the listener reads them, and checks that
/// everybody lives and the messages go on.
fn truncate_while_flowing(test: &str, value: &str, part: &str) {
    let domain = unique_domain(test);
    let topic = "camera";
    let echo = Proc::spawn("echo", rosy(&domain, &["topic", "echo", topic]));
    let interval = "0.02";
    let count = MESSAGES.to_string();
    let mut send = Proc::spawn(
        "send",
        rosy(
            &domain,
            &[
                "topic",
                "send",
                topic,
                value,
                "--interval",
                interval,
                "--count",
                &count,
            ],
        ),
    );
    // The topic's segment: its name ends in the topic's hash, whoever publishes.
    let hash = rosy::transport::shm::segment_name(&domain, &"0".repeat(32), topic)
        .rsplit('.')
        .next()
        .unwrap()
        .to_string();
    let targets = || {
        files(&domain, &format!(".{hash}{part}"))
            .into_iter()
            .filter(|f| !part.is_empty() || f.to_string_lossy().ends_with(&hash))
            .collect::<Vec<_>>()
    };
    assert!(
        wait_until(T, || {
            let t = targets();
            !t.is_empty() && t.iter().all(|f| maps_file(echo.pid(), f)) && echo.stdout().len() >= 20
        }),
        "the listener never read {test} through shared memory: files {:?}, {} lines\n{:?}",
        targets(),
        echo.stdout().len(),
        echo.stderr()
    );
    let before = echo.stdout().len();
    for file in targets() {
        let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        f.set_len(0).unwrap();
    }
    assert!(
        wait_until(T, || echo.stdout().len() >= before + 20),
        "messages stopped after the truncation: {} then {}\nsend: {:?}\necho: {:?}",
        before,
        echo.stdout().len(),
        send.stderr(),
        echo.stderr()
    );
    let status = send.wait_exit(T);
    assert!(
        status.success(),
        "the publisher died: {status:?}\n{:?}",
        send.stderr()
    );
    assert!(
        wait_until(Duration::from_secs(5), || echo.stdout().len()
            >= MESSAGES - 1),
        "{} of {MESSAGES} messages arrived",
        echo.stdout().len()
    );
    assert!(
        running(echo.pid()),
        "the listener died: {:?}",
        echo.stderr()
    );
    let said = |p: &Proc| {
        p.stderr()
            .iter()
            .any(|l| l.contains("truncated by another process"))
    };
    assert!(
        said(&send) || said(&echo),
        "nobody said what happened\nsend: {:?}\necho: {:?}",
        send.stderr(),
        echo.stderr()
    );
}

#[test]
fn a_truncated_segment_kills_nobody_and_messages_go_on() {
    truncate_while_flowing("trunc-segment", "[hello, world]", "");
}

#[test]
fn truncated_chunk_files_kill_nobody_and_messages_go_on() {
    let big = format!("\"{}\"", "x".repeat(100_000));
    truncate_while_flowing("trunc-chunks", &big, ".c");
}
