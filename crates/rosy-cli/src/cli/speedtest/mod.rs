//! `rosy speedtest send|recv`: how fast messages really arrive.
//!
//! The sender writes every payload byte of every message (as a camera driver would) behind a
//! 16-byte stamp (sequence number, send time in ns of CLOCK_REALTIME), for `--run-time`
//! seconds, then sends an end marker. The receiver reports what it **received**: messages/s over
//! the span from first to last message, one-way latency median and p99, MB/s of payload, and
//! messages lost (gaps in the sequence plus what its queue dropped). Both exit by themselves.
//! Latency across hosts needs synchronised clocks; on one host it is exact.

mod call;
mod inline;
mod recv;
mod setup;
mod tally;

pub use setup::SpeedArgs;
use setup::{END, STAMP, join, now_ns};

use tally::{Usage, human_size};

use super::error::CliError;
use super::progress::Spinner;
use bytes::{BufMut, BytesMut};
use std::time::{Duration, Instant};
use tally::topic_names;

#[derive(Debug, clap::Subcommand)]
pub enum SpeedtestCommand {
    /// Send messages as fast as possible (or paced) for --run-time seconds.
    Send(SpeedArgs),
    /// Receive and report messages/s, latency, bandwidth and losses.
    Recv(SpeedArgs),
    /// Host service --topic, answering each call with its request, until `call` ends; report
    /// this side's wake-ups a call.
    Serve(SpeedArgs),
    /// Call `serve`'s service one call at a time (--message-size request bytes) for --run-time
    /// seconds or --count calls, --sleep-time apart; report the round trip (p50, p99) and this
    /// side's wake-ups a call.
    Call(SpeedArgs),
}

pub async fn run(command: SpeedtestCommand, domain: &str, json: bool) -> Result<(), CliError> {
    match command {
        SpeedtestCommand::Send(args) => send(args, domain, json).await,
        SpeedtestCommand::Recv(args) if args.inline => {
            inline::recv_inline(args, domain, json).await
        }
        SpeedtestCommand::Recv(args) => recv::recv(args, domain, json).await,
        SpeedtestCommand::Serve(args) => call::serve(args, domain, json).await,
        SpeedtestCommand::Call(args) => call::call(args, domain, json).await,
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
        if args.shm {
            // Shared memory forced: a message sent before a receiver reads the segment would
            // reach nobody (and count as lost). Wait for them to read it.
            setup::wait_for_shm_readers(&node, &topics, Duration::from_secs(30)).await?;
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
