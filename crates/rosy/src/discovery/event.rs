//! [`DiscoveryEvent`]: a change a discovery source reports, a node seen or gone.

use super::announcement::Announcement;
use crate::topology::NodeId;

/// A change seen by a discovery source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscoveryEvent {
    /// A node exists (first seen, or its announcement changed).
    Seen(Announcement),
    /// A node said goodbye, or stopped refreshing its registry entry.
    Gone(NodeId),
}
