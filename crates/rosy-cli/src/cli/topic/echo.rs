//! `rosy topic echo`: the messages of one or more topics, decoded, with their receive time.

use crate::cli::error::CliError;
use crate::cli::progress::Spinner;
use crate::cli::tool_node;
use crate::cli::value::{self, Format};
use rosy::qos::Qos;
use rosy::topology::TopicRole;
use std::time::SystemTime;

fn unix_time(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub async fn echo(
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
    // Made once: a Ctrl-C while a message is printed must still end the loop.
    let interrupted = rosy::node::shutdown_signal();
    tokio::pin!(interrupted);
    while printed < limit {
        let next = tokio::select! {
            m = rx.recv() => m,
            _ = &mut interrupted => None,
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
