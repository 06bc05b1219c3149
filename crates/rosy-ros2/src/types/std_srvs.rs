//! `std_srvs`: the requests and the shared response of `SetBool` and `Trigger`, the services
//! the bridge carries. Plain serde values laid out as they travel in CDR; nothing here touches
//! DDS. Their rosy side is the bridge's own (a rosy service answering an [`Outcome`]).

use serde::{Deserialize, Serialize};

/// `std_srvs/srv/SetBool` request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetBoolRequest {
    /// The value to set.
    pub data: bool,
}

/// `std_srvs/srv/Trigger` request: empty, but rosidl gives an empty message one byte, which
/// Fast DDS puts on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerRequest {
    /// Always 0.
    pub structure_needs_at_least_one_member: u8,
}

/// The response of `std_srvs/srv/SetBool` and of `std_srvs/srv/Trigger` (the same fields),
/// and of the rosy services that stand for them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Whether the call did what was asked.
    pub success: bool,
    /// What happened, for people.
    pub message: String,
}

impl ros2_client::Message for SetBoolRequest {}
impl ros2_client::Message for TriggerRequest {}
impl ros2_client::Message for Outcome {}
