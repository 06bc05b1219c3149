//! Two "sites" and a router between them, on one machine, for tests of what joins sites (the
//! zenoh bridge): three network namespaces, each site joined to the router's by a veth pair of
//! its own (site i is 10.x.(i+1).2, the router 10.x.(i+1).1 on its side). The router does not
//! forward IP, and no multicast crosses it, so the sites reach each other only through what
//! runs in the router's namespace. Each site's processes share one /dev/shm and host name
//! (`site-0`, `site-1`), as the processes of one machine do. Needs root. Torn down, with every
//! process inside, when dropped. Nothing leaves the namespaces.

use crate::netns::{ip, tear_down};
use std::ffi::OsStr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Two sites and a router's namespace between them.
pub struct RoutedSites {
    router: String,
    sites: [String; 2],
    site_veths: [String; 2],
    subnet: u32,
    /// One process per site holding its mount and host-name namespaces (its /dev/shm).
    holders: Vec<Child>,
}

impl RoutedSites {
    /// Makes the namespaces and links; panics (asking for root) where it cannot.
    pub fn new() -> RoutedSites {
        assert!(
            rustix::process::geteuid().is_root(),
            "this test builds network namespaces and needs root (CI runs as root)"
        );
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tag = (std::process::id() % 10_000) * 10 + n % 10;
        let mut sites = RoutedSites {
            router: format!("rosy_r_{tag}"),
            sites: [format!("rosy_s0_{tag}"), format!("rosy_s1_{tag}")],
            site_veths: [format!("rs0s{tag}"), format!("rs1s{tag}")],
            subnet: 100 + (tag % 150),
            holders: Vec::new(),
        };
        ip(&["netns", "add", &sites.router]);
        ip(&["-n", &sites.router, "link", "set", "lo", "up"]);
        for i in 0..2 {
            let (site, site_veth) = (&sites.sites[i], &sites.site_veths[i]);
            let router_veth = format!("rs{i}r{tag}");
            ip(&["netns", "add", site]);
            ip(&[
                "link",
                "add",
                &router_veth,
                "type",
                "veth",
                "peer",
                "name",
                site_veth,
            ]);
            ip(&["link", "set", &router_veth, "netns", &sites.router]);
            ip(&["link", "set", site_veth, "netns", site]);
            let net = format!("10.{}.{}", sites.subnet, i + 1);
            ip(&[
                "-n",
                &sites.router,
                "addr",
                "add",
                &format!("{net}.1/24"),
                "dev",
                &router_veth,
            ]);
            ip(&[
                "-n",
                site,
                "addr",
                "add",
                &format!("{net}.2/24"),
                "dev",
                site_veth,
            ]);
            ip(&["-n", &sites.router, "link", "set", &router_veth, "up"]);
            ip(&["-n", site, "link", "set", "lo", "up"]);
            ip(&[
                "-n",
                site,
                "link",
                "set",
                site_veth,
                "up",
                "multicast",
                "on",
            ]);
        }
        for i in 0..2 {
            let holder = Command::new("ip")
                .args(["netns", "exec", &sites.sites[i], "unshare", "--mount", "--uts"])
                .args(["--propagation", "private", "sh", "-c"])
                .arg(format!(
                    "mount -t tmpfs -o size=64m tmpfs /dev/shm && hostname site-{i} && exec sleep 1000000"
                ))
                .stdin(Stdio::null())
                .spawn()
                .expect("a site's holder process starts");
            sites.holders.push(holder);
        }
        for i in 0..2 {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let named = sites
                    .command(i, "hostname")
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim() == format!("site-{i}"))
                    .unwrap_or(false);
                if named {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "site {i} did not come up within 10 s"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        sites
    }

    /// `program ARGS` at site `i`: its network, /dev/shm and host name, and `ROSY_INTERFACES`
    /// set to its veth.
    pub fn command(&self, i: usize, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        command
            .args([
                "-t",
                &self.holders[i].id().to_string(),
                "-m",
                "-u",
                "-n",
                "--",
            ])
            .arg(program)
            .env("ROSY_INTERFACES", &self.site_veths[i]);
        command
    }

    /// `program ARGS` in the router's namespace (the machine's /dev/shm).
    pub fn in_router(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.router]).arg(program);
        command
    }

    /// The router's address as site `i` reaches it.
    pub fn router_address(&self, i: usize) -> String {
        format!("10.{}.{}.1", self.subnet, i + 1)
    }

    /// Site `i`'s address.
    pub fn site_address(&self, i: usize) -> String {
        format!("10.{}.{}.2", self.subnet, i + 1)
    }
}

impl Default for RoutedSites {
    fn default() -> Self {
        RoutedSites::new()
    }
}

impl Drop for RoutedSites {
    fn drop(&mut self) {
        let namespaces: Vec<String> = self.sites.iter().chain([&self.router]).cloned().collect();
        tear_down(&namespaces, &mut self.holders);
    }
}
