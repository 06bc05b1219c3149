//! The ROS 2 graph as the bridge sees it: the publishers and subscribers of ROS 2 topics that
//! DDS discovery found, other than the bridge's own, with their ROS 2 names, types and QoS.
//! Built from RustDDS's discovery data by the DDS thread; plain data and conversions otherwise.

use crate::routes::{Ros2Type, ros2_default_qos};
use rosy::qos::{Durability, Qos, Reliability};
use rustdds::policy;

/// One publisher or subscriber of a ROS 2 topic.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ros2Endpoint {
    /// The topic's ROS 2 name (`/camera/image_raw`).
    pub topic: String,
    /// Its message type.
    pub ros2_type: Ros2Type,
    /// Its reliability and durability (history depth is not announced: ROS 2's default, 10).
    pub qos: Qos,
}

/// The ROS 2 graph as one bridge sees it, the bridge's own endpoints and node left out.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ros2Graph {
    /// The ROS 2 nodes (fully qualified names, `/talker`), as they announce themselves on
    /// `ros_discovery_info`.
    pub nodes: Vec<String>,
    /// Publishers (DDS writers) of ROS 2 topics.
    pub publishers: Vec<Ros2Endpoint>,
    /// Subscribers (DDS readers) of ROS 2 topics.
    pub subscribers: Vec<Ros2Endpoint>,
}

/// The name of the rosy service a bridge answers with its [`Ros2Graph`] (it takes `()`):
/// `ros2_graph/` and the bridge node's id, one per bridge. `rosy topic list` and `rosy node
/// list` call the ones they find ([`ros2_graphs`]).
pub const GRAPH_SERVICE_PREFIX: &str = "ros2_graph/";

/// The ROS 2 graphs the bridges in `node`'s mesh see, each with the name of the bridge's rosy
/// node; a bridge that does not answer within `timeout` is left out, with a warning naming it
/// (a tool's listing then lacks what that bridge sees, and says so).
pub async fn ros2_graphs(
    node: &rosy::Node,
    timeout: std::time::Duration,
) -> Vec<(String, Ros2Graph)> {
    let topology = node.topology();
    let mut found = Vec::new();
    for info in topology.nodes() {
        for service in &info.services {
            if service.name.starts_with(GRAPH_SERVICE_PREFIX) {
                found.push((info.name.clone(), service.name.clone()));
            }
        }
    }
    let mut graphs = Vec::new();
    for (bridge, service) in found {
        match node
            .call_timeout::<(), Ros2Graph>(&service, &(), timeout)
            .await
        {
            Ok(graph) => graphs.push((bridge, graph)),
            Err(e) => tracing::warn!(
                "the ROS 2 bridge {bridge} did not say what it sees of the ROS 2 graph ({e}): \
                 its ROS 2 nodes and topics are not listed"
            ),
        }
    }
    graphs
}

impl Ros2Graph {
    /// What `participant` has discovered, leaving out its own endpoints.
    pub(crate) fn discovered(
        participant: &rustdds::DomainParticipant,
        nodes: Vec<String>,
    ) -> Ros2Graph {
        use rustdds::RTPSEntity;
        let own = participant.guid().prefix;
        let publishers = participant
            .discovered_writers()
            .into_iter()
            .filter(|w| w.writer_proxy.remote_writer_guid.prefix != own)
            .filter_map(|w| {
                let data = &w.publication_topic_data;
                endpoint(
                    &data.topic_name,
                    &data.type_name,
                    data.reliability,
                    data.durability,
                )
            })
            .collect();
        let subscribers = participant
            .discovered_readers()
            .into_iter()
            .filter(|r| r.reader_proxy.remote_reader_guid.prefix != own)
            .filter_map(|r| {
                let data = &r.subscription_topic_data;
                let qos = data.qos();
                endpoint(
                    data.topic_name(),
                    data.type_name(),
                    qos.reliability(),
                    qos.durability(),
                )
            })
            .collect();
        Ros2Graph {
            nodes,
            publishers,
            subscribers,
        }
    }
}

fn endpoint(
    dds_topic: &str,
    dds_type: &str,
    reliability: Option<policy::Reliability>,
    durability: Option<policy::Durability>,
) -> Option<Ros2Endpoint> {
    let mut qos = ros2_default_qos();
    qos.reliability = match reliability {
        Some(policy::Reliability::BestEffort) => Reliability::BestEffort,
        _ => Reliability::Reliable,
    };
    qos.durability = match durability {
        Some(policy::Durability::Volatile) | None => Durability::Volatile,
        Some(_) => Durability::TransientLocal,
    };
    Some(Ros2Endpoint {
        topic: ros2_topic_of(dds_topic)?,
        ros2_type: ros2_type_of_dds(dds_type)?,
        qos,
    })
}

/// The ROS 2 name of a DDS topic that carries a ROS 2 topic (`rt/camera/image` is
/// `/camera/image`); `None` for services (`rq/`, `rr/`) and DDS-only topics.
pub(crate) fn ros2_topic_of(dds_topic: &str) -> Option<String> {
    dds_topic
        .strip_prefix("rt/")
        .filter(|rest| !rest.is_empty())
        .map(|rest| format!("/{rest}"))
}

/// The ROS 2 type of a DDS type name (`sensor_msgs::msg::dds_::Image_` is
/// `sensor_msgs/msg/Image`); `None` for other DDS types.
pub(crate) fn ros2_type_of_dds(dds_type: &str) -> Option<Ros2Type> {
    let (package, rest) = dds_type.split_once("::msg::dds_::")?;
    let name = rest.strip_suffix('_')?;
    Ros2Type::parse(&format!("{package}/msg/{name}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dds_names_map_to_ros2_names() {
        assert_eq!(
            ros2_topic_of("rt/camera/image_raw").as_deref(),
            Some("/camera/image_raw")
        );
        assert_eq!(ros2_topic_of("rq/set_flagRequest"), None);
        assert_eq!(ros2_topic_of("ros_discovery_info"), None);
        assert_eq!(ros2_topic_of("rt/"), None);
        assert_eq!(
            ros2_type_of_dds("sensor_msgs::msg::dds_::Image_").map(|t| t.name()),
            Some("sensor_msgs/msg/Image".to_string())
        );
        assert_eq!(
            ros2_type_of_dds("rmw_dds_common::msg::ParticipantEntitiesInfo"),
            None
        );
        assert_eq!(
            ros2_type_of_dds("std_srvs::srv::dds_::SetBool_Request_"),
            None
        );
    }

    #[test]
    fn announced_qos_maps_to_rosy_qos() {
        let latched = endpoint(
            "rt/map",
            "nav_msgs::msg::dds_::OccupancyGrid_",
            Some(policy::Reliability::Reliable {
                max_blocking_time: rustdds::Duration::ZERO,
            }),
            Some(policy::Durability::TransientLocal),
        )
        .unwrap();
        assert_eq!(latched.qos.durability, Durability::TransientLocal);
        assert_eq!(latched.qos.reliability, Reliability::Reliable);
        let sensor = endpoint(
            "rt/scan",
            "sensor_msgs::msg::dds_::LaserScan_",
            Some(policy::Reliability::BestEffort),
            None,
        )
        .unwrap();
        assert_eq!(sensor.qos.reliability, Reliability::BestEffort);
        assert_eq!(sensor.qos.durability, Durability::Volatile);
    }
}
