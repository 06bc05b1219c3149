//! What a bridge is asked to carry: the ROS 2 types and services it knows, which way each
//! topic or service crosses, and the bridge's settings. Data only: nothing here starts anything.

use crate::error::Ros2Error;
use ros2_client::{MessageTypeName, ServiceTypeName};

/// The ROS 2 types a route can carry, each with its rosy form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ros2Type {
    /// `std_msgs/msg/String`; on rosy, a `String` (msgpack).
    String,
    /// `sensor_msgs/msg/Image`; on rosy, a [`RawImage`] (rkyv: same-host readers read it in
    /// place).
    Image,
}

impl Ros2Type {
    /// The ROS 2 name of the type (`std_msgs/msg/String`).
    pub fn name(self) -> &'static str {
        match self {
            Ros2Type::String => "std_msgs/msg/String",
            Ros2Type::Image => "sensor_msgs/msg/Image",
        }
    }

    /// The type for its ROS 2 name (`std_msgs/msg/String`, or the short `std_msgs/String`).
    pub fn from_name(name: &str) -> Option<Ros2Type> {
        match name {
            "std_msgs/msg/String" | "std_msgs/String" => Some(Ros2Type::String),
            "sensor_msgs/msg/Image" | "sensor_msgs/Image" => Some(Ros2Type::Image),
            _ => None,
        }
    }

    pub(crate) fn dds_type(self) -> MessageTypeName {
        match self {
            Ros2Type::String => MessageTypeName::new("std_msgs", "String"),
            Ros2Type::Image => MessageTypeName::new("sensor_msgs", "Image"),
        }
    }
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
}

impl TopicRoute {
    /// A route of `ros2_type` named `topic` on both sides, crossing `direction`.
    pub fn new(topic: &str, ros2_type: Ros2Type, direction: Direction) -> TopicRoute {
        TopicRoute {
            rosy_topic: topic.trim_start_matches('/').to_string(),
            ros2_topic: topic.to_string(),
            ros2_type,
            direction,
        }
    }
}

/// The ROS 2 service types a route can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ros2Service {
    /// `std_srvs/srv/SetBool`; on rosy, a service taking a `bool` and answering an
    /// [`Outcome`](crate::types::Outcome).
    SetBool,
    /// `std_srvs/srv/Trigger`; on rosy, a service taking `()` and answering an
    /// [`Outcome`](crate::types::Outcome).
    Trigger,
}

impl Ros2Service {
    /// The ROS 2 name of the type (`std_srvs/srv/SetBool`).
    pub fn name(self) -> &'static str {
        match self {
            Ros2Service::SetBool => "std_srvs/srv/SetBool",
            Ros2Service::Trigger => "std_srvs/srv/Trigger",
        }
    }

    /// The type for its ROS 2 name (`std_srvs/srv/SetBool`, or the short `std_srvs/SetBool`).
    pub fn from_name(name: &str) -> Option<Ros2Service> {
        match name {
            "std_srvs/srv/SetBool" | "std_srvs/SetBool" => Some(Ros2Service::SetBool),
            "std_srvs/srv/Trigger" | "std_srvs/Trigger" => Some(Ros2Service::Trigger),
            _ => None,
        }
    }

    pub(crate) fn dds_type(self) -> ServiceTypeName {
        match self {
            Ros2Service::SetBool => ServiceTypeName::new("std_srvs", "SetBool"),
            Ros2Service::Trigger => ServiceTypeName::new("std_srvs", "Trigger"),
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
