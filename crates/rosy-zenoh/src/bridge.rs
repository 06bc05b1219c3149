//! [`Bridge`]: a rosy mesh joined to a zenoh network. Two nodes of the mesh and one zenoh
//! session:
//!
//! - the exporting node ([`EXPORTER`]) reads what leaves the site and makes other sites' calls
//!   to local services (`export`); bridges of one mesh share its name, so a message leaves
//!   through one of them (round-robin among same-name listeners);
//! - the importing node ([`IMPORTER`]) publishes what comes in and offers other sites'
//!   services (`import`); its messages never go to an exporting node, so nothing goes back
//!   out. Of several bridges on one mesh only one brings topics in (the one whose exporting
//!   node has the lowest id): each message arrives once.
//!
//! Every second, and whenever the mesh changes, the bridge looks at the topology and starts or
//! stops what crosses: a topic leaves while a local publisher of it is on the export list (one
//! named there in full, without `*`, always),
//! comes in while a local listener of it is on the import list; a service is offered to other
//! sites while a local provider of it is on the export list, and here while another site offers
//! it and it is on the import list (and no local node provides it). This file decides what
//! crosses; it moves no message itself.

use crate::config::BridgeConfig;
use crate::error::ZenohBridgeError;
use crate::export::{HISTORY_MAX, ServiceOut, TopicOut, export_service, export_topic, is_reliable};
use crate::import::{TopicIn, import_service, import_topic};
use crate::keys::{bridge_key, bridges_key};
use crate::shared::{Shared, lock};
use crate::sites::{ANNOUNCE_EVERY, RemoteNode, SITES_SERVICE_PREFIX, SiteInfo};
use rosy::qos::Durability;
use rosy::topology::{NodeInfo, ServiceInfo, TopicRole, Topology};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;
use tokio::task::JoinHandle;
use zenoh::sample::Locality;

/// The name of a bridge's exporting node.
pub const EXPORTER: &str = "zenoh-bridge";
/// The name of a bridge's importing node.
pub const IMPORTER: &str = "zenoh-bridge-in";

/// A running bridge; it stops when dropped (or [`Bridge::stop`]).
pub struct Bridge {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Bridge {
    /// Starts a bridge with nodes built as `Node::builder` builds them (the environment's
    /// domain, transport, interfaces and security).
    pub async fn start(config: BridgeConfig) -> Result<Bridge, ZenohBridgeError> {
        Self::start_with(config, rosy::Node::builder).await
    }

    /// Starts a bridge whose two nodes `builder` makes (given each one's name): to set their
    /// domain, interfaces or security in code.
    pub async fn start_with(
        config: BridgeConfig,
        builder: impl Fn(&str) -> rosy::NodeBuilder,
    ) -> Result<Bridge, ZenohBridgeError> {
        config.check().map_err(ZenohBridgeError::Config)?;
        if !config.carries_anything() {
            return Err(ZenohBridgeError::Config(
                "the bridge would carry nothing: allow some topics or services to be exported \
                 or imported"
                    .into(),
            ));
        }
        let zenoh_config = config.zenoh_config()?;
        let exporter = builder(EXPORTER).build().await?;
        let importer = builder(IMPORTER).never_routes_to(EXPORTER).build().await?;
        if exporter.domain_id() != importer.domain_id() {
            return Err(ZenohBridgeError::Config(
                "the bridge's two nodes were built in different domains".into(),
            ));
        }
        if exporter.security_mode() != rosy::security::SecurityMode::Off
            && !sealed_endpoints(&zenoh_config)
        {
            tracing::warn!(
                "zenoh bridge: this domain is secure but the zenoh config has no tls/ or quic/ \
                 endpoint: what the bridge carries crosses zenoh in the clear (give a zenoh \
                 config with TLS and client certificates, see `rosy zenoh bridge --help`)"
            );
        }
        let session = zenoh::open(zenoh_config)
            .await
            .map_err(ZenohBridgeError::zenoh)?;
        let shared = Arc::new(Shared::new(config, session, exporter, importer));
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(hear_sites(shared.clone()).await?));
        let seen = Arc::downgrade(&shared);
        shared
            .exporter
            .add_service(
                &format!("{SITES_SERVICE_PREFIX}{}", shared.exporter.id()),
                move |(): ()| {
                    let sites = seen
                        .upgrade()
                        .map(|s| lock(&s.sites).list())
                        .unwrap_or_default();
                    async move { Ok(sites) }
                },
            )
            .await?;
        tasks.push(tokio::spawn(keep_in_step(shared.clone())));
        Ok(Bridge { shared, tasks })
    }

    /// The sites this bridge hears now.
    pub fn sites(&self) -> Vec<SiteInfo> {
        lock(&self.shared.sites).list()
    }

    /// What came from zenoh and was dropped (garbage on a `rosy/...` key, say) so far.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.count()
    }

    /// The node ids of the bridge's exporting and importing nodes.
    pub fn node_ids(&self) -> (String, String) {
        (self.shared.exporter.id(), self.shared.importer.id())
    }

    /// This bridge's zenoh session id.
    pub fn zenoh_id(&self) -> String {
        self.shared.session.zid().to_string()
    }

    /// Stops the bridge: its routes end, its nodes leave the mesh, its session closes.
    pub async fn stop(mut self) {
        self.abort();
        self.shared.exporter.close().await;
        self.shared.importer.close().await;
        let _ = self.shared.session.close().await;
    }

    fn abort(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Whether every endpoint the zenoh config connects to or listens on is sealed (TLS or
/// QUIC), and there is at least one.
fn sealed_endpoints(config: &zenoh::Config) -> bool {
    let mut endpoints: Vec<String> = Vec::new();
    for key in ["connect/endpoints", "listen/endpoints"] {
        let Ok(json) = config.get_json(key) else {
            return false;
        };
        // A list, or per-mode lists ({"router": [...], "peer": [...]}).
        match serde_json::from_str::<serde_json::Value>(&json) {
            Ok(serde_json::Value::Array(list)) => {
                endpoints.extend(list.iter().filter_map(|e| e.as_str().map(String::from)))
            }
            Ok(serde_json::Value::Object(modes)) => {
                for list in modes.values() {
                    if let Some(list) = list.as_array() {
                        endpoints.extend(list.iter().filter_map(|e| e.as_str().map(String::from)));
                    }
                }
            }
            _ => return false,
        }
    }
    !endpoints.is_empty()
        && endpoints
            .iter()
            .all(|e| e.starts_with("tls/") || e.starts_with("quic/"))
}

/// Listens to other bridges' announcements (the returned task runs until aborted).
async fn hear_sites(
    shared: Arc<Shared>,
) -> Result<impl std::future::Future<Output = ()>, ZenohBridgeError> {
    let key = bridges_key(&shared.domain);
    let subscriber = shared
        .session
        .declare_subscriber(key)
        .allowed_origin(Locality::Remote)
        .await
        .map_err(ZenohBridgeError::zenoh)?;
    Ok(async move {
        while let Ok(sample) = subscriber.recv_async().await {
            let heard =
                lock(&shared.sites).hear(&sample.payload().to_bytes(), Instant::now(), |bridge| {
                    shared.is_own_origin(bridge)
                });
            if let Err(why) = heard {
                shared.dropped.drop_one(sample.key_expr().as_str(), &why);
            }
        }
    })
}

/// What crosses now, by name.
#[derive(Default)]
struct Running {
    topics_out: BTreeMap<String, (TopicOut, JoinHandle<()>)>,
    topics_in: BTreeMap<String, (TopicIn, JoinHandle<()>)>,
    services_out: BTreeMap<String, (ServiceOut, JoinHandle<()>)>,
    services_in: BTreeMap<String, ServiceInfo>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let handles = self
            .topics_out
            .values()
            .map(|(_, h)| h)
            .chain(self.topics_in.values().map(|(_, h)| h))
            .chain(self.services_out.values().map(|(_, h)| h));
        for handle in handles {
            handle.abort();
        }
    }
}

/// Whether a node is a bridge's (any bridge's).
fn is_bridge(node: &NodeInfo) -> bool {
    node.name == EXPORTER || node.name == IMPORTER
}

/// Starts and stops routes as the mesh and the other sites change, and announces the site.
async fn keep_in_step(shared: Arc<Shared>) {
    let mut running = Running::default();
    let mut last_announced = Instant::now() - ANNOUNCE_EVERY;
    let mut last_said = Vec::new();
    loop {
        let topology = shared.exporter.topology();
        let local: Vec<&NodeInfo> = topology.nodes().filter(|n| !is_bridge(n)).collect();
        shared.set_local_ids(
            topology
                .nodes()
                .map(|n| n.id.clone())
                .chain([shared.exporter.id(), shared.importer.id()])
                .collect(),
        );
        step_topics_out(&shared, &local, &mut running);
        let leader = topology
            .nodes()
            .filter(|n| n.name == EXPORTER)
            .all(|n| n.id > shared.exporter.id());
        step_topics_in(&shared, &local, leader, &mut running);
        let exported = step_services_out(&shared, &local, &mut running);
        step_services_in(&shared, &local, &mut running).await;
        let info = SiteInfo {
            bridge: shared.exporter.id(),
            hostname: shared.exporter.info().hostname,
            nodes: local
                .iter()
                .map(|n| RemoteNode {
                    name: n.name.clone(),
                    id: n.id.clone(),
                    hostname: n.hostname.clone(),
                    tool: n.tool,
                })
                .collect(),
            services: exported,
        };
        let said = serde_json::to_vec(&info).expect("a site's info serializes");
        if said != last_said || last_announced.elapsed() >= ANNOUNCE_EVERY {
            let key = bridge_key(&shared.domain, &shared.exporter.id());
            if let Err(e) = shared.session.put(key, said.clone()).await {
                tracing::debug!("zenoh bridge: the site's announcement not put: {e}");
            }
            last_said = said;
            last_announced = Instant::now();
        }
        let digest = digest(&topology);
        shared
            .exporter
            .wait_for_topology(ANNOUNCE_EVERY, |t| self::digest(t) != digest)
            .await;
    }
}

/// What of the topology the bridge acts on: nodes and their topic and service roles.
fn digest(topology: &Topology) -> Vec<(String, u64)> {
    let mut d: Vec<(String, u64)> = topology
        .nodes()
        .map(|n| (n.id.clone(), n.version))
        .collect();
    d.sort();
    d
}

fn step_topics_out(shared: &Arc<Shared>, local: &[&NodeInfo], running: &mut Running) {
    let mut wanted: BTreeMap<String, TopicOut> = BTreeMap::new();
    for node in local {
        for t in node.topics.iter().filter(|t| t.role == TopicRole::Publish) {
            if rosy::node::is_internal_topic(&t.name)
                || !shared.config.topics.export.allows(&t.name)
            {
                continue;
            }
            let route = wanted.entry(t.name.clone()).or_insert_with(|| TopicOut {
                topic: t.name.clone(),
                reliable: false,
                type_name: t.type_name.clone(),
                codec_name: t.codec_name.clone(),
                min_period: shared.config.min_period(&t.name),
                history: None,
            });
            route.reliable |= is_reliable(&t.qos);
            if t.qos.durability == Durability::TransientLocal {
                let depth = t.qos.depth().min(HISTORY_MAX);
                route.history = Some(route.history.unwrap_or(0).max(depth));
            }
        }
    }
    // A topic named in full on the export list leaves even before a publisher announces it:
    // a publisher that waits for a listener (`rosy topic send`, a speedtest) finds the bridge.
    for name in shared
        .config
        .topics
        .export
        .0
        .iter()
        .filter(|p| !p.contains('*'))
    {
        wanted.entry(name.clone()).or_insert_with(|| TopicOut {
            topic: name.clone(),
            reliable: false,
            type_name: String::new(),
            codec_name: String::new(),
            min_period: shared.config.min_period(name),
            history: None,
        });
    }
    running.topics_out.retain(|name, (route, handle)| {
        let keep = wanted.get(name) == Some(route);
        if !keep {
            handle.abort();
        }
        keep
    });
    for (name, route) in wanted {
        if let std::collections::btree_map::Entry::Vacant(entry) = running.topics_out.entry(name) {
            tracing::info!("zenoh bridge: topic {} leaves the site", route.topic);
            let handle = tokio::spawn(export_topic(shared.clone(), route.clone()));
            entry.insert((route, handle));
        }
    }
}

fn step_topics_in(shared: &Arc<Shared>, local: &[&NodeInfo], leader: bool, running: &mut Running) {
    let mut wanted: BTreeMap<String, TopicIn> = BTreeMap::new();
    if leader {
        for node in local {
            for t in node.topics.iter().filter(|t| t.role == TopicRole::Listen) {
                if rosy::node::is_internal_topic(&t.name)
                    || !shared.config.topics.import.allows(&t.name)
                {
                    continue;
                }
                let route = wanted.entry(t.name.clone()).or_insert_with(|| TopicIn {
                    topic: t.name.clone(),
                    qos: t.qos,
                });
                route.qos = route.qos.strongest(t.qos);
            }
        }
    }
    running.topics_in.retain(|name, (route, handle)| {
        let keep = wanted.get(name) == Some(route);
        if !keep {
            handle.abort();
        }
        keep
    });
    for (name, route) in wanted {
        if let std::collections::btree_map::Entry::Vacant(entry) = running.topics_in.entry(name) {
            tracing::info!(
                "zenoh bridge: topic {} comes in from other sites",
                route.topic
            );
            let handle = tokio::spawn(import_topic(shared.clone(), route.clone()));
            entry.insert((route, handle));
        }
    }
}

/// Starts and stops the services other sites may call; returns them, to announce.
fn step_services_out(
    shared: &Arc<Shared>,
    local: &[&NodeInfo],
    running: &mut Running,
) -> Vec<ServiceInfo> {
    let mut wanted: BTreeMap<String, ServiceOut> = BTreeMap::new();
    for node in local {
        for s in &node.services {
            if rosy::node::is_internal_topic(&s.name)
                || s.name.starts_with(SITES_SERVICE_PREFIX)
                || !shared.config.services.export.allows(&s.name)
            {
                continue;
            }
            wanted
                .entry(s.name.clone())
                .or_insert_with(|| ServiceOut { info: s.clone() });
        }
    }
    running.services_out.retain(|name, (route, handle)| {
        let keep = wanted.get(name) == Some(route);
        if !keep {
            handle.abort();
        }
        keep
    });
    for (name, route) in &wanted {
        if !running.services_out.contains_key(name) {
            tracing::info!("zenoh bridge: service {name} may be called from other sites");
            let handle = tokio::spawn(export_service(shared.clone(), route.clone()));
            running
                .services_out
                .insert(name.clone(), (route.clone(), handle));
        }
    }
    wanted.into_values().map(|s| s.info).collect()
}

/// Offers here the services other sites offer (and no local node provides).
async fn step_services_in(shared: &Arc<Shared>, local: &[&NodeInfo], running: &mut Running) {
    let now = Instant::now();
    let sites = {
        let mut sites = lock(&shared.sites);
        sites.forget_silent(now);
        sites.list()
    };
    let provided_here: HashSet<&str> = local
        .iter()
        .flat_map(|n| n.services.iter().map(|s| s.name.as_str()))
        .collect();
    let mut wanted: BTreeMap<String, ServiceInfo> = BTreeMap::new();
    for site in &sites {
        for s in &site.services {
            if shared.config.services.import.allows(&s.name) && !provided_here.contains(&*s.name) {
                wanted.entry(s.name.clone()).or_insert_with(|| s.clone());
            }
        }
    }
    let gone: Vec<String> = running
        .services_in
        .iter()
        .filter(|(name, info)| wanted.get(*name) != Some(info))
        .map(|(name, _)| name.clone())
        .collect();
    for name in gone {
        shared.importer.remove_service(&name).await;
        running.services_in.remove(&name);
        tracing::info!("zenoh bridge: service {name} of another site is no longer offered here");
    }
    for (name, info) in wanted {
        if running.services_in.contains_key(&name) {
            continue;
        }
        match import_service(shared, info.clone()).await {
            Ok(()) => {
                tracing::info!("zenoh bridge: service {name} of another site is offered here");
                running.services_in.insert(name, info);
            }
            Err(e) => tracing::warn!("zenoh bridge: service {name} not offered here: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tls_and_quic_endpoints_count_as_sealed() {
        let with = |connect: &[&str], listen: &[&str]| {
            let mut config = BridgeConfig::default();
            config.zenoh.connect = connect.iter().map(|s| s.to_string()).collect();
            config.zenoh.listen = listen.iter().map(|s| s.to_string()).collect();
            sealed_endpoints(&config.zenoh_config().unwrap())
        };
        assert!(with(&["tls/192.0.2.1:7447"], &["quic/0.0.0.0:7447"]));
        assert!(!with(&["tls/192.0.2.1:7447"], &["tcp/0.0.0.0:7447"]));
        assert!(!with(&["tcp/192.0.2.1:7447"], &[]));
        // zenoh's default listens on tcp for peers.
        assert!(!with(&[], &[]));
    }
}
