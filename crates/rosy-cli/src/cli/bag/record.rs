//! `rosy bag record`: subscribes to topics as a tool node and writes what arrives to an MCAP
//! file, from a dedicated writer thread so the subscriptions are drained as fast as they fill.
//!
//! Without `--foxglove` or `--ros2` it never decodes or re-encodes a message; with
//! `--foxglove`, messages become JSON through `rosy::msgs::JsonForm`, with `--ros2` messages of
//! a type with a ROS 2 form become ROS 2's serialized form through
//! `rosy_ros2::to_ros2_serialized` (one conversion per message, on the writer thread). A topic
//! bridged from ROS 2 (raw bytes announced as `pkg/msg/Type`) is always recorded in ROS 2's
//! MCAP form (`cdr` with a `ros2msg` schema), its bytes as they travelled. It never overwrites
//! a file, and leaves no file when nothing arrived.

use super::clock::now_ns;
use super::files::failed;
use crate::cli::error::CliError;
use crate::cli::tool_node;
use crate::cli::units::human_bytes;
use bytes::Bytes;
use rosy::bag::{BagCompression, BagWriter};
use rosy::codec::CodecId;
use rosy::msgs::JsonForm;
use rosy::node::shutdown_signal as interrupted;
use rosy::topology::TopicRole;
use std::collections::{HashMap, HashSet};
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

/// What `rosy bag record` was asked for besides topics and path.
pub struct Options {
    pub duration: Option<f64>,
    pub count: Option<u64>,
    pub compression: BagCompression,
    /// Convert messages to JSON with Foxglove schemas.
    pub foxglove: bool,
    /// Convert messages of types with a ROS 2 form to ROS 2's serialized form.
    pub ros2: bool,
    /// The recorder's subscriptions' QoS (reliable: the publishers wait for it).
    pub qos: rosy::qos::Qos,
}

pub async fn run(
    domain: &str,
    topics: Vec<String>,
    path: PathBuf,
    options: Options,
    json: bool,
) -> Result<(), CliError> {
    let Options {
        duration,
        count,
        compression,
        foxglove,
        ros2,
        qos,
    } = options;
    let mut writer = BagWriter::create_compressed(&path, compression).map_err(failed)?;
    let node = match tool_node::join(domain, "bag-record").await {
        Ok(node) => node,
        Err(e) => {
            let _ = writer.flush();
            let _ = writer.discard();
            return Err(e);
        }
    };
    // Listening from here, before any message is taken: a Ctrl-C from then on ends the
    // recording cleanly (the bag finished) instead of killing the recorder.
    let interrupted = interrupted();
    let (tx, rx) = std::sync::mpsc::channel::<Incoming>();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut readers = Vec::new();
    for (index, topic) in topics.iter().enumerate() {
        let mut subscriber = node
            .subscriber_with_qos::<serde_json::Value>(topic, qos)
            .await?;
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
            let mut sink = Sink {
                writer: &mut writer,
                node: &node,
                topics: &topics,
                foxglove,
                ros2,
                channels: HashMap::new(),
                unconverted: 0,
                failing: HashSet::new(),
            };
            sink.write_loop(rx, &counters, limit, &done)
                .map(|unconverted| (writer, unconverted))
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
        _ = interrupted => None,
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
    let (writer, unconverted) = result
        .map_err(|e| CliError::Failed(format!("the writer thread failed: {e}")))?
        .map_err(failed)?;
    if unconverted > 0 {
        eprintln!(
            "warning: {unconverted} messages did not convert from their announced type and \
             were recorded with their original bytes, on a channel of their codec"
        );
    }
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

/// What the messages of one channel become before they are written.
#[derive(Clone)]
enum Conversion {
    /// Nothing: written as they travelled.
    None,
    /// JSON for Foxglove (`--foxglove`).
    Json(JsonForm),
    /// ROS 2's serialized form of this ROS 2 type (`--ros2`).
    Ros2(&'static str),
}

/// The writer thread's state: the bag, and each (topic, codec)'s channel.
struct Sink<'a> {
    writer: &'a mut BagWriter,
    node: &'a rosy::Node,
    topics: &'a [String],
    foxglove: bool,
    ros2: bool,
    /// The channel of each (topic, codec), and what its messages are converted to.
    channels: HashMap<(usize, CodecId), (u16, Conversion)>,
    /// Messages that did not convert (written with their own bytes instead).
    unconverted: u64,
    /// The topics a message failed to convert on, each logged once.
    failing: HashSet<usize>,
}

impl Sink<'_> {
    /// Writes what arrives until every reader is gone or `limit` messages are written. Returns
    /// how many messages could not be converted (to JSON or to ROS 2's form).
    fn write_loop(
        &mut self,
        rx: std::sync::mpsc::Receiver<Incoming>,
        counters: &Counters,
        limit: u64,
        done: &tokio::sync::Notify,
    ) -> Result<u64, rosy::bag::BagError> {
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(m) if self.writer.messages() < limit => {
                    self.write(&m)?;
                    counters.messages.fetch_add(1, Ordering::Relaxed);
                    counters
                        .bytes
                        .fetch_add(m.payload.len() as u64, Ordering::Relaxed);
                    if self.writer.messages() == limit {
                        done.notify_one();
                    }
                }
                Ok(_) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Ok(self.unconverted);
                }
            }
            self.writer.flush_if_due()?;
        }
    }

    fn write(&mut self, m: &Incoming) -> Result<(), rosy::bag::BagError> {
        let key = (m.topic, m.codec);
        if !self.channels.contains_key(&key) {
            let topic = &self.topics[m.topic];
            let (codec, type_name) = describe(self.node, topic, m.codec);
            if let Some(qos) = publisher_qos(self.node, topic) {
                self.writer.set_qos(topic, qos);
            }
            let ros2_type = if m.codec == CodecId::Raw && is_ros2_type_name(&type_name) {
                // Bridged from ROS 2: already ROS 2's serialized form.
                Some((type_name.clone(), Conversion::None))
            } else if self.ros2 {
                rosy_ros2::ros2_type_of(&type_name).map(|t| (t.to_string(), Conversion::Ros2(t)))
            } else {
                None
            };
            let (channel, conversion) = if let Some((ros2_type, conversion)) = ros2_type {
                let definition = rosy_ros2::ros2_definition(&ros2_type);
                if definition.is_none() {
                    eprintln!(
                        "warning: rosy has no message definition of {ros2_type}: topic {topic} \
                         is recorded as cdr with an empty ros2msg schema, which Foxglove and \
                         ROS 2 tools cannot decode"
                    );
                }
                let channel = self.writer.cdr_channel(topic, &ros2_type, definition)?;
                (channel, conversion)
            } else {
                match self
                    .foxglove
                    .then(|| JsonForm::new(m.codec, &type_name))
                    .flatten()
                {
                    Some(form) => (
                        self.writer
                            .json_channel(topic, form.schema().as_ref(), &type_name)?,
                        Conversion::Json(form),
                    ),
                    None => (
                        self.writer.channel(topic, &codec, &type_name)?,
                        Conversion::None,
                    ),
                }
            };
            self.channels.insert(key, (channel, conversion));
        }
        let (channel, conversion) = &self.channels[&key];
        let (channel, conversion) = (*channel, conversion.clone());
        let converted = match conversion {
            Conversion::None => return self.writer.write(channel, m.at, m.at, &m.payload),
            Conversion::Json(form) => form.convert(m.codec, &m.payload).map_err(|e| e.to_string()),
            Conversion::Ros2(ros2_type) => {
                let received = rosy::node::Received {
                    codec: m.codec,
                    payload: m.payload.clone(),
                };
                rosy_ros2::to_ros2_serialized(ros2_type, &received).map_err(|e| e.to_string())
            }
        };
        match converted {
            Ok(bytes) => self.writer.write(channel, m.at, m.at, &bytes),
            Err(e) => {
                self.unconverted += 1;
                let topic = &self.topics[m.topic];
                if self.failing.insert(m.topic) {
                    eprintln!(
                        "warning: a message on {topic} did not convert ({e}); it and any other \
                         that does not are recorded with their original bytes"
                    );
                } else {
                    tracing::debug!("{topic}: {e}");
                }
                let (codec, type_name) = describe(self.node, topic, m.codec);
                let original = self.writer.channel(topic, &codec, &type_name)?;
                self.writer.write(original, m.at, m.at, &m.payload)
            }
        }
    }
}

/// Whether `name` is a ROS 2 message type name (`sensor_msgs/msg/Temperature`), as the ROS 2
/// bridge announces a topic whose type it carries as ROS 2's serialized bytes.
fn is_ros2_type_name(name: &str) -> bool {
    let word = |w: &str| {
        w.starts_with(|c: char| c.is_ascii_alphabetic())
            && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    matches!(name.split('/').collect::<Vec<_>>()[..], [pkg, "msg", ty] if word(pkg) && word(ty))
}

/// The quality of service a publisher of `topic` announced (the first one's).
fn publisher_qos(node: &rosy::Node, topic: &str) -> Option<rosy::qos::Qos> {
    node.topology()
        .nodes()
        .flat_map(|n| n.topics.iter())
        .find(|t| t.name == topic && t.role == TopicRole::Publish)
        .map(|t| t.qos)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ros2_type_names_are_told_from_rust_ones() {
        assert!(is_ros2_type_name("sensor_msgs/msg/Temperature"));
        assert!(is_ros2_type_name("my_pkg2/msg/Odd_Type3"));
        for name in [
            "",
            "rosy::msgs::Imu",
            "sensor_msgs/Temperature",
            "sensor_msgs/srv/SetBool",
            "a/msg/b/c",
            "/msg/T",
            "pkg/msg/",
            "2pkg/msg/T",
            "pkg/msg/Vec<u8>",
        ] {
            assert!(!is_ros2_type_name(name), "{name:?}");
        }
    }
}
