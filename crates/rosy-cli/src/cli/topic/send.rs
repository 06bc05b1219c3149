//! `rosy topic send`: a value given as JSON or YAML, encoded with the codec asked for, sent
//! once or at an interval; and the checks that warn when listeners could not decode it.

use crate::cli::error::CliError;
use crate::cli::progress::Spinner;
use crate::cli::qos_args::QosArgs;
use crate::cli::tool_node;
use crate::cli::units::parse_seconds;
use crate::cli::value;
use bytes::Bytes;
use rosy::codec::{BuiltinCodec, Codec, CodecId, MsgPack};
use rosy::qos::Durability;
use rosy::topology::{TopicRole, Topology};
use std::time::Duration;

/// What `rosy topic send` was asked to do.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    pub topic: String,
    /// The message: JSON like '["hello", "world"]' or YAML like '[hello, world]'; null if absent.
    pub value: Option<String>,
    /// Seconds between messages; with no --count, sends until Ctrl-C.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub interval: Option<f64>,
    /// How many messages to send (default 1, or unlimited with --interval).
    #[arg(short = 'n', long)]
    pub count: Option<u64>,
    /// Do not wait for a listener: send at once, even to nobody.
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for a listener (seconds).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS", value_parser = parse_seconds)]
    pub wait: f64,
    /// The codec to encode VALUE with.
    #[arg(long, value_parser = ["msgpack", "json", "raw"], default_value = "msgpack")]
    pub codec: String,
    /// Stay up this many seconds after the last message (Ctrl-C ends it sooner), so that
    /// listeners starting meanwhile get a transient-local value.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub keep_alive: Option<f64>,
    #[command(flatten)]
    pub qos: QosArgs,
}

/// Sends the value as asked.
pub async fn send(domain: &str, args: SendArgs) -> Result<(), CliError> {
    let SendArgs {
        topic,
        value,
        interval,
        count,
        no_wait,
        wait,
        codec,
        keep_alive,
        qos,
    } = args;
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
    // Made once: a Ctrl-C while a message is sent must still end the sending.
    let interrupted = rosy::node::shutdown_signal();
    tokio::pin!(interrupted);
    let mut stopped = false;
    while sent < count {
        if sent > 0 {
            if let Some(s) = interval {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs_f64(s)) => {}
                    _ = &mut interrupted => {
                        stopped = true;
                        break;
                    }
                }
            }
        }
        publisher.send_encoded(payload.clone()).await?;
        sent += 1;
    }
    if let Some(s) = keep_alive.filter(|_| !stopped) {
        eprintln!(
            "sent {sent} message{} on {topic}; staying up {s} s (Ctrl-C ends it)",
            if sent == 1 { "" } else { "s" }
        );
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs_f64(s)) => {}
            _ = &mut interrupted => {}
        }
    }
    node.close().await;
    Ok(())
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
