//! The `--qos-*` options shared by `topic send`, `topic echo`, `bag record` and `speedtest`.

use rosy::qos::{Durability, History, Qos, Reliability, WhenFull};

/// Quality of service of the command's publisher or subscriber (ROS 2's names).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct QosArgs {
    /// History depth: keep the last N messages (for a transient-local publisher: what late
    /// joiners get) [default: 1 for a transient-local publisher, else 1024]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub qos_depth: Option<u32>,
    /// best_effort (a slow listener loses the oldest) or reliable (asks that nothing be lost)
    #[arg(long, value_name = "POLICY", value_parser = parse_reliability)]
    pub qos_reliability: Option<Reliability>,
    /// volatile, or transient_local (a listener that starts later still gets the last
    /// --qos-depth messages, while the publisher runs)
    #[arg(long, value_name = "POLICY", value_parser = parse_durability)]
    pub qos_durability: Option<Durability>,
    /// A publisher's choice when a same-host listener has not taken the oldest message yet:
    /// drop_oldest (the listener loses it; the sender never waits) or wait (the sender goes
    /// at the listener's pace, up to its send timeout) [default: drop_oldest]
    #[arg(long, value_name = "POLICY", value_parser = parse_when_full)]
    pub qos_when_full: Option<WhenFull>,
}

fn parse_when_full(s: &str) -> Result<WhenFull, String> {
    s.parse()
}

fn parse_reliability(s: &str) -> Result<Reliability, String> {
    s.parse()
}

fn parse_durability(s: &str) -> Result<Durability, String> {
    s.parse()
}

impl QosArgs {
    /// The QoS these options ask for; a transient-local publisher keeps 1 message unless told.
    pub fn qos(&self, publisher: bool) -> Qos {
        let durability = self.qos_durability.unwrap_or_default();
        let mut qos = Qos {
            durability,
            reliability: self.qos_reliability.unwrap_or_default(),
            when_full: self.qos_when_full.unwrap_or_default(),
            ..Qos::default()
        };
        match self.qos_depth {
            Some(n) => qos.history = History::KeepLast(n),
            None if publisher && durability == Durability::TransientLocal => {
                qos.history = History::KeepLast(1)
            }
            None => {}
        }
        qos
    }
}
