//! Domain ids that would escape their directory (`..`, `.`, `/`) are refused wherever they
//! enter, with the value and the rule; and starting and closing nodes removes no file in
//! /dev/shm that rosy did not make, however old.

use crate::rosy;
use crate::support::{Proc, unique_domain};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const T: Duration = Duration::from_secs(15);

/// `rosy ARGS` with `domain` in ROSY_DOMAIN_ID: (exit status, stdout, stderr).
fn run(domain: &str, args: &[&str]) -> (std::process::ExitStatus, String, String) {
    let mut proc = Proc::spawn("rosy", rosy(domain, args));
    let status = proc.wait_exit(T);
    (status, proc.stdout().join("\n"), proc.stderr().join("\n"))
}

/// Asserts that `rosy` refused `value` as a domain id, naming it and the rule.
fn assert_refused(
    value: &str,
    (status, stdout, stderr): (std::process::ExitStatus, String, String),
) {
    assert!(!status.success(), "{value:?} accepted: {stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("invalid domain id {value:?}"))
            && stderr.contains("'.' is not allowed")
            && stderr.contains("1 to 64 ASCII letters, digits, '_' and '-'"),
        "{value:?}: {stderr}"
    );
}

#[test]
fn dot_and_dot_dot_are_refused_as_domain_ids() {
    let domain = unique_domain("cli-domain");
    assert_refused("..", run(&domain, &["--domain-id", "..", "node", "list"]));
    assert_refused(".", run(&domain, &["--domain-id", ".", "topic", "list"]));
    assert_refused("a.b", run(&domain, &["node", "list", "--domain-id", "a.b"]));
    // From the environment, as a child of `rosy launch` would get it.
    assert_refused("..", run("..", &["node", "list"]));
    // A node's own ROSY_DOMAIN_ID, checked by NodeBuilder::build.
    let mut node = Proc::example("topic_listener", "..", &[]);
    assert!(!node.wait_exit(T).success());
    let stderr = node.stderr().join("\n");
    assert!(
        stderr.contains("invalid ROSY_DOMAIN_ID: \"..\": '.' is not allowed"),
        "{stderr}"
    );
    // A good one still works.
    let (status, stdout, stderr) = run(&domain, &["node", "list"]);
    assert!(status.success(), "{stdout}\n{stderr}");
}

#[test]
fn a_launch_file_with_an_escaping_domain_id_is_refused() {
    let dir = std::env::temp_dir().join(format!("rosy-domain-launch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("launch.yaml");
    std::fs::write(&file, "domain_id: ..\nnodes:\n  a: {command: \"true\"}\n").unwrap();
    let (status, _, stderr) = run(
        &unique_domain("cli-domain"),
        &["launch", file.to_str().unwrap(), "--dry-run"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("domain_id \"..\": '.' is not allowed"),
        "{stderr}"
    );
}

/// A file of someone else's, made to look an hour old; removed (if still there) on drop.
struct Planted(PathBuf);

impl Planted {
    fn new(path: PathBuf) -> Planted {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(8192).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        Planted(path)
    }

    fn exists(&self) -> bool {
        self.0.exists()
    }
}

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn nodes_starting_and_closing_leave_foreign_files_in_dev_shm_alone() {
    let domain = unique_domain("cli-foreign");
    let pid = std::process::id();
    let shm = Path::new("/dev/shm");
    let registry = shm.join("rosy-registry").join(&domain);
    let planted = [
        // Not rosy's, beside rosy's files.
        Planted::new(shm.join(format!("not-rosy-{pid}"))),
        // What the registry scan of a `..` domain (/dev/shm/rosy-registry/..) would have
        // taken for an old entry.
        Planted::new(shm.join(format!("not-rosy-{pid}.json"))),
        // rosy's prefix, not a name rosy makes.
        Planted::new(shm.join(format!("rosy.{domain}.notes-{pid}"))),
        Planted::new(shm.join(format!("rosy.not-a-segment-{pid}"))),
        // Someone's notes in the domain's registry directory.
        Planted::new(registry.join("notes.txt")),
    ];
    // A node starts and closes (a tool node: stale-file removal and the registry scan run).
    let (status, stdout, stderr) = run(&domain, &["node", "list"]);
    assert!(status.success(), "{stdout}\n{stderr}");
    // A long-running node, stopped by SIGTERM.
    let mut listener = Proc::example("topic_listener", &domain, &[]);
    listener.expect_line("Listening...", T);
    let (status, stdout, stderr) = run(&domain, &["node", "list"]);
    assert!(
        status.success() && stdout.contains("topic_listener"),
        "{stdout}\n{stderr}"
    );
    listener.signal(rustix::process::Signal::TERM);
    listener.wait_exit(T);
    // And the attempts with escaping domains, refused before they touch anything.
    let refused: Vec<bool> = ["..", "."]
        .iter()
        .map(|bad| {
            !run(&domain, &["--domain-id", bad, "node", "list"])
                .0
                .success()
        })
        .collect();
    for file in &planted {
        assert!(file.exists(), "{} was removed", file.0.display());
    }
    assert_eq!(refused, [true, true], "an escaping domain id was accepted");
    drop(planted);
    let _ = std::fs::remove_dir(&registry);
}
