//! What the namespace helpers (`hosts`, `sites`) share: running `ip`, and tearing namespaces
//! down with every process inside.

use std::process::Command;

/// Runs `ip ARGS`; panics with its error output if it fails.
pub(crate) fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("iproute2 is installed");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Kills every process in each namespace, then `holders` (processes that keep namespaces of
/// their own), then deletes the namespaces.
pub(crate) fn tear_down<'a>(
    namespaces: impl IntoIterator<Item = &'a String> + Clone,
    holders: &mut [std::process::Child],
) {
    for ns in namespaces.clone() {
        if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
    }
    for holder in holders {
        let _ = holder.kill();
        let _ = holder.wait();
    }
    for ns in namespaces {
        let _ = Command::new("ip").args(["netns", "del", ns]).status();
    }
}
