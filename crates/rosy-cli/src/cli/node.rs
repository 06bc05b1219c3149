//! `rosy node list`: every node of the mesh, with its topics and services.

use super::error::CliError;
use super::tool_node;
use rosy::topology::{NodeInfo, TopicRole};
use std::time::Duration;

#[derive(Debug, clap::Subcommand)]
pub enum NodeCommand {
    /// List the nodes of the mesh, with their topics and services.
    /// With -v (the global flag), also ids, endpoints, pids and message types.
    List {
        /// Wait at most this long for the mesh to be discovered (seconds). The list is printed
        /// as soon as discovery is quiet.
        #[arg(long, default_value_t = 5.0, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        discovery_time: f64,
        /// Also list the nodes of command-line tools (like this one).
        #[arg(long)]
        all: bool,
    },
}

pub async fn run(
    command: NodeCommand,
    domain: &str,
    json: bool,
    verbose: bool,
) -> Result<(), CliError> {
    match command {
        NodeCommand::List {
            discovery_time,
            all,
        } => {
            let node = tool_node::join_dial_only(domain, "node-list").await?;
            tool_node::settle(&node, Duration::from_secs_f64(discovery_time)).await;
            let mut nodes: Vec<NodeInfo> = node
                .topology()
                .nodes()
                .filter(|n| all || !n.tool)
                .cloned()
                .collect();
            nodes.sort_by(|a, b| (&a.name, &a.hostname, &a.id).cmp(&(&b.name, &b.hostname, &b.id)));
            let own_host = node.info().host_id;
            let listed: Vec<Listed> = nodes
                .into_iter()
                .map(|info| {
                    let local = (info.host_id == own_host).then(|| LocalUse::of(domain, &info));
                    Listed { info, local }
                })
                .collect();
            if json {
                println!("{}", serde_json::to_string(&listed).unwrap_or_default());
            } else {
                print!("{}", render(&listed, verbose));
                // The ROS 2 nodes each bridge in the mesh sees, marked as such.
                for (bridge, graph) in rosy_ros2::ros2_graphs(&node, Duration::from_secs(2)).await {
                    for name in &graph.nodes {
                        println!("{name}  (ROS 2, seen by {bridge})");
                    }
                }
                // The nodes of other sites each zenoh bridge hears of, marked as remote.
                for line in remote_lines(
                    &rosy_zenoh::zenoh_sites(&node, Duration::from_secs(2)).await,
                    all,
                ) {
                    println!("{line}");
                }
            }
            node.close().await;
            Ok(())
        }
    }
}

/// A line per node of another site: `- name@host  (remote, site of bridge B, through
/// zenoh bridge A)`, each node once even when several bridges here hear of it.
pub fn remote_lines(sites: &[(String, Vec<rosy_zenoh::SiteInfo>)], tools: bool) -> Vec<String> {
    let mut seen = std::collections::BTreeMap::new();
    for (through, heard) in sites {
        for site in heard {
            for node in site.nodes.iter().filter(|n| tools || !n.tool) {
                seen.entry((node.name.clone(), node.hostname.clone(), node.id.clone()))
                    .or_insert_with(|| (site.bridge.clone(), through.clone()));
            }
        }
    }
    seen.into_iter()
        .map(|((name, host, _), (site, through))| {
            format!("- {name}@{host}  (remote: the site of zenoh bridge {site}, through {through})")
        })
        .collect()
}

/// What a node on this host uses now, read from /dev/shm and /proc.
#[derive(Debug, serde::Serialize)]
pub struct LocalUse {
    /// Bytes of /dev/shm its segments, chunk files and doorbell hold.
    pub shm_bytes: u64,
    /// Its process's threads (None when /proc does not show the process).
    pub threads: Option<u32>,
}

impl LocalUse {
    fn of(domain: &str, info: &NodeInfo) -> LocalUse {
        let threads = super::proc_status::ProcStatus::read(&info.pid.to_string())
            .and_then(|status| status.field("Threads"))
            .map(|n| n as u32);
        LocalUse {
            shm_bytes: rosy::transport::shm::node_bytes(domain, &info.id),
            threads,
        }
    }
}

/// A node as listed: what it announces, and on this host what it uses.
#[derive(Debug, serde::Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub info: NodeInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalUse>,
}

/// The human listing: `N nodes:` then each node with its topics and services.
pub fn render(listed: &[Listed], verbose: bool) -> String {
    let nodes: Vec<&NodeInfo> = listed.iter().map(|l| &l.info).collect();
    let mut out = format!(
        "{} node{}:\n",
        nodes.len(),
        if nodes.len() == 1 { "" } else { "s" }
    );
    for (n, l) in nodes.iter().zip(listed) {
        out += &format!(
            "- {}@{} ({})\n",
            n.name,
            n.hostname,
            n.transports.join(", ")
        );
        if verbose {
            out += &format!("    id: {}  pid: {}  host id: {}\n", n.id, n.pid, n.host_id);
            let endpoints: Vec<String> = n.endpoints.iter().map(|e| e.to_string()).collect();
            out += &format!("    endpoints: {}\n", endpoints.join(", "));
            if let Some(local) = &l.local {
                let threads = local.threads.map_or("?".to_string(), |t| t.to_string());
                out += &format!(
                    "    shared memory: {}  threads: {threads}\n",
                    super::units::human_bytes(local.shm_bytes as f64)
                );
            }
            for (publisher, topic, problem) in &n.shm_problems {
                let whose = if publisher == &n.id { "own" } else { "reading" };
                out += &format!("    shm problem ({whose}) on {topic}: {problem}\n");
            }
            for (who, verb, name) in &n.denied {
                out += &format!("    refused by the ACL: {who} may not {verb} {name}\n");
            }
        }
        for (role, label) in [
            (TopicRole::Listen, "listens to"),
            (TopicRole::Publish, "publishes"),
        ] {
            let topics: Vec<_> = n
                .topics
                .iter()
                .filter(|t| t.role == role && !rosy::node::is_internal_topic(&t.name))
                .collect();
            if !topics.is_empty() {
                out += &format!("    {label}:\n");
                for t in topics {
                    out += &format!("      {} [{}]", t.name, t.codec_name);
                    if verbose && !t.type_name.is_empty() {
                        out += &format!(" {}", t.type_name);
                    }
                    out += "\n";
                }
            }
        }
        if !n.services.is_empty() {
            out += "    services:\n";
            for s in &n.services {
                out += &format!("      {} [{}]", s.name, s.codec_name);
                if verbose {
                    out += &format!(" {} -> {}", s.request_type, s.response_type);
                }
                out += "\n";
            }
        }
    }
    out
}
