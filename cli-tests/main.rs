//! Tests of the `rosy` command line against real processes and a real mesh, on loopback only,
//! every wait bounded.

mod bag;
mod launch;
mod mesh_commands;
mod speedtest;
#[path = "../net-tests/support.rs"]
#[allow(dead_code)]
mod support;
