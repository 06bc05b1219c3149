//! What the mesh says about each topic, as `topic list` and `topic info` print it: codecs,
//! types, publishers and listeners with their QoS, and the route of each pair.

use rosy::topology::{TopicRole, Topology};
use std::collections::{BTreeMap, BTreeSet};

/// What the mesh says about one topic.
#[derive(Debug, Default, serde::Serialize)]
pub struct TopicSummary {
    pub listeners: Vec<String>,
    pub publishers: Vec<String>,
    pub codecs: BTreeSet<String>,
    pub types: BTreeSet<String>,
    /// Each publisher's and listener's quality of service, by the names above.
    pub publisher_qos: BTreeMap<String, String>,
    pub listener_qos: BTreeMap<String, String>,
    /// Each publisher -> listener pair: the transport its messages take, and why TCP.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteSummary>,
}

/// How one publisher's messages reach one listener.
#[derive(Debug, serde::Serialize)]
pub struct RouteSummary {
    pub publisher: String,
    pub listener: String,
    /// `shm`, `tcp` or `local`.
    pub transport: &'static str,
    /// Why TCP between two nodes of one host.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Bytes of /dev/shm the publisher's segment of the topic holds (publishers on this host).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_bytes: Option<u64>,
    /// What the listener asks and the publisher does not offer (the pair connects anyway, with
    /// what the publisher offers).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub qos_warning: String,
}

fn who(node: &rosy::topology::NodeInfo) -> String {
    format!(
        "{}@{} ({})",
        node.name,
        node.hostname,
        &node.id[..8.min(node.id.len())]
    )
}

/// Every (publisher, listener) pair of `topic`, with the way its messages go.
pub fn routes(topology: &Topology, topic: &str, domain: &str, own_host: &str) -> Vec<RouteSummary> {
    let nodes: Vec<_> = topology.nodes().filter(|n| !n.tool).collect();
    let mut routes = Vec::new();
    for p in nodes.iter().filter(|n| {
        n.topics
            .iter()
            .any(|t| t.name == topic && t.role == TopicRole::Publish)
    }) {
        let segment_bytes = (p.host_id == own_host && p.shm_topics.iter().any(|t| t == topic))
            .then(|| rosy::transport::shm::segment_bytes(domain, &p.id, topic));
        let qos_of = |n: &rosy::topology::NodeInfo, role| {
            n.topics
                .iter()
                .find(|t| t.name == topic && t.role == role)
                .map(|t| t.qos)
                .unwrap_or_default()
        };
        let offered = qos_of(p, TopicRole::Publish);
        for l in nodes.iter().filter(|n| n.listens_to(topic)) {
            let way = rosy::topology::way_between(p, l, topic);
            let qos_warning = offered
                .falls_short_of(&qos_of(l, TopicRole::Listen))
                .unwrap_or_default();
            routes.push(RouteSummary {
                qos_warning,
                publisher: who(p),
                listener: who(l),
                // Only where this listener reads the segment.
                segment_bytes: segment_bytes.filter(|_| way.transport == "shm"),
                transport: way.transport,
                reason: way.reason,
            });
        }
    }
    routes
}

pub fn summarize(topology: &Topology) -> BTreeMap<String, TopicSummary> {
    let mut topics: BTreeMap<String, TopicSummary> = BTreeMap::new();
    for node in topology.nodes().filter(|n| !n.tool) {
        for t in node
            .topics
            .iter()
            .filter(|t| !rosy::node::is_internal_topic(&t.name))
        {
            let entry = topics.entry(t.name.clone()).or_default();
            let who = who(node);
            match t.role {
                TopicRole::Listen => {
                    entry.listener_qos.insert(who.clone(), t.qos.to_string());
                    entry.listeners.push(who)
                }
                TopicRole::Publish => {
                    let qos = format!("{}, when full: {}", t.qos, t.qos.when_full);
                    entry.publisher_qos.insert(who.clone(), qos);
                    entry.publishers.push(who)
                }
            }
            entry.codecs.insert(t.codec_name.clone());
            if !t.type_name.is_empty() {
                entry.types.insert(t.type_name.clone());
            }
        }
    }
    for t in topics.values_mut() {
        t.listeners.sort();
        t.publishers.sort();
    }
    topics
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosy::qos::Qos;
    use rosy::topology::{NodeInfo, TopicInfo};

    fn node(id: &str, role: TopicRole, qos: Qos) -> NodeInfo {
        NodeInfo {
            id: id.to_string(),
            name: format!("node-{id}"),
            domain: "d".into(),
            host_id: "h".into(),
            hostname: "robot".into(),
            pid: 1,
            endpoints: vec![],
            transports: vec!["tcp".into()],
            topics: vec![TopicInfo {
                name: "camera/frames".into(),
                role,
                codec: rosy::codec::CodecId::Raw,
                codec_name: "raw".into(),
                type_name: String::new(),
                qos,
            }],
            services: vec![],
            version: 1,
            tool: false,
            shm_topics: vec![],
            shm_reading: vec![],
            shm_problems: vec![],
            denied: vec![],
        }
    }

    #[test]
    fn a_publisher_shows_what_it_does_when_full_and_a_listener_does_not() {
        let mut topology = Topology::default();
        topology.upsert(node(
            "aaaaaaaa1",
            TopicRole::Publish,
            Qos::sensor_data().wait_when_full(),
        ));
        topology.upsert(node("bbbbbbbb2", TopicRole::Listen, Qos::sensor_data()));
        topology.upsert(node("cccccccc3", TopicRole::Publish, Qos::default()));
        let summary = summarize(&topology);
        let t = &summary["camera/frames"];
        let qos: Vec<_> = t.publisher_qos.values().cloned().collect();
        assert_eq!(
            qos,
            [
                "keep_last(1), best_effort, volatile, when full: wait",
                "keep_last(1024), best_effort, volatile, when full: drop_oldest"
            ]
        );
        assert_eq!(
            t.listener_qos.values().collect::<Vec<_>>(),
            ["keep_last(1), best_effort, volatile"]
        );
    }
}
