//! A camera-like pipeline: 1 MB frames, serialized by rkyv straight into shared memory by the
//! camera and read in place by the viewer (no copy on either side when both share a host).
//!
//! ```text
//! cargo run --release --example camera_pipeline -- viewer            # prints a line a second
//! cargo run --release --example camera_pipeline -- camera --fps 30
//! ```
//! Options: `--fps N` (camera, default 30), `--count N` (frames to send or to receive, then
//! exit; default: until Ctrl-C), `--topic T` (default `camera/frames`).

use std::time::{Duration, Instant, SystemTime};

/// One camera frame. Its archived form is read in place: `ArchivedFrame`.
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct Frame {
    seq: u64,
    /// When the camera captured it, in ns since the Unix epoch.
    stamp_ns: u64,
    width: u32,
    height: u32,
    /// 8-bit grey pixels, `width * height` of them.
    pixels: Vec<u8>,
}

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 1000;

#[tokio::main]
async fn main() {
    rosy::init_logging(0);
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("camera") => camera(&args).await,
        Some("viewer") => viewer(&args).await,
        _ => {
            eprintln!("usage: camera_pipeline camera|viewer [--fps N] [--count N] [--topic T]");
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
    let node = rosy::build_node("camera").await?;
    let frames = node.archive_publisher::<Frame>(&topic).await?;
    node.wait_for_listener(&topic, Duration::from_secs(30))
        .await?;
    println!("Sending {WIDTH}x{HEIGHT} frames at {fps} fps on {topic}...");
    // The driver's buffer: refilled each frame, then archived straight into shared memory.
    let mut frame = Frame {
        seq: 0,
        stamp_ns: 0,
        width: WIDTH,
        height: HEIGHT,
        pixels: vec![0; (WIDTH * HEIGHT) as usize],
    };
    let period = Duration::from_secs_f64(1.0 / fps.max(0.001));
    let start = tokio::time::Instant::now();
    loop {
        frame.seq += 1;
        frame.pixels.fill((frame.seq % 256) as u8);
        frame.stamp_ns = now_ns();
        frames
            .send_archived(&frame, frame.pixels.len() + 4096)
            .await?;
        if count.is_some_and(|n| frame.seq >= n) {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(start + period.mul_f64(frame.seq as f64)) => {}
            _ = rosy::node::shutdown_signal() => break,
        }
    }
    println!("Sent {} frames", frame.seq);
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
    loop {
        let archive = tokio::select! {
            a = frames.recv_archived() => a,
            _ = rosy::node::shutdown_signal() => None,
        };
        let Some(archive) = archive else { break };
        let latency = now_ns();
        // Validated, then read where the camera wrote it: no copy of the megabyte.
        let frame = archive.access::<ArchivedFrame>()?;
        latencies_us.push(latency.saturating_sub(frame.stamp_ns.to_native()) as f64 / 1e3);
        let expected = (frame.seq.to_native() % 256) as u8;
        if frame.pixels.len() != (WIDTH * HEIGHT) as usize || frame.pixels[0] != expected {
            eprintln!("frame {} is not what the camera wrote", frame.seq);
        }
        received += 1;
        in_place += archive.in_place() as u64;
        if window.elapsed() >= Duration::from_secs(1) || count.is_some_and(|n| received >= n) {
            latencies_us.sort_by(f64::total_cmp);
            println!(
                "{received} frames ({} read in place), {:.1} frames/s, latency p50 {:.0} µs, frame {}",
                in_place,
                latencies_us.len() as f64 / window.elapsed().as_secs_f64(),
                latencies_us[latencies_us.len() / 2],
                frame.seq
            );
            latencies_us.clear();
            window = Instant::now();
        }
        if count.is_some_and(|n| received >= n) {
            break;
        }
    }
    node.close().await;
    Ok(())
}
