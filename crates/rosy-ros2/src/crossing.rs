//! What travels between a bridge's two sides besides samples (which are
//! [`Cdr`](crate::cdr::Cdr) bytes): service calls with where their answers go; and the bounds on
//! both. Shared by the DDS side and the rosy side, which never see each other otherwise.

use crate::cdr::RawBody;
use crate::types::Outcome;
use std::time::Duration;

/// Messages that wait between the two sides of one route at most.
pub(crate) const ROUTE_ROOM: usize = 16;

/// Where a service call's answer goes: the response, or why there is none.
pub(crate) type Answer<R = Outcome> = futures::channel::oneshot::Sender<Result<R, String>>;

/// A service call on its way between the sides, with where its answer goes.
pub(crate) enum Call {
    SetBool(bool, Answer),
    Trigger(Answer),
    /// A call of a service type rosy has no form for: the request's CDR body, answered with the
    /// response's.
    Opaque(RawBody, Answer<RawBody>),
}

/// How long a call to a ROS 2 service may take before the rosy caller is told it has no answer.
pub(crate) const ROS2_CALL_BOUND: Duration = Duration::from_secs(10);
