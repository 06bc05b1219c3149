//! rosy-ros2: a bridge between a rosy mesh and a ROS 2 graph, in pure Rust (no ROS
//! installation): the bridge is a ROS 2 node of its own, speaking DDS/RTPS as Fast DDS and
//! Cyclone DDS do (`rt/` topic names, `pkg::msg::dds_::Type_` type names, CDR payloads), and a
//! rosy node's publishers and subscribers on the other side.
//!
//! Any ROS 2 type crosses: the standard ones (`std_msgs`, `geometry_msgs`, `sensor_msgs` Image,
//! CompressedImage, PointCloud2, Imu, CameraInfo, `rcl_interfaces/msg/Log`; [`known_types`])
//! as their `rosy::msgs` or plain Rust form (frames as rkyv archives same-host readers read in
//! place), any other as its CDR bytes, unchanged, announced as the ROS 2 type. Routes are fixed
//! ([`TopicRoute`], with QoS mapped both ways, latched included) or made on demand by name
//! pattern ([`AutoBridge`]); `std_srvs/srv/SetBool` and `Trigger` calls cross each way. Each
//! bridge tells tools what it sees of the ROS 2 graph ([`ros2_graphs`]).
//!
//! How the files divide the work: `routes` (what is asked), `dds` (the DDS thread: readers,
//! writers, servers, clients and the graph it discovers, `graph`), `rosy_side` (the node's
//! publishers and subscribers), `convert` (the table of types with a rosy form), `cdr` (samples
//! as bytes), `auto` (on-demand routes), `bridge` (wiring), `types` (ROS 2 messages as serde
//! values), `definitions` (their `.msg` text, for bags).
//!
//! Its own crate, so that a robot that does not talk to ROS 2 never builds a DDS stack.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use rosy_ros2::{AutoBridge, Bridge, BridgeConfig, Direction, Ros2Type, TopicRoute};
//! let node = rosy::build_node("ros2-bridge").await?;
//! let mut config = BridgeConfig::from_env()?; // ROS_DOMAIN_ID
//! config.topics.push(TopicRoute::new("/camera/image_raw", Ros2Type::image(), Direction::FromRos2));
//! config.topics.push(TopicRoute::new("/status", Ros2Type::string(), Direction::ToRos2));
//! config.auto = AutoBridge::everything_known(); // the rest on demand
//! let bridge = Bridge::start(&node, config).await?;
//! node.forever().await;
//! # drop(bridge); Ok(()) }
//! ```
//!
//! Secure mode: the bridge's rosy side is the node it is given, secured as that node is (in a
//! secure domain, TLS 1.3 links and an identity granting its name; see `rosy-security`). Its
//! ROS 2 side is plain DDS, without SROS2: as open as the ROS 2 graph it joins, so whoever
//! reaches that graph reads and writes what the bridge carries. Bridge a secure domain only to a
//! ROS 2 graph trusted as much.

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
