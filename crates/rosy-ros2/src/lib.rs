//! rosy-ros2: a bridge between a rosy mesh and a ROS 2 graph, in pure Rust (no ROS
//! installation): the bridge is a ROS 2 node of its own, speaking DDS/RTPS as Fast DDS and
//! Cyclone DDS do (`rt/` topic names, `pkg::msg::dds_::Type_` type names, CDR payloads), and a
//! rosy node's publishers and subscribers on the other side.
//!
//! What crosses today: topics of `std_msgs/msg/String` and `sensor_msgs/msg/Image`, each way,
//! with ROS 2's default QoS (reliable, volatile, keep last 10), and calls of
//! `std_srvs/srv/SetBool` and `std_srvs/srv/Trigger` services, each way. Images land in rosy as
//! [`rosy::msgs::RawImage`] archives, which same-host rosy readers read in place.
//!
//! Its own crate, so that a robot that does not talk to ROS 2 never builds a DDS stack.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use rosy_ros2::{Bridge, BridgeConfig, Direction, Ros2Type, TopicRoute};
//! let node = rosy::build_node("ros2-bridge").await?;
//! let mut config = BridgeConfig::from_env()?; // ROS_DOMAIN_ID
//! config.topics.push(TopicRoute::new("/camera/image_raw", Ros2Type::image(), Direction::FromRos2));
//! config.topics.push(TopicRoute::new("/status", Ros2Type::string(), Direction::ToRos2));
//! let bridge = Bridge::start(&node, config).await?;
//! node.forever().await;
//! # drop(bridge); Ok(()) }
//! ```
//!
//! Secure mode: not yet. A bridge joins the ROS 2 graph without SROS2 and the rosy mesh as a
//! plain node.

mod auto;
mod bad;
mod bridge;
mod cdr;
mod convert;
mod crossing;
mod dds;
mod definitions;
mod error;
mod graph;
mod rosy_side;
mod routes;
pub mod types;

pub use bridge::Bridge;
pub use convert::{known_types, ros2_type_of, to_ros2_serialized};
pub use definitions::ros2_definition;
pub use error::Ros2Error;
pub use graph::{GRAPH_SERVICE_PREFIX, Ros2Endpoint, Ros2Graph, ros2_graphs};
pub use routes::{
    AutoBridge, BridgeConfig, Direction, Ros2Service, Ros2Type, ServiceRoute, TopicRoute,
    pattern_matches, ros2_default_qos,
};
