//! `rosy topic info`: who publishes and listens to one topic, with what codec, type and QoS,
//! and which transport each pair uses and why.

use super::summary::{routes, summarize};
use crate::cli::error::CliError;
use crate::cli::tool_node;
use crate::cli::units::human_bytes;
use std::time::Duration;

/// Joins `domain` for `discovery_time` seconds and describes `topic`.
pub async fn info(
    domain: &str,
    topic: String,
    discovery_time: f64,
    json: bool,
) -> Result<(), CliError> {
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
    // Flows the domain's ACL refused (secure mode), as the refusing nodes announce them.
    let refused: Vec<(String, String, String)> = topology
        .nodes()
        .flat_map(|n| {
            n.denied
                .iter()
                .filter(|(_, verb, name)| name == &topic && verb != "call" && verb != "provide")
                .map(|(who, verb, _)| (n.name.clone(), who.clone(), verb.clone()))
        })
        .collect();
    if json {
        let mut value = serde_json::to_value(&*t).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            let list: Vec<_> = refused
                .iter()
                .map(|(by, who, verb)| serde_json::json!({"by": by, "node": who, "may_not": verb}))
                .collect();
            map.insert("refused_by_acl".into(), serde_json::Value::Array(list));
        }
        println!("{value}");
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
        if !refused.is_empty() {
            println!("refused by the domain's ACL:");
        }
        for (by, who, verb) in &refused {
            println!("  {by} refused {who}: it may not {verb} {topic}");
        }
    }
    Ok(())
}
