//! Two "hosts" on one machine: network namespaces joined by a veth pair (10.200.x.0/24), each
//! with its own /dev/shm and host name, so the nodes can only find each other by mDNS over the
//! veth and only talk over TCP. Needs root (CI runs as root). Nothing leaves the namespaces.

use crate::support::{Proc, unique_domain};
use std::process::Command;
use std::time::Duration;

fn ip(args: &[&str]) {
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

/// Two namespaces joined by a veth pair; torn down (with every process inside) on drop.
struct TwoHosts {
    names: [String; 2],
    veths: [String; 2],
}

impl TwoHosts {
    fn new() -> TwoHosts {
        let tag = std::process::id() % 100_000;
        let names = [format!("rosy_a_{tag}"), format!("rosy_b_{tag}")];
        let veths = [format!("rva{tag}"), format!("rvb{tag}")];
        let hosts = TwoHosts { names, veths };
        let subnet = 200 + (tag % 50);
        for (i, (ns, veth)) in hosts.names.iter().zip(&hosts.veths).enumerate() {
            ip(&["netns", "add", ns]);
            if i == 0 {
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
            }
            ip(&["link", "set", veth, "netns", ns]);
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("10.{subnet}.0.{}/24", i + 1),
                "dev",
                veth,
            ]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", veth, "up", "multicast", "on"]);
        }
        hosts
    }

    /// Runs example `name` on host `i`: its own network, /dev/shm and host name.
    fn run(&self, i: usize, name: &str, domain: &str) -> Proc {
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
                "mount -t tmpfs -o size=64m tmpfs /dev/shm && hostname host-{i} && exec \"$0\""
            ))
            .arg(crate::support::example(name))
            .env("ROSY_DOMAIN_ID", domain)
            .env("ROSY_INTERFACES", &self.veths[i]);
        Proc::spawn(name, command)
    }
}

impl Drop for TwoHosts {
    fn drop(&mut self) {
        for ns in &self.names {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

#[test]
fn nodes_on_two_hosts_find_each_other_by_mdns_and_talk_over_tcp() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test builds network namespaces and needs root (CI runs as root)"
    );
    let hosts = TwoHosts::new();
    let domain = unique_domain("netns");
    let provider = hosts.run(0, "service_provider", &domain);
    provider.expect_line("Started service...", Duration::from_secs(15));
    let mut caller = hosts.run(1, "service_caller", &domain);
    let status = caller.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "caller failed: {:?}", caller.stderr());
    assert_eq!(caller.stdout(), ["Calculating 2 * 2...", "Result: 4"]);
    drop(provider);
}
