//! The bridge against real, unmodified ROS 2 nodes: rclpy (ROS 2 Jazzy from PyPI, Fast DDS)
//! publishing and subscribing while rosy nodes do the same through a `rosy_ros2::Bridge`.
//!
//! Needs `ROSY_ROS2_PYTHON`, a Python with rclpy, std_msgs and sensor_msgs (`scripts/test`
//! makes one), and a network namespace holding only loopback (`scripts/test` runs the tests in
//! one): DDS discovery multicasts, and a test must not reach any network but its own. Each test
//! has a ROS 2 domain and a rosy domain of its own; every wait is bounded; the rclpy process is
//! killed when the test ends.

use rosy::msgs::{ArchivedRawImage, RawImage};
use rosy_ros2::types::Outcome;
use rosy_ros2::{Bridge, BridgeConfig, Direction, Ros2Service, Ros2Type, ServiceRoute, TopicRoute};
use rosy_test_support::{only_loopback, rclpy_peer, unique_domain};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(60);

fn config(ros_domain: u16, route: TopicRoute) -> BridgeConfig {
    BridgeConfig {
        ros_domain_id: ros_domain,
        node_name: "rosy_bridge".into(),
        topics: vec![route],
        services: Vec::new(),
    }
}

fn service_config(ros_domain: u16, route: ServiceRoute) -> BridgeConfig {
    BridgeConfig {
        ros_domain_id: ros_domain,
        node_name: "rosy_bridge".into(),
        topics: Vec::new(),
        services: vec![route],
    }
}

async fn nodes(test: &str) -> (rosy::Node, rosy::Node) {
    let domain = unique_domain(test);
    let bridge_node = rosy_test_support::node("bridge", &domain).await;
    let other = rosy_test_support::node("app", &domain).await;
    (bridge_node, other)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rclpy_string_reaches_a_rosy_subscriber() {
    only_loopback();
    let ros_domain = 61;
    let (bridge_node, app) = nodes("ros2-string-in").await;
    let mut chatter = app.subscriber::<String>("chatter").await.unwrap();
    let route = TopicRoute::new("/chatter", Ros2Type::String, Direction::FromRos2);
    let _bridge = Bridge::start(&bridge_node, config(ros_domain, route))
        .await
        .unwrap();
    let _talker = rclpy_peer(ros_domain, &["talk_string", "/chatter", "hello from rclpy"]);
    let got = tokio::time::timeout(T, chatter.recv()).await;
    assert_eq!(
        got.ok().flatten().as_deref(),
        Some("hello from rclpy"),
        "no std_msgs/String from rclpy reached rosy within {T:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rosy_string_reaches_an_rclpy_subscriber() {
    only_loopback();
    let ros_domain = 62;
    let (bridge_node, app) = nodes("ros2-string-out").await;
    let route = TopicRoute::new("/from_rosy", Ros2Type::String, Direction::ToRos2);
    let _bridge = Bridge::start(&bridge_node, config(ros_domain, route))
        .await
        .unwrap();
    let listener = rclpy_peer(ros_domain, &["listen_string", "/from_rosy"]);
    app.wait_for_listener("from_rosy", T).await.unwrap();
    // Sent until heard: ROS 2 discovery of the bridge's writer takes a moment, and a volatile
    // topic does not keep what was sent before the reader matched.
    let start = Instant::now();
    while listener.count("got: hello from rosy") == 0 && start.elapsed() < T {
        app.send("from_rosy", &"hello from rosy").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    listener.expect_line("got: hello from rosy", Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rclpy_image_reaches_rosy_with_every_field() {
    only_loopback();
    let ros_domain = 63;
    let (bridge_node, app) = nodes("ros2-image-in").await;
    let mut frames = app.subscriber::<()>("camera/image_raw").await.unwrap();
    let route = TopicRoute::new("/camera/image_raw", Ros2Type::Image, Direction::FromRos2);
    let _bridge = Bridge::start(&bridge_node, config(ros_domain, route))
        .await
        .unwrap();
    let _camera = rclpy_peer(ros_domain, &["talk_image", "/camera/image_raw", "64", "48"]);
    let archive = tokio::time::timeout(T, frames.recv_archived())
        .await
        .ok()
        .flatten()
        .expect("an image from rclpy reaches rosy");
    let image = archive.access::<ArchivedRawImage>().expect("a RawImage");
    assert_eq!(
        (
            image.width.to_native(),
            image.height.to_native(),
            image.step.to_native()
        ),
        (64, 48, 192)
    );
    assert_eq!(
        (image.encoding.as_str(), image.frame_id.as_str()),
        ("rgb8", "camera_optical")
    );
    assert_eq!(
        (
            image.timestamp.sec.to_native(),
            image.timestamp.nsec.to_native()
        ),
        (1234, 5678)
    );
    let expected: Vec<u8> = (0..64 * 48 * 3).map(|i| (i % 251) as u8).collect();
    assert!(
        image.data.0.as_slice() == expected.as_slice(),
        "pixels differ"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rosy_image_reaches_an_rclpy_subscriber_with_every_field() {
    only_loopback();
    let ros_domain = 64;
    let (bridge_node, app) = nodes("ros2-image-out").await;
    let route = TopicRoute::new("/camera/out", Ros2Type::Image, Direction::ToRos2);
    let _bridge = Bridge::start(&bridge_node, config(ros_domain, route))
        .await
        .unwrap();
    let listener = rclpy_peer(ros_domain, &["listen_image", "/camera/out"]);
    let camera = app
        .archive_publisher::<RawImage>("camera/out")
        .await
        .unwrap();
    app.wait_for_listener("camera/out", T).await.unwrap();
    let mut image = RawImage::mono8("camera_optical", 32, 16, 0);
    image.data.0 = (0..32 * 16).map(|i| (i % 7) as u8).collect();
    image.timestamp = rosy::msgs::Timestamp { sec: 99, nsec: 42 };
    let sum: u64 = image.data.0.iter().map(|&b| b as u64).sum();
    let line =
        format!("image 32x16 mono8 step 32 frame camera_optical stamp 99.42 bytes 512 sum {sum}");
    let start = Instant::now();
    while listener.count(&line) == 0 && start.elapsed() < T {
        camera.send_archived(&image, 4096).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    listener.expect_line(&line, Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rosy_caller_reaches_an_rclpy_setbool_service() {
    only_loopback();
    let ros_domain = 65;
    let (bridge_node, app) = nodes("ros2-setbool").await;
    let route = ServiceRoute::new("/set_flag", Ros2Service::SetBool, Direction::ToRos2);
    let _bridge = Bridge::start(&bridge_node, service_config(ros_domain, route))
        .await
        .unwrap();
    let server = rclpy_peer(ros_domain, &["serve_setbool", "/set_flag"]);
    app.wait_for_service_provider("set_flag", T).await.unwrap();
    // The bridge holds the call until the ROS 2 service is there, then sends it once.
    let outcome: Outcome = app
        .call_timeout("set_flag", &true, T)
        .await
        .expect("an answer from rclpy");
    assert_eq!(
        outcome,
        Outcome {
            success: true,
            message: "set to True".into()
        }
    );
    server.expect_line("served: True", Duration::from_secs(5));
    assert_eq!(server.count("served: True"), 1, "served once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rclpy_caller_reaches_a_rosy_trigger_service() {
    only_loopback();
    let ros_domain = 66;
    let (bridge_node, app) = nodes("ros2-trigger").await;
    app.add_service("trigger_me", |(): ()| async move {
        Ok(Outcome {
            success: true,
            message: "triggered rosy".into(),
        })
    })
    .await
    .unwrap();
    let route = ServiceRoute::new("/trigger_me", Ros2Service::Trigger, Direction::FromRos2);
    let _bridge = Bridge::start(&bridge_node, service_config(ros_domain, route))
        .await
        .unwrap();
    let caller = rclpy_peer(ros_domain, &["call_trigger", "/trigger_me"]);
    caller.expect_line("response: True triggered rosy", T);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_domain_id_is_refused_naming_it() {
    let domain = unique_domain("ros2-bad-domain");
    let node = rosy_test_support::node("bridge", &domain).await;
    let mut config = config(
        0,
        TopicRoute::new("/x", Ros2Type::String, Direction::ToRos2),
    );
    config.ros_domain_id = 300;
    let err = Bridge::start(&node, config).await.err().expect("refused");
    assert!(err.to_string().contains("300"), "{err}");
}
