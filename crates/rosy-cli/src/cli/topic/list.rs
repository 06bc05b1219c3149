//! `rosy topic list`: every topic of the mesh, with its codecs, listeners and publishers.

use super::summary::summarize;
use crate::cli::error::CliError;
use crate::cli::tool_node;
use std::time::Duration;

/// Joins `domain` for `discovery_time` seconds and prints its topics.
pub async fn list(domain: &str, discovery_time: f64, json: bool) -> Result<(), CliError> {
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
