//! The `rosy` command line: argument parsing here, one file per command group, each calling only
//! rosy's public library API.

pub mod bag;
pub mod error;
pub mod foxglove;
pub mod graph;
pub mod launch;
pub mod node;
pub mod proc_status;
pub mod progress;
pub mod qos_args;
pub mod ros2;
pub mod security;
pub mod service;
pub mod speedtest;
pub mod tool_node;
pub mod topic;
pub mod units;
pub mod value;
pub mod zenoh;

use clap::{Parser, Subcommand};
use error::CliError;

/// rosy: not ROS, but ROS-y. See and steer a running mesh of nodes.
#[derive(Debug, Parser)]
#[command(
    name = "rosy",
    version,
    arg_required_else_help = true,
    propagate_version = true
)]
pub struct Cli {
    /// The mesh to work in: nodes only see nodes of their own domain. 1 to 64 ASCII letters,
    /// digits, '_' and '-'.
    #[arg(
        long,
        global = true,
        env = "ROSY_DOMAIN_ID",
        default_value = "default",
        value_parser = clap::value_parser!(rosy::DomainId)
    )]
    pub domain_id: rosy::DomainId,
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print data as JSON, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The nodes of the mesh.
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// Topics: list, inspect, echo, send, measure.
    #[command(subcommand)]
    Topic(topic::TopicCommand),
    /// Services: list and call.
    #[command(subcommand)]
    Service(service::ServiceCommand),
    /// Start the nodes of a launch file; Ctrl-C stops them all.
    Launch(launch::LaunchArgs),
    /// Record topics to an MCAP file, play it back, describe it.
    #[command(subcommand)]
    Bag(bag::BagCommand),
    /// Show the mesh in Foxglove: a live bridge speaking the Foxglove WebSocket protocol.
    Foxglove(foxglove::FoxgloveArgs),
    /// Draw the mesh: nodes, topics, services, transports and rates (SVG, DOT or HTML).
    Graph(graph::GraphArgs),
    /// ROS 2 interop: bridge topics between this mesh and a ROS 2 graph.
    #[command(subcommand)]
    Ros2(ros2::Ros2Command),
    /// Join meshes beyond one LAN: bridge this mesh to a zenoh network.
    #[command(subcommand)]
    Zenoh(zenoh::ZenohCommand),
    /// Secure mode: make a domain's CA, issue node identities, check credentials.
    #[command(subcommand)]
    Security(security::SecurityCommand),
    /// Measure messages/s, latency and bandwidth between two processes.
    #[command(subcommand)]
    Speedtest(speedtest::SpeedtestCommand),
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    rosy::init_logging(cli.verbose);
    match cli.command {
        Command::Node(c) => node::run(c, &cli.domain_id, cli.json, cli.verbose > 0).await,
        Command::Topic(c) => topic::run(c, &cli.domain_id, cli.json).await,
        Command::Service(c) => service::run(c, &cli.domain_id, cli.json).await,
        Command::Launch(args) => launch::run(args, &cli.domain_id).await,
        Command::Bag(c) => bag::run(c, &cli.domain_id, cli.json).await,
        Command::Foxglove(args) => foxglove::run(args, &cli.domain_id, cli.json).await,
        Command::Ros2(command) => ros2::run(command, &cli.domain_id).await,
        Command::Graph(args) => graph::run(args, &cli.domain_id).await,
        Command::Security(c) => security::run(c, cli.json).await,
        Command::Zenoh(c) => zenoh::run(c, &cli.domain_id).await,
        Command::Speedtest(c) => speedtest::run(c, &cli.domain_id, cli.json).await,
    }
}
