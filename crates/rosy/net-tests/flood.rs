//! Floods from peers that never finish what they start (issue 8, items 3 and 7): a node's memory
//! follows bytes received, never a declared length; connections in handshake are capped and
//! time out; a stalled frame closes its link; a descriptor flood neither hides the node nor
//! fills its log.
//!
//! The node under attack is a child process (`examples/topic_listener`), so its RSS, address
//! space and descriptors are its own. Bounds are shortened through `ROSY_HANDSHAKE_TIMEOUT_MS`
//! and `ROSY_FRAME_STALL_TIMEOUT_MS`.

use crate::bad_input::hello_as;
use crate::support::{Proc, eventually, example, node, unique_domain, wait_until};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);
const HELLO: &str = "Received \"hello world\" on topic=some-topic";

/// A field of /proc/PID/status, in bytes (`VmRSS`, `VmSize`).
fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// This test process opens a thousand sockets itself.
fn raise_own_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
}

/// `topic_listener` in `domain` with `env`, and optionally descriptor limits set before exec.
fn listener(domain: &str, env: &[(&str, &str)], nofile: Option<(u64, u64)>) -> Proc {
    let mut command = Command::new(example("topic_listener"));
    command
        .env("ROSY_DOMAIN_ID", domain)
        .env("ROSY_INTERFACES", "lo")
        .envs(env.iter().copied());
    if let Some((soft, hard)) = nofile {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is a plain system call, safe between fork and exec.
        unsafe {
            command.pre_exec(move || {
                rustix::process::setrlimit(
                    rustix::process::Resource::Nofile,
                    rustix::process::Rlimit {
                        current: Some(soft),
                        maximum: Some(hard),
                    },
                )
                .map_err(std::io::Error::from)
            });
        }
    }
    let proc = Proc::spawn("topic_listener", command);
    proc.expect_line("Listening...", T);
    proc
}

/// The listener's loopback endpoint, as a peer sees it.
async fn endpoint_of(peer: &rosy::Node, pid: u32) -> SocketAddr {
    assert!(
        eventually(peer, T, |n| n.topology().nodes().any(|i| i.pid == pid)).await,
        "the peer does not see the listener"
    );
    peer.topology()
        .nodes()
        .find(|i| i.pid == pid)
        .and_then(|i| i.endpoints.iter().find(|e| e.ip().is_loopback()).copied())
        .expect("the listener announces a loopback endpoint")
}

/// A good peer reaches the listener and one message of its goes through, within `T`.
async fn exchange(domain: &str, listener: &Proc) {
    let peer = node("good-peer", domain).await;
    assert!(
        eventually(&peer, T, |n| n.topology().listeners("some-topic").len()
            == 1)
        .await,
        "the good peer did not connect to the listener\nlistener stderr: {:?}",
        listener.stderr()
    );
    let before = listener.count(HELLO);
    let deadline = Instant::now() + T;
    loop {
        let sent = peer.send("some-topic", &("hello", "world")).await;
        if sent.is_ok()
            && wait_until(Duration::from_millis(200), || {
                listener.count(HELLO) > before
            })
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no message reached the listener ({sent:?})\nlistener stderr: {:?}",
            listener.stderr()
        );
    }
    peer.close().await;
}

/// Whether the node closed `stream` (end of file or reset), without waiting.
fn is_closed(stream: &mut TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 4096];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => return true,
            Ok(_) => continue, // the node's preamble and hello, if it answered
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

fn refusal_lines(proc: &Proc) -> usize {
    proc.stderr()
        .iter()
        .filter(|l| l.contains("refused connection") || l.contains("accept failed"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unfinished_hellos_costs_little_memory_and_ends() {
    raise_own_fd_limit();
    let domain = unique_domain("hello-flood");
    let hello_bound = Duration::from_millis(3000);
    let target = listener(&domain, &[("ROSY_HANDSHAKE_TIMEOUT_MS", "3000")], None);
    let pid = target.pid();
    let watcher = node("watcher", &domain).await;
    let addr = endpoint_of(&watcher, pid).await;
    watcher.close().await;
    let (rss_before, vm_before) = (status_bytes(pid, "VmRSS"), status_bytes(pid, "VmSize"));

    // One hello declaring 200 MiB is refused from its length alone, with a clear log.
    let mut header = rosy::transport::tcp::frame::preamble().to_vec();
    header.extend_from_slice(&(200u32 << 20).to_le_bytes());
    let mut first = TcpStream::connect_timeout(&addr, T).unwrap();
    first.write_all(&header).unwrap();
    assert!(
        wait_until(Duration::from_secs(2), || is_closed(&mut first)),
        "a 200 MiB hello was not refused at once"
    );
    target.expect_stderr("hello length 209715200 exceeds the limit of 4096 bytes", T);

    // 100 connections declaring a 200 MiB hello, then 100 that send nothing at all.
    let started = Instant::now();
    let mut flood: Vec<TcpStream> = Vec::new();
    for i in 0..200 {
        let mut stream = TcpStream::connect_timeout(&addr, T).unwrap();
        if i < 100 {
            let _ = stream.write_all(&header);
        }
        flood.push(stream);
    }
    let (mut rss_max, mut vm_max) = (0, 0);
    let mut sample = || {
        rss_max = rss_max.max(status_bytes(pid, "VmRSS"));
        vm_max = vm_max.max(status_bytes(pid, "VmSize"));
    };
    sample();

    // All but the 64 connections allowed in handshake are closed at once: well before the
    // hello bound.
    let mut closed = vec![false; flood.len()];
    let at_once = wait_until(hello_bound - Duration::from_millis(500), || {
        for (c, s) in closed.iter_mut().zip(flood.iter_mut()) {
            *c = *c || is_closed(s);
        }
        closed.iter().filter(|c| **c).count() >= 200 - 64
    });
    sample();
    let closed_at_once = closed.iter().filter(|c| **c).count();
    assert!(
        at_once,
        "only {closed_at_once} of 200 connections were closed within {:?}",
        started.elapsed()
    );

    // A good peer still connects and exchanges a message meanwhile.
    exchange(&domain, &target).await;
    sample();

    // The rest are closed once the hello bound has passed.
    let all = wait_until(hello_bound + Duration::from_secs(5), || {
        for (c, s) in closed.iter_mut().zip(flood.iter_mut()) {
            *c = *c || is_closed(s);
        }
        closed.iter().all(|c| *c)
    });
    sample();
    assert!(
        all,
        "{} connections still open after {:?}",
        closed.iter().filter(|c| !**c).count(),
        started.elapsed()
    );
    eprintln!(
        "hello flood: RSS {} -> max {} KiB, VmSize {} -> max {} KiB, {closed_at_once} closed at once",
        rss_before / 1024,
        rss_max / 1024,
        vm_before / 1024,
        vm_max / 1024
    );
    assert!(rss_max < 100 << 20, "RSS reached {rss_max} bytes");
    assert!(
        vm_max < vm_before + (1 << 30),
        "address space grew from {vm_before} to {vm_max} bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_that_stops_arriving_closes_its_link_and_takes_no_declared_memory() {
    let domain = unique_domain("stall");
    let stall = Duration::from_millis(2000);
    let target = listener(&domain, &[("ROSY_FRAME_STALL_TIMEOUT_MS", "2000")], None);
    let pid = target.pid();
    let watcher = node("watcher", &domain).await;
    let addr = endpoint_of(&watcher, pid).await;
    watcher.close().await;
    let (rss_before, vm_before) = (status_bytes(pid, "VmRSS"), status_bytes(pid, "VmSize"));

    // A real handshake, then a 240 MB topic frame of which 1 MiB comes.
    let mut stream = TcpStream::connect_timeout(&addr, T).unwrap();
    stream
        .write_all(&hello_as(&domain, &"e".repeat(32)))
        .unwrap();
    let mut start = Vec::new();
    start.extend_from_slice(&(240_000_000u32).to_le_bytes());
    start.extend_from_slice(&[3, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    start.push(b't');
    start.extend_from_slice(&vec![0u8; 1 << 20]);
    stream.write_all(&start).unwrap();
    let sent_at = Instant::now();
    // The node answered the handshake (its preamble comes back) and kept the link.
    let mut preamble = [0u8; 8];
    stream.set_read_timeout(Some(T)).unwrap();
    stream.read_exact(&mut preamble).unwrap();
    assert_eq!(&preamble[..4], b"ROSY");
    let (mut rss_max, mut vm_max) = (0, 0);
    let closed = wait_until(stall + Duration::from_secs(5), || {
        rss_max = rss_max.max(status_bytes(pid, "VmRSS"));
        vm_max = vm_max.max(status_bytes(pid, "VmSize"));
        is_closed(&mut stream)
    });
    let after = sent_at.elapsed();
    assert!(closed, "the stalled link is still open after {after:?}");
    assert!(
        after >= stall - Duration::from_millis(200),
        "closed after {after:?}, before the {stall:?} bound"
    );
    target.expect_stderr("no byte of a started frame arrived", T);
    eprintln!(
        "stalled frame: RSS {} -> max {} KiB, VmSize {} -> max {} KiB, closed after {after:?}",
        rss_before / 1024,
        rss_max / 1024,
        vm_before / 1024,
        vm_max / 1024
    );
    assert!(
        vm_max < vm_before + (100 << 20),
        "address space grew from {vm_before} to {vm_max} bytes for a 240 MB declared frame"
    );
    assert!(
        rss_max < rss_before + (50 << 20),
        "RSS grew from {rss_before} to {rss_max}"
    );
    // And the node serves good peers still.
    exchange(&domain, &target).await;
}

/// Opens `count` connections, each sending a good hello as a node of its own, and keeps them
/// open. Returns them and how many the node answered (handshaken); stops at the first one the
/// node neither answers nor closes within `T` (it stopped accepting).
fn handshaken_flood(addr: SocketAddr, domain: &str, count: usize) -> (Vec<TcpStream>, usize) {
    let mut streams = Vec::new();
    let mut answered = 0;
    for i in 0..count {
        let mut stream = TcpStream::connect_timeout(&addr, T).unwrap();
        let _ = stream.write_all(&hello_as(domain, &format!("{:032x}", 0xf000 + i)));
        stream.set_read_timeout(Some(T)).unwrap();
        let mut preamble = [0u8; 8];
        match stream.read_exact(&mut preamble) {
            Ok(()) => answered += 1,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
            Err(_) => {} // closed at once: refused
        }
        streams.push(stream);
    }
    (streams, answered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_descriptor_flood_neither_hides_the_node_nor_fills_its_log() {
    raise_own_fd_limit();
    // Started with a soft limit of 256 it can raise to 4096: it must raise it itself.
    let domain = unique_domain("fd-flood");
    let target = listener(&domain, &[], Some((256, 4096)));
    let pid = target.pid();
    let watcher = node("watcher", &domain).await;
    let addr = endpoint_of(&watcher, pid).await;
    watcher.close().await;
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let soft: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        soft[3], "4096",
        "the node did not raise its soft limit: {limits}"
    );

    let (flood, answered) = handshaken_flood(addr, &domain, 1000);
    assert_eq!(answered, 1000, "stderr: {:?}", target.stderr());
    let held = wait_until(T, || open_fds(pid) >= 1000);
    assert!(held, "the node holds only {} descriptors", open_fds(pid));
    // A new peer finds it (registry, mDNS) and reaches it while the flood is held.
    exchange(&domain, &target).await;
    assert!(open_fds(pid) >= 1000, "the flood was dropped meanwhile");
    let lines = refusal_lines(&target);
    eprintln!(
        "fd flood (raised): {} descriptors held, {lines} refusal lines",
        open_fds(pid)
    );
    assert!(lines < 20, "{lines} lines: {:?}", target.stderr());
    drop(flood);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_descriptor_flood_past_a_fixed_limit_leaves_the_reserve_free() {
    raise_own_fd_limit();
    // 256 soft and hard: the flood outgrows the limit; the reserve keeps the node reachable.
    let domain = unique_domain("fd-reserve");
    let target = listener(&domain, &[], Some((256, 256)));
    let pid = target.pid();
    let watcher = node("watcher", &domain).await;
    let addr = endpoint_of(&watcher, pid).await;
    watcher.close().await;

    let (flood, answered) = handshaken_flood(addr, &domain, 1000);
    assert_eq!(
        flood.len(),
        1000,
        "the node stopped accepting ({} descriptors open): {:?}",
        open_fds(pid),
        target.stderr()
    );
    assert!(answered < 256, "{answered} handshakes under a limit of 256");
    // The node fills up to its reserve...
    assert!(
        wait_until(T, || open_fds(pid) >= 150),
        "the node holds only {} descriptors",
        open_fds(pid)
    );
    // ...and still finds and reaches a new peer.
    exchange(&domain, &target).await;
    let fds = open_fds(pid);
    let lines = refusal_lines(&target);
    eprintln!("fd flood (fixed 256): {fds} descriptors held, {lines} refusal lines");
    assert!(fds < 256, "{fds} descriptors open");
    assert!(lines < 20, "{lines} lines: {:?}", target.stderr());
    drop(flood);
}
