//! `rosy foxglove`: a live bridge between the mesh and Foxglove (app or studio), speaking the
//! Foxglove WebSocket protocol through the Foxglove SDK's server (`foxglove` crate).
//!
//! One loop owns the bridge's state: it re-reads the topology whenever it changes (channels in
//! `topics.rs`, services in `services.rs`, the connection graph in `graph.rs`) and applies what
//! clients do (`listener.rs`); a separate task sends what clients publish. The bridge joins the
//! mesh as a tool node (hidden from `rosy node list`) through the public API only. It never
//! lets a client slow the mesh: what does not keep up is dropped and counted.

mod graph;
mod listener;
mod protobuf;
mod services;
mod topics;

use super::error::CliError;
use foxglove::websocket::Capability;
use listener::{ClientEvents, ClientMessage, Watch};
use rosy::codec::CodecId;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, clap::Args)]
pub struct FoxgloveArgs {
    /// Only these topics (default: every topic of the mesh, as it appears).
    pub topics: Vec<String>,
    /// The port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8765)]
    pub port: u16,
    /// The address to listen on; 0.0.0.0 lets other machines connect.
    #[arg(long, default_value = "127.0.0.1")]
    pub address: String,
    /// Messages of one topic the bridge holds while converting; beyond, the oldest are dropped
    /// (counted). Keep it small for large images.
    #[arg(long, default_value_t = 8, value_name = "MESSAGES")]
    pub queue: usize,
    /// Messages the server queues for each client; beyond, a slow client loses the oldest.
    /// Each may be a whole image: 16 of 1080p RGB frames hold 133 MB per stalled client.
    #[arg(long, default_value_t = 16, value_name = "MESSAGES")]
    pub backlog: usize,
    /// How long a service call from Foxglove may take (seconds).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
    pub call_timeout: f64,
}

/// In secure mode, a bridge reachable from other machines is a way into the mesh that no
/// certificate guards (the Foxglove protocol has no client authentication here): say so.
fn warn_if_gateway(address: &str) {
    let secure = std::env::var("ROSY_SECURITY")
        .is_ok_and(|m| matches!(m.trim(), "enforce" | "permissive" | "1"));
    let loopback = address
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
        || address == "localhost";
    if secure && !loopback {
        tracing::warn!(
            "the Foxglove bridge listens on {address} in a secure domain: anyone who reaches \
             that address reads every topic and can publish and call services as this bridge \
             (no certificate is asked of Foxglove clients); keep it on 127.0.0.1 and use an SSH \
             tunnel to reach it"
        );
    }
}

pub async fn run(args: FoxgloveArgs, domain: &str, json: bool) -> Result<(), CliError> {
    let node = rosy::Node::builder("rosy-foxglove")
        .domain_id(domain)
        .tool(true)
        .queue_capacity(args.queue.max(1))
        .build()
        .await?;
    warn_if_gateway(&args.address);
    let context = foxglove::Context::new();
    let (events, mut watch_rx, publish_rx) = ClientEvents::new();
    let client_dropped = events.client_dropped.clone();
    let server = context
        .websocket_server()
        .name(format!("rosy ({domain})"))
        .bind(args.address.clone(), args.port)
        .capabilities([
            Capability::ClientPublish,
            Capability::ConnectionGraph,
            Capability::Services,
        ])
        .supported_encodings(["json"])
        .message_backlog_size(args.backlog.max(1))
        .listener(Arc::new(events))
        .start()
        .await;
    let server = match server {
        Ok(server) => server,
        Err(e) => {
            node.close().await;
            return Err(CliError::Failed(format!(
                "cannot start the Foxglove server on {}:{}: {e} (another bridge on that port? \
                 try --port)",
                args.address, args.port
            )));
        }
    };
    let url = format!("ws://{}:{}", args.address, server.port());
    if json {
        println!(
            "{}",
            serde_json::json!({"url": url, "port": server.port(), "domain": domain})
        );
    } else {
        println!("Foxglove bridge for domain {domain} on {url}");
        println!("  open Foxglove, \"Open connection\", Foxglove WebSocket, {url}");
    }

    let published = Arc::new(AtomicU64::new(0));
    let publisher = tokio::spawn(publish(node.clone(), publish_rx, published.clone()));
    let mut topics = topics::Topics::new(context.clone(), args.topics);
    let mut services =
        services::Services::new(Duration::from_secs_f64(args.call_timeout.max(0.001)));
    let mut version = None;
    // Made once: a signal that arrives while the loop is busy must still end it.
    let shutdown = rosy::node::shutdown_signal();
    tokio::pin!(shutdown);
    // Drops are shown in Foxglove too (its problems list), at most every 5 s.
    let mut report = tokio::time::interval(Duration::from_secs(5));
    let mut reported = 0;
    loop {
        let topology = node.topology();
        let seen = topology
            .nodes()
            .map(|n| (n.id.clone(), n.version))
            .collect::<Vec<_>>();
        if version.as_ref() != Some(&seen) {
            topics.sync(&topology);
            services.sync(&topology, &server, &node);
            if let Err(e) = server.publish_connection_graph(graph::connection_graph(&topology)) {
                tracing::debug!("connection graph not published: {e}");
            }
            version = Some(seen);
        }
        tokio::select! {
            _ = node.topology_changed() => {}
            w = watch_rx.recv() => match w {
                Some(Watch::Subscribe(topic)) => topics.watch(&node, &topic).await,
                Some(Watch::Unsubscribe(topic)) => topics.unwatch(&topic),
                None => break,
            },
            _ = report.tick() => {
                let dropped = topics.stats.lost.load(Ordering::Relaxed)
                    + client_dropped.load(Ordering::Relaxed);
                if dropped > reported {
                    reported = dropped;
                    server.publish_status(
                        foxglove::websocket::Status::warning(format!(
                            "rosy bridge: {dropped} messages dropped so far (conversion or \
                             client publishing fell behind)"
                        ))
                        .with_id("rosy-dropped"),
                    );
                }
            }
            _ = &mut shutdown => break,
        }
    }
    tracing::debug!("stopping: subscriptions");
    topics.close().await;
    tracing::debug!("stopping: the server");
    // Graceful for clients that read; a stalled one would hold the stop until it leaves, so
    // after a moment its task is dropped (aborted) instead.
    if tokio::time::timeout(Duration::from_secs(1), server.stop().wait())
        .await
        .is_err()
    {
        tracing::debug!("a client did not close in 1 s: disconnected");
    }
    tracing::debug!("stopping: the node");
    publisher.abort();
    node.close().await;
    let stats = &topics.stats;
    let line = format!(
        "forwarded {} messages to Foxglove ({} dropped while converting, {} undecodable); \
         sent {} client messages to the mesh ({} dropped)",
        stats.forwarded.load(Ordering::Relaxed),
        stats.lost.load(Ordering::Relaxed),
        stats.undecodable.load(Ordering::Relaxed),
        published.load(Ordering::Relaxed),
        client_dropped.load(Ordering::Relaxed),
    );
    eprintln!("{line}");
    Ok(())
}

/// Sends what clients publish on the mesh, as JSON messages.
async fn publish(
    node: rosy::Node,
    mut messages: mpsc::Receiver<ClientMessage>,
    published: Arc<AtomicU64>,
) {
    let mut warned = false;
    while let Some(m) = messages.recv().await {
        if m.encoding != "json" {
            if !std::mem::replace(&mut warned, true) {
                tracing::warn!(
                    "a client publishes {:?} in {}: rosy takes JSON from Foxglove",
                    m.topic,
                    m.encoding
                );
            }
            continue;
        }
        match node.send_encoded(&m.topic, CodecId::Json, m.payload).await {
            Ok(_) => {
                published.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!("cannot send a client's message on {:?}: {e}", m.topic),
        }
    }
}
