//! What travels between a bridge's two sides besides samples (which are [`Cdr`](crate::cdr::Cdr)
//! bytes): service calls with where their answers go; and the bounds on both. Shared by the DDS side and the rosy side, which never
//! see each other otherwise.

use crate::types::Outcome;
use std::time::Duration;

/// Messages that wait between the two sides of one route at most.
pub(crate) const ROUTE_ROOM: usize = 16;

/// Where a service call's answer goes: the outcome, or why there is none.
pub(crate) type Answer = futures::channel::oneshot::Sender<Result<Outcome, String>>;

/// A service call on its way between the sides, with where its answer goes.
pub(crate) enum Call {
    SetBool(bool, Answer),
    Trigger(Answer),
}

/// How long a call to a ROS 2 service may take before the rosy caller is told it has no answer.
pub(crate) const ROS2_CALL_BOUND: Duration = Duration::from_secs(10);
