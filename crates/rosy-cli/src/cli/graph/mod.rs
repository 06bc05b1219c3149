//! `rosy graph`: a picture of the mesh (nodes, topics, services; edges labelled with the
//! transport and each topic's rate) as SVG (laid out in Rust: no Graphviz needed), DOT or an
//! HTML page. The model is `model.rs`, the drawing `render.rs`; this file joins the mesh as a
//! tool node, measures rates by listening for a moment, and writes the output. It never sends
//! anything on the mesh.

mod model;
mod render;

use super::error::CliError;
use super::tool_node;
use model::MeshGraph;
use render::Rates;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// Write to FILE; its extension picks the format (.svg, .dot, .html). Default: DOT on
    /// standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The format, whatever the file is called.
    #[arg(long, value_parser = ["svg", "dot", "html"])]
    pub format: Option<String>,
    /// Listen to every topic this long to measure its rate (0: no rates).
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
    pub sample: f64,
    /// Wait at most this long for the mesh to be discovered (seconds).
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
    pub discovery_time: f64,
}

pub async fn run(args: GraphArgs, domain: &str) -> Result<(), CliError> {
    let format = match (&args.format, &args.output) {
        (Some(f), _) => f.clone(),
        (None, Some(path)) => match path.extension().and_then(|e| e.to_str()) {
            Some("svg") => "svg".into(),
            Some("html") | Some("htm") => "html".into(),
            Some("dot") | Some("gv") => "dot".into(),
            _ => {
                return Err(CliError::Usage(format!(
                    "{}: give a .svg, .dot or .html file, or --format",
                    path.display()
                )));
            }
        },
        (None, None) => "dot".into(),
    };
    let node = tool_node::join(domain, "graph").await?;
    tool_node::settle(&node, Duration::from_secs_f64(args.discovery_time.max(0.0))).await;
    let graph = MeshGraph::new(&node.topology());
    let rates = if args.sample > 0.0 {
        measure(&node, &graph, Duration::from_secs_f64(args.sample)).await
    } else {
        Rates::new()
    };
    node.close().await;
    let text = match format.as_str() {
        "svg" => render::svg(&graph, &rates).map_err(|e| CliError::Failed(e.to_string()))?,
        "html" => render::html(&graph, &rates, &format!("rosy mesh: domain {domain}"))
            .map_err(|e| CliError::Failed(e.to_string()))?,
        _ => render::dot(&graph, &rates),
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, text)
                .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", path.display())))?;
            eprintln!(
                "{} nodes, {} topics, {} services drawn to {}",
                graph.nodes.len(),
                graph.topics.len(),
                graph.services.len(),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// Messages per second on each topic of `graph`, listened to for `window` (from the first to
/// the last message seen, so the time the subscription takes to reach publishers is not
/// counted as silence).
async fn measure(node: &rosy::Node, graph: &MeshGraph, window: Duration) -> Rates {
    let mut tasks = Vec::new();
    for topic in &graph.topics {
        let Ok(mut subscriber) = node.subscriber::<serde_json::Value>(topic).await else {
            continue;
        };
        let topic = topic.clone();
        tasks.push(tokio::spawn(async move {
            let end = tokio::time::Instant::now() + window;
            let (mut first, mut last, mut count) = (None, None, 0u64);
            while let Ok(Some(_)) = tokio::time::timeout_at(end, subscriber.recv_encoded()).await {
                let now = Instant::now();
                first.get_or_insert(now);
                last = Some(now);
                count += 1;
            }
            let rate = match (first, last) {
                (Some(a), Some(b)) if count >= 2 && b > a => {
                    (count - 1) as f64 / (b - a).as_secs_f64()
                }
                _ => count as f64 / window.as_secs_f64(),
            };
            (topic, rate)
        }));
    }
    let mut rates = Rates::new();
    for task in tasks {
        if let Ok((topic, rate)) = task.await {
            rates.insert(topic, rate);
        }
    }
    rates
}
