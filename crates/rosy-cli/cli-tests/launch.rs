//! `rosy launch` against real processes: the demos, stopping (with a child that ignores
//! SIGTERM), restarts, failures and malformed files. Every wait bounded.

use crate::support::{Proc, unique_domain, wait_until};
use rustix::process::Signal;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

fn launch(domain: &str, args: &[&str], cwd: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rosy"));
    command
        .arg("launch")
        .args(args)
        .current_dir(cwd)
        .env("ROSY_DOMAIN_ID", domain)
        .env("ROSY_INTERFACES", "lo")
        // The demos are started with `cargo run`: everything is built, nothing to fetch.
        .env("CARGO_NET_OFFLINE", "true");
    command
}

/// A directory of this test's own, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(unique_domain(test));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Processes (other than `except`) whose environment holds `ROSY_DOMAIN_ID=domain`.
fn processes_in_domain(domain: &str, except: u32) -> Vec<String> {
    let needle = format!("ROSY_DOMAIN_ID={domain}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == except {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push(format!("{pid}: {}", String::from_utf8_lossy(&cmdline)));
        }
    }
    found
}

#[test]
fn the_demo_launch_file_runs_the_demos_and_ctrl_c_leaves_no_child() {
    let domain = unique_domain("launch-demo");
    // From the workspace root, as the README says to run it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The launch file's four `cargo run`s must find their examples built. They are built here
    // first, from the launch file's directory (where `rosy launch` runs them, so cargo selects
    // the rosy package alone) and in this test's environment, bounded on its own: a build is
    // minutes on a loaded machine, and the demos get 60 s below.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args([
            "build",
            "--quiet",
            "--example",
            "topic_listener",
            "--example",
        ])
        .args(["service_provider", "--example", "topic_sender", "--example"])
        .arg("service_caller")
        .current_dir(root.join("crates/rosy/examples"))
        .env("CARGO_NET_OFFLINE", "true");
    let mut build = Proc::spawn("cargo build", build);
    let built = build.wait_exit(Duration::from_secs(900));
    assert!(
        built.success(),
        "the demos did not build: {:?}",
        build.stderr()
    );
    let mut launcher = Proc::spawn(
        "launch",
        launch(&domain, &["crates/rosy/examples/launch.yaml"], &root),
    );
    // Four `cargo run`s queue on cargo's lock before the demos start.
    let slow = Duration::from_secs(60);
    let heard = wait_until(slow, || {
        launcher.count("[topic_listener] Received \"hello world\" on topic=some-topic") > 0
    });
    if !heard {
        // What the demos' processes were doing, for whoever reads the failure.
        let ps = Command::new("ps")
            .args(["-eo", "pid,stat,etime,args"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let demos: Vec<&str> = ps
            .lines()
            .filter(|l| l.contains("cargo") || l.contains("examples/"))
            .collect();
        panic!(
            "the listener did not hear the sender within {slow:?}\nstdout: {:?}\nstderr: {:?}\n\
             processes: {demos:#?}",
            launcher.stdout(),
            launcher.stderr()
        );
    }
    launcher.expect_line("[service_caller] Result: 4", slow);
    launcher.expect_stderr("[launch] service_caller exited", T);
    launcher.expect_stderr("[launch] topic_sender exited", T);

    launcher.signal(Signal::INT);
    let status = launcher.wait_exit(T);
    assert!(status.success(), "{:?}", launcher.stderr());
    let left = processes_in_domain(&domain, launcher.pid());
    assert!(left.is_empty(), "still running after Ctrl-C: {left:?}");
}

#[test]
fn stopping_kills_what_ignores_sigterm_and_failed_nodes_restart() {
    let domain = unique_domain("launch-stop");
    let dir = TempDir::new("launch-stop");
    let file = dir.file(
        "launch.yaml",
        r#"
stop_timeout: 0.5
nodes:
  stubborn:
    shell: true
    command: trap '' TERM; echo "pid $$"; while true; do sleep 0.05; done
  flaky:
    command: [sh, -c, 'echo "run $ROSY_NODE_NAME"; exit 3']
    restart: on-failure
    restart_delay: 0.05
  twins:
    command: [sh, -c, 'echo "twin $ROSY_NODE_NAME"; exec sleep 60']
    number: 2
"#,
    );
    let launcher = Proc::spawn("launch", launch(&domain, &[file.to_str().unwrap()], &dir.0));
    let mut launcher = launcher;
    launcher.expect_line("[twins#1] twin twins", T);
    launcher.expect_line("[twins#2] twin twins", T);
    assert!(
        wait_until(T, || launcher.count("[flaky] run flaky") >= 3),
        "flaky was not restarted: {:?}",
        launcher.stdout()
    );
    launcher.expect_stderr("[launch] flaky exited with code 3", T);
    launcher.expect_stderr("[launch] restarting flaky in 0.1 s", T);
    let stubborn_pid: u32 = launcher
        .stdout()
        .iter()
        .find_map(|l| l.strip_prefix("[stubborn] pid "))
        .and_then(|pid| pid.parse().ok())
        .expect("stubborn printed its pid");
    assert!(Path::new(&format!("/proc/{stubborn_pid}")).exists());

    launcher.signal(Signal::TERM);
    let status = launcher.wait_exit(T);
    assert!(status.success(), "{:?}", launcher.stderr());
    let stderr = launcher.stderr().join("\n");
    assert!(stderr.contains("stopping 4 nodes"), "{stderr}");
    assert!(
        !Path::new(&format!("/proc/{stubborn_pid}")).exists(),
        "the node ignoring SIGTERM survived"
    );
    let left = processes_in_domain(&domain, launcher.pid());
    assert!(left.is_empty(), "still running after SIGTERM: {left:?}");
}

#[test]
fn a_failed_node_fails_the_launch_and_bad_files_are_named() {
    let domain = unique_domain("launch-fail");
    let dir = TempDir::new("launch-fail");
    let file = dir.file(
        "launch.yaml",
        "nodes:\n  fine:\n    command: \"true\"\n  broken:\n    command: [sh, -c, 'exit 4']\n",
    );
    let mut launcher = Proc::spawn("launch", launch(&domain, &[file.to_str().unwrap()], &dir.0));
    let status = launcher.wait_exit(T);
    assert_eq!(status.code(), Some(1), "{:?}", launcher.stderr());
    let stderr = launcher.stderr().join("\n");
    assert!(stderr.contains("broken exited with code 4"), "{stderr}");
    assert!(stderr.contains("node failed: broken"), "{stderr}");

    let typo = dir.file(
        "typo.yaml",
        "nodes:\n  a:\n    command: x\n    restrat: always\n",
    );
    let mut launcher = Proc::spawn("launch", launch(&domain, &[typo.to_str().unwrap()], &dir.0));
    let status = launcher.wait_exit(T);
    assert_eq!(status.code(), Some(2));
    let stderr = launcher.stderr().join("\n");
    assert!(
        stderr.contains("typo.yaml")
            && stderr.contains("line 4 column 5")
            && stderr.contains("unknown field `restrat`"),
        "{stderr}"
    );

    let mut missing = Proc::spawn("launch", launch(&domain, &["nowhere.yaml"], &dir.0));
    assert_eq!(missing.wait_exit(T).code(), Some(2));
    assert!(
        missing
            .stderr()
            .join("\n")
            .contains("cannot read launch file nowhere.yaml"),
        "{:?}",
        missing.stderr()
    );
}

#[test]
fn a_huge_number_of_copies_is_refused_unless_allowed() {
    let domain = unique_domain("launch-many");
    let dir = TempDir::new("launch-many");
    // Each copy would leave a mark: nothing may start when the file is refused.
    let marks = dir.0.join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let huge = dir.file(
        "huge.yaml",
        "nodes:\n  swarm:\n    command: [sh, -c, 'touch marks/$$']\n    number: 100000\n",
    );
    let start = std::time::Instant::now();
    let mut launcher = Proc::spawn("launch", launch(&domain, &[huge.to_str().unwrap()], &dir.0));
    let status = launcher.wait_exit(T);
    let stderr = launcher.stderr().join("\n");
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("node \"swarm\"")
            && stderr.contains("number: 100000")
            && stderr.contains("more than 64 copies")
            && stderr.contains("--allow-many"),
        "{stderr}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        std::fs::read_dir(&marks).unwrap().count(),
        0,
        "a copy started"
    );

    // Allowed, 70 copies of a quick command are planned (a dry run starts none).
    let many = dir.file(
        "many.yaml",
        "nodes:\n  swarm:\n    command: \"true\"\n    number: 70\n",
    );
    let mut refused = Proc::spawn(
        "launch",
        launch(&domain, &[many.to_str().unwrap(), "--dry-run"], &dir.0),
    );
    assert_eq!(refused.wait_exit(T).code(), Some(2));
    let mut allowed = Proc::spawn(
        "launch",
        launch(
            &domain,
            &[many.to_str().unwrap(), "--dry-run", "--allow-many"],
            &dir.0,
        ),
    );
    assert!(allowed.wait_exit(T).success(), "{:?}", allowed.stderr());
    let planned = allowed.stdout();
    assert_eq!(planned.len(), 70, "{planned:?}");
    assert!(planned[69].starts_with("swarm#70: true"), "{planned:?}");
}
