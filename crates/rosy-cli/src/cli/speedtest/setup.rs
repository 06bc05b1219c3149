//! What both sides of a speedtest agree on: the arguments, the stamp at the head of every
//! payload, how a side joins the mesh, and the clock it stamps with.

use crate::cli::error::CliError;
use std::time::{Duration, SystemTime};

pub const STAMP: usize = 16;
pub const END: u64 = u64::MAX;

#[derive(Debug, clap::Args)]
pub struct SpeedArgs {
    /// Use shared memory (same host only).
    #[arg(long, conflicts_with = "tcp")]
    pub shm: bool,
    /// Use TCP even on one host.
    #[arg(long)]
    pub tcp: bool,
    /// Payload bytes per message: 0, 1000, 1kB, 1MB, 1MiB...
    #[arg(long, default_value = "0", value_parser = rosy::units::parse_size, value_name = "BYTES")]
    pub message_size: usize,
    /// How long the sender sends (seconds).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
    pub run_time: f64,
    /// Pause between messages (seconds), to pace the sender to the receiver.
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
    pub sleep_time: f64,
    /// Sender: wait for N receivers (nodes listening on each topic) before sending.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub receivers: u32,
    /// Sender: send N messages, then stop (instead of sending for --run-time).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Receiver: time spent on each message (seconds; it sleeps), as a slow subscriber's work:
    /// shows what the QoS makes of a slow receiver, for it, the sender and other receivers.
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
    pub work_time: f64,
    /// The topic to use.
    #[arg(long, default_value = "speedtest")]
    pub topic: String,
    /// Spread the messages round-robin over N topics (TOPIC/0 .. TOPIC/N-1), to see what many
    /// topics cost: the report adds each side's /dev/shm bytes, RSS and threads.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub topics: u32,
    /// Spin instead of sleeping while waiting for shared-memory messages (lowest latency, one
    /// core busy).
    #[arg(long)]
    pub busy_poll: bool,
    /// Receiver: count each message in an inline handler (`Node::on_message`), on the thread
    /// that takes it in, rather than in a subscriber's task: one wake-up a message. `serve`:
    /// answer in an inline handler (`Node::add_service_inline`), likewise.
    #[arg(long, conflicts_with = "work_time")]
    pub inline: bool,
    /// The receiver's (and sender's) quality of service: `--qos-reliability reliable` makes
    /// the sender wait for the receiver instead of dropping.
    #[command(flatten)]
    pub qos: crate::cli::qos_args::QosArgs,
}

pub fn transport(args: &SpeedArgs) -> rosy::TransportPreference {
    if args.shm {
        rosy::TransportPreference::Shm
    } else if args.tcp {
        rosy::TransportPreference::Tcp
    } else {
        rosy::TransportPreference::Auto
    }
}

/// Which transport carried the test: shm when the receiver reads a segment of the topic.
/// Whether the receiver reads a segment of `topic` now.
pub fn reads_shm(node: &rosy::Node, topic: &str) -> bool {
    node.info().shm_reading.iter().any(|(_, t)| t == topic)
}

/// Waits until every listener of each of `topics` reads this node's segment of it.
pub async fn wait_for_shm_readers(
    node: &rosy::Node,
    topics: &[String],
    timeout: Duration,
) -> Result<(), CliError> {
    let me = node.id();
    let all_read = node
        .wait_for_topology(timeout, |topology| {
            topics.iter().all(|topic| {
                topology
                    .nodes()
                    .filter(|n| n.id != me && n.listens_to(topic))
                    .all(|n| n.shm_reading.iter().any(|(p, t)| *p == me && t == topic))
            })
        })
        .await;
    if !all_read {
        return Err(CliError::Failed(format!(
            "--shm: the receivers did not read this sender's shared memory within {} s (`rosy topic info {}` says why)",
            timeout.as_secs(),
            topics[0]
        )));
    }
    Ok(())
}

pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Joins as `rosy-speedtest-ROLE-PID`: a name of its own, so several receivers each get every
/// message (same-name listeners would share them).
pub async fn join(args: &SpeedArgs, domain: &str, role: &str) -> Result<rosy::Node, CliError> {
    let name = format!("rosy-speedtest-{role}-{}", std::process::id());
    Ok(rosy::Node::builder(&name)
        .domain_id(domain)
        .transport(transport(args))
        .shm_busy_poll(args.busy_poll)
        .queue_capacity(1 << 16)
        .tool(true)
        .build()
        .await?)
}
