//! [`DiscoveryConfig`]: which discovery sources a node runs, and on which interfaces.

/// Which discovery sources to run, and on which interfaces.
#[derive(Clone, Debug)]
pub struct DiscoveryConfig {
    /// The node's domain. The sources themselves take the domain from the
    /// [`Announcement`](crate::discovery::Announcement) they are given, which the node builder
    /// sets to the same value.
    pub domain: String,
    /// Network interfaces mDNS may use (`None`: all of them).
    pub interfaces: Option<Vec<String>>,
    /// Whether to announce the node and browse for peers over mDNS (peers on other hosts).
    pub mdns: bool,
    /// Whether to use the host-local registry (peers on this host).
    pub registry: bool,
    /// Secure mode's discovery (see [`SecureDiscovery`]); `None` for a plain node.
    pub secure: Option<SecureDiscovery>,
}

/// How a secure node announces itself. It hears nodes announcing its tag, and plain nodes of its
/// domain (which it dials: an enforcing node is then refused by them, and each side says which
/// lacks security).
#[derive(Clone, Debug)]
pub struct SecureDiscovery {
    /// Announced over mDNS instead of the domain id, node name and pid: only holders of the
    /// domain's credentials can compute it (`LinkSecurity::discovery_tag`).
    pub tag: String,
}
