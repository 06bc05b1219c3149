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
//! A secure node (see [`SecureDiscovery`]) announces a keyed tag over mDNS instead of its domain
//! id, name and pid, and keeps its registry directory 0700 with entries 0600, refusing a
//! directory another user owns. Either way, what discovery reports is a hint: the connection
//! authenticates.
//!
//! Discovery never routes messages and never opens connections: it only reports.

mod announcement;
mod config;
mod error;
mod event;
pub mod host;
pub mod mdns;
pub mod registry;

pub use announcement::Announcement;
pub use config::{DiscoveryConfig, SecureDiscovery};
pub use error::DiscoveryError;
pub use event::{DiscoveryEvent, Source};

use tokio::sync::mpsc;

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
            let private = config.secure.is_some();
            Some(registry::RegistryEntry::start(
                own,
                events.clone(),
                private,
            )?)
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
