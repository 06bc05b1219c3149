//! Tests of the `rosy` command line against real processes and a real mesh, on loopback only,
//! every wait bounded.

mod bag;
mod domain_ids;
mod foxglove;
mod foxglove_bag;
mod graph;
mod launch;
mod mesh_commands;
mod misleading_errors;
mod observers;
mod qos;
mod speedtest;
#[path = "../net-tests/support.rs"]
#[allow(dead_code)]
mod support;
mod transport_info;

/// `rosy ARGS` in `domain`, on loopback only.
pub fn rosy(domain: &str, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rosy"));
    command
        .args(args)
        .env("ROSY_DOMAIN_ID", domain)
        .env("ROSY_INTERFACES", "lo");
    command
}
