//! Two "hosts" on one machine for tests: network namespaces joined by a veth pair
//! (10.x.0.1 and 10.x.0.2), each command run in one with its own /dev/shm and host name, so
//! nodes can only find each other by mDNS over the veth and only talk over TCP. Needs root.
//! Torn down, with every process inside, when dropped. Nothing leaves the namespaces.

use crate::netns::{ip, tear_down};
use std::ffi::OsStr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Two namespaces joined by a veth pair.
pub struct TwoHosts {
    names: [String; 2],
    veths: [String; 2],
}

impl TwoHosts {
    /// Makes the namespaces and the link; panics (asking for root) where it cannot.
    pub fn new() -> TwoHosts {
        assert!(
            rustix::process::geteuid().is_root(),
            "this test builds network namespaces and needs root (CI runs as root)"
        );
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tag = (std::process::id() % 10_000) * 10 + n % 10;
        let names = [format!("rosy_a_{tag}"), format!("rosy_b_{tag}")];
        let veths = [format!("rva{tag}"), format!("rvb{tag}")];
        let hosts = TwoHosts { names, veths };
        let subnet = 100 + (tag % 150);
        ip(&[
            "link",
            "add",
            &hosts.veths[0],
            "type",
            "veth",
            "peer",
            "name",
            &hosts.veths[1],
        ]);
        for (i, (ns, veth)) in hosts.names.iter().zip(&hosts.veths).enumerate() {
            ip(&["netns", "add", ns]);
            ip(&["link", "set", veth, "netns", ns]);
            let address = format!("10.{subnet}.0.{}/24", i + 1);
            ip(&["-n", ns, "addr", "add", &address, "dev", veth]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", veth, "up", "multicast", "on"]);
        }
        hosts
    }

    /// Host `i`'s end of the veth pair.
    pub fn veth(&self, i: usize) -> &str {
        &self.veths[i]
    }

    /// `program ARGS` on host `i`: its own network, /dev/shm and host name, and
    /// `ROSY_INTERFACES` set to its veth.
    pub fn command(&self, i: usize, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command
            .args([
                "netns",
                "exec",
                &self.names[i],
                "unshare",
                "--mount",
                "--uts",
                "sh",
                "-c",
            ])
            .arg(format!(
                "mount -t tmpfs -o size=64m tmpfs /dev/shm && hostname host-{i} && exec \"$0\" \"$@\""
            ))
            .arg(program)
            .env("ROSY_INTERFACES", &self.veths[i]);
        command
    }

    /// `program ARGS` in host `i`'s network only (the machine's /dev/shm and host name): for
    /// tools such as a packet capture.
    pub fn in_network(&self, i: usize, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.names[i]]).arg(program);
        command
    }
}

impl Default for TwoHosts {
    fn default() -> Self {
        TwoHosts::new()
    }
}

impl Drop for TwoHosts {
    fn drop(&mut self) {
        tear_down(&self.names, &mut []);
    }
}
