//! `rosy ros2 bridge` against a real rclpy node (ROS 2 Jazzy from PyPI, Fast DDS), in the
//! loopback-only namespace the tests run in; and its refusals of bad input, which need no ROS 2.

use crate::rosy;
use crate::support::{Proc, only_loopback, rclpy_peer, unique_domain};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

#[test]
fn a_ros2_string_reaches_rosy_topic_echo_through_the_bridge_command() {
    only_loopback();
    let domain = unique_domain("ros2-cli");
    let ros_domain = "71";
    let mut bridge = Proc::spawn("bridge", {
        let mut c = rosy(
            &domain,
            &[
                "ros2",
                "bridge",
                "--from-ros2",
                "/chatter=std_msgs/msg/String",
                "--ros-domain-id",
                ros_domain,
                "--duration",
                "60",
            ],
        );
        c.env("ROSY_MDNS", "0");
        c
    });
    bridge.expect_stderr("bridging rosy domain", T);
    let mut echo = Proc::spawn(
        "echo",
        rosy(
            &domain,
            &["--json", "topic", "echo", "chatter", "--count", "1"],
        ),
    );
    let _talker = rclpy_peer(
        71,
        &["talk_string", "/chatter", "hello through the command"],
    );
    assert!(echo.wait_exit(T).success(), "{:?}", echo.stderr());
    let out = echo.stdout().join("\n");
    assert!(out.contains("hello through the command"), "{out}");
    bridge.kill();
}

#[test]
fn bad_routes_and_files_are_refused_naming_the_problem() {
    let domain = unique_domain("ros2-cli-bad");
    let out = rosy(
        &domain,
        &["ros2", "bridge", "--to-ros2", "/imu=sensor_msgs/msg/Imu"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sensor_msgs/msg/Imu") && err.contains("std_msgs/msg/String"),
        "{err}"
    );
    let out = rosy(&domain, &["ros2", "bridge"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no topic to bridge"));
}
