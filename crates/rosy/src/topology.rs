//! The mesh as one node sees it: who is there, what they listen to, what services they host.
//!
//! Topology is plain data. Discovery (mDNS, the host-local registry) says which nodes exist and
//! where to reach them; each connected peer then sends its full [`NodeInfo`] over the connection
//! (so 500 topics never need to fit in an mDNS packet) and sends it again whenever it changes.
//! Nothing here does I/O.

use crate::codec::CodecId;
use crate::qos::Qos;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;

/// A node's unique id: 32 hex digits, new for every node instance (a restarted node is a new one).
pub type NodeId = String;

/// What a node does with a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TopicRole {
    /// The node listens to the topic (subscriber or callback).
    Listen,
    /// The node has a publisher for the topic or has sent on it.
    Publish,
}

/// One topic a node listens to or publishes on, with the codec and type it uses.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TopicInfo {
    /// The topic's name.
    pub name: String,
    /// Whether the node listens to the topic or publishes on it.
    pub role: TopicRole,
    /// The codec the node encodes (publishing) or decodes (listening) the topic's messages with.
    pub codec: CodecId,
    /// The codec's name (differs from `codec` only for custom codecs).
    pub codec_name: String,
    /// The Rust type name of the messages (`std::any::type_name`), empty when unknown.
    pub type_name: String,
    /// The quality of service asked for (the strongest of the node's endpoints of the topic).
    #[serde(default)]
    pub qos: Qos,
}

/// One service a node hosts.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// The service's name.
    pub name: String,
    /// The codec its requests and responses are encoded with.
    pub codec: CodecId,
    /// The codec's name (differs from `codec` only for custom codecs).
    pub codec_name: String,
    /// The Rust type name of its requests (`std::any::type_name`).
    pub request_type: String,
    /// The Rust type name of its responses (`std::any::type_name`).
    pub response_type: String,
}

/// Everything the mesh knows about one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's id: 32 hex digits, new for every node instance.
    pub id: NodeId,
    /// The node's name; nodes of one name form a load-balancing group.
    pub name: String,
    /// The domain the node belongs to.
    pub domain: String,
    /// Equal for two nodes exactly when they share /dev/shm (see `discovery::host_id`).
    pub host_id: String,
    /// The host name, for people.
    pub hostname: String,
    /// The node's process id.
    pub pid: u32,
    /// TCP addresses this node accepts connections on.
    pub endpoints: Vec<SocketAddr>,
    /// Transports the node can speak (`tcp`, `shm`).
    pub transports: Vec<String>,
    /// The topics the node listens to or publishes on.
    pub topics: Vec<TopicInfo>,
    /// The services the node hosts.
    pub services: Vec<ServiceInfo>,
    /// Raised on every change of topics or services.
    pub version: u64,
    /// A command-line tool's node (`rosy topic echo`...), hidden from `rosy node list`.
    pub tool: bool,
    /// Topics this node publishes through a shared-memory segment (same-host peers may read it).
    #[serde(default)]
    pub shm_topics: Vec<String>,
    /// Segments of other nodes this node reads: (publisher id, topic).
    #[serde(default)]
    pub shm_reading: Vec<(NodeId, String)>,
    /// Why shared memory is not used where it could be: (publisher id, topic, error). The
    /// publisher's own id for a segment it could not make or write, another's for a segment
    /// this node could not read. Tools show it beside the pair that went by TCP.
    #[serde(default)]
    pub shm_problems: Vec<(NodeId, String, String)>,
    /// Flows this node refused because the domain's ACL does not allow them (secure mode):
    /// (the peer's node name, what it may not do: publish, subscribe to, call, provide, the
    /// topic or service). Tools show them beside the topic.
    #[serde(default)]
    pub denied: Vec<(String, String, String)>,
}

/// How messages of one topic go from a publisher node to a listener node, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Way {
    /// `local` (one node), `shm` or `tcp`.
    pub transport: &'static str,
    /// Why TCP between two nodes of one host; for `shm`, why some messages still go by TCP
    /// (the publisher could not write them to shared memory, e.g. a full /dev/shm); empty
    /// otherwise.
    pub reason: String,
}

/// The way `topic` goes from `publisher` to `listener`, as both announce it: shared memory once
/// the listener reads the publisher's segment (with the publisher's problem, if it sends some
/// messages by TCP all the same); else TCP, with the reason.
pub fn way_between(publisher: &NodeInfo, listener: &NodeInfo, topic: &str) -> Way {
    let tcp = |reason: String| Way {
        transport: "tcp",
        reason,
    };
    if publisher.id == listener.id {
        return Way {
            transport: "local",
            reason: String::new(),
        };
    }
    if listener
        .shm_reading
        .iter()
        .any(|(p, t)| p == &publisher.id && t == topic)
    {
        let problem = publisher
            .shm_problems
            .iter()
            .find(|(p, t, _)| p == &publisher.id && t == topic);
        return Way {
            transport: "shm",
            reason: problem
                .map(|(_, _, e)| format!("{}: {e}", publisher.name))
                .unwrap_or_default(),
        };
    }
    if publisher.host_id != listener.host_id {
        return tcp("another host (no shared /dev/shm)".into());
    }
    let speaks_shm = |n: &NodeInfo| n.transports.iter().any(|t| t == "shm");
    if !speaks_shm(publisher) {
        return tcp(format!(
            "shared memory is off on the publisher {} (ROSY_TRANSPORT=tcp?)",
            publisher.name
        ));
    }
    if !speaks_shm(listener) {
        return tcp(format!(
            "shared memory is off on the listener {} (ROSY_TRANSPORT=tcp?)",
            listener.name
        ));
    }
    for node in [publisher, listener] {
        if let Some((_, _, e)) = node
            .shm_problems
            .iter()
            .find(|(p, t, _)| p == &publisher.id && t == topic)
        {
            return tcp(format!("{}: {e}", node.name));
        }
    }
    if !publisher.shm_topics.iter().any(|t| t == topic) {
        return tcp("the publisher has made no segment yet (it does at its next message)".into());
    }
    tcp("the listener has not attached to the segment yet".into())
}

impl NodeInfo {
    /// Whether this node listens to `topic`.
    pub fn listens_to(&self, topic: &str) -> bool {
        self.topics
            .iter()
            .any(|t| t.role == TopicRole::Listen && t.name == topic)
    }

    /// Whether this node hosts `service`.
    pub fn provides(&self, service: &str) -> bool {
        self.services.iter().any(|s| s.name == service)
    }
}

/// The peers this node is connected to, by id, with their latest [`NodeInfo`].
#[derive(Clone, Debug, Default)]
pub struct Topology {
    nodes: HashMap<NodeId, NodeInfo>,
}

impl Topology {
    /// Adds a node or replaces what was known of it. Returns whether anything changed.
    pub fn upsert(&mut self, info: NodeInfo) -> bool {
        match self.nodes.get(&info.id) {
            Some(old) if *old == info => false,
            Some(old) if old.version > info.version => false,
            _ => {
                self.nodes.insert(info.id.clone(), info);
                true
            }
        }
    }

    /// Forgets a node. Returns whether it was known.
    pub fn remove(&mut self, id: &str) -> bool {
        self.nodes.remove(id).is_some()
    }

    /// What is known of the node `id`, if it is known.
    pub fn get(&self, id: &str) -> Option<&NodeInfo> {
        self.nodes.get(id)
    }

    /// Every known node, in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeInfo> {
        self.nodes.values()
    }

    /// How many nodes are known.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is known.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Nodes listening to `topic`, in id order (stable for load balancing).
    pub fn listeners(&self, topic: &str) -> Vec<&NodeInfo> {
        let mut found: Vec<&NodeInfo> = self
            .nodes
            .values()
            .filter(|n| n.listens_to(topic))
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found
    }

    /// Nodes hosting `service`, in id order.
    pub fn providers(&self, service: &str) -> Vec<&NodeInfo> {
        let mut found: Vec<&NodeInfo> = self
            .nodes
            .values()
            .filter(|n| n.provides(service))
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, version: u64, listens: &[&str]) -> NodeInfo {
        NodeInfo {
            id: id.into(),
            name: format!("n{id}"),
            domain: "default".into(),
            host_id: "h".into(),
            hostname: "host".into(),
            pid: 1,
            endpoints: vec![],
            transports: vec!["tcp".into()],
            topics: listens
                .iter()
                .map(|t| TopicInfo {
                    name: t.to_string(),
                    role: TopicRole::Listen,
                    codec: CodecId::MsgPack,
                    codec_name: "msgpack".into(),
                    type_name: String::new(),
                    qos: Qos::default(),
                })
                .collect(),
            services: vec![],
            version,
            tool: false,
            shm_problems: vec![],
            denied: vec![],
            shm_topics: vec![],
            shm_reading: vec![],
        }
    }

    #[test]
    fn newer_info_replaces_older_and_never_the_reverse() {
        let mut topology = Topology::default();
        assert!(topology.upsert(node("a", 2, &["x"])));
        assert!(!topology.upsert(node("a", 1, &[])));
        assert!(topology.get("a").unwrap().listens_to("x"));
        assert!(topology.upsert(node("a", 3, &[])));
        assert!(topology.listeners("x").is_empty());
    }

    #[test]
    fn listeners_come_in_id_order() {
        let mut topology = Topology::default();
        topology.upsert(node("c", 1, &["t"]));
        topology.upsert(node("a", 1, &["t"]));
        topology.upsert(node("b", 1, &["u"]));
        let ids: Vec<&str> = topology
            .listeners("t")
            .iter()
            .map(|n| n.id.as_str())
            .collect();
        assert_eq!(ids, ["a", "c"]);
        assert!(topology.remove("a"));
        assert!(!topology.remove("a"));
    }
}
