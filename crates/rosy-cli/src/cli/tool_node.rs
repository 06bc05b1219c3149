//! The node a command-line tool joins the mesh with: hidden from `rosy node list`, in the
//! domain the user chose, and settled (the mesh known) before the command looks at it.

use super::error::CliError;
use super::progress::Spinner;
use std::time::Duration;

/// How long the mesh must stay unchanged before a tool trusts it is complete. mDNS answers from
/// other hosts take 0.5–1.1 s to arrive on a fresh daemon; same-host peers come within 0.1 s
/// through the registry.
pub fn quiet_time() -> Duration {
    let loopback_only = std::env::var("ROSY_INTERFACES").is_ok_and(|v| v.trim() == "lo")
        || std::env::var("ROSY_MDNS").is_ok_and(|v| v == "0");
    if loopback_only {
        Duration::from_millis(300)
    } else {
        Duration::from_millis(1200)
    }
}

/// Joins the mesh of `domain` as a tool named `rosy-<command>`.
pub async fn join(domain: &str, command: &str) -> Result<rosy::Node, CliError> {
    build(domain, command, false).await
}

/// Joins as a tool that only looks at the mesh and calls services: it dials every node and no
/// node dials it, and it never connects to other such tools (many at once stay cheap).
pub async fn join_dial_only(domain: &str, command: &str) -> Result<rosy::Node, CliError> {
    build(domain, command, true).await
}

async fn build(domain: &str, command: &str, dial_only: bool) -> Result<rosy::Node, CliError> {
    let node = rosy::Node::builder(&format!("rosy-{command}"))
        .domain_id(domain)
        .tool(true)
        .dial_only(dial_only)
        .build()
        .await?;
    Ok(node)
}

/// Waits until the mesh is known, at most `max`, with a spinner on a terminal.
pub async fn settle(node: &rosy::Node, max: Duration) {
    let _spinner = Spinner::start("discovering the mesh...");
    node.settle(quiet_time(), max).await;
}
