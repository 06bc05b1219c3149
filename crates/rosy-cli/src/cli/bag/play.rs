//! `rosy bag play`: sends a bag's messages again, with their recorded bytes and codec, each at
//! its recorded offset from the first one (divided by the rate).
//!
//! Sending runs on a blocking thread against absolute deadlines from the start: it sleeps
//! until just before each deadline, then spins the last fraction of a millisecond, so errors
//! do not add up and each message leaves within a millisecond of its time. It never re-encodes
//! a message and never writes the bag.
//!
//! A channel in ROS 2's form (`message_encoding` `cdr`: `rosy bag record` of a ROS 2 type, or a
//! bag ROS 2 recorded) is sent as it is with the `raw` codec, its topic announced as the ROS 2
//! type (`sensor_msgs/msg/Temperature`), as the ROS 2 bridge announces such a topic: `rosy ros2
//! bridge --to-ros2 TOPIC=TYPE` carries it to ROS 2 unchanged.

use super::files::failed;
use crate::cli::error::CliError;
use crate::cli::progress::Spinner;
use crate::cli::tool_node;
use bytes::Bytes;
use rosy::bag::{Bag, BagChannel, CDR_ENCODING};
use rosy::codec::BuiltinCodec;
use rosy::codec::CodecId;
use rosy::node::shutdown_signal as interrupted;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub struct Options {
    pub rate: f64,
    pub immediate: bool,
    pub repeat: bool,
    pub topics: Vec<String>,
    /// How long to wait for listeners; `None`: do not wait.
    pub wait: Option<Duration>,
}

/// What to send, in order: (offset from the first message in ns, topic, codec, bag index).
struct Schedule {
    entries: Vec<(u64, usize, CodecId, usize)>,
    topics: Vec<String>,
}

fn schedule(bag: &Bag, only: &[String]) -> Result<Schedule, CliError> {
    let recorded: BTreeSet<&str> = bag.channels().map(|c| c.topic.as_str()).collect();
    let missing: Vec<&String> = only
        .iter()
        .filter(|t| !recorded.contains(t.as_str()))
        .collect();
    if !missing.is_empty() {
        return Err(CliError::Usage(format!(
            "{} has no topic {}; it has: {}",
            bag.path().display(),
            missing
                .iter()
                .map(|t| format!("{t:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            recorded.iter().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    let mut topics: Vec<String> = Vec::new();
    let mut index: BTreeMap<u16, (usize, CodecId)> = BTreeMap::new();
    for c in bag.channels() {
        if !only.is_empty() && !only.contains(&c.topic) {
            continue;
        }
        let t = match topics.iter().position(|t| *t == c.topic) {
            Some(t) => t,
            None => {
                topics.push(c.topic.clone());
                topics.len() - 1
            }
        };
        index.insert(c.id, (t, channel_codec(c)));
    }
    let mut entries: Vec<(u64, usize, CodecId, usize)> = bag
        .messages()
        .enumerate()
        .filter_map(|(i, m)| {
            let &(t, codec) = index.get(&m.channel.id)?;
            Some((m.log_time, t, codec, i))
        })
        .collect();
    // The recorder writes in arrival order; a stable sort keeps that order for equal times.
    entries.sort_by_key(|e| e.0);
    let first = entries.first().map(|e| e.0).unwrap_or(0);
    for e in &mut entries {
        e.0 -= first;
    }
    Ok(Schedule { entries, topics })
}

/// The codec a channel's messages are sent with: its encoding's, `raw` for ROS 2's serialized
/// form (`cdr`), a custom codec's otherwise.
fn channel_codec(c: &BagChannel) -> CodecId {
    if c.encoding == CDR_ENCODING {
        CodecId::Raw
    } else {
        CodecId::from_name(&c.encoding).unwrap_or(CodecId::Custom)
    }
}

pub async fn run(domain: &str, path: &Path, options: Options, json: bool) -> Result<(), CliError> {
    let bag = Bag::open(path).map_err(failed)?;
    if let Some(why) = bag.unfinished() {
        eprintln!("warning: {} is unfinished: {why}", path.display());
    }
    let plan = schedule(&bag, &options.topics)?;
    if plan.entries.is_empty() {
        return Err(CliError::Failed(format!(
            "{} holds no message to play",
            path.display()
        )));
    }
    let node = tool_node::join(domain, "bag-play").await?;
    // Republished with the QoS recorded for each topic (a latched topic stays latched).
    let mut declared = Vec::new();
    // ROS 2 types, announced as such (their payloads are raw bytes).
    let mut announced = Vec::new();
    for c in bag.channels().filter(|c| plan.topics.contains(&c.topic)) {
        if c.encoding == CDR_ENCODING {
            if c.type_name.is_empty() {
                eprintln!(
                    "warning: {} has no type in {}: it is sent as raw bytes of no type",
                    c.topic,
                    path.display()
                );
            }
            let qos = c.qos.unwrap_or_default();
            announced.push(
                node.encoded_publisher(&c.topic, BuiltinCodec::Raw, &c.type_name, qos)
                    .await?,
            );
            continue;
        }
        let codec = CodecId::from_name(&c.encoding).and_then(BuiltinCodec::from_id);
        if let (Some(qos), Some(codec)) = (c.qos, codec) {
            declared.push(
                node.publisher_with_codec_qos::<serde_json::Value, _>(&c.topic, codec, qos)
                    .await?,
            );
        }
    }
    if let Some(wait) = options.wait {
        let _spinner = Spinner::start(format!(
            "waiting for listeners on {}...",
            plan.topics.join(", ")
        ));
        let deadline = tokio::time::Instant::now() + wait;
        let mut unheard = Vec::new();
        for topic in &plan.topics {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if node.wait_for_listener(topic, left).await.is_err() {
                unheard.push(topic.clone());
            }
        }
        if unheard.len() == plan.topics.len() {
            node.close().await;
            return Err(CliError::Failed(format!(
                "no node in domain {domain:?} listens to {} (waited {:.1} s; --no-wait plays anyway)",
                plan.topics.join(", "),
                wait.as_secs_f64()
            )));
        }
        if !unheard.is_empty() {
            eprintln!(
                "warning: nobody listens to {}; playing anyway",
                unheard.join(", ")
            );
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let signals = {
        let stop = stop.clone();
        // Listening from here, before the first message goes out, not from whenever the task
        // first runs: a Ctrl-C in between would otherwise kill the player unclosed.
        let interrupted = interrupted();
        tokio::spawn(async move {
            interrupted.await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let bag_name = path.display().to_string();
    let sending = {
        let (node, stop) = (node.clone(), stop.clone());
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            play(&bag, &plan, &options, &node, &stop, &runtime, &bag_name)
        })
    };
    let result = sending.await;
    signals.abort();
    drop((declared, announced));
    node.close().await;
    let (sent, elapsed) = result
        .map_err(|e| CliError::Failed(format!("playing stopped: {e}")))?
        .map_err(CliError::from)?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "path": path.display().to_string(), "sent": sent, "seconds": elapsed })
        );
    } else {
        println!("played {sent} messages in {elapsed:.1} s");
    }
    Ok(())
}

/// Sends the schedule (again and again with --loop) until done or `stop`. Returns how many
/// messages were sent and for how long.
fn play(
    bag: &Bag,
    plan: &Schedule,
    options: &Options,
    node: &rosy::Node,
    stop: &AtomicBool,
    runtime: &tokio::runtime::Handle,
    bag_name: &str,
) -> rosy::Result<(u64, f64)> {
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let span = plan.entries.last().map(|e| e.0).unwrap_or(0) as f64 / 1e9 / options.rate;
    let mut sent = 0u64;
    let mut shown = Instant::now();
    'passes: loop {
        let start = Instant::now();
        for (i, &(offset, topic, codec, index)) in plan.entries.iter().enumerate() {
            if !options.immediate {
                let at = start + Duration::from_secs_f64(offset as f64 / 1e9 / options.rate);
                if !sleep_until(at, stop) {
                    break 'passes;
                }
            } else if stop.load(Ordering::Relaxed) {
                break 'passes;
            }
            let Some(m) = bag.message(index) else {
                continue;
            };
            let payload = Bytes::copy_from_slice(m.data);
            runtime.block_on(node.send_encoded(&plan.topics[topic], codec, payload))?;
            sent += 1;
            if terminal && shown.elapsed() >= Duration::from_millis(100) {
                shown = Instant::now();
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\r\x1b[2K▶ playing {bag_name}: {}/{} messages, {:.1}/{span:.1} s{}",
                    i + 1,
                    plan.entries.len(),
                    start.elapsed().as_secs_f64(),
                    if options.repeat { " (looping)" } else { "" }
                );
                let _ = err.flush();
            }
        }
        if !options.repeat || stop.load(Ordering::Relaxed) {
            break;
        }
    }
    if terminal {
        eprint!("\r\x1b[2K");
    }
    Ok((sent, started.elapsed().as_secs_f64()))
}

/// Waits until `at`: sleeps until shortly before it, then spins. False when stopped first.
fn sleep_until(at: Instant, stop: &AtomicBool) -> bool {
    const SPIN: Duration = Duration::from_micros(200);
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= at {
            return true;
        }
        let left = at - now;
        if left > SPIN {
            // Short slices, so Ctrl-C is seen within 50 ms even during a long gap.
            std::thread::sleep((left - SPIN).min(Duration::from_millis(50)));
        } else {
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeping_until_a_deadline_is_precise_and_stoppable() {
        let stop = AtomicBool::new(false);
        let start = Instant::now();
        for i in 1..=20u64 {
            let at = start + Duration::from_millis(2 * i);
            assert!(sleep_until(at, &stop));
            assert!(Instant::now() >= at);
        }
        stop.store(true, Ordering::Relaxed);
        assert!(!sleep_until(
            Instant::now() + Duration::from_secs(10),
            &stop
        ));
    }
}
