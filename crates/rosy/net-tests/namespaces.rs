//! Two "hosts" on one machine (`support::TwoHosts`: network namespaces joined by a veth pair,
//! each with its own /dev/shm and host name), so the nodes can only find each other by mDNS over
//! the veth and only talk over TCP. Needs root (CI runs as root). Nothing leaves the namespaces.

use crate::support::{Proc, TwoHosts, unique_domain};
use std::time::Duration;

#[test]
fn nodes_on_two_hosts_find_each_other_by_mdns_and_talk_over_tcp() {
    let hosts = TwoHosts::new();
    let domain = unique_domain("netns");
    let run = |i: usize, name: &str| {
        let mut command = hosts.command(i, crate::support::example(name));
        command.env("ROSY_DOMAIN_ID", &domain);
        Proc::spawn(name, command)
    };
    let provider = run(0, "service_provider");
    provider.expect_line("Started service...", Duration::from_secs(15));
    let mut caller = run(1, "service_caller");
    let status = caller.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "caller failed: {:?}", caller.stderr());
    assert_eq!(caller.stdout(), ["Calculating 2 * 2...", "Result: 4"]);
    drop(provider);
}
