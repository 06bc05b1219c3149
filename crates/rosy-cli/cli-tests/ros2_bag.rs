//! Bags in ROS 2's MCAP form: `rosy bag record --ros2` of a topic bridged from ROS 2 (raw
//! bytes announced as `sensor_msgs/msg/Temperature`) and of a rosy `Imu` (msgpack), read back by
//! the Python `mcap` and `mcap-ros2-support` libraries (which decode the cdr messages with the
//! bag's own ros2msg schemas, not rosy's code); `rosy bag info` names the encoding and the types;
//! `rosy bag play` sends the Temperature bytes unchanged, as raw bytes announced as the ROS 2
//! type.
//!
//! Needs python3 with `mcap==1.6.0` and `mcap-ros2-support==0.6.0` (see scripts/test); fails
//! saying so when they are missing.

use crate::rosy;
use crate::support::{Proc, eventually, unique_domain};
use bytes::Bytes;
use rosy::codec::{BuiltinCodec, CodecId};
use rosy::msgs::{Imu, Quaternion, Timestamp, Vector3};
use rosy::topology::TopicRole;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);
const TEMPERATURE: &str = "sensor_msgs/msg/Temperature";

/// A `sensor_msgs/msg/Temperature` as ROS 2 serializes it: the encapsulation header (CDR, little
/// endian), then header.stamp {sec 12, nanosec 500}, header.frame_id "probe", temperature 21.5,
/// variance 0.25 (the doubles aligned to 8 from the end of the encapsulation header).
fn temperature_bytes() -> Vec<u8> {
    let mut b = vec![0, 1, 0, 0];
    b.extend(12i32.to_le_bytes());
    b.extend(500u32.to_le_bytes());
    b.extend(6u32.to_le_bytes());
    b.extend(b"probe\0");
    b.extend([0; 6]); // 18 bytes of CDR so far: padding to 24
    b.extend(21.5f64.to_le_bytes());
    b.extend(0.25f64.to_le_bytes());
    b
}

fn imu() -> Imu {
    Imu {
        timestamp: Timestamp { sec: 7, nsec: 8 },
        frame_id: "imu_link".into(),
        orientation: Quaternion {
            x: 0.5,
            y: -0.5,
            z: 0.5,
            w: 0.5,
        },
        orientation_covariance: [0.1; 9],
        angular_velocity: Vector3 {
            x: 1.0,
            y: 2.0,
            z: 3.0,
        },
        angular_velocity_covariance: [0.2; 9],
        linear_acceleration: Vector3 {
            x: 0.0,
            y: 0.0,
            z: 9.81,
        },
        linear_acceleration_covariance: [0.3; 9],
    }
}

/// Runs cli-tests/python/read_ros2_bag.py on `bag`: its JSON. Panics with what to install when
/// a module is missing.
fn read_with_python(bag: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("cli-tests/python/read_ros2_bag.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(bag)
        .output()
        .expect("python3 runs (install python3)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "the Python `mcap` or `mcap-ros2-support` library is missing: \
         pip install mcap==1.6.0 mcap-ros2-support==0.6.0\n{stderr}"
    );
    assert!(output.status.success(), "read_ros2_bag.py failed: {stderr}");
    serde_json::from_slice(&output.stdout).expect("read_ros2_bag.py prints JSON")
}

/// A directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether some node of `node`'s mesh publishes `topic` announced as `type_name`.
fn announced(node: &rosy::Node, topic: &str, type_name: &str) -> bool {
    node.topology()
        .nodes()
        .flat_map(|n| n.topics.iter())
        .any(|t| t.name == topic && t.role == TopicRole::Publish && t.type_name == type_name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_ros2_writes_cdr_that_ros2_tools_decode_and_play_sends_it_unchanged() {
    let domain = unique_domain("ros2bag");
    let dir = TempDir(std::env::temp_dir().join(unique_domain("rosy-ros2-bag")));
    std::fs::create_dir_all(&dir.0).unwrap();
    let bag = dir.0.join("ros2.mcap");
    let path = bag.to_str().unwrap();

    // Record: a topic as the ROS 2 bridge publishes a type it has no rosy form of, and a rosy
    // Imu in the node's codec (msgpack), converted by --ros2.
    let mut recorder = Proc::spawn(
        "record",
        rosy(
            &domain,
            &[
                "bag",
                "record",
                "--ros2",
                "temp",
                "imu",
                "-o",
                path,
                "--count",
                "2",
                "--duration",
                "20",
            ],
        ),
    );
    let node = crate::support::node("ros2bag-sender", &domain).await;
    let temps = node
        .encoded_publisher("temp", BuiltinCodec::Raw, TEMPERATURE, Default::default())
        .await
        .unwrap();
    let imus = node.publisher::<Imu>("imu").await.unwrap();
    for topic in ["temp", "imu"] {
        node.wait_for_listener(topic, T)
            .await
            .expect("the recorder listens");
    }
    temps
        .send_encoded(Bytes::from(temperature_bytes()))
        .await
        .unwrap();
    imus.send(&imu()).await.unwrap();
    let status = tokio::task::block_in_place(|| recorder.wait_exit(T));
    assert!(status.success(), "{:?}", recorder.stderr());
    assert!(
        !recorder.stderr().join("\n").contains("warning"),
        "{:?}",
        recorder.stderr()
    );
    node.close().await;

    // Another implementation decodes both channels as ROS 2 messages, from the bag's schemas.
    let channels = read_with_python(&bag);
    let temp = &channels["temp"];
    assert_eq!(
        (
            &temp["encoding"],
            &temp["schema"],
            &temp["schema_encoding"],
            &temp["decoded"]
        ),
        (
            &"cdr".into(),
            &TEMPERATURE.into(),
            &"ros2msg".into(),
            &1.into()
        ),
        "{channels}"
    );
    let first = &temp["first"];
    assert_eq!(first["header"]["stamp"]["sec"], 12, "{channels}");
    assert_eq!(first["header"]["stamp"]["nanosec"], 500, "{channels}");
    assert_eq!(first["header"]["frame_id"], "probe", "{channels}");
    assert_eq!(first["temperature"], 21.5, "{channels}");
    assert_eq!(first["variance"], 0.25, "{channels}");

    let imu_channel = &channels["imu"];
    assert_eq!(
        (
            &imu_channel["encoding"],
            &imu_channel["schema"],
            &imu_channel["schema_encoding"],
            &imu_channel["decoded"]
        ),
        (
            &"cdr".into(),
            &"sensor_msgs/msg/Imu".into(),
            &"ros2msg".into(),
            &1.into()
        ),
        "{channels}"
    );
    let first = &imu_channel["first"];
    assert_eq!(first["header"]["stamp"]["sec"], 7, "{channels}");
    assert_eq!(first["header"]["stamp"]["nanosec"], 8, "{channels}");
    assert_eq!(first["header"]["frame_id"], "imu_link", "{channels}");
    assert_eq!(
        first["orientation"],
        serde_json::json!({"x": 0.5, "y": -0.5, "z": 0.5, "w": 0.5}),
        "{channels}"
    );
    assert_eq!(
        first["angular_velocity"],
        serde_json::json!({"x": 1.0, "y": 2.0, "z": 3.0}),
        "{channels}"
    );
    assert_eq!(first["linear_acceleration"]["z"], 9.81, "{channels}");
    assert_eq!(
        first["orientation_covariance"],
        serde_json::json!(vec![0.1; 9]),
        "{channels}"
    );
    assert_eq!(
        first["linear_acceleration_covariance"],
        serde_json::json!(vec![0.3; 9]),
        "{channels}"
    );

    // `rosy bag info` names the encoding and the ROS 2 types.
    let mut info = Proc::spawn("info", rosy("unused", &["bag", "info", "--json", path]));
    let status = tokio::task::block_in_place(|| info.wait_exit(T));
    assert!(status.success(), "{:?}", info.stderr());
    let summary: serde_json::Value = serde_json::from_str(&info.stdout().join("\n")).unwrap();
    let topics: Vec<(String, String, String)> = summary["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let s = |k: &str| t[k].as_str().unwrap_or_default().to_string();
            (s("topic"), s("codec"), s("type"))
        })
        .collect();
    assert_eq!(
        topics,
        vec![
            ("imu".into(), "cdr".into(), "sensor_msgs/msg/Imu".into()),
            ("temp".into(), "cdr".into(), TEMPERATURE.into()),
        ],
        "{summary}"
    );

    // `rosy bag play`: the Temperature's bytes arrive unchanged, raw, on a topic announced as
    // the ROS 2 type (what `rosy ros2 bridge --to-ros2 temp=sensor_msgs/msg/Temperature` needs).
    // --loop keeps the player (and its announcement) up until it is stopped.
    let domain = unique_domain("ros2bag-play");
    let listener = crate::support::node("ros2bag-listener", &domain).await;
    let mut sub = listener
        .subscriber::<serde_json::Value>("temp")
        .await
        .unwrap();
    let mut play = Proc::spawn(
        "play",
        rosy(
            &domain,
            &["bag", "play", path, "--topics", "temp", "--loop"],
        ),
    );
    let got = tokio::time::timeout(T, sub.recv_encoded()).await;
    let Ok(Some(received)) = got else {
        panic!("no Temperature was played: {:?}", play.stderr());
    };
    assert_eq!(received.codec, CodecId::Raw);
    assert_eq!(received.payload.as_ref(), &temperature_bytes()[..]);
    assert!(
        eventually(&listener, T, |n| announced(n, "temp", TEMPERATURE)).await,
        "the player does not announce temp as {TEMPERATURE}: {:?}",
        play.stderr()
    );
    play.signal(rustix::process::Signal::INT);
    let status = tokio::task::block_in_place(|| play.wait_exit(T));
    assert!(status.success(), "{:?}", play.stderr());
    listener.close().await;
}
