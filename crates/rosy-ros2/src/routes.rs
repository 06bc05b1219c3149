//! What a bridge is asked to carry: the ROS 2 types and services it knows, which way each
//! topic or service crosses, and the bridge's settings. Data only: nothing here starts anything.

use crate::error::Ros2Error;
use ros2_client::{MessageTypeName, ServiceTypeName};
use rosy::qos::{Durability, History, Qos, Reliability};

/// A ROS 2 message type, by its full name (`sensor_msgs/msg/Image`). Any type can cross: one
/// rosy knows ([`Ros2Type::has_rosy_form`]) becomes its `rosy::msgs` (or plain Rust) form on
/// the rosy side; any other crosses as its CDR bytes, unchanged (ROS 2's serialized form,
/// encapsulation header first), announced as the ROS 2 type, so it can be recorded, replayed
/// and passed on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Ros2Type {
    package: String,
    name: String,
}

impl Ros2Type {
    /// `std_msgs/msg/String`, a rosy `String`.
    pub fn string() -> Ros2Type {
        Ros2Type::parse("std_msgs/msg/String").expect("a valid name")
    }

    /// `sensor_msgs/msg/Image`, a rosy [`RawImage`](rosy::msgs::RawImage) (rkyv: same-host
    /// readers read it in place).
    pub fn image() -> Ros2Type {
        Ros2Type::parse("sensor_msgs/msg/Image").expect("a valid name")
    }

    /// The type named `pkg/msg/Type` (or the short `pkg/Type`).
    pub fn parse(full: &str) -> Result<Ros2Type, Ros2Error> {
        let (package, name) = split_type_name(full, "msg", "sensor_msgs/msg/Image")?;
        Ok(Ros2Type {
            package: package.to_string(),
            name: name.to_string(),
        })
    }

    /// The full name (`sensor_msgs/msg/Image`).
    pub fn name(&self) -> String {
        format!("{}/msg/{}", self.package, self.name)
    }

    pub(crate) fn dds_type(&self) -> MessageTypeName {
        MessageTypeName::new(&self.package, &self.name)
    }
}

impl From<Ros2Type> for String {
    fn from(t: Ros2Type) -> String {
        t.name()
    }
}

impl TryFrom<String> for Ros2Type {
    type Error = Ros2Error;
    fn try_from(name: String) -> Result<Ros2Type, Ros2Error> {
        Ros2Type::parse(&name)
    }
}

impl std::fmt::Display for Ros2Type {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/msg/{}", self.package, self.name)
    }
}

/// The package and type of a ROS 2 interface name, `pkg/KIND/Type` or the short `pkg/Type`
/// (`KIND` is `msg` or `srv`); an error naming the name and showing `example` otherwise.
fn split_type_name<'a>(
    full: &'a str,
    kind: &str,
    example: &str,
) -> Result<(&'a str, &'a str), Ros2Error> {
    let what = if kind == "msg" { "message" } else { "service" };
    let parts: Vec<&str> = full.split('/').collect();
    let (package, name) = match parts.as_slice() {
        [package, k, name] if *k == kind => (*package, *name),
        [package, name] => (*package, *name),
        _ => {
            return Err(Ros2Error::Config(format!(
                "{full:?} is not a ROS 2 {what} type (expected pkg/{kind}/Type, e.g. {example})"
            )));
        }
    };
    let word = |w: &str| {
        !w.is_empty()
            && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !w.starts_with(|c: char| c.is_ascii_digit())
    };
    if !word(package) || !word(name) {
        return Err(Ros2Error::Config(format!(
            "{full:?} is not a ROS 2 {what} type (package and type are letters, digits and _)"
        )));
    }
    Ok((package, name))
}

/// Which way a route's messages cross.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// ROS 2 publishers' messages reach rosy listeners.
    FromRos2,
    /// rosy publishers' messages reach ROS 2 subscribers.
    ToRos2,
}

/// One topic crossing one way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicRoute {
    /// The topic's rosy name (`camera/image`).
    pub rosy_topic: String,
    /// The topic's ROS 2 name (`/camera/image`; a name without a leading `/` is taken from
    /// the root namespace).
    pub ros2_topic: String,
    /// What it carries.
    pub ros2_type: Ros2Type,
    /// Which way.
    pub direction: Direction,
    /// Its quality of service on both sides: reliability, durability (a transient-local route
    /// hands the last `depth` messages to late joiners on the far side) and history depth.
    pub qos: Qos,
}

impl TopicRoute {
    /// A route of `ros2_type` named `topic` on both sides, crossing `direction`.
    pub fn new(topic: &str, ros2_type: Ros2Type, direction: Direction) -> TopicRoute {
        TopicRoute {
            rosy_topic: topic.trim_start_matches('/').to_string(),
            ros2_topic: topic.to_string(),
            ros2_type,
            direction,
            qos: ros2_default_qos(),
        }
    }

    /// The route with quality of service `qos`.
    pub fn with_qos(mut self, qos: Qos) -> TopicRoute {
        self.qos = qos;
        self
    }
}

/// ROS 2's default QoS (`rmw_qos_profile_default`): reliable, volatile, keep last 10.
pub fn ros2_default_qos() -> Qos {
    Qos {
        history: History::KeepLast(10),
        reliability: Reliability::Reliable,
        durability: Durability::Volatile,
        ..Qos::default()
    }
}

/// The ROS 2 service types a route can carry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ros2Service {
    /// `std_srvs/srv/SetBool`; on rosy, a service taking a `bool` and answering an
    /// [`Outcome`](crate::types::Outcome).
    SetBool,
    /// `std_srvs/srv/Trigger`; on rosy, a service taking `()` and answering an
    /// [`Outcome`](crate::types::Outcome).
    Trigger,
    /// Any other service type (`pkg/srv/Type`): on rosy, a service in codec raw whose request
    /// and response are ROS 2's serialized form (the encapsulation header, then CDR), passed
    /// through unchanged.
    Opaque {
        /// The package (`nav2_msgs`).
        package: String,
        /// The type (`ClearEntireCostmap`).
        name: String,
    },
}

impl Ros2Service {
    /// The ROS 2 name of the type (`std_srvs/srv/SetBool`).
    pub fn name(&self) -> String {
        match self {
            Ros2Service::SetBool => "std_srvs/srv/SetBool".into(),
            Ros2Service::Trigger => "std_srvs/srv/Trigger".into(),
            Ros2Service::Opaque { package, name } => format!("{package}/srv/{name}"),
        }
    }

    /// The type named `pkg/srv/Type` (or the short `pkg/Type`).
    pub fn parse(full: &str) -> Result<Ros2Service, Ros2Error> {
        let (package, name) = split_type_name(full, "srv", "std_srvs/srv/SetBool")?;
        Ok(match (package, name) {
            ("std_srvs", "SetBool") => Ros2Service::SetBool,
            ("std_srvs", "Trigger") => Ros2Service::Trigger,
            _ => Ros2Service::Opaque {
                package: package.into(),
                name: name.into(),
            },
        })
    }

    pub(crate) fn dds_type(&self) -> ServiceTypeName {
        match self {
            Ros2Service::SetBool => ServiceTypeName::new("std_srvs", "SetBool"),
            Ros2Service::Trigger => ServiceTypeName::new("std_srvs", "Trigger"),
            Ros2Service::Opaque { package, name } => ServiceTypeName::new(package, name),
        }
    }
}

/// One service reachable from the other side. [`Direction::FromRos2`]: ROS 2 clients call a
/// rosy service (the bridge serves it in the ROS 2 graph); [`Direction::ToRos2`]: rosy callers
/// reach a ROS 2 service (the bridge provides it in the rosy mesh).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRoute {
    /// The service's rosy name.
    pub rosy_service: String,
    /// The service's ROS 2 name (`/set_flag`).
    pub ros2_service: String,
    /// Its type.
    pub ros2_type: Ros2Service,
    /// Which way calls go.
    pub direction: Direction,
}

impl ServiceRoute {
    /// A route of `ros2_type` named `service` on both sides, called `direction`.
    pub fn new(service: &str, ros2_type: Ros2Service, direction: Direction) -> ServiceRoute {
        ServiceRoute {
            rosy_service: service.trim_start_matches('/').to_string(),
            ros2_service: service.to_string(),
            ros2_type,
            direction,
        }
    }
}

/// What a bridge joins and how.
#[derive(Clone, Debug)]
pub struct BridgeConfig {
    /// The ROS 2 domain (`ROS_DOMAIN_ID`), 0 to 232.
    pub ros_domain_id: u16,
    /// The bridge's ROS 2 node name (as `ros2 node list` would show it).
    pub node_name: String,
    /// The topics that cross.
    pub topics: Vec<TopicRoute>,
    /// The services reachable from the other side.
    pub services: Vec<ServiceRoute>,
    /// Topics bridged on demand, by name pattern (none by default).
    pub auto: AutoBridge,
}

/// Topics bridged on demand: a topic whose name matches a pattern crosses once it has a
/// publisher on one side (not the bridge) and a subscriber on the other, of a type both sides
/// know (or any type, with `unknown_types`), with the publisher's reliability and durability.
/// Demand-driven, so that a camera nobody on the far side watches costs nothing; a route stops
/// once its demand has been gone for 3 s, and starts again when wanted. A topic with
/// publishers on both sides crosses one way only (the first seen), so nothing echoes back.
///
/// Patterns are ROS 2 names (`/camera/*`) where `*` matches any run of characters, `/`
/// included: `*` alone matches every topic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AutoBridge {
    /// Patterns of ROS 2 topics whose messages may reach rosy listeners.
    pub from_ros2: Vec<String>,
    /// Patterns of rosy topics (as ROS 2 names: `/` and the rosy name) whose messages may reach
    /// ROS 2 subscribers.
    pub to_ros2: Vec<String>,
    /// Whether types rosy has no form for also cross (as CDR bytes), not only the known ones.
    pub unknown_types: bool,
}

impl AutoBridge {
    /// Every topic whose type both sides know, both ways.
    pub fn everything_known() -> AutoBridge {
        AutoBridge {
            from_ros2: vec!["*".into()],
            to_ros2: vec!["*".into()],
            unknown_types: false,
        }
    }

    /// Whether nothing is bridged on demand.
    pub fn is_empty(&self) -> bool {
        self.from_ros2.is_empty() && self.to_ros2.is_empty()
    }
}

/// Whether the ROS 2 name `name` matches `pattern` (`*` matches any run of characters; a
/// pattern without a leading `/` is taken from the root).
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let pattern = if pattern.starts_with('/') || pattern.starts_with('*') {
        pattern.to_string()
    } else {
        format!("/{pattern}")
    };
    glob(pattern.as_bytes(), name.as_bytes())
}

/// `*`-only glob matching, iterative (backtracking to the last `*`).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

impl BridgeConfig {
    /// No topics yet, ROS 2 domain from `ROS_DOMAIN_ID` (0 when unset), node `rosy_bridge`.
    pub fn from_env() -> Result<BridgeConfig, Ros2Error> {
        let ros_domain_id = match std::env::var("ROS_DOMAIN_ID") {
            Ok(text) if !text.trim().is_empty() => parse_domain(&text)?,
            _ => 0,
        };
        Ok(BridgeConfig {
            ros_domain_id,
            node_name: "rosy_bridge".into(),
            topics: Vec::new(),
            services: Vec::new(),
            auto: AutoBridge::default(),
        })
    }
}

fn parse_domain(text: &str) -> Result<u16, Ros2Error> {
    match text.trim().parse::<u16>() {
        Ok(id) if id <= 232 => Ok(id),
        _ => Err(Ros2Error::Config(format!(
            "ROS_DOMAIN_ID {text:?} is not a ROS 2 domain id (0 to 232)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_with_stars() {
        assert!(pattern_matches("*", "/camera/image_raw"));
        assert!(pattern_matches("/camera/*", "/camera/image_raw"));
        assert!(pattern_matches("camera/*", "/camera/left/image_raw"));
        assert!(pattern_matches("/*/image_raw", "/camera/left/image_raw"));
        assert!(pattern_matches("/tf", "/tf"));
        assert!(!pattern_matches("/tf", "/tf_static"));
        assert!(!pattern_matches("/camera/*", "/lidar/points"));
        assert!(pattern_matches("/a*b*c", "/aXXbYYc"));
        assert!(!pattern_matches("/a*b*c", "/aXXbYY"));
    }

    #[test]
    fn type_names_parse_and_bad_ones_are_named() {
        assert_eq!(
            Ros2Type::parse("sensor_msgs/Image").unwrap().name(),
            "sensor_msgs/msg/Image"
        );
        let err = Ros2Type::parse("sensor msgs/msg/Image").unwrap_err();
        assert!(err.to_string().contains("sensor msgs"), "{err}");
        assert!(Ros2Type::parse("a/b/c/d").is_err());
        assert!(Ros2Type::parse("pkg/srv/Type").is_err());
    }
}
