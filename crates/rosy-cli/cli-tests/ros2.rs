//! `rosy ros2 bridge` against a real rclpy node (ROS 2 Jazzy from PyPI, Fast DDS), in the
//! loopback-only namespace the tests run in; and its refusals of bad input, which need no ROS 2.

use crate::rosy;
use crate::support::{Proc, only_loopback, rclpy_peer, unique_domain, wait_until};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

/// `rosy ros2 bridge` with no routes bridges on demand: `rosy topic echo` listening is what
/// makes a ROS 2 topic cross. A known type shows decoded; with `--unknown-types`, a type rosy
/// has no form for shows its ROS 2 type and size.
#[test]
fn topic_echo_of_ros2_topics_through_the_bridge_command_on_demand() {
    only_loopback();
    let domain = unique_domain("ros2-cli");
    let ros_domain = "71";
    let mut bridge = Proc::spawn("bridge", {
        let mut c = rosy(
            &domain,
            &[
                "ros2",
                "bridge",
                "--unknown-types",
                "--ros-domain-id",
                ros_domain,
                "--duration",
                "60",
            ],
        );
        c.env("ROSY_MDNS", "0");
        c
    });
    bridge.expect_stderr("on demand: * from ROS 2, * to ROS 2 (any type)", T);
    let _talker = rclpy_peer(
        71,
        &["talk_string", "/chatter", "hello through the command"],
    );
    let _thermometer = rclpy_peer(71, &["talk_temperature", "/engine_temp"]);
    let mut echo = Proc::spawn(
        "echo",
        rosy(
            &domain,
            &["--json", "topic", "echo", "chatter", "--count", "1"],
        ),
    );
    assert!(echo.wait_exit(T).success(), "{:?}", echo.stderr());
    let out = echo.stdout().join("\n");
    assert!(out.contains("hello through the command"), "{out}");
    let mut echo = Proc::spawn(
        "echo",
        rosy(&domain, &["topic", "echo", "engine_temp", "--count", "1"]),
    );
    assert!(echo.wait_exit(T).success(), "{:?}", echo.stderr());
    let out = echo.stdout().join("\n");
    // Temperature: header (stamp 8, frame_id "engine": 4 + 7, padded to 24), two float64s.
    assert!(
        out.contains("<raw sensor_msgs/msg/Temperature, 44 bytes>"),
        "{out}"
    );
    // The tools list what the bridge sees of the ROS 2 graph, marked as such.
    let topics = rosy(&domain, &["topic", "list"]).output().unwrap();
    let topics = String::from_utf8_lossy(&topics.stdout);
    assert!(
        topics.contains("/engine_temp  [sensor_msgs/msg/Temperature]  0 subscribers, 1 publisher  (ROS 2, seen by ros2-bridge)"),
        "{topics}"
    );
    // And the topic it bridged, as the bridge node's own.
    assert!(
        topics
            .lines()
            .any(|l| l.starts_with("chatter  [msgpack]") && l.ends_with("1 publisher")),
        "{topics}"
    );
    // ROS 2 node names reach the bridge on a DDS topic of their own (`ros_discovery_info`),
    // apart from the endpoints the topic list shows: they may come a little later.
    let mut listed = String::new();
    let seen = wait_until(T, || {
        let nodes = rosy(&domain, &["node", "list"]).output().unwrap();
        listed = format!(
            "{}{}",
            String::from_utf8_lossy(&nodes.stdout),
            String::from_utf8_lossy(&nodes.stderr)
        );
        listed.contains("/rclpy_peer  (ROS 2, seen by ros2-bridge)")
    });
    assert!(seen, "{listed}");
    bridge.kill();
}

#[test]
fn bad_routes_and_files_are_refused_naming_the_problem() {
    let domain = unique_domain("ros2-cli-bad");
    let out = rosy(
        &domain,
        &[
            "ros2",
            "bridge",
            "--to-ros2",
            "/imu=sensor_msgs/msg/Imu/Extra",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sensor_msgs/msg/Imu/Extra") && err.contains("pkg/msg/Type"),
        "{err}"
    );
}
