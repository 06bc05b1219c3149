//! Helpers for rosy's process-level test suites (net-tests, shm-tests, cli-tests, load-tests):
//! example processes and `rosy` runs with captured output, test nodes, bounded waits.
//!
//! Test code only (`publish = false`): nothing here is part of rosy's API, and nothing in rosy
//! depends on it but its tests.

mod hosts;
mod netns;
mod sites;
pub use hosts::TwoHosts;
pub use sites::RoutedSites;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A domain id no other test uses.
pub fn unique_domain(test: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "t-{test}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The directory cargo builds this profile's binaries in (`target/<profile>`): the test binary
/// runs from its `deps` folder.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .to_path_buf()
}

/// A built program at `path`, or a panic saying how to build it.
fn built(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test` at the workspace root, which builds \
         rosy's examples and the `rosy` binary beside the test binaries",
        path.display()
    );
    path
}

/// The path of a built example of the `rosy` crate.
pub fn example(name: &str) -> PathBuf {
    built(profile_dir().join("examples").join(name))
}

/// The path of the built `rosy` binary (crate `rosy-cli`).
pub fn rosy_bin() -> PathBuf {
    built(profile_dir().join("rosy"))
}

/// A child process whose stdout and stderr lines are collected; killed when dropped.
pub struct Proc {
    pub name: String,
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    /// Each set once its stream reached end of file: everything the child wrote is collected.
    drained: Vec<Arc<std::sync::atomic::AtomicBool>>,
}

fn collect(
    stream: impl std::io::Read + Send + 'static,
) -> (Arc<Mutex<Vec<String>>>, Arc<std::sync::atomic::AtomicBool>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (sink, flag) = (lines.clone(), done.clone());
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
        flag.store(true, std::sync::atomic::Ordering::Release);
    });
    (lines, done)
}

impl Proc {
    /// Starts example `name` with `args` in `domain`, on loopback.
    pub fn example(name: &str, domain: &str, args: &[&str]) -> Proc {
        let mut command = Command::new(example(name));
        command
            .args(args)
            .env("ROSY_DOMAIN_ID", domain)
            .env("ROSY_INTERFACES", "lo");
        Proc::spawn(name, command)
    }

    pub fn spawn(name: &str, command: Command) -> Proc {
        Proc::start(name, command, false)
    }

    /// Like `spawn`, with stdin kept open until the `Proc` is dropped (a child that waits on
    /// stdin lives as long as the test wants it).
    pub fn spawn_holding_stdin(name: &str, command: Command) -> Proc {
        Proc::start(name, command, true)
    }

    fn start(name: &str, mut command: Command, hold_stdin: bool) -> Proc {
        let mut child = command
            .stdin(if hold_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let (stdout, out_done) = collect(child.stdout.take().unwrap());
        let (stderr, err_done) = collect(child.stderr.take().unwrap());
        Proc {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            drained: vec![out_done, err_done],
        }
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// How many stdout lines equal `line`.
    pub fn count(&self, line: &str) -> usize {
        self.stdout
            .lock()
            .unwrap()
            .iter()
            .filter(|l| *l == line)
            .count()
    }

    /// Waits until a stdout line equals `line`; panics with the output after `timeout`.
    pub fn expect_line(&self, line: &str, timeout: Duration) {
        let ok = wait_until(timeout, || self.count(line) > 0);
        assert!(
            ok,
            "{} did not print {line:?} within {timeout:?}\nstdout: {:?}\nstderr: {:?}",
            self.name,
            self.stdout(),
            self.stderr()
        );
    }

    /// Waits until some stderr line contains `text`.
    pub fn expect_stderr(&self, text: &str, timeout: Duration) {
        let ok = wait_until(timeout, || {
            self.stderr.lock().unwrap().iter().any(|l| l.contains(text))
        });
        assert!(
            ok,
            "{} did not log {text:?} within {timeout:?}\nstderr: {:?}",
            self.name,
            self.stderr()
        );
    }

    /// Waits for the process to exit by itself; panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The child is gone; let its last lines arrive (bounded: the pipes are closing).
                wait_until(Duration::from_secs(5), || {
                    self.drained
                        .iter()
                        .all(|d| d.load(std::sync::atomic::Ordering::Acquire))
                });
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} still running after {timeout:?}\nstdout: {:?}\nstderr: {:?}",
                self.name,
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The child's process id.
    #[allow(dead_code)] // used by cli-tests, not every suite
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (SIGINT for a Ctrl-C, SIGTERM...) to the child.
    #[allow(dead_code)] // used by cli-tests, not every suite
    pub fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("a child's pid");
        let _ = rustix::process::kill_process(pid, signal);
    }

    /// `kill -9`, then reap.
    pub fn kill(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    /// Kills the child; when the test is failing, shows what it printed last, so a failure
    /// names what every process of the test was doing (an assertion names one at most).
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            // ROSY_TEST_TAIL=N shows N lines instead (a process logging at debug level, say).
            let keep = std::env::var("ROSY_TEST_TAIL")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(30);
            let tail = |lines: Vec<String>| {
                let from = lines.len().saturating_sub(keep);
                lines[from..].join("\n  ")
            };
            eprintln!(
                "--- {} (last lines)\nstdout:\n  {}\nstderr:\n  {}",
                self.name,
                tail(self.stdout()),
                tail(self.stderr())
            );
        }
    }
}

/// Polls `ready` every 10 ms until it holds or `timeout` passes. Returns whether it held.
pub fn wait_until(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A node for the test process itself, in `domain`, on loopback.
pub async fn node(name: &str, domain: &str) -> rosy::Node {
    rosy::Node::builder(name)
        .domain_id(domain)
        .interfaces(Some(vec!["lo".to_string()]))
        .build()
        .await
        .expect("test node starts")
}

/// Waits (asynchronously) until `ready(node)` holds, at most `timeout`.
pub async fn eventually(
    node: &rosy::Node,
    timeout: Duration,
    ready: impl Fn(&rosy::Node) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if ready(node) {
            return true;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        let _ = tokio::time::timeout(
            left.min(Duration::from_millis(100)),
            node.topology_changed(),
        )
        .await;
    }
}

/// `rosy ARGS` (the command line of this package) in `domain`, on loopback only.
pub fn rosy(domain: &str, args: &[&str]) -> Command {
    let mut command = Command::new(rosy_bin());
    command
        .args(args)
        .env("ROSY_DOMAIN_ID", domain)
        .env("ROSY_INTERFACES", "lo");
    command
}

/// The Python with ROS 2 Jazzy's rclpy named by `ROSY_ROS2_PYTHON`, or a panic saying how to
/// get one (`bash scripts/test` makes it in target/ros2-venv).
pub fn ros2_python() -> PathBuf {
    match std::env::var_os("ROSY_ROS2_PYTHON").map(PathBuf::from) {
        Some(p) if p.exists() => p,
        _ => panic!(
            "ROSY_ROS2_PYTHON must name a Python with ROS 2 Jazzy's rclpy (bash scripts/test \
             makes one in target/ros2-venv: pip install -r crates/rosy-ros2/tests/requirements.txt)"
        ),
    }
}

/// Panics unless every interface of this process's network namespace is loopback
/// (`/proc/self/net/dev`, unlike /sys, is the namespace's own): DDS discovery multicasts, and a
/// test must reach no network beyond its own.
pub fn only_loopback() {
    let table = std::fs::read_to_string("/proc/self/net/dev").unwrap_or_default();
    let interfaces: Vec<&str> = table
        .lines()
        .skip(2)
        .filter_map(|line| line.split(':').next())
        .map(str::trim)
        .collect();
    assert!(
        !interfaces.is_empty() && interfaces.iter().all(|i| *i == "lo"),
        "the ROS 2 tests run only in a network namespace holding loopback alone (as root, \
         bash scripts/test makes one); interfaces here: {interfaces:?}"
    );
}

/// An unmodified rclpy node (crates/rosy-ros2/tests/peer.py) in ROS 2 domain `ros_domain`,
/// doing `args` (`talk_string TOPIC TEXT`, `listen_string TOPIC`, ...).
pub fn rclpy_peer(ros_domain: u16, args: &[&str]) -> Proc {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../rosy-ros2/tests/peer.py");
    let mut command = Command::new(ros2_python());
    command
        .arg(script)
        .args(args)
        .env("ROS_DOMAIN_ID", ros_domain.to_string())
        .env("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
        .env("PYTHONUNBUFFERED", "1");
    Proc::spawn(&format!("rclpy {}", args[0]), command)
}
