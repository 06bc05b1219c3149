//! The mesh as Foxglove's Topic Graph panel draws it: which node publishes and listens to which
//! topic, and which provides which service. Tool nodes (`rosy` commands, this bridge) and
//! rosy's internal topics are left out. It only reads a topology.

use foxglove::websocket::ConnectionGraph;
use rosy::topology::{TopicRole, Topology};
use std::collections::BTreeMap;

/// How a node is named in the graph: its name, and its id's first 8 characters, since two
/// nodes may share a name (a load-balancing group).
pub fn node_label(node: &rosy::topology::NodeInfo) -> String {
    format!("{} ({})", node.name, &node.id[..8.min(node.id.len())])
}

/// The connection graph of `topology`.
pub fn connection_graph(topology: &Topology) -> ConnectionGraph {
    let mut published: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut subscribed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut services: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in topology.nodes().filter(|n| !n.tool) {
        let label = node_label(node);
        for t in node
            .topics
            .iter()
            .filter(|t| !rosy::node::is_internal_topic(&t.name))
        {
            let map = match t.role {
                TopicRole::Publish => &mut published,
                TopicRole::Listen => &mut subscribed,
            };
            map.entry(t.name.clone()).or_default().push(label.clone());
        }
        for s in &node.services {
            services
                .entry(s.name.clone())
                .or_default()
                .push(label.clone());
        }
    }
    let mut graph = ConnectionGraph::new();
    for (topic, ids) in published {
        graph.set_published_topic(topic, ids);
    }
    for (topic, ids) in subscribed {
        graph.set_subscribed_topic(topic, ids);
    }
    for (service, ids) in services {
        graph.set_advertised_service(service, ids);
    }
    graph
}
