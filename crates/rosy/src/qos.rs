//! Quality of service of a topic endpoint, with ROS 2's names: how much history to keep,
//! whether a message may be lost, and whether a late joiner gets what was sent before it came.
//!
//! A [`Qos`] is given to [`Node::publisher_with_qos`](crate::Node::publisher_with_qos) and
//! [`Node::subscriber_with_qos`](crate::Node::subscriber_with_qos), and announced with the topic
//! in [`TopicInfo`](crate::topology::TopicInfo), so tools show it (`rosy topic info -v`).
//!
//! ```
//! use rosy::qos::{Durability, Qos};
//! // A map or a calibration: sent once, and every subscriber that comes later still gets it.
//! let latched = Qos::latched();
//! assert_eq!(latched.durability, Durability::TransientLocal);
//! assert_eq!(latched.depth(), 1);
//! // A camera: only the newest frame matters.
//! assert_eq!(Qos::sensor_data().depth(), 1);
//! assert_eq!("transient_local".parse::<Durability>(), Ok(Durability::TransientLocal));
//! ```
//!
//! This module only describes; `node` does what it says.

use serde::{Deserialize, Serialize};

/// How many messages are kept for a subscriber that has not read them yet, and for late joiners
/// of a transient-local publisher.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum History {
    /// The newest `n` (at least 1); older ones are dropped and counted as lost.
    KeepLast(u32),
    /// Everything, bounded only by [`KEEP_ALL_LIMIT`] messages.
    KeepAll,
}

/// The most messages `KeepAll` holds for one subscriber.
pub const KEEP_ALL_LIMIT: usize = 1 << 20;

/// Whether a message may be lost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reliability {
    /// A slow subscriber loses the oldest messages (counted); the publisher never waits.
    #[default]
    BestEffort,
    /// Nothing is dropped for that subscriber: when it falls behind, its node stops taking more
    /// (shared memory: the ring never overwrites a message it has not taken; TCP: its node stops
    /// reading the connection) and the publisher's `send` waits, up to the send timeout, then
    /// fails with [`Error::SlowSubscriber`](crate::Error::SlowSubscriber) naming it.
    Reliable,
}

/// Whether a subscriber that joins later gets messages sent before it joined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Durability {
    /// Only messages sent after it joined.
    #[default]
    Volatile,
    /// The last `depth` messages the publisher sent before it joined, once, in order, before
    /// newer ones, over shared memory and TCP alike, while the publisher lives.
    TransientLocal,
}

/// What a publisher does when a same-host subscriber has not taken the oldest message in its
/// shared-memory ring and a new one needs its place. A publisher's setting (a subscriber's is
/// ignored); not a ROS 2 policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WhenFull {
    /// Takes the oldest message back for the new one: the publisher never waits, and a slow
    /// best-effort subscriber loses the oldest (counted as lost). The newest always goes.
    #[default]
    DropOldest,
    /// Waits until every same-host subscriber has taken the oldest message (as zenoh's
    /// blocking publisher does): nothing is lost while readers keep up on average, and the
    /// publisher goes at their pace. Bounded by the send timeout, after which the oldest is
    /// taken back after all (best-effort subscribers) and the send goes on.
    Wait,
}

/// The quality of service of one publisher or subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Qos {
    /// How many messages are kept (ROS 2's history and depth).
    pub history: History,
    /// Whether a message may be lost.
    pub reliability: Reliability,
    /// Whether a late joiner gets messages sent before it joined.
    pub durability: Durability,
    /// A publisher's choice when a same-host subscriber is behind (absent from older peers'
    /// announcements: `DropOldest`).
    #[serde(default)]
    pub when_full: WhenFull,
}

impl Default for Qos {
    /// `keep_last(1024)`, best effort, volatile: rosy's behaviour without QoS.
    fn default() -> Self {
        Qos {
            history: History::KeepLast(1024),
            reliability: Reliability::BestEffort,
            durability: Durability::Volatile,
            when_full: WhenFull::DropOldest,
        }
    }
}

impl Qos {
    /// Keep the last `depth` messages (at least 1).
    pub fn keep_last(depth: u32) -> Qos {
        Qos {
            history: History::KeepLast(depth.max(1)),
            ..Qos::default()
        }
    }

    /// Sensors (cameras, LiDAR): the newest message only, best effort, volatile.
    pub fn sensor_data() -> Qos {
        Qos::keep_last(1)
    }

    /// "Latched": the last value reaches every subscriber that comes later (a map, a robot
    /// description, a calibration). Depth 1, transient local.
    pub fn latched() -> Qos {
        Qos::keep_last(1).transient_local()
    }

    /// This QoS, asking that nothing be dropped.
    pub fn reliable(mut self) -> Qos {
        self.reliability = Reliability::Reliable;
        self
    }

    /// This QoS, keeping history for late joiners.
    pub fn transient_local(mut self) -> Qos {
        self.durability = Durability::TransientLocal;
        self
    }

    /// This QoS, for a publisher that waits for its same-host subscribers rather than take back
    /// a message one of them has not taken yet (see [`WhenFull::Wait`]).
    pub fn wait_when_full(mut self) -> Qos {
        self.when_full = WhenFull::Wait;
        self
    }

    /// This QoS with history `history`.
    pub fn with_history(mut self, history: History) -> Qos {
        self.history = history;
        self
    }

    /// How many messages the history holds.
    pub fn depth(&self) -> usize {
        match self.history {
            History::KeepLast(n) => (n as usize).max(1),
            History::KeepAll => KEEP_ALL_LIMIT,
        }
    }

    /// The stronger of two QoS, field by field: what a node announces when several of its
    /// endpoints of one topic ask for different ones.
    pub fn strongest(self, other: Qos) -> Qos {
        let history = if self.depth() >= other.depth() {
            self.history
        } else {
            other.history
        };
        Qos {
            history,
            reliability: self.reliability.max(other.reliability),
            durability: self.durability.max(other.durability),
            when_full: if self.when_full == WhenFull::Wait {
                self.when_full
            } else {
                other.when_full
            },
        }
    }

    /// Why a subscriber asking `wanted` gets less from a publisher offering `self`, if it does
    /// (ROS 2's rule: a reliable subscriber needs a reliable publisher, a transient-local one a
    /// transient-local publisher). The pair still connects, with what the publisher offers.
    pub fn falls_short_of(&self, wanted: &Qos) -> Option<String> {
        let mut short = Vec::new();
        if wanted.reliability == Reliability::Reliable && self.reliability != Reliability::Reliable
        {
            short.push("the subscriber asks reliable, the publisher offers best effort");
        }
        if wanted.durability == Durability::TransientLocal
            && self.durability != Durability::TransientLocal
        {
            short.push("the subscriber asks transient local, the publisher offers volatile");
        }
        (!short.is_empty()).then(|| short.join("; "))
    }
}

impl PartialOrd for Reliability {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Reliability {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (*self as u8).cmp(&(*other as u8))
    }
}

impl PartialOrd for Durability {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Durability {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (*self as u8).cmp(&(*other as u8))
    }
}

impl std::fmt::Display for Qos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let history = match self.history {
            History::KeepLast(n) => format!("keep_last({n})"),
            History::KeepAll => "keep_all".to_string(),
        };
        write!(f, "{history}, {}, {}", self.reliability, self.durability)
    }
}

impl std::fmt::Display for WhenFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WhenFull::DropOldest => "drop_oldest",
            WhenFull::Wait => "wait",
        })
    }
}

impl std::str::FromStr for WhenFull {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "drop_oldest" | "drop-oldest" => Ok(WhenFull::DropOldest),
            "wait" => Ok(WhenFull::Wait),
            _ => Err(format!(
                "unknown when-full policy {s:?} (expected drop_oldest or wait)"
            )),
        }
    }
}

impl std::fmt::Display for Reliability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reliability::BestEffort => "best_effort",
            Reliability::Reliable => "reliable",
        })
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Durability::Volatile => "volatile",
            Durability::TransientLocal => "transient_local",
        })
    }
}

impl std::str::FromStr for Reliability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "best_effort" | "best-effort" => Ok(Reliability::BestEffort),
            "reliable" => Ok(Reliability::Reliable),
            _ => Err(format!(
                "unknown reliability {s:?} (expected best_effort or reliable)"
            )),
        }
    }
}

impl std::str::FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "volatile" => Ok(Durability::Volatile),
            "transient_local" | "transient-local" => Ok(Durability::TransientLocal),
            _ => Err(format!(
                "unknown durability {s:?} (expected volatile or transient_local)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strongest_of_two_and_what_falls_short() {
        let a = Qos::keep_last(5).reliable();
        let b = Qos::latched();
        let s = a.strongest(b);
        assert_eq!(s.depth(), 5);
        assert_eq!(s.reliability, Reliability::Reliable);
        assert_eq!(s.durability, Durability::TransientLocal);
        assert_eq!(Qos::default().falls_short_of(&Qos::default()), None);
        let short = Qos::default().falls_short_of(&s).unwrap();
        assert!(
            short.contains("reliable") && short.contains("transient local"),
            "{short}"
        );
        assert_eq!(s.to_string(), "keep_last(5), reliable, transient_local");
        assert!(
            "sometimes"
                .parse::<Reliability>()
                .unwrap_err()
                .contains("best_effort")
        );
    }

    #[test]
    fn a_waiting_publisher_is_the_strongest_and_older_announcements_drop_the_oldest() {
        let waits = Qos::sensor_data().wait_when_full();
        assert_eq!(waits.strongest(Qos::default()).when_full, WhenFull::Wait);
        assert_eq!(Qos::default().strongest(waits).when_full, WhenFull::Wait);
        assert_eq!(Qos::default().when_full, WhenFull::DropOldest);
        assert_eq!("wait".parse::<WhenFull>(), Ok(WhenFull::Wait));
        assert!(
            "block"
                .parse::<WhenFull>()
                .unwrap_err()
                .contains("drop_oldest")
        );
        // A peer of the version before `when_full` announces three fields.
        #[derive(Serialize)]
        struct Older {
            history: History,
            reliability: Reliability,
            durability: Durability,
        }
        let older = Older {
            history: History::KeepLast(3),
            reliability: Reliability::Reliable,
            durability: Durability::Volatile,
        };
        let bytes = rmp_serde::to_vec(&older).unwrap();
        let read: Qos = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(read, Qos::keep_last(3).reliable());
        let named = rmp_serde::to_vec_named(&older).unwrap();
        assert_eq!(rmp_serde::from_slice::<Qos>(&named).unwrap(), read);
    }
}
