//! `rosy speedtest send|recv`: how fast messages really arrive.
//!
//! The sender writes every payload byte of every message (as a camera driver would) behind a
//! 16-byte stamp (sequence number, send time in ns of CLOCK_REALTIME), for `--run-time`
//! seconds, then sends an end marker. The receiver reports what it **received**: messages/s over
//! the span from first to last message, one-way latency median and p99, MB/s of payload, and
//! messages lost (gaps in the sequence plus what its queue dropped). Both exit by themselves.
//! Latency across hosts needs synchronised clocks; on one host it is exact.

mod inline;
mod recv;
mod tally;

use tally::{Usage, human_size};

use super::error::CliError;
use super::progress::Spinner;
use bytes::{BufMut, BytesMut};
use recv::topic_names;
use std::time::{Duration, Instant, SystemTime};

const STAMP: usize = 16;
const END: u64 = u64::MAX;

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
    /// that takes it in, rather than in a subscriber's task: one wake-up a message.
    #[arg(long, conflicts_with = "work_time")]
    pub inline: bool,
    /// The receiver's (and sender's) quality of service: `--qos-reliability reliable` makes
    /// the sender wait for the receiver instead of dropping.
    #[command(flatten)]
    pub qos: super::qos_args::QosArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum SpeedtestCommand {
    /// Send messages as fast as possible (or paced) for --run-time seconds.
    Send(SpeedArgs),
    /// Receive and report messages/s, latency, bandwidth and losses.
    Recv(SpeedArgs),
}

fn transport(args: &SpeedArgs) -> rosy::TransportPreference {
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
fn reads_shm(node: &rosy::Node, topic: &str) -> bool {
    node.info().shm_reading.iter().any(|(_, t)| t == topic)
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Joins as `rosy-speedtest-ROLE-PID`: a name of its own, so several receivers each get every
/// message (same-name listeners would share them).
async fn join(args: &SpeedArgs, domain: &str, role: &str) -> Result<rosy::Node, CliError> {
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

pub async fn run(command: SpeedtestCommand, domain: &str, json: bool) -> Result<(), CliError> {
    match command {
        SpeedtestCommand::Send(args) => send(args, domain, json).await,
        SpeedtestCommand::Recv(args) => recv::recv(args, domain, json).await,
    }
}

async fn send(args: SpeedArgs, domain: &str, json: bool) -> Result<(), CliError> {
    let node = join(&args, domain, "send").await?;
    let topics = topic_names(&args);
    {
        let _spinner = Spinner::start(format!("waiting for a receiver on {}...", args.topic));
        for topic in &topics {
            node.wait_for_listener(topic, Duration::from_secs(30))
                .await?;
        }
        if args.receivers > 1 {
            for topic in &topics {
                node.wait_for_listeners(topic, args.receivers as usize, Duration::from_secs(30))
                    .await?;
            }
        }
    }
    let run_time = Duration::from_secs_f64(args.run_time);
    let sleep = Duration::from_secs_f64(args.sleep_time);
    let mut publishers = Vec::new();
    for topic in &topics {
        publishers.push(
            node.publisher_with_codec_qos::<[u8], _>(topic, rosy::codec::Raw, args.qos.qos(true))
                .await?,
        );
    }
    let start = Instant::now();
    let start_ns = now_ns();
    let run_ns = run_time.as_nanos() as u64;
    let mut seq: u64 = 0;
    // One clock read a message: its stamp, which also says when the run is over.
    let mut stamped = start_ns;
    let more = |seq: u64, stamped: u64| match args.count {
        Some(count) => seq < count,
        None => stamped.saturating_sub(start_ns) < run_ns,
    };
    while more(seq, stamped) {
        let publisher = &publishers[(seq % publishers.len() as u64) as usize];
        // Written in place: in shared memory when the receiver shares this host.
        let mut frame = publisher.loan(STAMP + args.message_size);
        frame[..8].copy_from_slice(&seq.to_le_bytes());
        // Every payload byte written, as a camera driver fills its frame.
        frame[STAMP..].fill((seq & 0xff) as u8);
        stamped = now_ns();
        frame[8..16].copy_from_slice(&stamped.to_le_bytes());
        frame.send().await?;
        seq += 1;
        if sleep >= Duration::from_millis(5) {
            tokio::time::sleep(sleep).await;
        } else if !sleep.is_zero() {
            // tokio's timer ticks in milliseconds: short pauses need the thread's own sleep
            // (microsecond precision) to pace the sender as asked.
            tokio::task::block_in_place(|| std::thread::sleep(sleep));
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let usage = Usage::of(&node);
    let mut end = BytesMut::with_capacity(STAMP);
    end.put_u64_le(END);
    end.put_u64_le(seq);
    // On every topic, after its last message: the receiver ends once it saw every end marker.
    let end = end.freeze();
    for publisher in &publishers {
        publisher.send_encoded(end.clone()).await?;
    }
    // What the messages took, counted as they went (not what was set up).
    let (by_shm, by_tcp) = node.sent_by_transport();
    let used = match (by_shm, by_tcp) {
        (_, 0) if by_shm > 0 => "shm",
        (0, _) => "tcp",
        _ => "shm+tcp",
    };
    node.close().await;
    if json {
        println!(
            "{}",
            serde_json::json!({"transport": used, "message_size": args.message_size,
                "sent": seq, "msgs_per_s": seq as f64 / elapsed,
                "sent_by_shm": by_shm, "sent_by_tcp": by_tcp, "topics": args.topics,
                "shm_bytes": usage.shm_bytes, "rss_bytes": usage.rss_bytes,
                "threads": usage.threads})
        );
    } else {
        println!(
            "sent {seq} messages of {} in {elapsed:.1} s ({:.0} msgs/s) by {used} ({by_shm} through shared memory, {by_tcp} by TCP)",
            human_size(args.message_size),
            seq as f64 / elapsed
        );
        if args.topics > 1 {
            println!("{}", usage.line(args.topics));
        }
    }
    Ok(())
}
