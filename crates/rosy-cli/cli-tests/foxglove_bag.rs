//! Bags others read and bags others write: `rosy bag record --foxglove` read back by the Python
//! `mcap` library (every JSON message decodes, images carry `foxglove.RawImage`), and zstd and
//! lz4 bags written by that library read by `rosy bag info` and played by `rosy bag play`.
//!
//! Needs python3 with `mcap==1.6.0`, `zstandard` and `lz4` (see `.ci/run`); fails saying so
//! when they are missing.

use crate::rosy;
use crate::support::{Proc, unique_domain};
use rosy::msgs::{Log, LogLevel, RawImage};
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("cli-tests/python")
        .join(name)
}

/// Runs a script of cli-tests/python with python3; its stdout. Panics with what to install when
/// the `mcap` module is missing.
fn python(name: &str, args: &[&str]) -> String {
    let output = std::process::Command::new("python3")
        .arg(script(name))
        .args(args)
        .output()
        .expect("python3 runs (install python3)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "{name}: the Python `mcap` library is missing: \
         pip install mcap==1.6.0 zstandard==0.25.0 lz4==4.4.5\n{stderr}"
    );
    assert!(output.status.success(), "{name} failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(unique_domain(&format!("rosy-fbag-{test}")));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foxglove_bag_decodes_in_python_with_json_and_the_image_schema() {
    let domain = unique_domain("fbag");
    let dir = TempDir::new("foxglove");
    let bag = dir.0.join("fox.mcap");
    let mut recorder = Proc::spawn(
        "record",
        rosy(
            &domain,
            &[
                "bag",
                "record",
                "--foxglove",
                "--compression",
                "zstd",
                "some-topic",
                "camera/image",
                "logs",
                "-o",
                bag.to_str().unwrap(),
                "--count",
                "6",
                "--duration",
                "20",
            ],
        ),
    );
    let node = crate::support::node("fbag-sender", &domain).await;
    for topic in ["some-topic", "camera/image", "logs"] {
        node.wait_for_listener(topic, T)
            .await
            .expect("the recorder listens");
    }
    let images = node
        .archive_publisher::<RawImage>("camera/image")
        .await
        .unwrap();
    let logs = node.publisher::<Log>("logs").await.unwrap();
    for i in 0..2u8 {
        node.send("some-topic", &("hello", "world")).await.unwrap();
        images
            .send_archived(&RawImage::mono8("camera", 64, 48, i), 8192)
            .await
            .unwrap();
        let line = Log {
            level: LogLevel::Info,
            message: format!("line {i}"),
            name: "fbag-sender".into(),
            ..Default::default()
        };
        logs.send(&line).await.unwrap();
    }
    let status = tokio::task::block_in_place(|| recorder.wait_exit(T));
    assert!(status.success(), "{:?}", recorder.stderr());
    node.close().await;
    let data = std::fs::read(&bag).unwrap();
    assert!(
        data.windows(4).any(|w| w == b"zstd"),
        "the chunks are not zstd-compressed"
    );

    let out = python("read_foxglove_bag.py", &[bag.to_str().unwrap()]);
    let channels: serde_json::Value = serde_json::from_str(&out).unwrap();
    let chatter = &channels["some-topic"];
    assert_eq!(chatter["encoding"], "json", "{channels}");
    assert_eq!(chatter["decoded"], 2, "{channels}");
    assert_eq!(chatter["first"], serde_json::json!(["hello", "world"]));
    let image = &channels["camera/image"];
    assert_eq!(
        (
            &image["schema"],
            &image["schema_encoding"],
            &image["schema_title"]
        ),
        (
            &"foxglove.RawImage".into(),
            &"jsonschema".into(),
            &"foxglove.RawImage".into()
        ),
        "{channels}"
    );
    assert_eq!(image["decoded"], 2, "{channels}");
    assert_eq!(
        (
            &image["first"]["width"],
            &image["first"]["encoding"],
            &image["first"]["step"]
        ),
        (&64.into(), &"mono8".into(), &64.into()),
        "{channels}"
    );
    // 64 x 48 bytes as base64: 4096 characters.
    assert_eq!(image["first"]["data"], 4096, "{channels}");
    let logs = &channels["logs"];
    assert_eq!(logs["schema"], "foxglove.Log", "{channels}");
    assert_eq!(logs["first"]["level"], 2, "{channels}");
    assert_eq!(logs["first"]["message"], "line 0", "{channels}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_and_lz4_bags_written_by_python_are_read_and_played() {
    const N: u64 = 300;
    let dir = TempDir::new("python");
    for compression in ["zstd", "lz4"] {
        let bag = dir.0.join(format!("{compression}.mcap"));
        let path = bag.to_str().unwrap();
        python(
            "write_compressed_bag.py",
            &[path, compression, &N.to_string()],
        );

        let mut info = Proc::spawn("info", rosy("unused", &["bag", "info", "--json", path]));
        let status = tokio::task::block_in_place(|| info.wait_exit(T));
        assert!(status.success(), "{compression}: {:?}", info.stderr());
        let summary: serde_json::Value = serde_json::from_str(&info.stdout().join("\n")).unwrap();
        assert_eq!(summary["messages"], N, "{compression}: {summary}");
        assert_eq!(summary["topics"][0]["codec"], "json", "{summary}");

        let domain = unique_domain(&format!("fbag-play-{compression}"));
        let node = crate::support::node("fbag-listener", &domain).await;
        let mut sub = node.subscriber::<(String, u64)>("chatter").await.unwrap();
        let mut play = Proc::spawn("play", rosy(&domain, &["bag", "play", path, "--immediate"]));
        for i in 0..N {
            let got = tokio::time::timeout(T, sub.recv()).await;
            let Ok(Some((hello, n))) = got else {
                panic!(
                    "{compression}: message {i} did not arrive: {:?}",
                    play.stderr()
                );
            };
            assert_eq!((hello.as_str(), n), ("hello", i), "{compression}");
        }
        let status = tokio::task::block_in_place(|| play.wait_exit(T));
        assert!(status.success(), "{compression}: {:?}", play.stderr());
        node.close().await;
    }
}

#[test]
fn bag_convert_turns_a_plain_bag_into_one_foxglove_reads() {
    let dir = TempDir::new("convert");
    let plain = dir.0.join("plain.mcap");
    let converted = dir.0.join("fox.mcap");
    // A bag as plain `record` writes it: msgpack values, rkyv images, raw bytes.
    let mut writer = rosy::bag::BagWriter::create(&plain).unwrap();
    let chatter = writer
        .channel(
            "some-topic",
            "msgpack",
            "(alloc::string::String, alloc::string::String)",
        )
        .unwrap();
    let image_type = rosy::msgs::KnownType::RawImage.rust_type_name();
    let images = writer.channel("camera/image", "rkyv", image_type).unwrap();
    let raw = writer.channel("bytes", "raw", "").unwrap();
    for i in 0..3u64 {
        let hello = rmp_serde::to_vec(&("hello", "world")).unwrap();
        writer.write(chatter, i, i, &hello).unwrap();
        let image = RawImage::mono8("camera", 8, 4, i as u8);
        let archived = rkyv::to_bytes::<rkyv::rancor::Error>(&image).unwrap();
        writer.write(images, i, i, &archived).unwrap();
        writer.write(raw, i, i, b"\x00\x01").unwrap();
    }
    writer.finish().unwrap();

    let mut convert = Proc::spawn(
        "convert",
        rosy(
            "unused",
            &[
                "--json",
                "bag",
                "convert",
                plain.to_str().unwrap(),
                "-o",
                converted.to_str().unwrap(),
                "--compression",
                "lz4",
            ],
        ),
    );
    assert!(convert.wait_exit(T).success(), "{:?}", convert.stderr());
    let said: serde_json::Value = serde_json::from_str(&convert.stdout()[0]).unwrap();
    assert_eq!(
        (&said["converted"], &said["kept"]),
        (&6.into(), &3.into()),
        "{said}"
    );

    let out = python("read_foxglove_bag.py", &[converted.to_str().unwrap()]);
    let channels: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(channels["some-topic"]["decoded"], 3, "{channels}");
    assert_eq!(
        channels["some-topic"]["first"],
        serde_json::json!(["hello", "world"])
    );
    assert_eq!(
        channels["camera/image"]["schema"], "foxglove.RawImage",
        "{channels}"
    );
    assert_eq!(channels["camera/image"]["first"]["width"], 8, "{channels}");
    assert_eq!(channels["bytes"]["encoding"], "raw", "{channels}");
    // Never over an existing file.
    let mut again = Proc::spawn(
        "convert",
        rosy(
            "unused",
            &[
                "bag",
                "convert",
                plain.to_str().unwrap(),
                "-o",
                converted.to_str().unwrap(),
            ],
        ),
    );
    assert!(!again.wait_exit(T).success());
    assert!(again.stderr().join("\n").contains("already exists"));
}
