//! On-demand routes ([`AutoBridge`]): which topics should cross now, from what each side has
//! (the ROS 2 graph the DDS thread noted, the rosy mesh's topology), and the task that starts
//! them. A topic crosses once it has a publisher on one side and a subscriber on the other,
//! neither being the bridge; it stops once that has not been so for [`GRACE`] (its reader or
//! writer and its rosy publisher or subscriber then go).

use crate::cdr::Cdr;
use crate::convert::{ros2_type_of, start_from_ros2, start_to_ros2};
use crate::crossing::ROUTE_ROOM;
use crate::dds::{DdsCommand, RosEnd};
use crate::graph::Ros2Graph;
use crate::routes::{AutoBridge, Direction, Ros2Type, TopicRoute, pattern_matches};
use rosy::codec::CodecId;
use rosy::qos::{History, Qos};
use rosy::topology::{TopicInfo, TopicRole};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the routes are looked at again when nothing on the rosy side changed (the ROS 2
/// graph changes are only polled).
const RECHECK: Duration = Duration::from_secs(1);

/// How long an on-demand route outlives its demand: a subscriber restarting, or a publisher
/// between two runs, does not tear it down.
pub(crate) const GRACE: Duration = Duration::from_secs(3);

/// The deepest history an on-demand route keeps on the ROS 2 side (a rosy publisher's default
/// depth, 1024 frames of a camera, is not a DDS writer's cache to keep).
const MAX_DEPTH: u32 = 10;

/// The routes that should start now: topics matching `auto`'s patterns with a publisher on one
/// side and a subscriber on the other, not yet `routed` (by ROS 2 name), one way per topic.
/// `rosy_topics` are the topics of the mesh's other nodes (the bridge's own left out).
pub(crate) fn wanted(
    auto: &AutoBridge,
    graph: &Ros2Graph,
    rosy_topics: &[TopicInfo],
    routed: &HashSet<String>,
) -> Vec<TopicRoute> {
    let mut routes: Vec<TopicRoute> = Vec::new();
    let taken = |routes: &[TopicRoute], name: &str| {
        routed.contains(name) || routes.iter().any(|r| r.ros2_topic == name)
    };
    for publisher in &graph.publishers {
        let name = &publisher.topic;
        let rosy_name = name.trim_start_matches('/');
        let listened = rosy_topics
            .iter()
            .any(|t| t.role == TopicRole::Listen && t.name == rosy_name);
        if listened
            && auto.from_ros2.iter().any(|p| pattern_matches(p, name))
            && (auto.unknown_types || publisher.ros2_type.has_rosy_form())
            && rosy::names::check_name("topic", rosy_name).is_ok()
            && !taken(&routes, name)
        {
            routes.push(
                TopicRoute::new(name, publisher.ros2_type.clone(), Direction::FromRos2)
                    .with_qos(capped(publisher.qos)),
            );
        }
    }
    for topic in rosy_topics.iter().filter(|t| t.role == TopicRole::Publish) {
        let name = format!("/{}", topic.name);
        let Some(ros2_type) = ros2_form(auto, topic) else {
            continue;
        };
        let subscribed = graph
            .subscribers
            .iter()
            .any(|s| s.topic == name && s.ros2_type == ros2_type);
        if subscribed
            && auto.to_ros2.iter().any(|p| pattern_matches(p, &name))
            && !taken(&routes, &name)
        {
            routes.push(
                TopicRoute::new(&name, ros2_type, Direction::ToRos2).with_qos(capped(topic.qos)),
            );
        }
    }
    routes
}

/// Whether an on-demand route still has a publisher on its source side and a subscriber on its
/// far side (the bridge's own endpoints are not in `graph` or `rosy_topics`).
pub(crate) fn still_wanted(
    route: &TopicRoute,
    graph: &Ros2Graph,
    rosy_topics: &[TopicInfo],
) -> bool {
    let rosy_has = |role: TopicRole| {
        rosy_topics
            .iter()
            .any(|t| t.role == role && t.name == route.rosy_topic)
    };
    let ros2_has = |endpoints: &[crate::graph::Ros2Endpoint]| {
        endpoints.iter().any(|e| e.topic == route.ros2_topic)
    };
    match route.direction {
        Direction::FromRos2 => ros2_has(&graph.publishers) && rosy_has(TopicRole::Listen),
        Direction::ToRos2 => rosy_has(TopicRole::Publish) && ros2_has(&graph.subscribers),
    }
}

/// The ROS 2 type a rosy topic crosses as: its rosy type's ROS 2 counterpart, or (with
/// `unknown_types`) the ROS 2 type a raw topic is announced as.
fn ros2_form(auto: &AutoBridge, topic: &TopicInfo) -> Option<Ros2Type> {
    if let Some(known) = ros2_type_of(&topic.type_name) {
        return Ros2Type::parse(known).ok();
    }
    if auto.unknown_types && topic.codec == CodecId::Raw {
        return Ros2Type::parse(&topic.type_name).ok();
    }
    None
}

fn capped(mut qos: Qos) -> Qos {
    qos.history = match qos.history {
        History::KeepLast(depth) => History::KeepLast(depth.clamp(1, MAX_DEPTH)),
        History::KeepAll => History::KeepLast(MAX_DEPTH),
    };
    qos
}

/// Starts on-demand routes as they become wanted, until the bridge stops (the task is
/// aborted). `routed` holds the ROS 2 names of the bridge's fixed routes.
pub(crate) async fn run_auto(
    node: rosy::Node,
    auto: AutoBridge,
    mut routed: HashSet<String>,
    graph: Arc<Mutex<Ros2Graph>>,
    commands: mpsc::Sender<DdsCommand>,
) {
    let own = node.id();
    let mut tasks = tokio::task::JoinSet::new();
    let mut active: Vec<Active> = Vec::new();
    loop {
        let seen = graph.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let rosy_topics: Vec<TopicInfo> = node
            .topology()
            .nodes()
            .filter(|n| n.id != own)
            .flat_map(|n| n.topics.iter().cloned())
            .collect();
        // Routes whose demand has gone for GRACE stop, and may start again later.
        let now = std::time::Instant::now();
        let mut kept = Vec::new();
        for mut route in active.drain(..) {
            if still_wanted(&route.route, &seen, &rosy_topics) {
                route.unwanted_since = None;
            } else if now.duration_since(*route.unwanted_since.get_or_insert(now)) >= GRACE {
                route.rosy_side.abort();
                let _ = commands
                    .send(DdsCommand::Drop(route.route.ros2_topic.clone()))
                    .await;
                routed.remove(&route.route.ros2_topic);
                tracing::info!(
                    "no longer bridging {}: nobody wants it",
                    route.route.ros2_topic
                );
                continue;
            }
            kept.push(route);
        }
        active = kept;
        for route in wanted(&auto, &seen, &rosy_topics, &routed) {
            routed.insert(route.ros2_topic.clone());
            match start(&node, &route, &commands, &mut tasks).await {
                Ok(rosy_side) => {
                    active.push(Active {
                        route: route.clone(),
                        rosy_side,
                        unwanted_since: None,
                    });
                    tracing::info!(
                        "bridging {} ({}) {}",
                        route.ros2_topic,
                        route.ros2_type,
                        match route.direction {
                            Direction::FromRos2 => "from ROS 2",
                            Direction::ToRos2 => "to ROS 2",
                        }
                    )
                }
                Err(e) => tracing::warn!("{} not bridged: {e}", route.ros2_topic),
            }
        }
        tokio::select! {
            _ = node.topology_changed() => {}
            _ = tokio::time::sleep(RECHECK) => {}
        }
    }
}

/// An on-demand route that runs: its rosy side's task, and since when nobody wants it.
struct Active {
    route: TopicRoute,
    rosy_side: tokio::task::AbortHandle,
    unwanted_since: Option<std::time::Instant>,
}

/// Starts one route: its rosy side here, its DDS side on the DDS thread.
async fn start(
    node: &rosy::Node,
    route: &TopicRoute,
    commands: &mpsc::Sender<DdsCommand>,
    tasks: &mut tokio::task::JoinSet<()>,
) -> Result<tokio::task::AbortHandle, crate::error::Ros2Error> {
    let (tx, rx) = mpsc::channel::<Cdr>(ROUTE_ROOM);
    let (rosy_side, end) = match route.direction {
        Direction::FromRos2 => (start_from_ros2(node, route, rx).await?, RosEnd::Reader(tx)),
        Direction::ToRos2 => (start_to_ros2(node, route, tx).await?, RosEnd::Writer(rx)),
    };
    let (done, made) = futures::channel::oneshot::channel();
    let stopped = || crate::error::Ros2Error::Config("the bridge is stopping".into());
    commands
        .send(DdsCommand::Topic(route.clone(), end, done))
        .await
        .map_err(|_| stopped())?;
    made.await.map_err(|_| stopped())??;
    Ok(tasks.spawn(rosy_side))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Ros2Endpoint;
    use crate::routes::ros2_default_qos;

    fn endpoint(topic: &str, type_name: &str) -> Ros2Endpoint {
        Ros2Endpoint {
            topic: topic.into(),
            ros2_type: Ros2Type::parse(type_name).unwrap(),
            qos: ros2_default_qos(),
        }
    }

    fn rosy(name: &str, role: TopicRole, type_name: &str, codec: CodecId) -> TopicInfo {
        TopicInfo {
            name: name.into(),
            role,
            codec,
            codec_name: String::new(),
            type_name: type_name.into(),
            qos: Qos::default(),
        }
    }

    #[test]
    fn a_topic_crosses_when_wanted_on_the_far_side_and_known() {
        let graph = Ros2Graph {
            nodes: Vec::new(),
            publishers: vec![
                endpoint("/chatter", "std_msgs/msg/String"),
                endpoint("/temp", "sensor_msgs/msg/Temperature"),
                endpoint("/unheard", "std_msgs/msg/String"),
            ],
            subscribers: vec![endpoint("/cmd_vel", "geometry_msgs/msg/Twist")],
        };
        let twist = std::any::type_name::<rosy::msgs::Twist>();
        let rosy_topics = vec![
            rosy("chatter", TopicRole::Listen, "", CodecId::MsgPack),
            rosy("temp", TopicRole::Listen, "", CodecId::MsgPack),
            rosy("cmd_vel", TopicRole::Publish, twist, CodecId::MsgPack),
            rosy("status", TopicRole::Publish, twist, CodecId::MsgPack),
        ];
        let routes = wanted(
            &AutoBridge::everything_known(),
            &graph,
            &rosy_topics,
            &HashSet::new(),
        );
        let got: Vec<(&str, Direction)> = routes
            .iter()
            .map(|r| (r.ros2_topic.as_str(), r.direction))
            .collect();
        // /temp: a type rosy does not know; /unheard: nobody listens; /status: no ROS 2
        // subscriber.
        assert_eq!(
            got,
            [
                ("/chatter", Direction::FromRos2),
                ("/cmd_vel", Direction::ToRos2)
            ]
        );
        assert_eq!(routes[1].qos.history, History::KeepLast(MAX_DEPTH));

        let mut auto = AutoBridge::everything_known();
        auto.unknown_types = true;
        auto.to_ros2.clear();
        let routed: HashSet<String> = ["/chatter".to_string()].into();
        let routes = wanted(&auto, &graph, &rosy_topics, &routed);
        let got: Vec<&str> = routes.iter().map(|r| r.ros2_topic.as_str()).collect();
        assert_eq!(got, ["/temp"], "routed ones and to_ros2 left out");
    }

    #[test]
    fn a_route_is_wanted_while_both_ends_are_there() {
        let chatter = TopicRoute::new("/chatter", Ros2Type::string(), Direction::FromRos2);
        let graph = Ros2Graph {
            nodes: Vec::new(),
            publishers: vec![endpoint("/chatter", "std_msgs/msg/String")],
            subscribers: Vec::new(),
        };
        let listener = rosy("chatter", TopicRole::Listen, "", CodecId::MsgPack);
        assert!(still_wanted(
            &chatter,
            &graph,
            std::slice::from_ref(&listener)
        ));
        assert!(!still_wanted(&chatter, &graph, &[]), "no rosy listener");
        assert!(
            !still_wanted(&chatter, &Ros2Graph::default(), &[listener]),
            "no ROS 2 publisher"
        );
        let status = TopicRoute::new("/status", Ros2Type::string(), Direction::ToRos2);
        let publisher = rosy("status", TopicRole::Publish, "", CodecId::MsgPack);
        let subscribed = Ros2Graph {
            nodes: Vec::new(),
            publishers: Vec::new(),
            subscribers: vec![endpoint("/status", "std_msgs/msg/String")],
        };
        assert!(still_wanted(
            &status,
            &subscribed,
            std::slice::from_ref(&publisher)
        ));
        assert!(!still_wanted(&status, &Ros2Graph::default(), &[publisher]));
    }

    #[test]
    fn a_topic_with_publishers_on_both_sides_crosses_one_way() {
        let graph = Ros2Graph {
            nodes: Vec::new(),
            publishers: vec![endpoint("/cmd_vel", "geometry_msgs/msg/Twist")],
            subscribers: vec![endpoint("/cmd_vel", "geometry_msgs/msg/Twist")],
        };
        let twist = std::any::type_name::<rosy::msgs::Twist>();
        let rosy_topics = vec![
            rosy("cmd_vel", TopicRole::Listen, twist, CodecId::MsgPack),
            rosy("cmd_vel", TopicRole::Publish, twist, CodecId::MsgPack),
        ];
        let routes = wanted(
            &AutoBridge::everything_known(),
            &graph,
            &rosy_topics,
            &HashSet::new(),
        );
        assert_eq!(routes.len(), 1);
        assert_eq!(routes[0].direction, Direction::FromRos2);
    }
}
