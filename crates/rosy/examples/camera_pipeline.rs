//! A camera-like pipeline: 1 MB images (`rosy::msgs::RawImage`, `mono8`), serialized by rkyv
//! straight into shared memory by the camera and read in place by the viewer (no copy on either
//! side when both share a host). `rosy foxglove` shows them in Foxglove's Image panel.
//!
//! ```text
//! cargo run --release --example camera_pipeline -- viewer            # prints a line a second
//! cargo run --release --example camera_pipeline -- camera --fps 30
//! ```
//! Options: `--fps N` (camera, default 30), `--count N` (frames to send, or to see go by,
//! received or lost, then exit; default: until Ctrl-C), `--topic T` (default `camera/frames`), `--size WxH` (camera,
//! default 1000x1000), `--encoding mono8|rgb8` (camera, default mono8; 1920x1080 rgb8 is a
//! 6.2 MB frame).

use rosy::msgs::{ArchivedRawImage, Blob, RawImage, Timestamp};
use std::time::{Duration, Instant, SystemTime};

#[tokio::main]
async fn main() {
    rosy::init_logging(0);
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("camera") => camera(&args).await,
        Some("viewer") => viewer(&args).await,
        _ => {
            eprintln!(
                "usage: camera_pipeline camera|viewer [--fps N] [--count N] [--topic T] \
                 [--size WxH] [--encoding mono8|rgb8]"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn arg<T: std::str::FromStr>(args: &[String], flag: &str) -> Option<T> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

async fn camera(args: &[String]) -> rosy::Result<()> {
    let fps: f64 = arg(args, "--fps").unwrap_or(30.0);
    let count: Option<u64> = arg(args, "--count");
    let topic: String = arg(args, "--topic").unwrap_or_else(|| "camera/frames".into());
    let size: String = arg(args, "--size").unwrap_or_else(|| "1000x1000".into());
    let (width, height) = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .unwrap_or((1000, 1000));
    let encoding: String = arg(args, "--encoding").unwrap_or_else(|| "mono8".into());
    let channels = if encoding == "rgb8" { 3 } else { 1 };
    let node = rosy::build_node("camera").await?;
    let frames = node.archive_publisher::<RawImage>(&topic).await?;
    node.wait_for_listener(&topic, Duration::from_secs(30))
        .await?;
    println!("Sending {width}x{height} frames at {fps} fps on {topic}...");
    // The driver's buffer: refilled each frame, then archived straight into shared memory.
    let mut image = RawImage {
        timestamp: Timestamp::now(),
        frame_id: "camera".into(),
        width,
        height,
        encoding,
        step: width * channels,
        data: Blob(vec![0; (width * channels * height) as usize]),
    };
    let period = Duration::from_secs_f64(1.0 / fps.max(0.001));
    let start = tokio::time::Instant::now();
    let mut seq = 0u64;
    // Made once: a Ctrl-C while a frame is being written must still stop the camera.
    let stop = rosy::node::shutdown_signal();
    tokio::pin!(stop);
    loop {
        seq += 1;
        // A moving gradient: each frame differs, and every row says which frame it is.
        let shift = (seq * 4 % 256) as u8;
        for (y, row) in image.data.chunks_mut(image.step as usize).enumerate() {
            row.fill((y as u8).wrapping_add(shift));
        }
        image.timestamp = Timestamp::from_nanos(now_ns());
        frames
            .send_archived(&image, image.data.len() + 4096)
            .await?;
        if count.is_some_and(|n| seq >= n) {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(start + period.mul_f64(seq as f64)) => {}
            _ = &mut stop => break,
        }
    }
    println!("Sent {seq} frames");
    node.close().await;
    Ok(())
}

async fn viewer(args: &[String]) -> rosy::Result<()> {
    let count: Option<u64> = arg(args, "--count");
    let topic: String = arg(args, "--topic").unwrap_or_else(|| "camera/frames".into());
    let node = rosy::build_node("viewer").await?;
    let mut frames = node.subscriber::<()>(&topic).await?;
    println!("Watching {topic}...");
    let (mut received, mut in_place) = (0u64, 0u64);
    let mut latencies_us: Vec<f64> = Vec::new();
    let mut window = Instant::now();
    // The viewer subscribes best effort, as a display does: a frame it is too slow for is lost
    // (counted) for a newer one. `--count` frames seen go by, received or lost.
    let done = |received: u64, lost: u64| count.is_some_and(|n| received + lost >= n);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let stop = rosy::node::shutdown_signal();
    tokio::pin!(stop);
    loop {
        let archive = tokio::select! {
            a = frames.recv_archived() => a,
            // The last frames may be lost with no newer one to wake this loop.
            _ = tick.tick() => {
                if done(received, frames.lost()) {
                    break;
                }
                continue;
            }
            _ = &mut stop => None,
        };
        let Some(archive) = archive else { break };
        let latency = now_ns();
        // Validated, then read where the camera wrote it: no copy of the megabyte.
        let image = archive.access::<ArchivedRawImage>()?;
        latencies_us.push(latency.saturating_sub(image.timestamp.as_nanos()) as f64 / 1e3);
        let (step, height) = (image.step.to_native() as usize, image.height.to_native());
        let pixels = image.data.as_slice();
        // Row y holds y + shift everywhere: compare the first and last rows' ends.
        let last = pixels.len().saturating_sub(1);
        let rows_agree = pixels.len() == step * height as usize
            && pixels[last].wrapping_sub(pixels[0]) == (height.wrapping_sub(1) % 256) as u8;
        if !rows_agree {
            eprintln!("image {received} is not what the camera wrote");
        }
        received += 1;
        in_place += archive.in_place() as u64;
        let lost = frames.lost();
        if window.elapsed() >= Duration::from_secs(1) || done(received, lost) {
            latencies_us.sort_by(f64::total_cmp);
            let lost = if lost > 0 {
                format!(", {lost} lost")
            } else {
                String::new()
            };
            println!(
                "{received} frames ({in_place} read in place{lost}), {:.1} frames/s, latency p50 {:.0} µs, {}x{} {}",
                latencies_us.len() as f64 / window.elapsed().as_secs_f64(),
                latencies_us[latencies_us.len() / 2],
                image.width,
                height,
                image.encoding
            );
            latencies_us.clear();
            window = Instant::now();
        }
        if done(received, lost) {
            break;
        }
    }
    node.close().await;
    Ok(())
}
