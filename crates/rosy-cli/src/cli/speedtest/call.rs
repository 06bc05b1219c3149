//! `rosy speedtest serve|call`: what a service call costs, round trip and wake-ups.
//!
//! `serve` hosts service `--topic` (default `speedtest`), answering each request with its own
//! bytes (raw codec, no decoding). `call` waits for it, warms up (100 calls, not counted: the
//! first ones may go by TCP while shared memory is being set up), then calls one at a time for
//! `--run-time` seconds (or `--count` calls), pausing `--sleep-time` between calls, and reports
//! the round trip's median and p99 and its own process's voluntary context switches per call
//! (counted around each call, so the pause between calls is not among them).
//! Its last call carries an end marker: `serve` then reports its own switches per call and
//! exits. A switch is a thread going to sleep and being woken: the sum of both sides per call
//! is the wake-ups a round trip costs (a count, stable where times are not).

use super::setup::{END, SpeedArgs, join};
use super::tally::voluntary_switches;
use crate::cli::error::CliError;
use crate::cli::progress::Spinner;
use bytes::Bytes;
use rosy::codec::CodecId;
use rosy::topology::ServiceInfo;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The sequence number of a warm-up call (not counted by either side).
const WARM_UP: u64 = u64::MAX - 1;
/// Warm-up calls before the measured ones.
const WARM_UP_CALLS: u32 = 100;

/// What `serve` counted: switches when the first measured call came, and calls since.
#[derive(Default)]
struct Served {
    switches_first: Option<u64>,
    calls: u64,
}

pub async fn serve(args: SpeedArgs, domain: &str, json: bool) -> Result<(), CliError> {
    // Listening before anything is announced: a Ctrl-C as soon as peers see this node ends
    // the run with its report instead of killing it.
    let interrupted = rosy::node::shutdown_signal();
    let node = join(&args, domain, "serve").await?;
    let served = Arc::new(Mutex::new(Served::default()));
    let done = Arc::new(tokio::sync::Notify::new());
    let info = ServiceInfo {
        name: args.topic.clone(),
        codec: CodecId::Raw,
        codec_name: "raw".into(),
        request_type: "bytes".into(),
        response_type: "bytes".into(),
    };
    let (count, end) = (served.clone(), done.clone());
    let answer = move |request: rosy::node::Received| -> Result<_, rosy::ServiceError> {
        let seq = request.payload.get(..8).map_or(WARM_UP, |b| {
            u64::from_le_bytes(b.try_into().expect("8 bytes"))
        });
        if seq != WARM_UP {
            let mut served = count.lock().unwrap_or_else(|e| e.into_inner());
            if seq == END {
                end.notify_one();
            } else {
                served.switches_first.get_or_insert_with(voluntary_switches);
                served.calls += 1;
            }
        }
        Ok(request)
    };
    if args.inline {
        node.add_service_encoded_inline(info, answer).await?;
    } else {
        node.add_service_encoded(info, move |request| std::future::ready(answer(request)))
            .await?;
    }
    let spinner = Spinner::start(format!("serving {}: waiting for calls...", args.topic));
    let bound = Duration::from_secs_f64(args.run_time) + Duration::from_secs(120);
    let ended = tokio::select! {
        _ = tokio::time::timeout(bound, done.notified()) => true,
        _ = interrupted => false,
    };
    let switches_last = voluntary_switches();
    drop(spinner);
    // Long enough for the end marker's answer to leave.
    tokio::time::sleep(Duration::from_millis(200)).await;
    node.close().await;
    let served = served.lock().unwrap_or_else(|e| e.into_inner());
    if served.calls == 0 {
        return Err(CliError::Failed(format!(
            "no call came to {:?} (is `rosy speedtest call` running in domain {domain:?}?)",
            args.topic
        )));
    }
    let per_call = switches_last.saturating_sub(served.switches_first.unwrap_or(switches_last))
        as f64
        / served.calls as f64;
    if json {
        println!(
            "{}",
            serde_json::json!({"calls": served.calls, "wakeups_per_call": per_call,
                "ended": ended})
        );
    } else {
        println!(
            "served {} calls; {per_call:.2} wake-ups a call on this side",
            served.calls
        );
    }
    Ok(())
}

pub async fn call(args: SpeedArgs, domain: &str, json: bool) -> Result<(), CliError> {
    let node = join(&args, domain, "call").await?;
    {
        let _spinner = Spinner::start(format!("waiting for a provider of {}...", args.topic));
        node.wait_for_service_provider(&args.topic, Duration::from_secs(30))
            .await?;
    }
    let timeout = Duration::from_secs(10);
    let payload = |seq: u64| {
        let mut bytes = vec![0u8; 8 + args.message_size];
        bytes[..8].copy_from_slice(&seq.to_le_bytes());
        Bytes::from(bytes)
    };
    let one = |seq: u64| node.call_encoded(&args.topic, CodecId::Raw, payload(seq), timeout);
    for _ in 0..WARM_UP_CALLS {
        one(WARM_UP).await?;
    }
    let sleep = Duration::from_secs_f64(args.sleep_time);
    let run_time = Duration::from_secs_f64(args.run_time);
    let mut round_trips = Vec::new();
    let start = Instant::now();
    let mut switches = 0;
    let seq = AtomicU64::new(0);
    loop {
        let n = seq.fetch_add(1, Ordering::Relaxed);
        let done = match args.count {
            Some(count) => n >= count,
            None => start.elapsed() >= run_time,
        };
        if done {
            break;
        }
        let before = voluntary_switches();
        let sent = Instant::now();
        let answer = one(n).await?;
        round_trips.push(sent.elapsed().as_nanos() as u64);
        switches += voluntary_switches().saturating_sub(before);
        if answer.payload.len() != 8 + args.message_size {
            return Err(CliError::Failed(format!(
                "the answer to call {n} has {} bytes, not the {} sent",
                answer.payload.len(),
                8 + args.message_size
            )));
        }
        if sleep >= Duration::from_millis(5) {
            tokio::time::sleep(sleep).await;
        } else if !sleep.is_zero() {
            // tokio's timer ticks in milliseconds (see `speedtest send`).
            tokio::task::block_in_place(|| std::thread::sleep(sleep));
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    one(END).await?;
    node.close().await;
    let calls = round_trips.len();
    if calls == 0 {
        return Err(CliError::Usage(
            "no call made: give --count or --run-time above 0".into(),
        ));
    }
    round_trips.sort_unstable();
    let pct = |q: f64| round_trips[((calls - 1) as f64 * q).round() as usize] as f64 / 1e3;
    let per_call = switches as f64 / calls as f64;
    if json {
        println!(
            "{}",
            serde_json::json!({"calls": calls, "calls_per_s": calls as f64 / elapsed,
                "rtt_us_p50": pct(0.5), "rtt_us_p99": pct(0.99),
                "wakeups_per_call": per_call, "message_size": args.message_size})
        );
    } else {
        println!(
            "{calls} calls of {} in {elapsed:.1} s: round trip p50 {:.1} us, p99 {:.1} us; {per_call:.2} wake-ups a call on this side",
            super::tally::human_size(args.message_size),
            pct(0.5),
            pct(0.99)
        );
    }
    Ok(())
}
