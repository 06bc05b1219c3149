//! [`Announcement`]: what discovery says about a node, enough to connect to it.

use crate::topology::NodeId;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// What discovery says about a node: enough to connect to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// The node's id: 32 hex digits, new for every node instance.
    pub id: NodeId,
    /// The node's name (over mDNS, cut to at most 200 bytes).
    pub name: String,
    /// The domain the node belongs to; discovery reports only nodes of its own domain.
    pub domain: String,
    /// Equal for two nodes exactly when they share /dev/shm (see
    /// [`host::host_id`](crate::discovery::host::host_id)).
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
