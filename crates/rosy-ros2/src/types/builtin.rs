//! `builtin_interfaces`: [`Time`], ROS 2's time stamp, and its conversions to and from
//! [`rosy::msgs::Timestamp`]. Plain serde values laid out as they travel in CDR; nothing here
//! touches DDS.

use rosy::msgs::Timestamp;
use serde::{Deserialize, Serialize};

/// `builtin_interfaces/msg/Time`; its rosy form is [`Timestamp`]. ROS 2 seconds are signed
/// and rosy's unsigned: a time before the epoch becomes the epoch (the seconds clamp to 0, the
/// nanoseconds stay), and a rosy time past 2038 becomes `i32::MAX` seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Time {
    /// Seconds since the Unix epoch (ROS 2 time is signed).
    pub sec: i32,
    /// Nanoseconds past `sec`.
    pub nanosec: u32,
}

impl ros2_client::Message for Time {}

impl From<Timestamp> for Time {
    fn from(t: Timestamp) -> Time {
        Time {
            // ROS 2 time is a signed 32-bit count of seconds; rosy's is unsigned. Past 2038 the
            // value is clamped rather than wrapped.
            sec: i32::try_from(t.sec).unwrap_or(i32::MAX),
            nanosec: t.nsec,
        }
    }
}

impl From<Time> for Timestamp {
    fn from(t: Time) -> Timestamp {
        Timestamp {
            // A time before the epoch has no rosy form: it becomes the epoch.
            sec: u32::try_from(t.sec).unwrap_or(0),
            nsec: t.nanosec,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_outside_the_other_range_are_clamped_not_wrapped() {
        let late = Timestamp {
            sec: u32::MAX,
            nsec: 5,
        };
        assert_eq!(Time::from(late).sec, i32::MAX);
        let early = Time {
            sec: -3,
            nanosec: 7,
        };
        assert_eq!(Timestamp::from(early), Timestamp { sec: 0, nsec: 7 });
    }
}
