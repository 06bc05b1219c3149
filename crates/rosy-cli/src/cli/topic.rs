//! `rosy topic list|info|echo|send|hz|bw`.

use super::error::CliError;
use super::progress::Spinner;
use super::qos_args::QosArgs;
use super::tool_node;
use super::units::human_bytes;
use super::value::{self, Format};
use bytes::Bytes;
use rosy::codec::{BuiltinCodec, Codec, CodecId, MsgPack};
use rosy::qos::{Durability, Qos};
use rosy::topology::{TopicRole, Topology};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, clap::Subcommand)]
pub enum TopicCommand {
    /// List the topics of the mesh with their listeners and publishers.
    List {
        /// Wait at most this long for the mesh to be discovered (seconds).
        #[arg(long, default_value_t = 5.0, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        discovery_time: f64,
    },
    /// Show who publishes and who listens to TOPIC, with codecs and types.
    Info {
        topic: String,
        #[arg(long, default_value_t = 5.0, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        discovery_time: f64,
    },
    /// Print the messages arriving on one or more topics.
    Echo {
        #[arg(required = true)]
        topics: Vec<String>,
        /// Exit after this many messages.
        #[arg(short = 'n', long)]
        count: Option<u64>,
        /// How decoded messages are printed.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        #[command(flatten)]
        qos: QosArgs,
    },
    /// Send VALUE (JSON, or YAML) on TOPIC, once a node listens.
    Send {
        topic: String,
        /// The message: JSON like '["hello", "world"]' or YAML like '[hello, world]'; null if absent.
        value: Option<String>,
        /// Seconds between messages; with no --count, sends until Ctrl-C.
        #[arg(long, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        interval: Option<f64>,
        /// How many messages to send (default 1, or unlimited with --interval).
        #[arg(short = 'n', long)]
        count: Option<u64>,
        /// Do not wait for a listener: send at once, even to nobody.
        #[arg(long)]
        no_wait: bool,
        /// How long to wait for a listener (seconds).
        #[arg(long, default_value_t = 10.0, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        wait: f64,
        /// The codec to encode VALUE with.
        #[arg(long, value_parser = ["msgpack", "json", "raw"], default_value = "msgpack")]
        codec: String,
        /// Stay up this many seconds after the last message (Ctrl-C ends it sooner), so that
        /// listeners starting meanwhile get a transient-local value.
        #[arg(long, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        keep_alive: Option<f64>,
        #[command(flatten)]
        qos: QosArgs,
    },
    /// Print the rate of messages on TOPIC (min/max/std dev of the gaps over a window).
    Hz {
        topic: String,
        /// Messages the statistics are computed over.
        #[arg(short, long, default_value_t = 1000)]
        window: usize,
        /// Stop after this many seconds (default: until Ctrl-C).
        #[arg(long, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        duration: Option<f64>,
    },
    /// Print the bandwidth used by TOPIC (message sizes over a window).
    Bw {
        topic: String,
        #[arg(short, long, default_value_t = 1000)]
        window: usize,
        #[arg(long, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        duration: Option<f64>,
    },
}

pub async fn run(command: TopicCommand, domain: &str, json: bool) -> Result<(), CliError> {
    match command {
        TopicCommand::List { discovery_time } => {
            let node = tool_node::join_dial_only(domain, "topic-list").await?;
            tool_node::settle(&node, Duration::from_secs_f64(discovery_time)).await;
            let topics = summarize(&node.topology());
            if json {
                println!("{}", serde_json::to_string(&topics).unwrap_or_default());
            } else if topics.is_empty() {
                println!("no topics");
            } else {
                for (name, t) in &topics {
                    println!(
                        "{name}  [{}]  {} listener{}, {} publisher{}",
                        t.codecs.iter().cloned().collect::<Vec<_>>().join(", "),
                        t.listeners.len(),
                        if t.listeners.len() == 1 { "" } else { "s" },
                        t.publishers.len(),
                        if t.publishers.len() == 1 { "" } else { "s" },
                    );
                }
            }
            node.close().await;
            Ok(())
        }
        TopicCommand::Info {
            topic,
            discovery_time,
        } => {
            let node = tool_node::join_dial_only(domain, "topic-info").await?;
            tool_node::settle(&node, Duration::from_secs_f64(discovery_time)).await;
            let topology = node.topology();
            let own_host = node.info().host_id;
            node.close().await;
            let mut topics = summarize(&topology);
            let Some(t) = topics.get_mut(&topic) else {
                return Err(CliError::Failed(format!(
                    "no node in domain {domain:?} listens to or publishes {topic:?}"
                )));
            };
            t.routes = routes(&topology, &topic, domain, &own_host);
            if json {
                println!("{}", serde_json::to_string(t).unwrap_or_default());
            } else {
                println!("topic: {topic}");
                println!(
                    "codec: {}",
                    t.codecs.iter().cloned().collect::<Vec<_>>().join(", ")
                );
                println!(
                    "type: {}",
                    t.types.iter().cloned().collect::<Vec<_>>().join(", ")
                );
                println!("publishers ({}):", t.publishers.len());
                for p in &t.publishers {
                    println!("  {p}  qos: {}", t.publisher_qos[p]);
                }
                println!("listeners ({}):", t.listeners.len());
                for l in &t.listeners {
                    println!("  {l}  qos: {}", t.listener_qos[l]);
                }
                if !t.routes.is_empty() {
                    println!("routes:");
                }
                for r in &t.routes {
                    let bytes = r
                        .segment_bytes
                        .map(|b| format!(", segment holds {}", human_bytes(b as f64)))
                        .unwrap_or_default();
                    let reason = if r.reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", r.reason)
                    };
                    println!(
                        "  {} -> {}: {}{reason}{bytes}",
                        r.publisher, r.listener, r.transport
                    );
                    if !r.qos_warning.is_empty() {
                        println!("    warning: QoS mismatch: {}", r.qos_warning);
                    }
                }
            }
            Ok(())
        }
        TopicCommand::Echo {
            topics,
            count,
            format,
            qos,
        } => echo(domain, topics, count, format, qos.qos(false), json).await,
        TopicCommand::Send {
            topic,
            value,
            interval,
            count,
            no_wait,
            wait,
            codec,
            keep_alive,
            qos,
        } => {
            let qos = qos.qos(true);
            let value = match &value {
                Some(text) => value::parse(text)?,
                None => serde_json::Value::Null,
            };
            let (codec, payload) = encode(&value, &codec, value.as_str())?;
            let node = tool_node::join(domain, "topic-send").await?;
            let builtin = BuiltinCodec::from_id(codec).unwrap_or_default();
            let publisher = node
                .publisher_with_codec_qos::<serde_json::Value, _>(&topic, builtin, qos)
                .await?;
            // A transient-local value reaches listeners that come later: no need to wait.
            if !no_wait && qos.durability == Durability::Volatile {
                let _spinner = Spinner::start(format!("waiting for a listener on {topic}..."));
                node.wait_for_listener(&topic, Duration::from_secs_f64(wait))
                    .await?;
            }
            for warning in undecodable(&node.topology(), &topic, codec, &value) {
                eprintln!("warning: {warning}");
            }
            let count = count.unwrap_or(if interval.is_some() { u64::MAX } else { 1 });
            let mut sent = 0;
            while sent < count {
                if sent > 0 {
                    if let Some(s) = interval {
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs_f64(s)) => {}
                            _ = tokio::signal::ctrl_c() => break,
                        }
                    }
                }
                publisher.send_encoded(payload.clone()).await?;
                sent += 1;
            }
            if let Some(s) = keep_alive {
                eprintln!(
                    "sent {sent} message{} on {topic}; staying up {s} s (Ctrl-C ends it)",
                    if sent == 1 { "" } else { "s" }
                );
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs_f64(s)) => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            node.close().await;
            Ok(())
        }
        TopicCommand::Hz {
            topic,
            window,
            duration,
        } => rate(domain, &topic, window, duration, false, json).await,
        TopicCommand::Bw {
            topic,
            window,
            duration,
        } => rate(domain, &topic, window, duration, true, json).await,
    }
}

fn encode(
    value: &serde_json::Value,
    codec: &str,
    text: Option<&str>,
) -> Result<(CodecId, Bytes), CliError> {
    let mut out = Vec::new();
    let id = match codec {
        "json" => {
            rosy::codec::Json
                .encode(value, &mut out)
                .map_err(rosy::Error::from)?;
            CodecId::Json
        }
        "raw" => {
            out.extend_from_slice(text.map(str::as_bytes).unwrap_or_default());
            if text.is_none() {
                out = serde_json::to_vec(value).unwrap_or_default();
            }
            CodecId::Raw
        }
        _ => {
            MsgPack.encode(value, &mut out).map_err(rosy::Error::from)?;
            CodecId::MsgPack
        }
    };
    Ok((id, Bytes::from(out)))
}

/// The listeners of `topic` that announce a codec or type `value` (sent in `codec`) clearly
/// cannot be decoded as, one sentence each naming the listener, its codec and its type.
pub fn undecodable(
    topology: &Topology,
    topic: &str,
    codec: CodecId,
    value: &serde_json::Value,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for node in topology.nodes().filter(|n| !n.tool) {
        for t in node
            .topics
            .iter()
            .filter(|t| t.role == TopicRole::Listen && t.name == topic)
        {
            let ty = if t.type_name.is_empty() {
                "an unannounced type".to_string()
            } else {
                t.type_name.clone()
            };
            let who = format!(
                "listener {} on {topic:?} uses codec {} for {ty}",
                node.name, t.codec_name
            );
            let why = match t.codec {
                CodecId::Rkyv | CodecId::Custom => Some(format!(
                    "`rosy topic send` cannot produce {} (it sends msgpack, json or raw)",
                    t.codec_name
                )),
                CodecId::Raw if codec != CodecId::Raw && !is_bytes(value) => Some(format!(
                    "the value is neither a string nor an array of bytes, sent as {codec} \
                     (--codec raw sends its text as bytes)"
                )),
                _ => match fits_type(&t.type_name, value) {
                    Some(false) => Some(format!("the value {value} is not a {ty}")),
                    _ => None,
                },
            };
            if let Some(why) = why {
                warnings.push(format!("{who}: {why}, so it will likely fail to decode"));
            }
        }
    }
    warnings
}

fn is_bytes(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(_) => true,
        serde_json::Value::Array(items) => {
            items.iter().all(|i| i.as_u64().is_some_and(|b| b <= 255))
        }
        _ => false,
    }
}

/// Whether `value` can be a `type_name` (as `std::any::type_name` spells it): `Some(false)` only
/// for the plain types whose JSON shape is certain; `None` when it cannot tell.
fn fits_type(type_name: &str, value: &serde_json::Value) -> Option<bool> {
    use serde_json::Value as V;
    let ty = type_name.trim_start_matches('&');
    let fits = match ty {
        "alloc::string::String" | "str" | "char" => value.is_string(),
        "bool" => value.is_boolean(),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => value.is_u64(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => value.is_i64() || value.is_u64(),
        "f32" | "f64" => value.is_number(),
        "()" => value.is_null(),
        _ if ty.starts_with('(') && ty.ends_with(')') => {
            // A tuple travels as an array of its fields.
            let fields = tuple_fields(&ty[1..ty.len() - 1]);
            matches!(value, V::Array(items) if items.len() == fields)
        }
        _ if ty.starts_with("alloc::vec::Vec<") || ty.starts_with('[') => {
            matches!(value, V::Array(_)) || (ty.ends_with("<u8>") && value.is_string())
        }
        _ => return None,
    };
    Some(fits)
}

/// How many fields the inside of a tuple type name has (commas at the top level, plus one).
fn tuple_fields(inside: &str) -> usize {
    let mut depth = 0i32;
    let mut fields = 1;
    for c in inside.chars() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => fields += 1,
            _ => {}
        }
    }
    // `(A,)` has one field.
    if inside.trim_end().ends_with(',') {
        fields -= 1;
    }
    fields
}

/// What the mesh says about one topic.
#[derive(Debug, Default, serde::Serialize)]
pub struct TopicSummary {
    pub listeners: Vec<String>,
    pub publishers: Vec<String>,
    pub codecs: BTreeSet<String>,
    pub types: BTreeSet<String>,
    /// Each publisher's and listener's quality of service, by the names above.
    pub publisher_qos: BTreeMap<String, String>,
    pub listener_qos: BTreeMap<String, String>,
    /// Each publisher -> listener pair: the transport its messages take, and why TCP.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteSummary>,
}

/// How one publisher's messages reach one listener.
#[derive(Debug, serde::Serialize)]
pub struct RouteSummary {
    pub publisher: String,
    pub listener: String,
    /// `shm`, `tcp` or `local`.
    pub transport: &'static str,
    /// Why TCP between two nodes of one host.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Bytes of /dev/shm the publisher's segment of the topic holds (publishers on this host).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_bytes: Option<u64>,
    /// What the listener asks and the publisher does not offer (the pair connects anyway, with
    /// what the publisher offers).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub qos_warning: String,
}

fn who(node: &rosy::topology::NodeInfo) -> String {
    format!(
        "{}@{} ({})",
        node.name,
        node.hostname,
        &node.id[..8.min(node.id.len())]
    )
}

/// Every (publisher, listener) pair of `topic`, with the way its messages go.
fn routes(topology: &Topology, topic: &str, domain: &str, own_host: &str) -> Vec<RouteSummary> {
    let nodes: Vec<_> = topology.nodes().filter(|n| !n.tool).collect();
    let mut routes = Vec::new();
    for p in nodes.iter().filter(|n| {
        n.topics
            .iter()
            .any(|t| t.name == topic && t.role == TopicRole::Publish)
    }) {
        let segment_bytes = (p.host_id == own_host && p.shm_topics.iter().any(|t| t == topic))
            .then(|| rosy::transport::shm::segment_bytes(domain, &p.id, topic));
        let qos_of = |n: &rosy::topology::NodeInfo, role| {
            n.topics
                .iter()
                .find(|t| t.name == topic && t.role == role)
                .map(|t| t.qos)
                .unwrap_or_default()
        };
        let offered = qos_of(p, TopicRole::Publish);
        for l in nodes.iter().filter(|n| n.listens_to(topic)) {
            let way = rosy::topology::way_between(p, l, topic);
            let qos_warning = offered
                .falls_short_of(&qos_of(l, TopicRole::Listen))
                .unwrap_or_default();
            routes.push(RouteSummary {
                qos_warning,
                publisher: who(p),
                listener: who(l),
                // Only where this listener reads the segment.
                segment_bytes: segment_bytes.filter(|_| way.transport == "shm"),
                transport: way.transport,
                reason: way.reason,
            });
        }
    }
    routes
}

pub fn summarize(topology: &Topology) -> BTreeMap<String, TopicSummary> {
    let mut topics: BTreeMap<String, TopicSummary> = BTreeMap::new();
    for node in topology.nodes().filter(|n| !n.tool) {
        for t in node
            .topics
            .iter()
            .filter(|t| !rosy::node::is_internal_topic(&t.name))
        {
            let entry = topics.entry(t.name.clone()).or_default();
            let who = who(node);
            match t.role {
                TopicRole::Listen => {
                    entry.listener_qos.insert(who.clone(), t.qos.to_string());
                    entry.listeners.push(who)
                }
                TopicRole::Publish => {
                    entry.publisher_qos.insert(who.clone(), t.qos.to_string());
                    entry.publishers.push(who)
                }
            }
            entry.codecs.insert(t.codec_name.clone());
            if !t.type_name.is_empty() {
                entry.types.insert(t.type_name.clone());
            }
        }
    }
    for t in topics.values_mut() {
        t.listeners.sort();
        t.publishers.sort();
    }
    topics
}

fn unix_time(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

async fn echo(
    domain: &str,
    topics: Vec<String>,
    count: Option<u64>,
    format: Format,
    qos: Qos,
    json: bool,
) -> Result<(), CliError> {
    let node = tool_node::join(domain, "topic-echo").await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    for topic in &topics {
        let mut subscriber = node
            .subscriber_with_qos::<serde_json::Value>(topic, qos)
            .await?;
        let tx = tx.clone();
        let topic = topic.clone();
        tokio::spawn(async move {
            while let Some(m) = subscriber.recv_encoded().await {
                if tx
                    .send((topic.clone(), SystemTime::now(), m))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
    }
    drop(tx);
    let mut printed = 0;
    let limit = count.unwrap_or(u64::MAX);
    let _spinner =
        (printed == 0).then(|| Spinner::start(format!("listening to {}...", topics.join(", "))));
    let mut spinner = _spinner;
    while printed < limit {
        let next = tokio::select! {
            m = rx.recv() => m,
            _ = tokio::signal::ctrl_c() => None,
        };
        let Some((topic, at, message)) = next else {
            break;
        };
        spinner = None;
        let type_name = node
            .topology()
            .nodes()
            .flat_map(|n| n.topics.iter())
            .find(|t| t.name == topic && t.role == TopicRole::Publish && t.codec == message.codec)
            .map(|t| t.type_name.clone())
            .unwrap_or_default();
        if json {
            let value = match rosy::codec::to_display_value(message.codec, &message.payload) {
                Some(Ok(v)) => v,
                _ => serde_json::Value::String(rosy::codec::hex_preview(&message.payload, 16)),
            };
            let line = serde_json::json!({
                "time": unix_time(at),
                "topic": topic,
                "codec": message.codec.name(),
                "type": type_name,
                "size": message.payload.len(),
                "value": value,
            });
            println!("{line}");
        } else {
            let shown = value::describe(message.codec, &type_name, &message.payload, format);
            if format == Format::Yaml {
                println!("--- # {topic} at {:.6}\n{shown}", unix_time(at));
            } else {
                println!("[{:.6}] {topic}: {shown}", unix_time(at));
            }
        }
        printed += 1;
    }
    drop(spinner);
    node.close().await;
    Ok(())
}

/// Statistics over the last `window` messages: gaps for `hz`, sizes for `bw`.
#[derive(Debug, Default)]
pub struct Window {
    times: VecDeque<Instant>,
    sizes: VecDeque<usize>,
    capacity: usize,
}

impl Window {
    pub fn new(capacity: usize) -> Self {
        Window {
            capacity: capacity.max(2),
            ..Default::default()
        }
    }

    pub fn push(&mut self, at: Instant, size: usize) {
        if self.times.len() == self.capacity {
            self.times.pop_front();
            self.sizes.pop_front();
        }
        self.times.push_back(at);
        self.sizes.push_back(size);
    }

    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// (rate Hz, min gap s, max gap s, std dev of gaps s)
    pub fn rate(&self) -> Option<(f64, f64, f64, f64)> {
        if self.times.len() < 2 {
            return None;
        }
        let gaps: Vec<f64> = self
            .times
            .iter()
            .zip(self.times.iter().skip(1))
            .map(|(a, b)| (*b - *a).as_secs_f64())
            .collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let min = gaps.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = gaps.iter().cloned().fold(0.0, f64::max);
        Some((
            if mean > 0.0 { 1.0 / mean } else { 0.0 },
            min,
            max,
            var.sqrt(),
        ))
    }

    /// (bytes/s, mean size, min size, max size)
    pub fn bandwidth(&self) -> Option<(f64, f64, usize, usize)> {
        if self.times.len() < 2 {
            return None;
        }
        let span = (*self.times.back()? - *self.times.front()?).as_secs_f64();
        let total: usize = self.sizes.iter().skip(1).sum();
        let mean = self.sizes.iter().sum::<usize>() as f64 / self.sizes.len() as f64;
        let min = *self.sizes.iter().min()?;
        let max = *self.sizes.iter().max()?;
        Some((
            if span > 0.0 { total as f64 / span } else { 0.0 },
            mean,
            min,
            max,
        ))
    }
}

async fn rate(
    domain: &str,
    topic: &str,
    window: usize,
    duration: Option<f64>,
    bandwidth: bool,
    json: bool,
) -> Result<(), CliError> {
    let node = tool_node::join(domain, if bandwidth { "topic-bw" } else { "topic-hz" }).await?;
    let mut subscriber = node.subscriber::<serde_json::Value>(topic).await?;
    let mut stats = Window::new(window);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let end = duration.map(|d| tokio::time::Instant::now() + Duration::from_secs_f64(d));
    let mut spinner = Some(Spinner::start(format!(
        "waiting for messages on {topic}..."
    )));
    loop {
        let stop = async {
            match end {
                Some(end) => tokio::time::sleep_until(end).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            m = subscriber.recv_encoded() => match m {
                Some(m) => stats.push(Instant::now(), m.payload.len()),
                None => break,
            },
            _ = tick.tick() => {
                let line = if bandwidth {
                    stats.bandwidth().map(|(rate, mean, min, max)| if json {
                        serde_json::json!({"topic": topic, "bytes_per_s": rate, "mean": mean, "min": min, "max": max, "window": stats.len()}).to_string()
                    } else {
                        format!("average: {}/s\n\tmean: {} min: {} max: {} window: {}", human_bytes(rate), human_bytes(mean), human_bytes(min as f64), human_bytes(max as f64), stats.len())
                    })
                } else {
                    stats.rate().map(|(hz, min, max, std)| if json {
                        serde_json::json!({"topic": topic, "hz": hz, "min_s": min, "max_s": max, "std_dev_s": std, "window": stats.len()}).to_string()
                    } else {
                        format!("average rate: {hz:.3} Hz\n\tmin: {min:.6}s max: {max:.6}s std dev: {std:.6}s window: {}", stats.len())
                    })
                };
                if let Some(line) = line {
                    spinner = None;
                    println!("{line}");
                }
            }
            _ = stop => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    drop(spinner);
    node.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_gives_rate_and_bandwidth() {
        let mut w = Window::new(3);
        let t0 = Instant::now();
        for i in 0..5u64 {
            w.push(t0 + Duration::from_millis(10 * i), 100 * (i as usize + 1));
        }
        assert_eq!(w.len(), 3);
        let (hz, min, max, std) = w.rate().unwrap();
        assert!((hz - 100.0).abs() < 1e-6, "{hz}");
        assert!((min - 0.01).abs() < 1e-9 && (max - 0.01).abs() < 1e-9 && std < 1e-9);
        let (bps, mean, lo, hi) = w.bandwidth().unwrap();
        assert_eq!((lo, hi), (300, 500));
        assert!((mean - 400.0).abs() < 1e-9);
        assert!((bps - 45_000.0).abs() < 1e-6, "{bps}");
    }
}
