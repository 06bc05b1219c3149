//! A full /dev/shm: `examples/full_shm` (two nodes in one process, large and small messages
//! from one to the other) runs in a private mount namespace with a small tmpfs on /dev/shm, so
//! segments or chunk files cannot be made. Nothing may die (no SIGBUS), nothing may be lost
//! (what shared memory cannot carry goes by TCP), the node says so once, and `way_between`
//! names the reason. Needs root for `unshare -m` and `mount` (CI runs as root).

use crate::support::{Proc, example, unique_domain};
use std::process::Command;
use std::time::Duration;

/// What one run printed, and how it ended.
struct Run {
    stdout: Vec<String>,
    stderr: Vec<String>,
    status: std::process::ExitStatus,
}

impl Run {
    fn line(&self, start: &str) -> &str {
        self.stdout
            .iter()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line {start:?} in {:#?}\n{:#?}", self.stdout, self))
    }

    /// Warnings logged about /dev/shm.
    fn shm_warnings(&self) -> Vec<&String> {
        self.stderr
            .iter()
            .filter(|l| l.contains("WARN") && l.contains("/dev/shm"))
            .collect()
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout.join("\n"),
            self.stderr.join("\n")
        )
    }
}

/// `unshare -m ... full_shm ARGS` with a tmpfs of `size` on /dev/shm, visible to it alone, in
/// a domain of its own (returned).
fn command_with_shm(size: &str, args: &[&str]) -> (Command, String) {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test mounts a small tmpfs on /dev/shm in a private mount namespace and needs root \
         (CI runs as root)"
    );
    let domain = unique_domain("fullshm");
    let mut command = Command::new("unshare");
    command
        .args(["-m", "sh", "-c"])
        .arg(format!(
            "mount --make-rprivate / && mount -t tmpfs -o size={size} tmpfs /dev/shm && exec \"$0\" \"$@\""
        ))
        .arg(example("full_shm"))
        .args(args)
        .env("ROSY_DOMAIN_ID", &domain)
        .env("ROSY_INTERFACES", "lo")
        .env("ROSY_MDNS", "0")
        .env_remove("RUST_LOG")
        .env_remove("ROSY_HOST_ID")
        .env_remove("ROSY_TRANSPORT");
    (command, domain)
}

/// Runs `full_shm ARGS` with a tmpfs of `size` on /dev/shm, visible to it alone.
fn run_with_shm(size: &str, args: &[&str]) -> Run {
    let mut proc = Proc::spawn("full_shm", command_with_shm(size, args).0);
    let status = proc.wait_exit(Duration::from_secs(60));
    Run {
        stdout: proc.stdout(),
        stderr: proc.stderr(),
        status,
    }
}

/// Every message arrived intact, every send reached the one listener, the process exited 0
/// (a SIGBUS would show as a signal), and nothing was dropped.
fn assert_nothing_lost(run: &Run) {
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(run.status.signal(), None, "killed by a signal: {run:?}");
    assert!(run.status.success(), "{run:?}");
    let received = run.line("received ");
    assert!(
        received.contains("missing [] corrupt 0 lost 0"),
        "{received}: {run:?}"
    );
    let sends: Vec<&String> = run
        .stdout
        .iter()
        .filter(|l| l.starts_with("send "))
        .collect();
    assert!(!sends.is_empty(), "{run:?}");
    for send in sends {
        assert!(send.ends_with("-> Ok(1)"), "{send}: {run:?}");
    }
    assert!(run.line("by transport ").ends_with("dropped 0"), "{run:?}");
}

/// (shm, tcp) messages the sender counted.
fn by_transport(run: &Run) -> (u64, u64) {
    let line = run.line("by transport ");
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[3].parse().unwrap(), words[5].parse().unwrap())
}

/// Exactly one warning names /dev/shm and the missing room, however many messages it concerned.
fn assert_warned_once(run: &Run) {
    let warnings = run.shm_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:#?}\n{run:?}");
    assert!(
        warnings[0].contains("/dev/shm has no room"),
        "{warnings:#?}"
    );
}

#[test]
fn no_room_for_even_a_ring_sends_everything_by_tcp() {
    // 160 KiB: the host id and registry entries fit, a 228 KiB ring does not.
    let run = run_with_shm("160k", &["--count", "16"]);
    assert_nothing_lost(&run);
    assert_warned_once(&run);
    let (shm, tcp) = by_transport(&run);
    assert_eq!((shm, tcp), (0, 16), "{run:?}");
    let way = run.line("way ");
    assert!(
        way.starts_with("way tcp: ") && way.contains("/dev/shm has no room"),
        "{way}: {run:?}"
    );
}

#[test]
fn no_room_for_a_chunk_sends_large_messages_by_tcp_and_small_ones_by_shm() {
    // 1 MiB: the ring fits, no chunk of a 1 MB message does.
    let run = run_with_shm("1m", &["--count", "16"]);
    assert_nothing_lost(&run);
    assert_warned_once(&run);
    let (shm, tcp) = by_transport(&run);
    // Messages 1, 5, 9, 13 are large: by TCP; the small ones by shared memory once it is read.
    assert!(tcp >= 4 && shm >= 1 && shm + tcp == 16, "{run:?}");
    let way = run.line("way ");
    assert!(
        way.starts_with("way shm: ") && way.contains("/dev/shm has no room"),
        "{way}: {run:?}"
    );
}

#[test]
fn a_full_dev_shm_after_the_first_chunk_falls_back_to_tcp() {
    // 2 MiB: the ring and one chunk of a 1 MB message fit; the next chunk (the first is held by
    // an unread sample) does not.
    let run = run_with_shm("2m", &["--count", "16"]);
    assert_nothing_lost(&run);
    assert_warned_once(&run);
    let (shm, tcp) = by_transport(&run);
    assert!(tcp >= 3 && shm >= 2 && shm + tcp == 16, "{run:?}");
    let way = run.line("way ");
    assert!(way.contains("/dev/shm has no room"), "{way}: {run:?}");
}

#[test]
fn a_full_dev_shm_while_the_pool_grows_falls_back_to_tcp() {
    // 5 MiB: the ring and the 4 usual chunks fit; growing the pool while every chunk is held
    // does not. Those messages go by TCP rather than being lost.
    let run = run_with_shm("5m", &["--count", "32"]);
    assert_nothing_lost(&run);
    assert_warned_once(&run);
    let (shm, tcp) = by_transport(&run);
    assert!(tcp >= 1 && shm >= 4 && shm + tcp == 32, "{run:?}");
}

#[test]
fn a_roomy_dev_shm_sends_everything_by_shm_without_warnings() {
    // The same program with room to spare: the behaviour for good conditions is unchanged.
    let run = run_with_shm("64m", &["--count", "16"]);
    assert_nothing_lost(&run);
    assert!(run.shm_warnings().is_empty(), "{run:?}");
    let way = run.line("way ");
    assert_eq!(way, "way shm: ", "{run:?}");
}

/// `rosy ARGS` in the mount namespace (so the /dev/shm) of process `pid`.
fn rosy_beside(pid: u32, domain: &str, args: &[&str]) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--mount=/proc/{pid}/ns/mnt"))
        .arg(crate::support::rosy_bin())
        .args(args)
        .env("ROSY_DOMAIN_ID", domain)
        .env("ROSY_INTERFACES", "lo")
        .env("ROSY_MDNS", "0")
        .output()
        .expect("nsenter runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "rosy {args:?}: {stdout}\n{stderr}");
    stdout.into_owned()
}

#[test]
fn the_command_line_says_why_messages_go_by_tcp() {
    use rustix::process::Signal;
    let (command, domain) = command_with_shm("1m", &["--count", "8", "--inspect"]);
    let mut proc = Proc::spawn("full_shm", command);
    proc.expect_line("inspect", Duration::from_secs(30));
    // topic info: the route from sender to receiver is shm, with the missing room as reason.
    let info = rosy_beside(proc.pid(), &domain, &["topic", "info", "frames"]);
    let route = info
        .lines()
        .find(|l| {
            l.trim_start().starts_with("full-shm-sender@") && l.contains(" -> full-shm-receiver@")
        })
        .unwrap_or_else(|| panic!("no route in {info}"));
    assert!(
        route.contains("shm") && route.contains("/dev/shm has no room"),
        "{route}\n{info}"
    );
    // node list -v: the sender lists its problem.
    let nodes = rosy_beside(proc.pid(), &domain, &["node", "list", "-v"]);
    assert!(
        nodes.lines().any(
            |l| l.contains("shm problem (own) on frames") && l.contains("/dev/shm has no room")
        ),
        "{nodes}"
    );
    proc.signal(Signal::TERM);
    let status = proc.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status:?}: {:?}", proc.stderr());
    assert_eq!(
        proc.stderr()
            .iter()
            .filter(|l| l.contains("WARN") && l.contains("/dev/shm"))
            .count(),
        1,
        "{:#?}",
        proc.stderr()
    );
}
