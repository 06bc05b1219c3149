//! [`NodeBuilder`]: a node's settings, each with an environment variable as fallback.
//!
//! | setting | builder | environment | default |
//! |---|---|---|---|
//! | domain | `domain_id` | `ROSY_DOMAIN_ID` | `default` |
//! | transport | `transport` | `ROSY_TRANSPORT` (`auto`, `tcp`, `shm`) | `auto` |
//! | interfaces | `interfaces` | `ROSY_INTERFACES` (comma-separated, e.g. `lo`) | all |
//! | mDNS | `mdns` | `ROSY_MDNS` (`0` turns it off) | on |
//! | largest message | `max_message_size` | `ROSY_MAX_MESSAGE_SIZE` (bytes, or with `KiB`/`MiB`) | 64 MiB |
//! | handshake bound | `handshake_timeout` | `ROSY_HANDSHAKE_TIMEOUT_MS` | 5 s |
//! | stalled-frame bound | `frame_stall_timeout` | `ROSY_FRAME_STALL_TIMEOUT_MS` | 10 s |
//! | connections in handshake | `max_handshakes` | `ROSY_MAX_HANDSHAKES` | 64 |
//! | security | `security` | `ROSY_SECURITY` (`off`, `permissive`, `enforce`) and `ROSY_SECURITY_DIR` | off |
//!
//! The last three bound what a peer that is not (yet) known can hold (see `mesh::admission` and
//! `transport::tcp::link`); tests shorten them. A node also raises its soft descriptor limit to
//! the hard limit when it starts.
//!
//! Shared memory per topic this node publishes to same-host listeners: a ring of `shm_depth`
//! slots (default 1024) of 192 bytes inline (228 KiB in all), plus, only while larger messages
//! flow, chunk files each the size of the largest recent message rounded up by at most 12.5%:
//! at most `shm_pool_chunks` (default 4) large ones, up to 64 small ones within 4 MiB, more
//! (up to 64 MiB) only while listeners hold every chunk in unconsumed samples. So a topic of
//! small messages takes 228 KiB of /dev/shm, one of 1 MB frames 1.3-4.5 MB, one of 6.2 MB
//! frames 7.3-28 MB; chunk files go again about 2 s after the large messages stop. See
//! docs/architecture.md for the formula.
//!
//! A value set on the builder wins over the environment.

use super::handle::Node;
use super::mesh::{Mesh, MeshConfig};
use super::preference::TransportPreference;
use crate::balance::Strategy;
use crate::codec::BuiltinCodec;
use crate::discovery::host;
use crate::discovery::{Announcement, Discovery, DiscoveryConfig};
use crate::domain::DomainId;
use crate::error::{Error, Result};
use crate::names::check_name;
use crate::topology::NodeInfo;
use crate::transport::tcp::link::Listener;
use crate::transport::tcp::local::LocalListener;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::net::TcpListener;

/// Settings of a node to build; see the module docs for the environment fallbacks.
#[derive(Clone, Debug)]
pub struct NodeBuilder {
    name: String,
    domain_id: Option<String>,
    codec: BuiltinCodec,
    strategy: Strategy,
    transport: Option<TransportPreference>,
    interfaces: Option<Option<Vec<String>>>,
    mdns: Option<bool>,
    call_timeout: Duration,
    send_timeout: Duration,
    queue_capacity: usize,
    tool: bool,
    dial_only: bool,
    local_links: Option<bool>,
    guard: Option<crate::security::Guard>,
    shm: crate::transport::shm::ShmConfig,
    shm_topics: std::collections::HashMap<String, crate::transport::shm::ShmConfig>,
    max_message: Option<usize>,
    shm_busy_poll: bool,
    handshake_timeout: Option<Duration>,
    stall_timeout: Option<Duration>,
    max_handshakes: Option<usize>,
    never_routes_to: Vec<String>,
}

impl Node {
    /// Starts building a node named `name`.
    pub fn builder(name: &str) -> NodeBuilder {
        NodeBuilder::new(name)
    }
}

impl NodeBuilder {
    pub(crate) fn new(name: &str) -> Self {
        NodeBuilder {
            name: name.to_string(),
            domain_id: None,
            codec: BuiltinCodec::MsgPack,
            strategy: Strategy::RoundRobin,
            transport: None,
            interfaces: None,
            mdns: None,
            call_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(1),
            queue_capacity: 1024,
            tool: false,
            dial_only: false,
            local_links: None,
            guard: None,
            shm: crate::transport::shm::ShmConfig::default(),
            shm_topics: Default::default(),
            max_message: None,
            shm_busy_poll: false,
            handshake_timeout: None,
            stall_timeout: None,
            max_handshakes: None,
            never_routes_to: Vec::new(),
        }
    }

    /// Longest a connection's handshake may take (5 s), dialed or accepted.
    pub fn handshake_timeout(mut self, bound: Duration) -> Self {
        self.handshake_timeout = Some(bound);
        self
    }

    /// Longest a frame that has begun arriving may go without a byte of it (10 s): then its
    /// link closes and the memory it took is freed.
    pub fn frame_stall_timeout(mut self, bound: Duration) -> Self {
        self.stall_timeout = Some(bound);
        self
    }

    /// Most accepted connections in handshake at once (64); further ones are closed at once.
    pub fn max_handshakes(mut self, count: usize) -> Self {
        self.max_handshakes = Some(count.max(1));
        self
    }

    /// The domain this node joins; nodes of other domains never see it. Checked by
    /// [`build`](Self::build): 1 to 64 ASCII letters, digits, `_` and `-` (see [`DomainId`]).
    pub fn domain_id(mut self, domain: impl Into<String>) -> Self {
        self.domain_id = Some(domain.into());
        self
    }

    /// The codec of `send`, `call` and typed handles made without an explicit codec.
    pub fn codec(mut self, codec: BuiltinCodec) -> Self {
        self.codec = codec;
        self
    }

    /// How same-name listeners share messages (and providers share calls).
    pub fn load_balancing(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Which transport the node uses to reach peers ([`TransportPreference`]): shared memory
    /// for same-host peers and TCP for the rest (`Auto`, the default), TCP only, or shared
    /// memory only. Unset, `ROSY_TRANSPORT` decides.
    pub fn transport(mut self, transport: TransportPreference) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The network interfaces discovery may use (`None`: all).
    pub fn interfaces(mut self, interfaces: Option<Vec<String>>) -> Self {
        self.interfaces = Some(interfaces);
        self
    }

    /// Turns Zeroconf on or off (the host-local registry always runs).
    pub fn mdns(mut self, on: bool) -> Self {
        self.mdns = Some(on);
        self
    }

    /// How long `call` waits for an answer by default (10 s).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// How long `send` waits for room in a slow peer's outbox before dropping for it (1 s).
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// Messages a subscriber holds before dropping its oldest (1024).
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    /// Sizes of the shared-memory segments this node creates (ring slots, inline bytes, message
    /// limit, chunk count).
    pub fn shm_config(mut self, config: crate::transport::shm::ShmConfig) -> Self {
        self.shm = config;
        self
    }

    /// The largest message this node sends, on any transport (default 64 MiB, at most 255 MiB).
    /// A larger one is refused with [`Error::MessageTooLarge`].
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message = Some(bytes);
        self
    }

    /// Slots in the ring of each shared-memory segment this node makes (a power of two; 1024):
    /// how many messages a same-host listener may fall behind before it loses the oldest.
    pub fn shm_depth(mut self, slots: usize) -> Self {
        self.shm.slots = slots.max(2);
        self
    }

    /// Ring and pool sizes for one topic this node publishes, instead of the node's (its message
    /// size limit still applies): a deeper ring for a bursty topic, more frames in flight for a
    /// camera whose listeners hold several.
    ///
    /// ```no_run
    /// # async fn f() -> rosy::Result<()> {
    /// use rosy::transport::shm::ShmConfig;
    /// let node = rosy::Node::builder("camera")
    ///     .shm_topic_config("camera/frames", ShmConfig { pool_chunks: 8, ..Default::default() })
    ///     .shm_topic_config("imu", ShmConfig { slots: 8192, ..Default::default() })
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn shm_topic_config(
        mut self,
        topic: impl Into<String>,
        config: crate::transport::shm::ShmConfig,
    ) -> Self {
        self.shm_topics.insert(topic.into(), config);
        self
    }

    /// Most chunk files a segment keeps for large messages in flight at once (4; at most 64).
    pub fn shm_pool_chunks(mut self, chunks: usize) -> Self {
        self.shm.pool_chunks = chunks.clamp(1, 64);
        self
    }

    /// Readers of shared memory spin instead of sleeping (lowest latency; a core stays busy).
    pub fn shm_busy_poll(mut self, on: bool) -> Self {
        self.shm_busy_poll = on;
        self
    }

    /// Marks a command-line tool's node, which `rosy node list` hides.
    pub fn tool(mut self, tool: bool) -> Self {
        self.tool = tool;
        self
    }

    /// A node that dials its peers and that no peer dials: for a tool that only looks at the
    /// mesh and calls services (`rosy service call`, `rosy node list`). Two such nodes never
    /// connect, so many of them at once (200 `rosy service call`s) make one connection each to
    /// every other node instead of a connection between every pair of them. Such a node still
    /// sends and listens over the connections it made, but never reaches another dial-only node.
    pub fn dial_only(mut self, dial_only: bool) -> Self {
        self.dial_only = dial_only;
        self
    }

    /// Whether a secure node connects to peers on its own host over a Unix socket in the
    /// domain's private registry directory (on by default) or over TLS like any other peer.
    /// A local link checks the peer's user with the kernel and its certificate as TLS would,
    /// and saves both ends a TLS handshake (see `rosy::transport::tcp::local`); turning it off
    /// is for measuring what TLS costs on one host. Plain nodes never make local links.
    /// Unset, `ROSY_LOCAL_LINKS=0` turns them off.
    pub fn local_links(mut self, local_links: bool) -> Self {
        self.local_links = Some(local_links);
        self
    }

    /// Messages this node publishes never go to nodes named `name` (its own subscribers
    /// included, if it is so named): a bridge publishing what came from elsewhere keeps it
    /// away from the bridges that would send it out again. Call once per name.
    pub fn never_routes_to(mut self, name: &str) -> Self {
        self.never_routes_to.push(name.to_string());
        self
    }

    /// Secures this node's links as `guard` says (see [`crate::security`]). Unset,
    /// `ROSY_SECURITY` and `ROSY_SECURITY_DIR` decide, through the installed provider.
    pub fn security(mut self, guard: crate::security::Guard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Starts the node: opens its listener, announces it and begins discovering peers.
    pub async fn build(self) -> Result<Node> {
        let invalid = |what, reason| Error::Invalid { what, reason };
        check_name("node", &self.name).map_err(|r| invalid("node name", r))?;
        // The one check of a domain id (it names files in /dev/shm): from the builder, else
        // ROSY_DOMAIN_ID, each error naming where the value came from.
        let domain: String = match self.domain_id {
            Some(d) => DomainId::new(d).map_err(|e| invalid("domain id", e.reason()))?,
            None => match std::env::var("ROSY_DOMAIN_ID") {
                Ok(d) if !d.is_empty() => {
                    DomainId::new(d).map_err(|e| invalid("ROSY_DOMAIN_ID", e.reason()))?
                }
                _ => DomainId::new("default").expect("a valid domain id"),
            },
        }
        .into();
        let transport = match self.transport {
            Some(t) => t,
            None => std::env::var("ROSY_TRANSPORT")
                .unwrap_or_default()
                .parse()
                .map_err(|r| invalid("ROSY_TRANSPORT", r))?,
        };
        let interfaces = match self.interfaces {
            Some(i) => i,
            None => interfaces_from_env(),
        };
        let mut shm = self.shm.clone();
        shm.max_message = match self.max_message {
            Some(m) => m,
            None => match std::env::var("ROSY_MAX_MESSAGE_SIZE") {
                Ok(v) if !v.trim().is_empty() => {
                    crate::units::parse_size(&v).map_err(|r| invalid("ROSY_MAX_MESSAGE_SIZE", r))?
                }
                _ => shm.max_message,
            },
        };
        let limit = crate::transport::shm::layout::MAX_MESSAGE_LIMIT - 4096;
        if shm.max_message == 0 || shm.max_message > limit {
            return Err(invalid(
                "maximum message size",
                format!(
                    "{} bytes is outside 1..={limit} (a TCP frame carries at most 256 MiB)",
                    shm.max_message
                ),
            ));
        }
        let env_number = |name: &'static str| -> Result<Option<u64>> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Some)
                    .ok_or_else(|| invalid(name, format!("{v:?} is not a positive whole number"))),
                _ => Ok(None),
            }
        };
        let defaults = crate::transport::tcp::link::LinkTimeouts::default();
        let link_timeouts = crate::transport::tcp::link::LinkTimeouts {
            handshake: match self.handshake_timeout {
                Some(d) => d,
                None => env_number("ROSY_HANDSHAKE_TIMEOUT_MS")?
                    .map_or(defaults.handshake, Duration::from_millis),
            },
            stall: match self.stall_timeout {
                Some(d) => d,
                None => env_number("ROSY_FRAME_STALL_TIMEOUT_MS")?
                    .map_or(defaults.stall, Duration::from_millis),
            },
        };
        let max_handshakes = match self.max_handshakes {
            Some(n) => n,
            None => env_number("ROSY_MAX_HANDSHAKES")?
                .map_or(super::mesh::admission::MAX_HANDSHAKES, |n| n as usize),
        };
        super::mesh::admission::raise_fd_limit();
        let mdns = self
            .mdns
            .unwrap_or_else(|| std::env::var("ROSY_MDNS").map(|v| v != "0").unwrap_or(true));

        let guard = match self.guard {
            Some(g) => g,
            None => crate::security::guard_from_env(&domain).map_err(|(w, r)| invalid(w, r))?,
        };
        if guard.mode != crate::security::SecurityMode::Off && guard.provider.is_none() {
            return Err(invalid(
                "security",
                format!("mode {} needs a provider (see rosy-security)", guard.mode),
            ));
        }
        if let Some(provider) = guard.sealing() {
            let granted = provider.own_name();
            if !crate::security::glob_match(&granted, &self.name) {
                return Err(invalid(
                    "node name",
                    format!(
                        "this node is named {:?} but its certificate grants the name {granted:?} \
                         (issue one with `rosy security issue DOMAIN --name {}`)",
                        self.name, self.name
                    ),
                ));
            }
        }
        let (listeners, endpoints) = bind(interfaces.as_deref()).await?;
        if transport != TransportPreference::Tcp {
            // Every domain's: a dead process's segment is only memory held for nobody.
            match crate::transport::shm::remove_stale_segments(None) {
                Ok(removed) if !removed.is_empty() => {
                    tracing::info!("removed {} stale shared-memory segments", removed.len())
                }
                Ok(_) => {}
                Err(e) => tracing::debug!("cannot scan /dev/shm for stale segments: {e}"),
            }
        }
        let host_id = host::host_id().map_err(Error::io("cannot determine the host id"))?;
        let mut transports = vec!["tcp".to_string()];
        if transport != TransportPreference::Tcp {
            transports.push("shm".to_string());
        }
        // A secure node's id begins with its key's id, which peers check against its
        // certificate: no node can take over the id of a node holding another key.
        let id = match guard.sealing() {
            Some(provider) => {
                let prefix = provider.id_prefix();
                let random = host::random_id();
                format!(
                    "{prefix}{}",
                    &random[..random.len().saturating_sub(prefix.len())]
                )
            }
            None => host::random_id(),
        };
        let own = NodeInfo {
            id,
            name: self.name.clone(),
            domain: domain.clone(),
            host_id,
            hostname: host::hostname(),
            pid: std::process::id(),
            endpoints: endpoints.clone(),
            transports,
            topics: Vec::new(),
            services: Vec::new(),
            version: 0,
            tool: self.tool,
            shm_topics: Vec::new(),
            shm_reading: Vec::new(),
            shm_problems: Vec::new(),
            denied: Vec::new(),
        };
        let announcement = Announcement {
            id: own.id.clone(),
            name: own.name.clone(),
            domain: domain.clone(),
            host_id: own.host_id.clone(),
            pid: own.pid,
            endpoints,
            version: 0,
            tool: self.tool,
            dial_only: self.dial_only,
        };
        // A secure node's local links, to same-host peers: it dials their sockets, and listens
        // on its own (made before the node is announced) unless it is dial-only.
        let registry_dir = crate::discovery::registry::domain_dir(&domain);
        let local_links = self
            .local_links
            .unwrap_or_else(|| std::env::var("ROSY_LOCAL_LINKS").map_or(true, |v| v != "0"))
            && guard
                .sealing()
                .is_some_and(|p| p.local_certificate().is_some());
        let local = match local_links && !self.dial_only {
            true => local_listener(&registry_dir, &own.id)?,
            false => None,
        };
        let mesh = Mesh::new(
            own,
            MeshConfig {
                strategy: self.strategy,
                send_timeout: self.send_timeout,
                queue_capacity: self.queue_capacity,
                transport,
                shm,
                shm_topics: self.shm_topics.clone(),
                shm_busy_poll: self.shm_busy_poll,
                link_timeouts,
                max_handshakes,
                dial_only: self.dial_only,
                never_routes_to: self.never_routes_to.clone(),
                policy: guard.sealing().and_then(|p| p.policy()),
                local_dir: local_links.then(|| registry_dir.clone()),
                guard,
            },
        );
        if let Some(provider) = mesh.config.guard.sealing() {
            // New rules (a replaced ACL) take effect at once: routes, shared memory, and the
            // links of peers revoked.
            let weak = std::sync::Arc::downgrade(&mesh);
            provider.watch(Box::new(move || {
                if let Some(mesh) = weak.upgrade() {
                    mesh.policy_changed();
                }
            }));
        }
        for listener in listeners {
            tokio::spawn(mesh.clone().run_listener(Listener::Tcp(listener)));
        }
        if let Some(local) = local {
            tokio::spawn(mesh.clone().run_listener(Listener::Local(local)));
        }
        let secure =
            mesh.config
                .guard
                .sealing()
                .map(|provider| crate::discovery::SecureDiscovery {
                    tag: provider.discovery_tag(&domain),
                });
        let (discovery, events) = Discovery::start(
            &DiscoveryConfig {
                domain,
                interfaces,
                mdns,
                registry: true,
                secure,
            },
            &announcement,
        )?;
        tokio::spawn(mesh.clone().run_discovery(events));
        Ok(Node::from_parts(
            mesh,
            discovery,
            self.codec,
            self.call_timeout,
            transport,
        ))
    }
}

/// Listens for local links at `<id>.sock` in the domain's registry directory `dir`, made
/// private (0700, this user's) first. `None` when the path is too long for a Unix socket
/// (a very long domain id): every link is then sealed, as without local links.
fn local_listener(dir: &std::path::Path, id: &str) -> Result<Option<LocalListener>> {
    crate::discovery::registry::make_private_dir(dir)?;
    let path = crate::transport::tcp::local::socket_path(dir, id);
    match LocalListener::bind(path.clone()) {
        Ok(listener) => Ok(Some(listener)),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            tracing::info!(
                "no local links: {} is too long for a Unix socket; same-host peers are \
                 reached over TLS",
                path.display()
            );
            Ok(None)
        }
        Err(e) => Err(Error::io(format!("cannot listen at {}", path.display()))(e)),
    }
}

fn interfaces_from_env() -> Option<Vec<String>> {
    let value = std::env::var("ROSY_INTERFACES").ok()?;
    let names: Vec<String> = value
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() || names.iter().any(|n| n == "all" || n == "*") {
        None
    } else {
        Some(names)
    }
}

/// Opens the TCP listener(s): on every address when `interfaces` is `None`, else on the IPv4
/// addresses of the named interfaces only (all on one port, which mDNS announces).
async fn bind(interfaces: Option<&[String]>) -> Result<(Vec<TcpListener>, Vec<SocketAddr>)> {
    let io = |what: String| Error::io(what);
    let all = if_addrs::get_if_addrs().map_err(io("cannot list network interfaces".into()))?;
    let v4 = |iface: &if_addrs::Interface| match iface.ip() {
        IpAddr::V4(ip) => Some(ip),
        IpAddr::V6(_) => None,
    };
    match interfaces {
        None => {
            let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))
                .await
                .map_err(io("cannot open a TCP listener".into()))?;
            let port = listener
                .local_addr()
                .map_err(io("listener address".into()))?
                .port();
            let mut endpoints: Vec<SocketAddr> =
                vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))];
            endpoints.extend(
                all.iter()
                    .filter(|i| !i.is_loopback())
                    .filter_map(v4)
                    .map(|ip| SocketAddr::from((ip, port))),
            );
            Ok((vec![listener], endpoints))
        }
        Some(names) => {
            let mut ips: Vec<Ipv4Addr> = Vec::new();
            for name in names {
                let found: Vec<Ipv4Addr> = all
                    .iter()
                    .filter(|i| &i.name == name)
                    .filter_map(v4)
                    .collect();
                if found.is_empty() {
                    return Err(Error::Invalid {
                        what: "network interface",
                        reason: format!(
                            "{name:?} has no IPv4 address here (ROSY_INTERFACES; interfaces: {})",
                            all.iter()
                                .map(|i| i.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
                ips.extend(found);
            }
            ips.sort();
            ips.dedup();
            let mut listeners = Vec::new();
            let mut endpoints = Vec::new();
            let mut port = 0;
            for ip in ips {
                let listener = TcpListener::bind((ip, port))
                    .await
                    .map_err(io(format!("cannot listen on {ip}:{port}")))?;
                let addr = listener
                    .local_addr()
                    .map_err(io("listener address".into()))?;
                port = addr.port();
                endpoints.push(addr);
                listeners.push(listener);
            }
            Ok((listeners, endpoints))
        }
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn build_refuses_a_domain_id_that_would_escape_its_directory() {
        for bad in ["..", ".", "a/b"] {
            let err = crate::node::Node::builder("n")
                .domain_id(bad)
                .build()
                .await
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"))
                .to_string();
            assert!(
                err.starts_with(&format!("invalid domain id: {bad:?}: ")) && err.contains("'_'"),
                "{err}"
            );
        }
    }
}
