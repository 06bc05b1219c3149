//! `rosy topic list`: every topic of the mesh, with its codecs, listeners and publishers; and
//! the ROS 2 topics each `rosy ros2 bridge` in the mesh sees, marked as such (text only).

use super::summary::summarize;
use crate::cli::error::CliError;
use crate::cli::tool_node;
use std::time::Duration;

/// One line per ROS 2 topic of `graph`: its ROS 2 name, types and endpoint counts.
fn ros2_topic_lines(graph: &rosy_ros2::Ros2Graph) -> Vec<String> {
    let mut topics: std::collections::BTreeMap<&str, (Vec<String>, usize, usize)> =
        Default::default();
    for (endpoints, publishing) in [(&graph.publishers, true), (&graph.subscribers, false)] {
        for e in endpoints {
            let entry = topics.entry(e.topic.as_str()).or_default();
            let type_name = e.ros2_type.name();
            if !entry.0.contains(&type_name) {
                entry.0.push(type_name);
            }
            if publishing {
                entry.2 += 1;
            } else {
                entry.1 += 1;
            }
        }
    }
    topics
        .into_iter()
        .map(|(name, (types, subscribers, publishers))| {
            format!(
                "{name}  [{}]  {subscribers} subscriber{}, {publishers} publisher{}",
                types.join(", "),
                if subscribers == 1 { "" } else { "s" },
                if publishers == 1 { "" } else { "s" },
            )
        })
        .collect()
}

/// Joins `domain` for `discovery_time` seconds and prints its topics.
pub async fn list(domain: &str, discovery_time: f64, json: bool) -> Result<(), CliError> {
    let node = tool_node::join_dial_only(domain, "topic-list").await?;
    tool_node::settle(&node, Duration::from_secs_f64(discovery_time)).await;
    let topics = summarize(&node.topology());
    let ros2 = rosy_ros2::ros2_graphs(&node, Duration::from_secs(2)).await;
    if json {
        println!("{}", serde_json::to_string(&topics).unwrap_or_default());
    } else if topics.is_empty() && ros2.is_empty() {
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
        for (bridge, graph) in &ros2 {
            for line in ros2_topic_lines(graph) {
                println!("{line}  (ROS 2, seen by {bridge})");
            }
        }
    }
    node.close().await;
    Ok(())
}
