//! `rosy speedtest send|recv`: how fast messages really arrive.
//!
//! The sender writes every payload byte of every message (as a camera driver would) behind a
//! 16-byte stamp (sequence number, send time in ns of CLOCK_REALTIME), for `--run-time`
//! seconds, then sends an end marker. The receiver reports what it **received**: messages/s over
//! the span from first to last message, one-way latency median and p99, MB/s of payload, and
//! messages lost (gaps in the sequence plus what its queue dropped). Both exit by themselves.
//! Latency across hosts needs synchronised clocks; on one host it is exact.

use super::error::CliError;
use super::progress::Spinner;
use bytes::{BufMut, BytesMut};
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
        SpeedtestCommand::Recv(args) => recv(args, domain, json).await,
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

/// What the receiver measured.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub transport: String,
    pub message_size: usize,
    pub messages: u64,
    pub msgs_per_s: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
    pub mb_per_s: f64,
    pub lost: u64,
    pub topics: u32,
    /// This receiver's own /dev/shm files (its doorbell; segments are the sender's).
    pub shm_bytes: u64,
    /// Resident memory of this receiver, shared mappings of the sender's segments included.
    pub rss_bytes: u64,
    pub threads: u32,
    /// Times this receiver's threads went to sleep and were woken (voluntary context switches
    /// summed over its tasks, from /proc) between its first message and the last, per message:
    /// the wake-ups a message costs. A count, stable where times are not.
    pub wakeups_per_message: f64,
}

/// Voluntary context switches of every thread of this process, summed (/proc/self/task/*/status).
fn voluntary_switches() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let status = std::fs::read_to_string(task.path().join("status")).ok()?;
            status
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .sum()
}

/// What a speedtest process holds, read at the end of its run.
struct Usage {
    shm_bytes: u64,
    rss_bytes: u64,
    threads: u32,
}

impl Usage {
    fn of(node: &rosy::Node) -> Usage {
        let status = super::proc_status::ProcStatus::read("self");
        let field = |name| status.as_ref().and_then(|s| s.field(name)).unwrap_or(0);
        let info = node.info();
        Usage {
            shm_bytes: rosy::transport::shm::node_bytes(&info.domain, &info.id),
            rss_bytes: field("VmRSS") * 1024,
            threads: field("Threads") as u32,
        }
    }

    fn line(&self, topics: u32) -> String {
        format!(
            "{topics} topics: /dev/shm {}, RSS {}, {} threads",
            super::units::human_bytes(self.shm_bytes as f64),
            super::units::human_bytes(self.rss_bytes as f64),
            self.threads
        )
    }
}

/// The topics of a run: TOPIC, or TOPIC/0 .. TOPIC/N-1.
fn topic_names(args: &SpeedArgs) -> Vec<String> {
    if args.topics <= 1 {
        return vec![args.topic.clone()];
    }
    (0..args.topics)
        .map(|i| format!("{}/{i}", args.topic))
        .collect()
}

/// One subscriber, or many merged into one stream (a task each, telling its losses as it goes).
enum Merged {
    One(rosy::Subscriber<serde_bytes::ByteBuf>),
    Many {
        messages: tokio::sync::mpsc::Receiver<(usize, rosy::node::Received, u64)>,
        lost: Vec<u64>,
        tasks: Vec<tokio::task::JoinHandle<()>>,
    },
}

impl Merged {
    async fn subscribe(
        node: &rosy::Node,
        topics: &[String],
        qos: rosy::qos::Qos,
    ) -> Result<Merged, CliError> {
        if let [topic] = topics {
            return Ok(Merged::One(node.subscriber_with_qos(topic, qos).await?));
        }
        let (tx, messages) = tokio::sync::mpsc::channel(1 << 16);
        let mut tasks = Vec::new();
        for (i, topic) in topics.iter().enumerate() {
            let mut subscriber = node
                .subscriber_with_qos::<serde_bytes::ByteBuf>(topic, qos)
                .await?;
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(m) = subscriber.recv_encoded().await {
                    if tx.send((i, m, subscriber.lost())).await.is_err() {
                        return;
                    }
                }
            }));
        }
        Ok(Merged::Many {
            messages,
            lost: vec![0; topics.len()],
            tasks,
        })
    }

    async fn recv_encoded(&mut self) -> Option<rosy::node::Received> {
        match self {
            Merged::One(s) => s.recv_encoded().await,
            Merged::Many { messages, lost, .. } => {
                let (i, m, l) = messages.recv().await?;
                lost[i] = l;
                Some(m)
            }
        }
    }

    /// The next message if one is queued now.
    fn try_recv_encoded(&mut self) -> Option<rosy::node::Received> {
        match self {
            Merged::One(s) => s.try_recv_encoded().ok().flatten(),
            Merged::Many { messages, lost, .. } => {
                let (i, m, l) = messages.try_recv().ok()?;
                lost[i] = l;
                Some(m)
            }
        }
    }

    fn lost(&self) -> u64 {
        match self {
            Merged::One(s) => s.lost(),
            Merged::Many { lost, .. } => lost.iter().sum(),
        }
    }
}

impl Drop for Merged {
    fn drop(&mut self) {
        if let Merged::Many { tasks, .. } = self {
            tasks.iter().for_each(|t| t.abort());
        }
    }
}

async fn recv(args: SpeedArgs, domain: &str, json: bool) -> Result<(), CliError> {
    let node = join(&args, domain, "recv").await?;
    let topics = topic_names(&args);
    let mut subscriber = Merged::subscribe(&node, &topics, args.qos.qos(false)).await?;
    let mut ends_left = topics.len();
    let mut usage = None;
    let spinner = Spinner::start(format!("waiting for a sender on {}...", args.topic));
    let mut latencies: Vec<u64> = Vec::new();
    // Receive times (ns of CLOCK_REALTIME, the clock of the stamps) of the first and last.
    let (mut first, mut last) = (None::<u64>, 0u64);
    let (mut received, mut bytes) = (0u64, 0u64);
    let (mut min_seq, mut max_seq) = (u64::MAX, 0u64);
    let mut sent_total = None;
    let mut saw_shm = false;
    // Voluntary switches at the first message and at the sender's end (read twice only: /proc
    // is not read on the receiving path).
    let (mut switches_first, mut switches_last) = (0u64, None::<u64>);
    // Bounded: the run plus time to find each other, until the first message; then a silence
    // ends a lost sender (a slow receiver may take longer than the run to read what was sent).
    let overall = Duration::from_secs_f64(args.run_time) + Duration::from_secs(60);
    let work = Duration::from_secs_f64(args.work_time);
    let give_up = tokio::time::sleep(overall);
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(give_up, interrupted);
    let mut spinner = Some(spinner);
    loop {
        // What is queued is taken without waiting (a message's cost is then the receiver's
        // work, not a wake-up); the wait, bounded, only when nothing is.
        let next = match subscriber.try_recv_encoded() {
            Some(m) => Some(m),
            None => {
                let silence = if first.is_some() {
                    Duration::from_secs(5)
                } else {
                    overall
                };
                tokio::select! {
                    m = tokio::time::timeout(silence, subscriber.recv_encoded()) => m.ok().flatten(),
                    _ = &mut give_up, if first.is_none() => None,
                    _ = &mut interrupted => None,
                }
            }
        };
        let Some(message) = next else { break };
        let at = now_ns();
        let p = &message.payload;
        if p.len() < STAMP {
            continue;
        }
        let seq = u64::from_le_bytes(p[..8].try_into().expect("8 bytes"));
        let stamp = u64::from_le_bytes(p[8..16].try_into().expect("8 bytes"));
        if seq == END {
            sent_total = Some(stamp);
            switches_last.get_or_insert_with(voluntary_switches);
            usage.get_or_insert_with(|| Usage::of(&node));
            ends_left -= 1;
            if ends_left == 0 {
                break;
            }
            continue;
        }
        spinner = None;
        if received % 1024 == 0 {
            // Sampled while the sender runs: once it closes, its segment is gone.
            saw_shm |= topics.iter().any(|t| reads_shm(&node, t));
        }
        if first.is_none() {
            switches_first = voluntary_switches();
        }
        first.get_or_insert(at);
        last = at;
        received += 1;
        bytes += (p.len() - STAMP) as u64;
        min_seq = min_seq.min(seq);
        max_seq = max_seq.max(seq);
        latencies.push(at.saturating_sub(stamp));
        if !work.is_zero() {
            // The work blocks this thread, as a handler's computation would.
            tokio::task::block_in_place(|| std::thread::sleep(work));
        }
    }
    drop(spinner);
    let dropped_here = subscriber.lost();
    let used = if saw_shm { "shm" } else { "tcp" };
    let usage = usage.unwrap_or_else(|| Usage::of(&node));
    let switches_last = switches_last.unwrap_or_else(voluntary_switches);
    drop(subscriber);
    node.close().await;
    let span = first
        .map(|f| last.saturating_sub(f) as f64 / 1e9)
        .unwrap_or(0.0);
    let expected = match sent_total {
        Some(n) => n,
        None if received > 0 => max_seq - min_seq + 1,
        None => 0,
    };
    latencies.sort_unstable();
    let pct = |q: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() - 1) as f64 * q).round() as usize;
        latencies[i] as f64 / 1e6
    };
    let report = Report {
        transport: used.to_string(),
        message_size: args.message_size,
        messages: received,
        msgs_per_s: if span > 0.0 {
            received.saturating_sub(1) as f64 / span
        } else {
            0.0
        },
        latency_ms_p50: pct(0.5),
        latency_ms_p99: pct(0.99),
        mb_per_s: if span > 0.0 {
            bytes as f64 / span / 1e6
        } else {
            0.0
        },
        lost: expected.saturating_sub(received).max(dropped_here),
        topics: args.topics,
        shm_bytes: usage.shm_bytes,
        rss_bytes: usage.rss_bytes,
        threads: usage.threads,
        wakeups_per_message: if received > 1 {
            switches_last.saturating_sub(switches_first) as f64 / (received - 1) as f64
        } else {
            0.0
        },
    };
    if received == 0 {
        return Err(CliError::Failed(format!(
            "no message arrived on {:?} (is `rosy speedtest send` running in domain {domain:?}?)",
            args.topic
        )));
    }
    if json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        print!("{}", table(&report));
        if args.topics > 1 {
            println!("{}", usage.line(args.topics));
        }
    }
    Ok(())
}

fn human_size(n: usize) -> String {
    match n {
        0 => "0 B".into(),
        n if n >= 1_000_000 => format!("{} MB", n as f64 / 1e6),
        n if n >= 1_000 => format!("{} kB", n as f64 / 1e3),
        n => format!("{n} B"),
    }
}

/// The human table, like the original's.
pub fn table(r: &Report) -> String {
    format!(
        "| transport | message size | messages | messages/s | latency p50 (ms) | latency p99 (ms) | bandwidth (MB/s) | lost |\n\
         |---|---|---|---|---|---|---|---|\n\
         | {} | {} | {} | {:.0} | {:.3} | {:.3} | {:.1} | {} |\n",
        r.transport,
        human_size(r.message_size),
        r.messages,
        r.msgs_per_s,
        r.latency_ms_p50,
        r.latency_ms_p99,
        r.mb_per_s,
        r.lost
    )
}
