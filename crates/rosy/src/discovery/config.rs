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
}
