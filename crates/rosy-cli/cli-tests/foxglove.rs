//! `rosy foxglove` against a Foxglove client no one here wrote: `@foxglove/ws-protocol` driven
//! by Node.js (cli-tests/foxglove-client/check_bridge.js). It sees `some-topic` advertised as
//! JSON once a Rust node listens, receives `["hello","world"]` from the `topic_sender` example,
//! calls `multiply` with `[2, 2]` and gets 4, publishes to a topic a Rust listener receives,
//! sees a `foxglove.RawImage` channel in protobuf and an image on it (decoded from the protobuf
//! wire format: pixels as bytes, no base64), and the connection graph.
//!
//! Needs Node.js and `npm ci --prefix cli-tests/foxglove-client` (see `.ci/run`); fails saying
//! so when they are missing.

use crate::rosy;
use crate::support::{Proc, unique_domain, wait_until};
use rosy::msgs::RawImage;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cli-tests/foxglove-client")
}

/// Starts `rosy foxglove --port 0` in `domain`; returns it and its WebSocket URL.
pub fn start_bridge(domain: &str, extra: &[&str]) -> (Proc, String) {
    let mut args = vec!["--json", "foxglove", "--port", "0"];
    args.extend_from_slice(extra);
    let bridge = Proc::spawn("bridge", rosy(domain, &args));
    let started = wait_until(T, || !bridge.stdout().is_empty());
    assert!(started, "the bridge did not start: {:?}", bridge.stderr());
    let line: serde_json::Value = serde_json::from_str(&bridge.stdout()[0]).unwrap();
    let url = line["url"].as_str().unwrap().to_string();
    (bridge, url)
}

/// `node SCRIPT ARGS` in cli-tests/foxglove-client, panicking with what to install when Node.js
/// or the client's packages are missing.
pub fn node_script(script: &str, args: &[&str]) -> Proc {
    let dir = client_dir();
    assert!(
        dir.join("node_modules/@foxglove/ws-protocol").is_dir(),
        "the Foxglove client is not installed: run `npm ci --prefix cli-tests/foxglove-client`"
    );
    let mut command = std::process::Command::new("node");
    command.current_dir(&dir).arg(script).args(args);
    assert!(
        std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "Node.js is needed to run the Foxglove client (install nodejs)"
    );
    Proc::spawn(script, command)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_foxglove_client_sees_topics_services_images_and_publishes() {
    let domain = unique_domain("foxglove");
    let (mut bridge, url) = start_bridge(&domain, &[]);

    // The mesh: a listener on some-topic and on from-foxglove, a provider of multiply, a camera.
    let node = crate::support::node("fox-listener", &domain).await;
    let mut chatter = node
        .subscriber::<(String, String)>("some-topic")
        .await
        .unwrap();
    let mut from_foxglove = node
        .subscriber::<(String, String)>("from-foxglove")
        .await
        .unwrap();
    node.add_service("multiply", |(a, b): (i64, i64)| async move { Ok(a * b) })
        .await
        .unwrap();
    let camera = crate::support::node("fox-camera", &domain).await;
    let images = camera
        .archive_publisher::<RawImage>("camera/image")
        .await
        .unwrap();
    let camera_task = tokio::spawn(async move {
        for i in 0..600u32 {
            let image = RawImage::mono8("camera", 32, 24, i as u8);
            if images.send_archived(&image, 4096).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        camera
    });
    let mut sender = Proc::example(
        "topic_sender",
        &domain,
        &["--count", "300", "--interval", "0.1"],
    );

    // The bridge listens to a topic only while a client watches it: not yet.
    let bridge_listens = |node: &rosy::Node, topic: &str| {
        node.topology()
            .nodes()
            .any(|n| n.tool && n.name == "rosy-foxglove" && n.listens_to(topic))
    };
    let bridge_known = crate::support::eventually(&node, T, |n| {
        n.topology().nodes().any(|n| n.name == "rosy-foxglove")
    })
    .await;
    assert!(bridge_known, "the bridge never joined the mesh");
    assert!(!bridge_listens(&node, "camera/image"));

    let mut client = node_script("check_bridge.js", &[&url]);
    // Now it does (the client stays at least 2 s: it publishes 20 messages 100 ms apart).
    let watching =
        crate::support::eventually(&node, T, |n| bridge_listens(n, "camera/image")).await;
    assert!(
        watching,
        "the bridge never listened to camera/image for its client"
    );
    let status = tokio::task::block_in_place(|| client.wait_exit(T));
    let out = client.stdout();
    assert!(
        status.success(),
        "the Foxglove client failed: {out:?}\n{:?}\nbridge: {:?}",
        client.stderr(),
        bridge.stderr()
    );
    for line in [
        "advertised some-topic json",
        "received some-topic [\"hello\",\"world\"]",
        "multiply [2, 2] = 4",
        "image channel camera/image foxglove.RawImage protobuf protobuf",
        "graph publishes camera/image, provides multiply",
        "published 20 messages on from-foxglove",
        "done",
    ] {
        assert!(out.iter().any(|l| l == line), "no {line:?} in {out:?}");
    }
    assert!(
        out[0].contains("clientPublish") && out[0].contains("services"),
        "{out:?}"
    );
    // The image came as the SDK's protobuf RawImage: 768 bytes of pixels as bytes in a message
    // of about that size, where JSON's base64 would have made them 1024 bytes.
    let image = "image 32x24 mono8 768 bytes in protobuf (";
    let message_len: usize = out
        .iter()
        .find_map(|l| l.strip_prefix(image)?.strip_suffix(" bytes)")?.parse().ok())
        .unwrap_or_else(|| panic!("no {image:?} line in {out:?}"));
    assert!(
        (768..768 + 64).contains(&message_len),
        "a {message_len}-byte message for 768 bytes of pixels"
    );

    // What the client published reached the Rust listener, decoded as its type.
    let got = tokio::time::timeout(T, from_foxglove.recv()).await;
    assert_eq!(
        got.ok().flatten(),
        Some(("from".to_string(), "foxglove".to_string())),
        "bridge: {:?}",
        bridge.stderr()
    );
    // The Rust listener got the sender's messages too: the bridge took none away.
    let got = tokio::time::timeout(T, chatter.recv()).await;
    assert_eq!(
        got.ok().flatten(),
        Some(("hello".to_string(), "world".to_string()))
    );

    // The client left: the bridge stops listening.
    let stopped = crate::support::eventually(&node, T, |n| {
        !bridge_listens(n, "camera/image") && !bridge_listens(n, "some-topic")
    })
    .await;
    assert!(stopped, "the bridge still listens after its client left");

    bridge.signal(rustix::process::Signal::INT);
    let status = tokio::task::block_in_place(|| bridge.wait_exit(T));
    assert!(status.success(), "{:?}", bridge.stderr());
    let summary = bridge.stderr().join("\n");
    assert!(summary.contains("forwarded"), "{summary}");
    sender.kill();
    camera_task.abort();
    node.close().await;
}

/// A client that stops reading its socket (a frozen browser tab) while 30 frames/s of 0.9 MB
/// images flow: the mesh's own subscriber still gets every frame, and the bridge keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_does_not_slow_the_mesh() {
    let domain = unique_domain("foxglove-stall");
    let (mut bridge, url) = start_bridge(&domain, &[]);
    let camera = crate::support::node("stall-camera", &domain).await;
    let viewer = crate::support::node("stall-viewer", &domain).await;
    let mut frames = viewer.subscriber::<()>("camera/image").await.unwrap();
    let images = camera
        .archive_publisher::<RawImage>("camera/image")
        .await
        .unwrap();
    camera.wait_for_listener("camera/image", T).await.unwrap();
    // Frames flow before the client comes, so the bridge advertises the image type.
    let mut image = RawImage::mono8("camera", 640, 480, 0);
    image.encoding = "rgb8".into();
    image.step = 640 * 3;
    image.data = rosy::msgs::Blob(vec![7; 640 * 480 * 3]);
    let send = |image: RawImage| {
        let images = &images;
        async move { images.send_archived(&image, 640 * 480 * 3 + 4096).await }
    };
    send(image.clone()).await.unwrap();
    let _ = tokio::time::timeout(T, frames.recv_archived()).await;

    let mut stalled = node_script("measure_bridge.js", &[&url, "camera/image", "8", "stall"]);
    // The stalled client subscribed once the bridge listens for it.
    let watching = crate::support::eventually(&viewer, T, |n| {
        n.topology()
            .nodes()
            .any(|n| n.tool && n.name == "rosy-foxglove" && n.listens_to("camera/image"))
    })
    .await;
    assert!(
        watching,
        "the stalled client never subscribed: {:?}",
        stalled.stderr()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    // 3 s at 30 frames/s while the client does not read.
    let start = tokio::time::Instant::now();
    let period = Duration::from_secs_f64(1.0 / 30.0);
    let receiving = tokio::spawn(async move {
        let mut got = 0u64;
        let end = tokio::time::Instant::now() + Duration::from_secs(10);
        while let Ok(Some(_)) = tokio::time::timeout_at(end, frames.recv_archived()).await {
            got += 1;
            if got == 90 {
                break;
            }
        }
        (got, frames.lost())
    });
    for i in 0..90u32 {
        tokio::time::sleep_until(start + period * i).await;
        send(image.clone()).await.unwrap();
    }
    let sending = start.elapsed();
    let (got, lost) = receiving.await.unwrap();
    assert_eq!(
        (got, lost),
        (90, 0),
        "the viewer lost frames beside a stalled client"
    );
    assert!(
        // 3 s of pacing; a loaded machine may add some, a blocked sender would add much more.
        sending < Duration::from_secs(6),
        "sending 90 frames at 30 fps took {sending:?}"
    );

    bridge.signal(rustix::process::Signal::INT);
    let status = tokio::task::block_in_place(|| bridge.wait_exit(T));
    assert!(status.success(), "{:?}", bridge.stderr());
    let summary = bridge.stderr().join("\n");
    let forwarded: u64 = summary
        .split("forwarded ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary: {summary}"));
    assert!(forwarded > 0, "{summary}");
    stalled.kill();
    camera.close().await;
    viewer.close().await;
}
