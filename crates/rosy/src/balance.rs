//! Load balancing among nodes of one name.
//!
//! Nodes need not have unique names: same-name nodes form a group. A topic message goes to every
//! group listening, and within a group to one member chosen by the [`Strategy`] (or to all, with
//! [`Strategy::None`]). A service call goes to one provider among all that host the service.
//!
//! Plain data and functions: this module knows nothing of connections.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// How one member of a same-name group is picked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Each member in turn.
    #[default]
    RoundRobin,
    /// A member at random.
    Random,
    /// No balancing: every member gets every message.
    None,
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "round-robin" | "roundrobin" | "rr" => Ok(Strategy::RoundRobin),
            "random" => Ok(Strategy::Random),
            "none" | "all" => Ok(Strategy::None),
            _ => Err(format!(
                "unknown load-balancing strategy {s:?} (expected round-robin, random or none)"
            )),
        }
    }
}

/// Remembers whose turn it is, per (topic or service, group).
#[derive(Debug)]
pub struct Balancer {
    turns: Mutex<HashMap<(String, String), usize>>,
    seed: AtomicU64,
}

impl Default for Balancer {
    /// As [`Balancer::new`]. (A derived default seeded 0, and xorshift stays at 0 from 0: every
    /// random pick would have been the first member.)
    fn default() -> Self {
        Balancer::new()
    }
}

impl Balancer {
    /// A balancer where every group starts with its first member, its random picks seeded
    /// from the clock.
    pub fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1;
        Balancer {
            turns: Mutex::new(HashMap::new()),
            seed: AtomicU64::new(seed),
        }
    }

    fn random(&self, below: usize) -> usize {
        // xorshift64*: plenty for spreading load, not for secrets.
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.seed.store(x, Ordering::Relaxed);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) % below as u64) as usize
    }

    /// Picks from `members` (one group, in a stable order) the ones that get this message.
    pub fn pick<'a, T>(
        &self,
        key: &str,
        group: &str,
        members: &'a [T],
        strategy: Strategy,
    ) -> &'a [T] {
        if members.len() <= 1 || strategy == Strategy::None {
            return members;
        }
        let i = match strategy {
            Strategy::Random => self.random(members.len()),
            _ => {
                let mut turns = self.turns.lock().unwrap_or_else(|e| e.into_inner());
                let turn = turns
                    .entry((key.to_string(), group.to_string()))
                    .or_insert(0);
                let i = *turn % members.len();
                *turn = turn.wrapping_add(1);
                i
            }
        };
        &members[i..=i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_takes_turns_per_key_and_group() {
        let b = Balancer::new();
        let members = ["a", "b", "c"];
        let picks: Vec<&str> = (0..6)
            .map(|_| b.pick("t", "g", &members, Strategy::RoundRobin)[0])
            .collect();
        assert_eq!(picks, ["a", "b", "c", "a", "b", "c"]);
        assert_eq!(b.pick("other", "g", &members, Strategy::RoundRobin), ["a"]);
    }

    #[test]
    fn none_gives_everyone_and_random_spreads() {
        // A default balancer too: derived, it was seeded 0 and always picked the first.
        for b in [Balancer::new(), Balancer::default()] {
            let members = [1, 2, 3, 4];
            assert_eq!(b.pick("t", "g", &members, Strategy::None), members);
            let mut seen = [0; 4];
            for _ in 0..400 {
                seen[b.pick("t", "g", &members, Strategy::Random)[0] - 1] += 1;
            }
            assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
        }
    }

    #[test]
    fn strategies_parse_with_a_clear_error() {
        assert_eq!("random".parse::<Strategy>(), Ok(Strategy::Random));
        assert!(
            "fastest"
                .parse::<Strategy>()
                .unwrap_err()
                .contains("round-robin")
        );
    }
}
