//! What a speedtest receiver counts and reports: [`Tally`] takes each message's stamp as it
//! comes (from a subscriber's loop or an inline handler alike), [`Report`] is what it prints.
//! Nothing here receives anything.

use super::setup::{END, STAMP, SpeedArgs};
use crate::cli::error::CliError;

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
pub fn voluntary_switches() -> u64 {
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
pub struct Usage {
    pub shm_bytes: u64,
    pub rss_bytes: u64,
    pub threads: u32,
}

impl Usage {
    pub fn of(node: &rosy::Node) -> Usage {
        let status = super::super::proc_status::ProcStatus::read("self");
        let field = |name| status.as_ref().and_then(|s| s.field(name)).unwrap_or(0);
        let info = node.info();
        Usage {
            shm_bytes: rosy::transport::shm::node_bytes(&info.domain, &info.id),
            rss_bytes: field("VmRSS") * 1024,
            threads: field("Threads") as u32,
        }
    }

    pub fn line(&self, topics: u32) -> String {
        format!(
            "{topics} topics: /dev/shm {}, RSS {}, {} threads",
            super::super::units::human_bytes(self.shm_bytes as f64),
            super::super::units::human_bytes(self.rss_bytes as f64),
            self.threads
        )
    }
}

/// What a receiver counted so far.
pub struct Tally {
    latencies: Vec<u64>,
    /// Receive times (ns of CLOCK_REALTIME, the clock of the stamps) of the first and last.
    first: Option<u64>,
    last: u64,
    pub received: u64,
    bytes: u64,
    min_seq: u64,
    max_seq: u64,
    sent_total: Option<u64>,
    /// Voluntary switches at the first message and at the sender's end (read twice only:
    /// /proc is not read on the receiving path).
    switches_first: u64,
    switches_last: Option<u64>,
    ends_left: usize,
}

/// What a message was to the tally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taken {
    /// A message of the run.
    Message,
    /// An end marker, with more topics still to end.
    End,
    /// The last end marker: the run is over.
    Done,
    /// Too short to hold a stamp: not counted.
    Short,
}

impl Tally {
    /// A tally for a run over `topics` topics.
    pub fn new(topics: usize) -> Self {
        Tally {
            latencies: Vec::new(),
            first: None,
            last: 0,
            received: 0,
            bytes: 0,
            min_seq: u64::MAX,
            max_seq: 0,
            sent_total: None,
            switches_first: 0,
            switches_last: None,
            ends_left: topics,
        }
    }

    /// Whether a message of the run came.
    pub fn started(&self) -> bool {
        self.first.is_some()
    }

    /// Counts `payload`, received at `at` (ns of CLOCK_REALTIME).
    pub fn take(&mut self, payload: &[u8], at: u64) -> Taken {
        if payload.len() < STAMP {
            return Taken::Short;
        }
        let seq = u64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
        let stamp = u64::from_le_bytes(payload[8..16].try_into().expect("8 bytes"));
        if seq == END {
            self.sent_total = Some(stamp);
            self.switches_last.get_or_insert_with(voluntary_switches);
            self.ends_left = self.ends_left.saturating_sub(1);
            return if self.ends_left == 0 {
                Taken::Done
            } else {
                Taken::End
            };
        }
        if self.first.is_none() {
            self.switches_first = voluntary_switches();
        }
        self.first.get_or_insert(at);
        self.last = at;
        self.received += 1;
        self.bytes += (payload.len() - STAMP) as u64;
        self.min_seq = self.min_seq.min(seq);
        self.max_seq = self.max_seq.max(seq);
        self.latencies.push(at.saturating_sub(stamp));
        Taken::Message
    }

    /// The report of the run: `transport` as seen, `dropped_here` what the receiver's own
    /// queue dropped.
    pub fn report(
        mut self,
        args: &SpeedArgs,
        transport: &str,
        usage: &Usage,
        dropped_here: u64,
    ) -> Report {
        let switches_last = self.switches_last.unwrap_or_else(voluntary_switches);
        let span = self
            .first
            .map(|f| self.last.saturating_sub(f) as f64 / 1e9)
            .unwrap_or(0.0);
        let received = self.received;
        let expected = match self.sent_total {
            Some(n) => n,
            None if received > 0 => self.max_seq - self.min_seq + 1,
            None => 0,
        };
        self.latencies.sort_unstable();
        let latencies = &self.latencies;
        let pct = |q: f64| -> f64 {
            if latencies.is_empty() {
                return 0.0;
            }
            let i = ((latencies.len() - 1) as f64 * q).round() as usize;
            latencies[i] as f64 / 1e6
        };
        Report {
            transport: transport.to_string(),
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
                self.bytes as f64 / span / 1e6
            } else {
                0.0
            },
            lost: expected.saturating_sub(received).max(dropped_here),
            topics: args.topics,
            shm_bytes: usage.shm_bytes,
            rss_bytes: usage.rss_bytes,
            threads: usage.threads,
            wakeups_per_message: if received > 1 {
                switches_last.saturating_sub(self.switches_first) as f64 / (received - 1) as f64
            } else {
                0.0
            },
        }
    }
}

pub fn human_size(n: usize) -> String {
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

/// The topics of a run: TOPIC, or TOPIC/0 .. TOPIC/N-1.
pub fn topic_names(args: &SpeedArgs) -> Vec<String> {
    if args.topics <= 1 {
        return vec![args.topic.clone()];
    }
    (0..args.topics)
        .map(|i| format!("{}/{i}", args.topic))
        .collect()
}

/// Prints the report (or says nothing arrived).
pub fn finish(
    report: Report,
    usage: &Usage,
    args: &SpeedArgs,
    domain: &str,
    json: bool,
) -> Result<(), CliError> {
    if report.messages == 0 {
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
