//! [`MeshGraph`]: the mesh as a picture sees it: nodes, topics and services, and the edges
//! between them (publisher -> topic -> listener, provider -> service) with the transport each
//! listener is reached by and each topic's measured rate. Built from a topology only; drawing
//! is `render.rs`'s job.

use rosy::topology::{TopicRole, Topology, way_between};
use std::collections::{BTreeMap, BTreeSet};

/// What is drawn.
#[derive(Debug, Default, PartialEq)]
pub struct MeshGraph {
    /// Node labels (`name@host (id8)`), by node id.
    pub nodes: BTreeMap<String, String>,
    pub topics: BTreeSet<String>,
    pub services: BTreeSet<String>,
    pub edges: Vec<Edge>,
}

/// One arrow of the picture.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Edge {
    /// Node `from` publishes `topic`.
    Publishes { node: String, topic: String },
    /// Node `node` listens to `topic`, reached by these transports (`shm`, `tcp`, `local`).
    Listens {
        topic: String,
        node: String,
        transports: BTreeSet<&'static str>,
    },
    /// Node `node` provides `service`.
    Provides { node: String, service: String },
}

impl MeshGraph {
    /// The graph of `topology`, without tool nodes (`rosy` commands) and rosy's own topics.
    pub fn new(topology: &Topology) -> MeshGraph {
        let mut graph = MeshGraph::default();
        let nodes: Vec<_> = topology.nodes().filter(|n| !n.tool).collect();
        for n in &nodes {
            graph.nodes.insert(
                n.id.clone(),
                format!("{}@{} ({})", n.name, n.hostname, &n.id[..8.min(n.id.len())]),
            );
            for t in n
                .topics
                .iter()
                .filter(|t| !rosy::node::is_internal_topic(&t.name))
            {
                graph.topics.insert(t.name.clone());
                match t.role {
                    TopicRole::Publish => graph.edges.push(Edge::Publishes {
                        node: n.id.clone(),
                        topic: t.name.clone(),
                    }),
                    TopicRole::Listen => {
                        let transports = nodes
                            .iter()
                            .filter(|p| {
                                p.topics
                                    .iter()
                                    .any(|pt| pt.name == t.name && pt.role == TopicRole::Publish)
                            })
                            .map(|p| way_between(p, n, &t.name).transport)
                            .collect();
                        graph.edges.push(Edge::Listens {
                            topic: t.name.clone(),
                            node: n.id.clone(),
                            transports,
                        });
                    }
                }
            }
            for s in &n.services {
                graph.services.insert(s.name.clone());
                graph.edges.push(Edge::Provides {
                    node: n.id.clone(),
                    service: s.name.clone(),
                });
            }
        }
        graph.edges.sort();
        graph.edges.dedup();
        graph
    }
}
