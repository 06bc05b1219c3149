//! The bridge against real, unmodified ROS 2 nodes: rclpy (ROS 2 Jazzy from PyPI, Fast DDS)
//! publishing and subscribing while rosy nodes do the same through a `rosy_ros2::Bridge`.
//!
//! Needs `ROSY_ROS2_PYTHON`, a Python with rclpy, std_msgs and sensor_msgs (`scripts/test`
//! makes one), and a network namespace holding only loopback (`scripts/test` runs the tests in
//! one): DDS discovery multicasts, and a test must not reach any network but its own. Each test
//! has a ROS 2 domain and a rosy domain of its own; every wait is bounded; the rclpy process is
//! killed when the test ends.

use rosy::msgs::{ArchivedRawImage, RawImage};
use rosy::qos::Qos;
use rosy_ros2::types::Outcome;
use rosy_ros2::{
    AutoBridge, Bridge, BridgeConfig, Direction, Ros2Service, Ros2Type, ServiceRoute, TopicRoute,
};
use rosy_test_support::{only_loopback, rclpy_peer, unique_domain};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(60);

fn config(ros_domain: u16, route: TopicRoute) -> BridgeConfig {
    BridgeConfig {
        ros_domain_id: ros_domain,
        node_name: "rosy_bridge".into(),
        topics: vec![route],
        services: Vec::new(),
        auto: AutoBridge::default(),
    }
}

fn service_config(ros_domain: u16, route: ServiceRoute) -> BridgeConfig {
    BridgeConfig {
        ros_domain_id: ros_domain,
        node_name: "rosy_bridge".into(),
        topics: Vec::new(),
        services: vec![route],
        auto: AutoBridge::default(),
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
    let route = TopicRoute::new("/chatter", Ros2Type::string(), Direction::FromRos2);
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
    let route = TopicRoute::new("/from_rosy", Ros2Type::string(), Direction::ToRos2);
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
    let route = TopicRoute::new("/camera/image_raw", Ros2Type::image(), Direction::FromRos2);
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
    let route = TopicRoute::new("/camera/out", Ros2Type::image(), Direction::ToRos2);
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
        TopicRoute::new("/x", Ros2Type::string(), Direction::ToRos2),
    );
    config.ros_domain_id = 300;
    let err = Bridge::start(&node, config).await.err().expect("refused");
    assert!(err.to_string().contains("300"), "{err}");
}

/// A latched (transient-local) route from ROS 2: the value rclpy sent once, before the bridge
/// existed, reaches a rosy subscriber that joins after the bridge relayed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rclpy_latched_value_reaches_a_late_rosy_subscriber() {
    only_loopback();
    let ros_domain = 67;
    let (bridge_node, app) = nodes("ros2-latched-in").await;
    let talker = rclpy_peer(ros_domain, &["latch_string", "/map_name", "warehouse-3"]);
    talker.expect_line("sent", T);
    // Reliable, as ROS 2's latched topics are: a best-effort DDS reader is not sent a
    // writer's history.
    let latched = Qos::latched().reliable();
    let route =
        TopicRoute::new("/map_name", Ros2Type::string(), Direction::FromRos2).with_qos(latched);
    let _bridge = Bridge::start(&bridge_node, config(ros_domain, route))
        .await
        .unwrap();
    // The bridge announces a latched publisher of the topic once it has the value; a rosy
    // subscriber that joins then still gets it.
    let mut map_name = app
        .subscriber_with_qos::<String>("map_name", latched)
        .await
        .unwrap();
    let got = tokio::time::timeout(T, map_name.recv()).await;
    assert_eq!(
        got.ok().flatten().as_deref(),
        Some("warehouse-3"),
        "the latched value did not reach rosy within {T:?}"
    );
}

/// A latched route to ROS 2: the value a rosy publisher sent once reaches an rclpy
/// transient-local subscriber that starts afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rosy_latched_value_reaches_a_late_rclpy_subscriber() {
    only_loopback();
    let ros_domain = 68;
    let (bridge_node, app) = nodes("ros2-latched-out").await;
    // Reliable, as ROS 2's latched topics are: a best-effort DDS reader is not sent a
    // writer's history.
    let latched = Qos::latched().reliable();
    let publisher = app
        .publisher_with_qos::<String>("robot_mode", latched)
        .await
        .unwrap();
    publisher.send(&"docking".to_string()).await.unwrap();
    let route =
        TopicRoute::new("/robot_mode", Ros2Type::string(), Direction::ToRos2).with_qos(latched);
    let _bridge = Bridge::start(&bridge_node, config(ros_domain, route))
        .await
        .unwrap();
    // The bridge's latched subscriber gets the value from the rosy publisher's history, and its
    // transient-local writer keeps it for the rclpy subscriber, which starts only now.
    let listener = rclpy_peer(ros_domain, &["listen_latched", "/robot_mode"]);
    listener.expect_line("got: docking", T);
    assert_eq!(listener.count("got: docking"), 1, "sent once");
}

/// A ROS 2 node on another `ROS_DOMAIN_ID` is not heard: of the two talkers on the same topic
/// name, only the bridge's domain's messages arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ros2_node_on_another_domain_is_not_heard() {
    only_loopback();
    let ros_domain = 69;
    let (bridge_node, app) = nodes("ros2-other-domain").await;
    let mut chatter = app.subscriber::<String>("chatter").await.unwrap();
    let route = TopicRoute::new("/chatter", Ros2Type::string(), Direction::FromRos2);
    let _bridge = Bridge::start(&bridge_node, config(ros_domain, route))
        .await
        .unwrap();
    let _stranger = rclpy_peer(ros_domain + 1, &["talk_string", "/chatter", "other domain"]);
    let _talker = rclpy_peer(ros_domain, &["talk_string", "/chatter", "this domain"]);
    // 30 messages from this domain's talker: 3 s of its traffic, with the stranger talking
    // all along.
    for i in 0..30 {
        let got = tokio::time::timeout(T, chatter.recv()).await.ok().flatten();
        assert_eq!(
            got.as_deref(),
            Some("this domain"),
            "message {i}: only this domain's talker should be heard"
        );
    }
}

/// A malformed sample (a string length past the payload's end) is skipped; the good samples
/// around it keep crossing, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_sample_is_skipped_and_the_bridge_reads_on() {
    only_loopback();
    let ros_domain = 71;
    let (bridge_node, app) = nodes("ros2-garbage").await;
    let mut chatter = app.subscriber::<String>("noisy").await.unwrap();
    let route = TopicRoute::new("/noisy", Ros2Type::string(), Direction::FromRos2);
    let _bridge = Bridge::start(&bridge_node, config(ros_domain, route))
        .await
        .unwrap();
    let _talker = rclpy_peer(ros_domain, &["talk_garbage", "/noisy", "good"]);
    let mut last = 0;
    for _ in 0..10 {
        let got = tokio::time::timeout(T, chatter.recv())
            .await
            .ok()
            .flatten()
            .expect("good samples keep crossing");
        let n: u32 = got
            .strip_prefix("good ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("only good samples reach rosy, got {got:?}"));
        assert!(n > last, "in order: {n} after {last}");
        last = n;
    }
}

/// A bridge stopped and started again resumes: the rclpy talker and the rosy subscriber run
/// on, untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_started_again_resumes() {
    only_loopback();
    let ros_domain = 72;
    let (bridge_node, app) = nodes("ros2-restart").await;
    let mut chatter = app.subscriber::<String>("chatter").await.unwrap();
    let route = || TopicRoute::new("/chatter", Ros2Type::string(), Direction::FromRos2);
    let _talker = rclpy_peer(ros_domain, &["talk_string", "/chatter", "still here"]);
    let bridge = Bridge::start(&bridge_node, config(ros_domain, route()))
        .await
        .unwrap();
    let got = tokio::time::timeout(T, chatter.recv()).await.ok().flatten();
    assert_eq!(got.as_deref(), Some("still here"));
    bridge.stop();
    // Whatever was in flight when it stopped drains; then nothing comes until the new bridge.
    while tokio::time::timeout(Duration::from_secs(2), chatter.recv())
        .await
        .is_ok()
    {}
    let _bridge = Bridge::start(&bridge_node, config(ros_domain, route()))
        .await
        .unwrap();
    let got = tokio::time::timeout(T, chatter.recv()).await.ok().flatten();
    assert_eq!(
        got.as_deref(),
        Some("still here"),
        "the restarted bridge carries the topic again"
    );
}

/// A type rosy does not know (`sensor_msgs/msg/Temperature`) crosses as its CDR bytes: into
/// rosy as ROS 2's serialized form, announced as the ROS 2 type, and out to ROS 2 again
/// unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_type_crosses_as_cdr_bytes_both_ways() {
    only_loopback();
    let ros_domain = 73;
    let (bridge_node, app) = nodes("ros2-opaque").await;
    let temperature = Ros2Type::parse("sensor_msgs/msg/Temperature").unwrap();
    assert!(!temperature.has_rosy_form());
    let mut relayed = app.subscriber::<()>("engine_temp").await.unwrap();
    let inbound = TopicRoute::new("/engine_temp", temperature.clone(), Direction::FromRos2);
    let mut outbound = TopicRoute::new("/engine_temp_back", temperature, Direction::ToRos2);
    outbound.rosy_topic = "engine_temp".into();
    let mut config = config(ros_domain, inbound);
    config.topics.push(outbound);
    let _bridge = Bridge::start(&bridge_node, config).await.unwrap();
    let _talker = rclpy_peer(ros_domain, &["talk_temperature", "/engine_temp"]);
    let listener = rclpy_peer(ros_domain, &["listen_temperature", "/engine_temp_back"]);
    let message = tokio::time::timeout(T, relayed.recv_encoded())
        .await
        .ok()
        .flatten()
        .expect("the temperature reaches rosy");
    assert_eq!(message.codec, rosy::codec::CodecId::Raw);
    assert_eq!(&message.payload[..4], &[0, 1, 0, 0], "CDR_LE header first");
    assert_eq!(
        &message.payload[message.payload.len() - 16..],
        &[21.5f64.to_le_bytes(), 0.25f64.to_le_bytes()].concat()[..],
        "temperature and variance last, as rclpy wrote them"
    );
    let announced = bridge_node
        .info()
        .topics
        .into_iter()
        .find(|t| t.name == "engine_temp" && t.role == rosy::topology::TopicRole::Publish)
        .map(|t| t.type_name);
    assert_eq!(announced.as_deref(), Some("sensor_msgs/msg/Temperature"));
    listener.expect_line("temperature: 21.5 variance 0.25 frame engine stamp 77", T);
}

/// A `sensor_msgs/Imu` from rclpy reaches rosy as a `rosy::msgs::Imu`, every field intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rclpy_imu_reaches_rosy_as_a_rosy_imu() {
    only_loopback();
    let ros_domain = 74;
    let (bridge_node, app) = nodes("ros2-imu-in").await;
    let mut imu = app.subscriber::<rosy::msgs::Imu>("imu").await.unwrap();
    let imu_type = Ros2Type::parse("sensor_msgs/msg/Imu").unwrap();
    let route = TopicRoute::new("/imu", imu_type, Direction::FromRos2);
    let _bridge = Bridge::start(&bridge_node, config(ros_domain, route))
        .await
        .unwrap();
    let _talker = rclpy_peer(ros_domain, &["talk_imu", "/imu"]);
    let got = tokio::time::timeout(T, imu.recv())
        .await
        .ok()
        .flatten()
        .expect("an Imu from rclpy reaches rosy");
    let covariance = |base: f64| std::array::from_fn::<f64, 9, _>(|i| base + i as f64);
    assert_eq!(
        got,
        rosy::msgs::Imu {
            timestamp: rosy::msgs::Timestamp { sec: 12, nsec: 34 },
            frame_id: "imu_link".into(),
            orientation: rosy::msgs::Quaternion {
                x: 0.1,
                y: 0.2,
                z: 0.3,
                w: 0.9
            },
            orientation_covariance: covariance(0.0),
            angular_velocity: rosy::msgs::Vector3 {
                x: 1.5,
                y: 0.0,
                z: -2.5
            },
            angular_velocity_covariance: covariance(10.0),
            linear_acceleration: rosy::msgs::Vector3 {
                x: 0.0,
                y: 9.81,
                z: 0.0
            },
            linear_acceleration_covariance: covariance(20.0),
        }
    );
}

/// A `rosy::msgs::Twist` reaches an rclpy subscriber as a `geometry_msgs/Twist`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rosy_twist_reaches_rclpy_as_a_geometry_twist() {
    only_loopback();
    let ros_domain = 75;
    let (bridge_node, app) = nodes("ros2-twist-out").await;
    let twist_type = Ros2Type::parse("geometry_msgs/msg/Twist").unwrap();
    let route = TopicRoute::new("/cmd_vel", twist_type, Direction::ToRos2);
    let _bridge = Bridge::start(&bridge_node, config(ros_domain, route))
        .await
        .unwrap();
    let listener = rclpy_peer(ros_domain, &["listen_twist", "/cmd_vel"]);
    app.wait_for_listener("cmd_vel", T).await.unwrap();
    let twist = rosy::msgs::Twist {
        linear: rosy::msgs::Vector3 {
            x: 0.5,
            y: 0.0,
            z: 0.0,
        },
        angular: rosy::msgs::Vector3 {
            x: 0.0,
            y: 0.0,
            z: -0.25,
        },
    };
    let line = "twist: 0.5 0.0 0.0 0.0 0.0 -0.25";
    let start = Instant::now();
    while listener.count(line) == 0 && start.elapsed() < T {
        app.send("cmd_vel", &twist).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    listener.expect_line(line, Duration::from_secs(1));
}

/// With no fixed routes and every known type bridged on demand, a topic crosses each way once
/// it is wanted on the far side; a type rosy does not know is seen but not bridged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_types_are_bridged_on_demand_both_ways() {
    only_loopback();
    let ros_domain = 76;
    let (bridge_node, app) = nodes("ros2-auto").await;
    let mut config = BridgeConfig::from_env().unwrap();
    config.ros_domain_id = ros_domain;
    config.auto = AutoBridge::everything_known();
    let bridge = Bridge::start(&bridge_node, config).await.unwrap();
    let _talker = rclpy_peer(ros_domain, &["talk_string", "/chatter", "auto hello"]);
    let _thermometer = rclpy_peer(ros_domain, &["talk_temperature", "/engine_temp"]);
    let mut listener = rclpy_peer(ros_domain, &["listen_twist", "/cmd_vel"]);
    let mut chatter = app.subscriber::<String>("chatter").await.unwrap();
    let mut temperature = app.subscriber::<()>("engine_temp").await.unwrap();
    for _ in 0..10 {
        let got = tokio::time::timeout(T, chatter.recv()).await.ok().flatten();
        assert_eq!(got.as_deref(), Some("auto hello"));
    }
    let graph = bridge.ros2_graph();
    assert!(
        graph.publishers.iter().any(|p| p.topic == "/engine_temp"),
        "the thermometer is seen: {graph:?}"
    );
    assert!(
        temperature.try_recv_encoded().unwrap().is_none(),
        "a type rosy does not know is not bridged on demand"
    );

    let twist = rosy::msgs::Twist {
        linear: rosy::msgs::Vector3 {
            x: 1.0,
            y: 0.0,
            z: 0.0,
        },
        angular: rosy::msgs::Vector3::default(),
    };
    let cmd_vel = app.publisher::<rosy::msgs::Twist>("cmd_vel").await.unwrap();
    let line = "twist: 1.0 0.0 0.0 0.0 0.0 0.0";
    let start = Instant::now();
    while listener.count(line) == 0 && start.elapsed() < T {
        cmd_vel.send(&twist).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    listener.expect_line(line, Duration::from_secs(1));

    // Demand gone (the rosy subscriber dropped, the rclpy subscriber killed): each route stops
    // after its grace, and the bridge's rosy publisher and subscriber go with it.
    drop(chatter);
    listener.kill();
    let bridged = |role: rosy::topology::TopicRole, name: &str| {
        bridge_node
            .info()
            .topics
            .iter()
            .any(|t| t.role == role && t.name == name)
    };
    let start = Instant::now();
    while (bridged(rosy::topology::TopicRole::Publish, "chatter")
        || bridged(rosy::topology::TopicRole::Listen, "cmd_vel"))
        && start.elapsed() < T
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !bridged(rosy::topology::TopicRole::Publish, "chatter"),
        "the route from ROS 2 stopped once nobody in rosy listened"
    );
    assert!(
        !bridged(rosy::topology::TopicRole::Listen, "cmd_vel"),
        "the route to ROS 2 stopped once no ROS 2 subscriber was left"
    );
    // And starts again when wanted again.
    let mut chatter = app.subscriber::<String>("chatter").await.unwrap();
    let got = tokio::time::timeout(T, chatter.recv()).await.ok().flatten();
    assert_eq!(got.as_deref(), Some("auto hello"));
}

/// ROS 2's own graph shows a bridged rosy topic with its ROS 2 type, and the bridge's graph
/// shows the ROS 2 node and its publisher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_side_sees_the_other_sides_graph() {
    only_loopback();
    let ros_domain = 77;
    let (bridge_node, _app) = nodes("ros2-graph").await;
    let route = TopicRoute::new("/robot_status", Ros2Type::string(), Direction::ToRos2);
    let bridge = Bridge::start(&bridge_node, config(ros_domain, route))
        .await
        .unwrap();
    let _talker = rclpy_peer(ros_domain, &["talk_string", "/chatter", "x"]);
    let looker = rclpy_peer(ros_domain, &["graph", "/robot_status"]);
    looker.expect_line("graph: /robot_status std_msgs/msg/String", T);
    let start = Instant::now();
    let seen = loop {
        let graph = bridge.ros2_graph();
        let talker = graph
            .publishers
            .iter()
            .any(|p| p.topic == "/chatter" && p.ros2_type == Ros2Type::string());
        if (talker && graph.nodes.iter().any(|n| n == "/rclpy_peer")) || start.elapsed() > T {
            break graph;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        seen.nodes.iter().any(|n| n == "/rclpy_peer"),
        "the rclpy node is seen: {seen:?}"
    );
    assert!(
        seen.publishers.iter().any(|p| p.topic == "/chatter"),
        "its publisher is seen: {seen:?}"
    );
    assert!(
        !seen
            .subscribers
            .iter()
            .chain(&seen.publishers)
            .any(|e| e.topic == "/robot_status"),
        "the bridge's own endpoints are left out: {seen:?}"
    );
}

/// A service type rosy has no form for crosses as ROS 2's serialized form: a rosy caller
/// reaches the `rcl_interfaces/srv/GetParameters` service every rclpy node serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rosy_caller_reaches_an_rclpy_service_of_any_type() {
    only_loopback();
    let ros_domain = 78;
    let (bridge_node, app) = nodes("ros2-opaque-call").await;
    let kind = Ros2Service::parse("rcl_interfaces/srv/GetParameters").unwrap();
    let mut route = ServiceRoute::new("/rclpy_peer/get_parameters", kind, Direction::ToRos2);
    route.rosy_service = "peer_parameters".into();
    let _bridge = Bridge::start(&bridge_node, service_config(ros_domain, route))
        .await
        .unwrap();
    let _peer = rclpy_peer(ros_domain, &["listen_string", "/nothing"]);
    app.wait_for_service_provider("peer_parameters", T)
        .await
        .unwrap();
    // CDR_LE header; names: a sequence of 1 string, "use_sim_time" and its NUL.
    let mut request = vec![0, 1, 0, 0, 1, 0, 0, 0, 13, 0, 0, 0];
    request.extend_from_slice(b"use_sim_time\0");
    let answer = app
        .call_encoded(
            "peer_parameters",
            rosy::codec::CodecId::Raw,
            request.into(),
            T,
        )
        .await
        .expect("an answer from rclpy");
    assert_eq!(answer.codec, rosy::codec::CodecId::Raw);
    // CDR_LE header; values: a sequence of 1 ParameterValue whose type is 1, PARAMETER_BOOL.
    assert_eq!(&answer.payload[..9], &[0, 1, 0, 0, 1, 0, 0, 0, 1]);
}

/// An rclpy client of a service type rosy has no form for (`std_srvs/srv/Empty`) reaches a
/// rosy service that answers ROS 2's serialized form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rclpy_caller_reaches_a_rosy_service_of_any_type() {
    only_loopback();
    let ros_domain = 79;
    let (bridge_node, app) = nodes("ros2-opaque-serve").await;
    let info = rosy::topology::ServiceInfo {
        name: "reset".into(),
        codec: rosy::codec::CodecId::Raw,
        codec_name: "raw".into(),
        request_type: "std_srvs/srv/Empty request".into(),
        response_type: "std_srvs/srv/Empty response".into(),
    };
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = calls.clone();
    app.add_service_encoded(info, move |request: rosy::node::Received| {
        let counted = counted.clone();
        async move {
            // An empty message is one octet in rosidl's CDR, after the header; Fast DDS pads
            // the payload to 4 bytes.
            if request.payload.starts_with(&[0, 1, 0, 0, 0]) && request.payload.len() <= 8 {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            Ok(rosy::node::Received {
                codec: rosy::codec::CodecId::Raw,
                payload: vec![0, 1, 0, 0, 0].into(),
            })
        }
    })
    .await
    .unwrap();
    let kind = Ros2Service::parse("std_srvs/srv/Empty").unwrap();
    let route = ServiceRoute::new("/reset", kind, Direction::FromRos2);
    let _bridge = Bridge::start(&bridge_node, service_config(ros_domain, route))
        .await
        .unwrap();
    let caller = rclpy_peer(ros_domain, &["call_empty", "/reset"]);
    caller.expect_line("empty answered", T);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}
