//! Shared memory through the node API: a 1 MB rkyv frame read in place.

use std::time::Duration;

const T: Duration = Duration::from_secs(15);

#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct Frame {
    seq: u64,
    pixels: Vec<u8>,
}

/// The /dev/shm mapping of this process that contains `addr`, if any.
fn shm_mapping_of(addr: usize) -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines().find_map(|line| {
        let mut parts = line.split_whitespace();
        let range = parts.next()?;
        let path = parts.nth(4)?;
        let (lo, hi) = range.split_once('-')?;
        let (lo, hi) = (
            usize::from_str_radix(lo, 16).ok()?,
            usize::from_str_radix(hi, 16).ok()?,
        );
        ((lo..hi).contains(&addr) && path.starts_with("/dev/shm/rosy.")).then(|| path.to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1mb_rkyv_frame_is_read_in_place_from_shared_memory() {
    let domain = format!("shm-nodes-{}", std::process::id());
    let build = |name: &str| {
        rosy::Node::builder(name)
            .domain_id(&domain)
            .interfaces(Some(vec!["lo".to_string()]))
            .build()
    };
    let camera = build("camera").await.unwrap();
    let viewer = build("viewer").await.unwrap();
    let mut frames = viewer.subscriber::<()>("camera/frames").await.unwrap();
    let publisher = camera
        .archive_publisher::<Frame>("camera/frames")
        .await
        .unwrap();
    camera.wait_for_listener("camera/frames", T).await.unwrap();
    // Wait until the viewer reads the camera's segment (the first frames may go by TCP).
    let viewer_id = viewer.id();
    let attached = camera
        .wait_for_topology(T, |topology| {
            topology.nodes().any(|n| {
                n.id == viewer_id && n.shm_reading.iter().any(|(_, t)| t == "camera/frames")
            })
        })
        .await;
    assert!(attached, "viewer never attached to shared memory");
    let mut seq = 0;
    let archive = loop {
        seq += 1;
        let frame = Frame {
            seq,
            pixels: vec![(seq % 251) as u8; 1_000_000],
        };
        publisher.send_archived(&frame, 1_100_000).await.unwrap();
        let archive = tokio::time::timeout(T, frames.recv_archived())
            .await
            .unwrap()
            .unwrap();
        if archive.in_place() {
            break archive;
        }
    };
    let frame = archive.access::<ArchivedFrame>().unwrap();
    assert_eq!(frame.seq, seq);
    assert_eq!(frame.pixels.len(), 1_000_000);
    assert!(frame.pixels.iter().all(|&p| p == (seq % 251) as u8));
    let mapping = shm_mapping_of(frame.pixels.as_ptr() as usize);
    assert!(
        mapping.is_some(),
        "the pixels at {:p} are not in a rosy segment",
        frame.pixels.as_ptr()
    );
    drop(archive);
    camera.close().await;
    viewer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_host_service_calls_go_through_shared_memory_for_4_concurrent_callers() {
    use crate::support::Proc;
    let domain = format!("shm-services-{}", std::process::id());
    let provider = Proc::example("service_provider", &domain, &[]);
    provider.expect_line("Started service...", T);
    let caller = rosy::Node::builder("callers")
        .domain_id(&domain)
        .interfaces(Some(vec!["lo".to_string()]))
        .build()
        .await
        .unwrap();
    caller
        .wait_for_service_provider("multiply", T)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..4i64)
        .map(|k| {
            let caller = caller.clone();
            tokio::spawn(async move {
                for i in 0..300i64 {
                    let product: i64 = caller.call("multiply", &(i, k + 2)).await.unwrap();
                    assert_eq!(product, i * (k + 2));
                }
            })
        })
        .collect();
    for task in tasks {
        tokio::time::timeout(T, task).await.unwrap().unwrap();
    }
    // The answers came through the provider's segment, not TCP.
    let info = caller.info();
    assert!(
        info.shm_reading.iter().any(|(_, t)| t == "@rosy/responses"),
        "calls never switched to shared memory: {:?}",
        info.shm_reading
    );
    // A remote error still comes back as the handler's text.
    let err = caller
        .call::<_, i64>("multiply", &(4_611_686_018_427_387_904i64, 4))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("overflows"), "{err}");
    caller.close().await;
}

/// A sender that closes right after its last `send` loses nothing, whichever way the messages
/// went: what was written into its segment is read before its listener lets the segment go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_closing_right_after_sending_loses_nothing() {
    for transport in [
        rosy::TransportPreference::Auto,
        rosy::TransportPreference::Tcp,
    ] {
        let domain = format!("shm-close-{}-{transport:?}", std::process::id());
        let receiver = rosy::Node::builder("receiver")
            .domain_id(&domain)
            .interfaces(Some(vec!["lo".to_string()]))
            .transport(transport)
            .queue_capacity(1 << 16)
            .build()
            .await
            .unwrap();
        let mut sub = receiver
            .subscriber::<(u32, u64, serde_bytes::ByteBuf)>("burst")
            .await
            .unwrap();
        for round in 0..5u32 {
            // A burst of 2000 × 1 kB in a row: ring slots that hold such messages inline,
            // enough of them for the whole burst (the default ring is sized for small boards).
            let sender = rosy::Node::builder("sender")
                .domain_id(&domain)
                .interfaces(Some(vec!["lo".to_string()]))
                .transport(transport)
                .shm_config(rosy::transport::shm::ShmConfig {
                    slots: 2048,
                    inline_max: 1100,
                    ..Default::default()
                })
                .build()
                .await
                .unwrap();
            sender.wait_for_listener("burst", T).await.unwrap();
            let publisher = sender
                .publisher::<(u32, u64, serde_bytes::ByteBuf)>("burst")
                .await
                .unwrap();
            let payload = serde_bytes::ByteBuf::from(vec![7u8; 1000]);
            for seq in 0..2000u64 {
                publisher
                    .send(&(round, seq, payload.clone()))
                    .await
                    .unwrap();
            }
            sender.close().await;
            for expected in 0..2000u64 {
                let got = tokio::time::timeout(T, sub.recv()).await;
                let (r, seq, _) = got
                    .unwrap_or_else(|_| {
                        panic!("{transport:?} round {round}: message {expected} of 2000 never came")
                    })
                    .expect("subscriber open");
                assert_eq!(
                    (r, seq),
                    (round, expected),
                    "{transport:?}: out of order or lost"
                );
            }
        }
        assert_eq!(sub.lost(), 0);
        receiver.close().await;
    }
}

/// The camera pipeline example: 1 MB frames from one process, validated and read in place by
/// another. The viewer is best effort, as a display is: when it falls behind (a debug build on
/// a loaded machine), the oldest frame it has not reached is lost for a newer one, counted.
#[test]
fn the_camera_pipeline_example_reads_frames_in_place() {
    use crate::support::Proc;
    let domain = format!("shm-camera-{}", std::process::id());
    let mut viewer = Proc::example("camera_pipeline", &domain, &["viewer", "--count", "30"]);
    viewer.expect_line("Watching camera/frames...", T);
    let mut camera = Proc::example(
        "camera_pipeline",
        &domain,
        &["camera", "--fps", "200", "--count", "30"],
    );
    assert!(camera.wait_exit(T).success(), "{:?}", camera.stderr());
    assert!(viewer.wait_exit(T).success(), "{:?}", viewer.stderr());
    // "N frames (M read in place[, L lost]), ..."
    let last = viewer.stdout().last().cloned().unwrap_or_default();
    let numbers: Vec<u64> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .take(3)
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(numbers.len() >= 2, "unexpected summary {last:?}");
    let (received, in_place) = (numbers[0], numbers[1]);
    let lost = if last.contains(" lost)") {
        numbers[2]
    } else {
        0
    };
    assert_eq!(
        received + lost,
        30,
        "every frame received or counted lost: {last}"
    );
    assert!(in_place > 0, "no frame was read in place: {last}");
    assert!(
        !viewer
            .stderr()
            .iter()
            .any(|l| l.contains("not what the camera wrote")),
        "{:?}",
        viewer.stderr()
    );
}
