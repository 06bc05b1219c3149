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
mod ros2;
mod ros2_bag;
mod security;
mod speedtest;
use rosy_test_support as support;
mod transport_info;
mod zenoh;

pub use support::rosy;
