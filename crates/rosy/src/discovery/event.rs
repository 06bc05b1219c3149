//! [`DiscoveryEvent`]: a change a discovery source reports, a node seen or gone, and which
//! source said it.

use super::announcement::Announcement;
use crate::topology::NodeId;

/// Which discovery source reported an event. The mesh keeps what each says apart: anyone on
/// the LAN can speak mDNS, only this host's processes (only this user's, in secure mode) write
/// the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// The host-local registry ([`registry`](super::registry)).
    Registry,
    /// Zeroconf ([`mdns`](super::mdns)).
    Mdns,
}

/// A change seen by a discovery source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscoveryEvent {
    /// A node exists (first seen, or its announcement changed).
    Seen(Announcement, Source),
    /// A node said goodbye, or stopped refreshing its registry entry.
    Gone(NodeId, Source),
}
