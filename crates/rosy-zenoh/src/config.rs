//! [`BridgeConfig`]: what a bridge carries each way, how fast, and how it joins zenoh; read from
//! a YAML file (unknown keys are errors naming the key) or built in code. Nothing here opens a
//! session or touches the mesh.
//!
//! ```yaml
//! zenoh:
//!   config: /etc/rosy/zenoh.json5  # a zenoh config file, passed to zenoh unchanged
//!   mode: client                   # peer (default) or client
//!   connect: [tcp/192.0.2.1:7447]  # zenoh endpoints, added to the file's
//!   listen: []
//! topics:
//!   export: ["camera/*", status]   # topics of this site sent to others
//!   import: [cmd_vel]              # topics of other sites brought here
//! services:
//!   export: [arm/home]             # services of this site others may call
//!   import: ["map/**"]             # services of other sites callable here
//! limits:
//!   camera/image: {max_rate: 5}    # at most 5 messages a second leave, the newest kept
//! call_timeout: 30                 # seconds a call to another site may take (default 10)
//! ```

use crate::error::ZenohBridgeError;
use crate::pattern::{AllowList, matches};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the bridge joins a zenoh network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZenohSettings {
    /// A zenoh config file (JSON5), passed to zenoh unchanged: its TLS, QUIC and access
    /// control settings work as zenoh documents them.
    #[serde(default)]
    pub config: Option<PathBuf>,
    /// `peer` or `client` (of a router), over the file's.
    #[serde(default)]
    pub mode: Option<String>,
    /// Endpoints to connect to (`tcp/host:7447`), added to the file's.
    #[serde(default)]
    pub connect: Vec<String>,
    /// Endpoints to listen on, added to the file's.
    #[serde(default)]
    pub listen: Vec<String>,
}

/// An allow-list each way.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directions {
    /// Names of this site sent to, or served for, other sites.
    #[serde(default)]
    pub export: AllowList,
    /// Names of other sites brought into, or called from, this site.
    #[serde(default)]
    pub import: AllowList,
}

/// Settings of the topics a pattern matches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicLimit {
    /// At most this many messages a second leave the site (the newest is kept and sent at the
    /// next slot; others are dropped).
    #[serde(default)]
    pub max_rate: Option<f64>,
}

/// Everything a bridge needs to start.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    #[serde(default)]
    pub zenoh: ZenohSettings,
    #[serde(default)]
    pub topics: Directions,
    #[serde(default)]
    pub services: Directions,
    /// Per topic pattern.
    #[serde(default)]
    pub limits: BTreeMap<String, TopicLimit>,
    /// Seconds a call made here to another site's service may take, end to end: the bridge
    /// that takes the call in at the other site waits as long (default
    /// [`DEFAULT_CALL_TIMEOUT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_timeout: Option<f64>,
}

/// How long a call to another site may take when the config does not say.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest call bound a bridge accepts, from its config or from another site's call: a
/// day (a bound is a wait, and no wait here is meant to outlive that).
pub const MAX_CALL_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

impl BridgeConfig {
    /// Reads a bridge's YAML file.
    pub fn from_file(path: &Path) -> Result<Self, ZenohBridgeError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ZenohBridgeError::Config(format!("cannot read {}: {e}", path.display()))
        })?;
        Self::from_yaml(&text)
            .map_err(|e| ZenohBridgeError::Config(format!("{}: {e}", path.display())))
    }

    /// Parses a bridge's YAML text.
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let config: BridgeConfig = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        config.check()?;
        Ok(config)
    }

    /// Whether anything is bridged at all.
    pub fn carries_anything(&self) -> bool {
        !(self.topics.export.is_empty()
            && self.topics.import.is_empty()
            && self.services.export.is_empty()
            && self.services.import.is_empty())
    }

    /// Checks what serde cannot: rates, the call timeout and the zenoh mode.
    pub fn check(&self) -> Result<(), String> {
        if let Some(seconds) = self.call_timeout {
            if !(seconds.is_finite() && seconds > 0.0 && seconds <= MAX_CALL_TIMEOUT.as_secs_f64())
            {
                return Err(format!(
                    "call_timeout {seconds} is not a number of seconds above 0 and at most {} (a day)",
                    MAX_CALL_TIMEOUT.as_secs()
                ));
            }
        }
        for (pattern, limit) in &self.limits {
            if let Some(rate) = limit.max_rate {
                if !(rate.is_finite() && rate > 0.0) {
                    return Err(format!(
                        "limits: {pattern:?}: max_rate {rate} is not a positive number of messages a second"
                    ));
                }
            }
        }
        if let Some(mode) = &self.zenoh.mode {
            if mode != "peer" && mode != "client" {
                return Err(format!(
                    "zenoh: mode {mode:?} is neither peer nor client (a bridge is never a router: \
                     run zenohd for that)"
                ));
            }
        }
        Ok(())
    }

    /// The shortest time between two messages of `topic` leaving the site, if it is limited:
    /// when several patterns match, the lowest of their rates holds.
    pub fn min_period(&self, topic: &str) -> Option<Duration> {
        self.limits
            .iter()
            .filter(|(pattern, _)| matches(pattern, topic))
            .filter_map(|(_, limit)| limit.max_rate)
            .min_by(f64::total_cmp)
            .map(|rate| Duration::from_secs_f64(1.0 / rate))
    }

    /// How long a call made here to another site may take.
    pub fn call_bound(&self) -> Duration {
        self.call_timeout
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_CALL_TIMEOUT)
    }

    /// The zenoh config: the file's (or zenoh's defaults), then mode, endpoints.
    pub fn zenoh_config(&self) -> Result<zenoh::Config, ZenohBridgeError> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            ZenohBridgeError::Config(format!("zenoh config: {what}: {e}"))
        };
        let mut config = match &self.zenoh.config {
            Some(path) => zenoh::Config::from_file(path)
                .map_err(|e| bad(&format!("reading {}", path.display()), &e))?,
            None => zenoh::Config::default(),
        };
        if let Some(mode) = &self.zenoh.mode {
            config
                .insert_json5("mode", &format!("{mode:?}"))
                .map_err(|e| bad("mode", &e))?;
        }
        let list = |endpoints: &[String]| {
            serde_json::to_string(endpoints).expect("a list of strings serializes")
        };
        if !self.zenoh.connect.is_empty() {
            config
                .insert_json5("connect/endpoints", &list(&self.zenoh.connect))
                .map_err(|e| bad("connect", &e))?;
        }
        if !self.zenoh.listen.is_empty() {
            config
                .insert_json5("listen/endpoints", &list(&self.zenoh.listen))
                .map_err(|e| bad("listen", &e))?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_reads() {
        let config = BridgeConfig::from_yaml(
            "zenoh:\n  mode: client\n  connect: [tcp/127.0.0.1:7447]\n\
             topics:\n  export: [\"camera/*\", status]\n  import: [cmd_vel]\n\
             services:\n  export: [add]\n\
             limits:\n  camera/*: {max_rate: 5}\n\
             call_timeout: 2.5\n",
        )
        .unwrap();
        assert_eq!(config.call_bound(), Duration::from_millis(2500));
        assert_eq!(BridgeConfig::default().call_bound(), DEFAULT_CALL_TIMEOUT);
        assert!(config.topics.export.allows("camera/front"));
        assert!(config.topics.import.allows("cmd_vel"));
        assert!(config.services.export.allows("add") && config.services.import.is_empty());
        assert_eq!(
            config.min_period("camera/front"),
            Some(Duration::from_millis(200))
        );
        assert_eq!(config.min_period("status"), None);
        let both =
            BridgeConfig::from_yaml("limits:\n  camera/*: {max_rate: 5}\n  '**': {max_rate: 2}\n")
                .unwrap();
        assert_eq!(
            both.min_period("camera/front"),
            Some(Duration::from_millis(500))
        );
        config.zenoh_config().unwrap();
    }

    #[test]
    fn typos_and_bad_values_are_named() {
        let typo = BridgeConfig::from_yaml("topics:\n  exports: [a]\n").unwrap_err();
        assert!(typo.contains("exports"), "{typo}");
        let rate = BridgeConfig::from_yaml("limits:\n  a: {max_rate: 0}\n").unwrap_err();
        assert!(rate.contains("max_rate"), "{rate}");
        for bad in ["0", "-1", ".nan", "100000"] {
            let call = BridgeConfig::from_yaml(&format!("call_timeout: {bad}\n")).unwrap_err();
            assert!(call.contains("call_timeout"), "{call}");
        }
        let mode = BridgeConfig::from_yaml("zenoh:\n  mode: router\n").unwrap_err();
        assert!(mode.contains("zenohd"), "{mode}");
        let endpoint = BridgeConfig {
            zenoh: ZenohSettings {
                connect: vec!["nonsense".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(endpoint.zenoh_config().is_err());
    }
}
