//! `rosy ros2 bridge [CONFIG]`: a process that joins this domain's rosy mesh to a ROS 2 graph
//! (`rosy_ros2::Bridge`), with the topics that cross given on the command line or in a YAML
//! file. Reads the file strictly (an unknown key or type is an error naming it); never touches
//! a topic it was not given.

use super::error::CliError;
use super::units::parse_seconds;
use rosy::qos::{Durability, History, Qos, Reliability};
use rosy_ros2::{
    AutoBridge, Bridge, BridgeConfig, Direction, Ros2Service, Ros2Type, ServiceRoute, TopicRoute,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// ROS 2 interop.
#[derive(Debug, clap::Subcommand)]
pub enum Ros2Command {
    /// Bridge topics between this rosy domain and a ROS 2 graph on ROS_DOMAIN_ID, until Ctrl-C.
    Bridge(BridgeArgs),
    /// List the ROS 2 message types rosy converts to a rosy form (others cross as CDR bytes).
    Types,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Any ROS 2 message type crosses. The ones rosy knows become their rosy form (std_msgs/msg/String \
a String, sensor_msgs/msg/Image a rosy::msgs::RawImage, geometry_msgs, Imu, CameraInfo, \
PointCloud2, rcl_interfaces/msg/Log...; `rosy ros2 types` lists them); any other crosses as its \
CDR bytes, unchanged (ROS 2's serialized form), announced as the ROS 2 type. QoS: ROS 2's \
default (reliable, volatile, keep last 10) unless the file says otherwise. Services: \
std_srvs/srv/SetBool (a rosy service taking a bool) and std_srvs/srv/Trigger (taking ()), both \
answering {success, message}; any other service type crosses as ROS 2's serialized form (codec \
raw), request and response unchanged.

With no topic, service or pattern given, every topic whose type both sides know is bridged on \
demand: once it has a publisher on one side and a subscriber on the other (neither being the \
bridge), with the publisher's reliability and durability, until that has not been so for 3 s; \
a topic with publishers on both sides crosses one way only. A PATTERN (`*` matches any run of characters, `/` included) limits that \
to the names it matches.

Secure mode (ROSY_SECURITY=enforce): the bridge's rosy links are TLS like any node's (its \
identity must grant the name ros2-bridge); its ROS 2 side is plain DDS, as open as that graph.

CONFIG is YAML:

  ros_domain_id: 0            # optional; else --ros-domain-id, ROS_DOMAIN_ID, 0
  node_name: rosy_bridge      # optional: the bridge's ROS 2 node name
  topics:
    - topic: /camera/image_raw
      type: sensor_msgs/msg/Image
      direction: from_ros2    # or to_ros2
      rosy_topic: camera/raw  # optional; default: the topic without its leading /
    - topic: /map_name
      type: std_msgs/msg/String
      direction: to_ros2
      qos:                    # optional; each key optional (ROS 2's defaults)
        reliability: reliable # or best_effort
        durability: transient_local  # latched: late joiners get the last `depth` (or volatile)
        depth: 1              # keep last N
  from_ros2: ['/camera/*']   # optional: patterns bridged on demand, ROS 2 to rosy
  to_ros2: ['/cmd_vel']      #           and rosy to ROS 2
  unknown_types: false       # optional: on-demand topics of any type, not only known ones
  services:
    - service: /set_flag
      type: std_srvs/srv/SetBool
      direction: to_ros2      # rosy callers reach the ROS 2 service; from_ros2: the reverse
      rosy_service: set_flag  # optional

Unknown keys and types are errors, named with the file's line.")]
pub struct BridgeArgs {
    /// A YAML file of the topics that cross (see below).
    pub config: Option<PathBuf>,
    /// A ROS 2 topic whose messages reach rosy listeners, as TOPIC=TYPE; or a name PATTERN
    /// (`/camera/*`) bridged on demand (repeatable).
    #[arg(long = "from-ros2", value_name = "TOPIC=TYPE|PATTERN")]
    pub from_ros2: Vec<String>,
    /// A rosy topic whose messages reach ROS 2 subscribers, as TOPIC=TYPE; or a name PATTERN
    /// bridged on demand (repeatable).
    #[arg(long = "to-ros2", value_name = "TOPIC=TYPE|PATTERN")]
    pub to_ros2: Vec<String>,
    /// Topics bridged on demand may be of any type (those rosy has no form for cross as CDR
    /// bytes), not only the types both sides know.
    #[arg(long)]
    pub unknown_types: bool,
    /// A rosy service ROS 2 clients may call, as SERVICE=TYPE (repeatable).
    #[arg(long = "from-ros2-service", value_name = "SERVICE=TYPE")]
    pub from_ros2_services: Vec<String>,
    /// A ROS 2 service rosy callers may reach, as SERVICE=TYPE (repeatable).
    #[arg(long = "to-ros2-service", value_name = "SERVICE=TYPE")]
    pub to_ros2_services: Vec<String>,
    /// The ROS 2 domain, 0 to 232 (default: the file's, else ROS_DOMAIN_ID, else 0).
    #[arg(long, value_name = "ID")]
    pub ros_domain_id: Option<u16>,
    /// Stop after this many seconds (default: until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub duration: Option<f64>,
}

/// The YAML file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BridgeFile {
    ros_domain_id: Option<u16>,
    node_name: Option<String>,
    #[serde(default)]
    topics: Vec<FileRoute>,
    #[serde(default)]
    services: Vec<FileService>,
    #[serde(default)]
    from_ros2: Vec<String>,
    #[serde(default)]
    to_ros2: Vec<String>,
    #[serde(default)]
    unknown_types: bool,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileService {
    service: String,
    #[serde(rename = "type")]
    ros2_type: String,
    direction: FileDirection,
    rosy_service: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRoute {
    topic: String,
    #[serde(rename = "type")]
    ros2_type: String,
    direction: FileDirection,
    rosy_topic: Option<String>,
    qos: Option<FileQos>,
}

/// A route's QoS in the file; what is left out is ROS 2's default.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileQos {
    reliability: Option<FileReliability>,
    durability: Option<FileDurability>,
    depth: Option<u32>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum FileReliability {
    Reliable,
    BestEffort,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum FileDurability {
    Volatile,
    TransientLocal,
}

impl FileQos {
    fn apply(self, mut qos: Qos, context: &str) -> Result<Qos, CliError> {
        if let Some(r) = self.reliability {
            qos.reliability = match r {
                FileReliability::Reliable => Reliability::Reliable,
                FileReliability::BestEffort => Reliability::BestEffort,
            };
        }
        if let Some(d) = self.durability {
            qos.durability = match d {
                FileDurability::Volatile => Durability::Volatile,
                FileDurability::TransientLocal => Durability::TransientLocal,
            };
        }
        if let Some(depth) = self.depth {
            if depth == 0 {
                return Err(CliError::Usage(format!(
                    "{context}: qos depth must be at least 1"
                )));
            }
            qos.history = History::KeepLast(depth);
        }
        Ok(qos)
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum FileDirection {
    FromRos2,
    ToRos2,
}

fn ros2_service(name: &str, context: &str) -> Result<Ros2Service, CliError> {
    Ros2Service::parse(name).map_err(|e| CliError::Usage(format!("{context}: {e}")))
}

/// A `--from-ros2-service`/`--to-ros2-service` value, `SERVICE=TYPE`.
fn flag_service(value: &str, direction: Direction, flag: &str) -> Result<ServiceRoute, CliError> {
    let Some((service, type_name)) = value.split_once('=') else {
        return Err(CliError::Usage(format!(
            "{flag} {value:?}: expected SERVICE=TYPE, e.g. /set_flag=std_srvs/srv/SetBool"
        )));
    };
    let kind = ros2_service(type_name, &format!("{flag} {value:?}"))?;
    Ok(ServiceRoute::new(service, kind, direction))
}

fn direction(d: FileDirection) -> Direction {
    match d {
        FileDirection::FromRos2 => Direction::FromRos2,
        FileDirection::ToRos2 => Direction::ToRos2,
    }
}

fn ros2_type(name: &str, context: &str) -> Result<Ros2Type, CliError> {
    Ros2Type::parse(name).map_err(|e| CliError::Usage(format!("{context}: {e}")))
}

/// A `--from-ros2`/`--to-ros2` value, `TOPIC=TYPE`.
fn flag_route(value: &str, direction: Direction, flag: &str) -> Result<TopicRoute, CliError> {
    let Some((topic, type_name)) = value.split_once('=') else {
        return Err(CliError::Usage(format!(
            "{flag} {value:?}: expected TOPIC=TYPE, e.g. /chatter=std_msgs/msg/String"
        )));
    };
    let ros2_type = ros2_type(type_name, &format!("{flag} {value:?}"))?;
    Ok(TopicRoute::new(topic, ros2_type, direction))
}

/// The bridge's configuration from the file (if any), then the flags.
fn configure(args: &BridgeArgs) -> Result<BridgeConfig, CliError> {
    let mut config = BridgeConfig::from_env().map_err(|e| CliError::Usage(e.to_string()))?;
    if let Some(path) = &args.config {
        let file = read_file(path)?;
        if let Some(id) = file.ros_domain_id {
            config.ros_domain_id = id;
        }
        if let Some(name) = file.node_name {
            config.node_name = name;
        }
        for (i, route) in file.topics.into_iter().enumerate() {
            let context = format!("{}: topics[{i}] ({})", path.display(), route.topic);
            let direction = match route.direction {
                FileDirection::FromRos2 => Direction::FromRos2,
                FileDirection::ToRos2 => Direction::ToRos2,
            };
            let mut topic = TopicRoute::new(
                &route.topic,
                ros2_type(&route.ros2_type, &context)?,
                direction,
            );
            if let Some(rosy_topic) = route.rosy_topic {
                topic.rosy_topic = rosy_topic;
            }
            if let Some(qos) = route.qos {
                topic.qos = qos.apply(topic.qos, &context)?;
            }
            config.topics.push(topic);
        }
        config.auto.from_ros2.extend(file.from_ros2);
        config.auto.to_ros2.extend(file.to_ros2);
        config.auto.unknown_types |= file.unknown_types;
        for (i, route) in file.services.into_iter().enumerate() {
            let context = format!("{}: services[{i}] ({})", path.display(), route.service);
            let kind = ros2_service(&route.ros2_type, &context)?;
            let mut service = ServiceRoute::new(&route.service, kind, direction(route.direction));
            if let Some(rosy_service) = route.rosy_service {
                service.rosy_service = rosy_service;
            }
            config.services.push(service);
        }
    }
    for value in &args.from_ros2 {
        if value.contains('=') {
            config
                .topics
                .push(flag_route(value, Direction::FromRos2, "--from-ros2")?);
        } else {
            config.auto.from_ros2.push(value.clone());
        }
    }
    for value in &args.to_ros2 {
        if value.contains('=') {
            config
                .topics
                .push(flag_route(value, Direction::ToRos2, "--to-ros2")?);
        } else {
            config.auto.to_ros2.push(value.clone());
        }
    }
    config.auto.unknown_types |= args.unknown_types;
    for value in &args.from_ros2_services {
        config.services.push(flag_service(
            value,
            Direction::FromRos2,
            "--from-ros2-service",
        )?);
    }
    for value in &args.to_ros2_services {
        config
            .services
            .push(flag_service(value, Direction::ToRos2, "--to-ros2-service")?);
    }
    if let Some(id) = args.ros_domain_id {
        config.ros_domain_id = id;
    }
    if config.topics.is_empty() && config.services.is_empty() && config.auto.is_empty() {
        let unknown_types = config.auto.unknown_types;
        config.auto = AutoBridge::everything_known();
        config.auto.unknown_types = unknown_types;
    }
    Ok(config)
}

fn patterns(list: &[String]) -> String {
    if list.is_empty() {
        "nothing".into()
    } else {
        list.join(" ")
    }
}

fn read_file(path: &Path) -> Result<BridgeFile, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    serde_saphyr::from_str(&text).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

pub async fn run(command: Ros2Command, domain: &str) -> Result<(), CliError> {
    let args = match command {
        Ros2Command::Bridge(args) => args,
        Ros2Command::Types => {
            for name in rosy_ros2::known_types() {
                println!("{name}");
            }
            return Ok(());
        }
    };
    let config = configure(&args)?;
    // A node like any other, not a tool: the topics it bridges are listed as its own.
    let node = rosy::Node::builder("ros2-bridge")
        .domain_id(domain)
        .build()
        .await?;
    let mut summary: Vec<String> = config
        .topics
        .iter()
        .map(|t| match t.direction {
            Direction::FromRos2 => format!(
                "{} -> {} ({})",
                t.ros2_topic,
                t.rosy_topic,
                t.ros2_type.name()
            ),
            Direction::ToRos2 => format!(
                "{} -> {} ({})",
                t.rosy_topic,
                t.ros2_topic,
                t.ros2_type.name()
            ),
        })
        .collect();
    if !config.auto.is_empty() {
        summary.push(format!(
            "on demand: {} from ROS 2, {} to ROS 2 ({})",
            patterns(&config.auto.from_ros2),
            patterns(&config.auto.to_ros2),
            if config.auto.unknown_types {
                "any type"
            } else {
                "types both sides know"
            }
        ));
    }
    let ros_domain = config.ros_domain_id;
    let bridge = Bridge::start(&node, config)
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?;
    // Listening before saying so: a Ctrl-C right after the line below must stop the bridge.
    let stop = rosy::node::shutdown_signal();
    eprintln!(
        "bridging rosy domain {domain:?} and ROS 2 domain {ros_domain}: {} (Ctrl-C stops)",
        summary.join(", ")
    );
    match args.duration {
        Some(s) => {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs_f64(s)) => {}
                _ = stop => {}
            }
        }
        None => stop.await,
    }
    bridge.stop();
    node.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(config: Option<PathBuf>, from: &[&str], to: &[&str]) -> BridgeArgs {
        BridgeArgs {
            config,
            from_ros2: from.iter().map(|s| s.to_string()).collect(),
            to_ros2: to.iter().map(|s| s.to_string()).collect(),
            from_ros2_services: Vec::new(),
            to_ros2_services: vec!["/set_flag=std_srvs/srv/SetBool".into()],
            ros_domain_id: Some(7),
            duration: None,
            unknown_types: false,
        }
    }

    #[test]
    fn flags_give_routes_and_bad_ones_are_named() {
        let config = configure(&args(
            None,
            &["/camera/image_raw=sensor_msgs/msg/Image"],
            &["/status=std_msgs/String"],
        ))
        .unwrap();
        assert_eq!(config.ros_domain_id, 7);
        assert_eq!(config.topics.len(), 2);
        assert_eq!(config.topics[0].rosy_topic, "camera/image_raw");
        assert_eq!(config.topics[0].direction, Direction::FromRos2);
        assert_eq!(config.topics[1].ros2_type, Ros2Type::string());
        let err = configure(&args(None, &["/imu=sensor_msgs/Imu/Extra"], &[])).unwrap_err();
        assert!(err.to_string().contains("sensor_msgs/Imu/Extra"), "{err}");
        let patterns = configure(&args(None, &["/camera/*"], &[])).unwrap();
        assert_eq!(patterns.auto.from_ros2, ["/camera/*"]);
        assert!(patterns.auto.to_ros2.is_empty());
        assert_eq!(config.services[0].rosy_service, "set_flag");
        assert_eq!(config.services[0].ros2_type, Ros2Service::SetBool);
        let mut none = args(None, &[], &[]);
        none.to_ros2_services.clear();
        let everything = configure(&none).unwrap();
        assert_eq!(everything.auto, AutoBridge::everything_known());
        let mut bad = args(None, &[], &[]);
        bad.to_ros2_services = vec!["/x=std srvs/srv/Empty".into()];
        let err = configure(&bad).unwrap_err();
        assert!(err.to_string().contains("std srvs/srv/Empty"), "{err}");
        let mut opaque = args(None, &[], &[]);
        opaque.to_ros2_services = vec!["/x=std_srvs/srv/Empty".into()];
        let config = configure(&opaque).unwrap();
        assert_eq!(config.services[0].ros2_type.name(), "std_srvs/srv/Empty");
    }

    #[test]
    fn a_file_gives_routes_and_a_typo_is_named_with_its_line() {
        let dir = std::env::temp_dir().join(format!("rosy-ros2-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.yaml");
        std::fs::write(
            &good,
            "node_name: lab_bridge\ntopics:\n  - topic: /camera/image_raw\n    type: sensor_msgs/msg/Image\n    direction: from_ros2\n    rosy_topic: camera/raw\n  - topic: /map\n    type: nav_msgs/msg/OccupancyGrid\n    direction: to_ros2\n    qos: {durability: transient_local, depth: 1}\n",
        )
        .unwrap();
        let config = configure(&args(Some(good), &[], &[])).unwrap();
        assert_eq!(config.node_name, "lab_bridge");
        assert_eq!(config.topics[0].rosy_topic, "camera/raw");
        assert_eq!(config.topics[0].qos, rosy_ros2::ros2_default_qos());
        assert_eq!(
            config.topics[1].qos,
            Qos {
                history: History::KeepLast(1),
                reliability: Reliability::Reliable,
                durability: Durability::TransientLocal,
                ..Qos::default()
            }
        );
        assert!(!config.topics[1].ros2_type.has_rosy_form());
        let typo = dir.join("typo.yaml");
        std::fs::write(
            &typo,
            "topics:\n  - topic: /x\n    type: std_msgs/msg/String\n    direktion: to_ros2\n",
        )
        .unwrap();
        let err = configure(&args(Some(typo), &[], &[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("typo.yaml") && err.contains("direktion"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
