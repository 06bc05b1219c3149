//! Discovery: finding the other nodes of this node's domain and where to reach them.
//!
//! Two sources feed one stream of [`DiscoveryEvent`]s:
//! - [`registry`]: a directory in shared memory (`/dev/shm/rosy-registry/<domain>/`) where every
//!   node on this host keeps a small file, watched with inotify. It works where multicast does
//!   not (containers, CI) and notices a `kill -9` within [`registry::SCAN_EVERY`] (within
//!   [`registry::STALE_AFTER`] when the dead node ran in another pid namespace).
//! - [`mdns`]: Zeroconf, service type `_rosy._tcp.local.`, for nodes on other hosts.
//!
//! Discovery announces only what is needed to connect (id, name, domain, host id, endpoints,
//! topology version). The full node info (topics, services) travels over the connection itself,
//! so a node with 500 topics is known whole without stuffing mDNS TXT records.
//!
//! Discovery never routes messages and never opens connections: it only reports.

pub mod host;
pub mod mdns;
pub mod registry;

use crate::topology::NodeId;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use tokio::sync::mpsc;

/// What discovery says about a node: enough to connect to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// The node's id: 32 hex digits, new for every node instance.
    pub id: NodeId,
    /// The node's name (over mDNS, cut to at most 200 bytes).
    pub name: String,
    /// The domain the node belongs to; discovery reports only nodes of its own domain.
    pub domain: String,
    /// Equal for two nodes exactly when they share /dev/shm (see [`host::host_id`]).
    pub host_id: String,
    /// The node's process id (0 when an mDNS record gave none).
    pub pid: u32,
    /// TCP addresses the node accepts connections on (over mDNS: its IPv4 addresses, with the
    /// port it registered).
    pub endpoints: Vec<SocketAddr>,
    /// The version of the node's [`NodeInfo`](crate::topology::NodeInfo) when it was
    /// announced: a node announces 0 as it starts, and its later versions travel over its
    /// connections, not through discovery.
    pub version: u64,
    /// A command-line tool's node (`rosy topic echo`...), which `rosy node list` hides.
    pub tool: bool,
    /// The node dials its peers and is dialed by nobody: a tool that only looks and calls
    /// (`rosy service call`, `node list`), which needs no connection to other such tools.
    #[serde(default)]
    pub dial_only: bool,
}

/// A change seen by a discovery source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscoveryEvent {
    /// A node exists (first seen, or its announcement changed).
    Seen(Announcement),
    /// A node said goodbye, or stopped refreshing its registry entry.
    Gone(NodeId),
}

/// A discovery failure at start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The host-local registry could not be used: its directory not made, this node's entry
    /// not written, or its thread not started.
    #[error("cannot use the host-local registry at {path}: {source}")]
    Registry {
        /// The domain's registry directory ([`registry::domain_dir`]).
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// mDNS could not start: the daemon, its interfaces, the registration, the browse or its
    /// thread failed, as the text says. Only an error when the registry is off; otherwise the
    /// node goes on without mDNS, finding only same-host peers.
    #[error("mDNS: {0}")]
    Mdns(String),
}

/// Which discovery sources to run, and on which interfaces.
#[derive(Clone, Debug)]
pub struct DiscoveryConfig {
    /// The node's domain. The sources themselves take the domain from the [`Announcement`]
    /// they are given, which the node builder sets to the same value.
    pub domain: String,
    /// Network interfaces mDNS may use (`None`: all of them).
    pub interfaces: Option<Vec<String>>,
    /// Whether to announce the node and browse for peers over mDNS (peers on other hosts).
    pub mdns: bool,
    /// Whether to use the host-local registry (peers on this host).
    pub registry: bool,
}

/// The running discovery sources of one node. Dropping it withdraws the node.
pub struct Discovery {
    registry: Option<registry::RegistryEntry>,
    mdns: Option<mdns::MdnsAnnouncer>,
}

impl Discovery {
    /// Announces `own` and starts watching for peers; events arrive on the returned receiver.
    pub fn start(
        config: &DiscoveryConfig,
        own: &Announcement,
    ) -> Result<(Self, mpsc::UnboundedReceiver<DiscoveryEvent>), DiscoveryError> {
        let (events, receiver) = mpsc::unbounded_channel();
        let registry = if config.registry {
            Some(registry::RegistryEntry::start(own, events.clone())?)
        } else {
            None
        };
        let mdns = if config.mdns {
            match mdns::MdnsAnnouncer::start(config, own, events) {
                Ok(m) => Some(m),
                // Multicast may be missing (containers); the registry still finds same-host peers.
                Err(e) if registry.is_some() => {
                    tracing::warn!("mDNS unavailable, only same-host peers will be found: {e}");
                    None
                }
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        Ok((Discovery { registry, mdns }, receiver))
    }

    /// Withdraws the node: removes its registry entry and says goodbye on mDNS.
    pub fn close(&mut self) {
        if let Some(r) = self.registry.take() {
            r.close();
        }
        if let Some(m) = self.mdns.take() {
            m.close();
        }
    }
}

impl Drop for Discovery {
    fn drop(&mut self) {
        self.close();
    }
}
