//! `rosy bag record`: subscribes to topics as a tool node and writes what arrives to an MCAP
//! file, from a dedicated writer thread so the subscriptions are drained as fast as they fill.
//!
//! It never decodes or re-encodes a message, never overwrites a file, and leaves no file when
//! nothing arrived.

use super::{failed, now_ns};
use crate::cli::error::CliError;
use crate::cli::tool_node;
use crate::cli::units::human_bytes;
use bytes::Bytes;
use rosy::bag::BagWriter;
use rosy::codec::CodecId;
use rosy::node::shutdown_signal as interrupted;
use rosy::topology::TopicRole;
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One message on its way to the writer thread.
struct Incoming {
    topic: usize,
    at: u64,
    codec: CodecId,
    payload: Bytes,
}

#[derive(Default)]
struct Counters {
    messages: AtomicU64,
    bytes: AtomicU64,
}

pub async fn run(
    domain: &str,
    topics: Vec<String>,
    path: PathBuf,
    duration: Option<f64>,
    count: Option<u64>,
    json: bool,
) -> Result<(), CliError> {
    let mut writer = BagWriter::create(&path).map_err(failed)?;
    let node = match tool_node::join(domain, "bag-record").await {
        Ok(node) => node,
        Err(e) => {
            let _ = writer.flush();
            let _ = writer.discard();
            return Err(e);
        }
    };
    let (tx, rx) = std::sync::mpsc::channel::<Incoming>();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut readers = Vec::new();
    for (index, topic) in topics.iter().enumerate() {
        let mut subscriber = node.subscriber::<serde_json::Value>(topic).await?;
        let tx = tx.clone();
        let mut stop = stop_rx.clone();
        readers.push(tokio::spawn(async move {
            let forward = |m: rosy::node::Received| {
                tx.send(Incoming {
                    topic: index,
                    at: now_ns(),
                    codec: m.codec,
                    payload: m.payload,
                })
                .is_ok()
            };
            loop {
                tokio::select! {
                    biased;
                    m = subscriber.recv_encoded() => match m {
                        Some(m) => if !forward(m) { return subscriber.lost() },
                        None => return subscriber.lost(),
                    },
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
            // Stopping: take what is already queued, without waiting for more.
            while let Ok(Some(m)) =
                tokio::time::timeout(Duration::ZERO, subscriber.recv_encoded()).await
            {
                if !forward(m) {
                    break;
                }
            }
            subscriber.lost()
        }));
    }
    drop(tx);

    let counters = Arc::new(Counters::default());
    let done = Arc::new(tokio::sync::Notify::new());
    let limit = count.unwrap_or(u64::MAX);
    let writing = {
        let (node, topics, counters, done) =
            (node.clone(), topics.clone(), counters.clone(), done.clone());
        tokio::task::spawn_blocking(move || {
            write_loop(&mut writer, rx, &node, &topics, &counters, limit, &done).map(|_| writer)
        })
    };
    let progress = std::io::stderr().is_terminal().then(|| {
        let (counters, path, names) = (counters.clone(), path.clone(), topics.join(", "));
        tokio::spawn(async move {
            let start = Instant::now();
            loop {
                {
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\r\x1b[2K● recording {names} to {}: {} messages, {}, {:.1} s (Ctrl-C to stop)",
                    path.display(),
                    counters.messages.load(Ordering::Relaxed),
                    human_bytes(counters.bytes.load(Ordering::Relaxed) as f64),
                    start.elapsed().as_secs_f64()
                );
                let _ = err.flush();
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    });

    let started = Instant::now();
    let mut writing = writing;
    let early = tokio::select! {
        _ = interrupted() => None,
        _ = async {
            match duration {
                Some(d) => tokio::time::sleep(Duration::from_secs_f64(d)).await,
                None => std::future::pending().await,
            }
        } => None,
        _ = done.notified() => None,
        result = &mut writing => Some(result),
    };
    let _ = stop_tx.send(true);
    let mut lost = 0;
    for reader in readers {
        lost += reader.await.unwrap_or(0);
    }
    let result = match early {
        Some(result) => result,
        None => writing.await,
    };
    if let Some(p) = progress {
        p.abort();
        eprint!("\r\x1b[2K");
    }
    node.close().await;
    let writer = result
        .map_err(|e| CliError::Failed(format!("the writer thread failed: {e}")))?
        .map_err(failed)?;
    let messages = writer.messages();
    let elapsed = started.elapsed().as_secs_f64();
    if messages == 0 {
        let path = writer.path().display().to_string();
        writer.discard().map_err(failed)?;
        eprintln!(
            "nothing arrived on {} in {elapsed:.1} s: no file written ({path})",
            topics.join(", ")
        );
        if json {
            println!("{}", serde_json::json!({ "path": null, "messages": 0 }));
        }
        return Ok(());
    }
    writer.finish().map_err(failed)?;
    if lost > 0 {
        eprintln!(
            "warning: {lost} messages were lost before they could be recorded (the recorder fell behind)"
        );
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "path": path.display().to_string(),
                "messages": messages,
                "lost": lost,
                "size_bytes": size,
                "seconds": elapsed,
            })
        );
    } else {
        println!(
            "recorded {messages} messages ({}) in {elapsed:.1} s to {}",
            human_bytes(size as f64),
            path.display()
        );
    }
    Ok(())
}

/// Writes what arrives until every reader is gone or `limit` messages are written.
fn write_loop(
    writer: &mut BagWriter,
    rx: std::sync::mpsc::Receiver<Incoming>,
    node: &rosy::Node,
    topics: &[String],
    counters: &Counters,
    limit: u64,
    done: &tokio::sync::Notify,
) -> Result<(), rosy::bag::BagError> {
    let mut channels: HashMap<(usize, CodecId), u16> = HashMap::new();
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(m) if writer.messages() < limit => {
                let channel = match channels.get(&(m.topic, m.codec)) {
                    Some(&c) => c,
                    None => {
                        let topic = &topics[m.topic];
                        let (codec, type_name) = describe(node, topic, m.codec);
                        let c = writer.channel(topic, &codec, &type_name)?;
                        channels.insert((m.topic, m.codec), c);
                        c
                    }
                };
                writer.write(channel, m.at, m.at, &m.payload)?;
                counters.messages.fetch_add(1, Ordering::Relaxed);
                counters
                    .bytes
                    .fetch_add(m.payload.len() as u64, Ordering::Relaxed);
                if writer.messages() == limit {
                    done.notify_one();
                }
            }
            Ok(_) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        }
        writer.flush_if_due()?;
    }
}

/// The codec name and Rust type the publishers of `topic` announced for `codec` (a custom
/// codec's own name); the codec's generic name and no type when nobody announced them.
fn describe(node: &rosy::Node, topic: &str, codec: CodecId) -> (String, String) {
    let topology = node.topology();
    let announced = topology
        .nodes()
        .flat_map(|n| n.topics.iter())
        .filter(|t| t.name == topic && t.codec == codec)
        .min_by_key(|t| t.role != TopicRole::Publish);
    match announced {
        Some(t) if t.role == TopicRole::Publish => (t.codec_name.clone(), t.type_name.clone()),
        Some(t) if codec == CodecId::Custom => (t.codec_name.clone(), String::new()),
        _ => (codec.name().to_string(), String::new()),
    }
}
