//! The rosy side of the ROS 2 bridge benchmark: a `rosy_ros2::Bridge` and a rosy node in one
//! process, measuring what crosses. `scripts/bench-ros2` runs it beside rclpy peers
//! (`crates/rosy-ros2/benches/ros2_peer.py`) inside a loopback-only network namespace and
//! prints the table; run this program by hand only to look at one scenario.
//!
//! ```text
//! ros2_bench image-in  --ros-domain N [--frames 1800]
//! ros2_bench image-out --ros-domain N [--frames 1800] [--fps 30] [--width 1920 --height 1080]
//! ros2_bench small-in  --ros-domain N
//! ros2_bench idle      --ros-domain N [--seconds 20]
//! ```
//!
//! - `image-in`: a route from ROS 2 (`/bench/image`, `sensor_msgs/Image`) and a rosy subscriber
//!   behind it reading each frame in place (`RawImage` archive). The ROS 2 publisher stamps each
//!   frame's header with its send time (CLOCK_REALTIME, ns; same host) and numbers it in
//!   `frame_id` (`f<seq>`, `w<n>` for warm-up frames, not counted); latency is the time the
//!   archive is accessed minus that stamp. Ends at frame `frames - 1`, or 5 s after the last
//!   frame heard.
//! - `image-out`: a rosy publisher of `rgb8` frames at `fps` to a route to ROS 2
//!   (`/bench/image_out`), stamped and numbered the same way; an rclpy subscriber measures. It
//!   first sends a warm-up frame every 200 ms until the rclpy side answers on `/bench/ack`
//!   (`std_msgs/String`, routed from ROS 2), so no measured frame goes before discovery is done.
//! - `small-in`: a route from ROS 2 (`/bench/chatter`, `std_msgs/String`) and a rosy subscriber
//!   counting: each message's text is its sequence number. Ends 3 s after the last message.
//! - `idle`: a bridge with four routes (images and strings, both ways) and nothing crossing; its
//!   CPU use (utime + stime of `/proc/self/stat`) over `seconds`, after 3 s of settling.
//!
//! Each prints `ready` once it can be sent to (for the script), then one line
//! `RESULT {json}`. The rosy nodes stay on loopback, without Zeroconf, in rosy domain
//! `--rosy-domain` (default: one of its own).

use rosy::msgs::{ArchivedRawImage, Blob, RawImage, Timestamp};
use rosy_ros2::{AutoBridge, Bridge, BridgeConfig, Direction, Ros2Type, TopicRoute};
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a scenario waits for its peers (discovery) or its first message.
const START_BOUND: Duration = Duration::from_secs(120);

struct Args {
    command: String,
    ros_domain: u16,
    rosy_domain: String,
    frames: u64,
    fps: f64,
    seconds: f64,
    width: u32,
    height: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let command = args
        .next()
        .ok_or("usage: ros2_bench image-in|image-out|small-in|idle ...")?;
    let mut parsed = Args {
        command,
        ros_domain: 0,
        rosy_domain: format!("ros2-bench-{}", std::process::id()),
        frames: 1800,
        fps: 30.0,
        seconds: 20.0,
        width: 1920,
        height: 1080,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value:?}: {e}");
        match flag.as_str() {
            "--ros-domain" => parsed.ros_domain = value.parse().map_err(|e| bad(&e))?,
            "--rosy-domain" => parsed.rosy_domain = value,
            "--frames" => parsed.frames = value.parse().map_err(|e| bad(&e))?,
            "--fps" => parsed.fps = value.parse().map_err(|e| bad(&e))?,
            "--seconds" => parsed.seconds = value.parse().map_err(|e| bad(&e))?,
            "--width" => parsed.width = value.parse().map_err(|e| bad(&e))?,
            "--height" => parsed.height = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(parsed)
}

type Failure = Box<dyn std::error::Error>;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Failure> {
    let args = parse_args()?;
    match args.command.as_str() {
        "image-in" => image_in(&args).await,
        "image-out" => image_out(&args).await,
        "small-in" => small_in(&args).await,
        "idle" => idle(&args).await,
        other => Err(format!("unknown command {other}").into()),
    }
}

async fn node(name: &str, args: &Args) -> Result<rosy::Node, Failure> {
    Ok(rosy::Node::builder(name)
        .domain_id(args.rosy_domain.as_str())
        .interfaces(Some(vec!["lo".into()]))
        .mdns(false)
        .build()
        .await?)
}

fn bridge_config(args: &Args, topics: Vec<TopicRoute>) -> BridgeConfig {
    BridgeConfig {
        ros_domain_id: args.ros_domain,
        node_name: "rosy_bench_bridge".into(),
        topics,
        services: Vec::new(),
        auto: AutoBridge::default(),
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Wall-clock time in ns since the Unix epoch (CLOCK_REALTIME, as rclpy's `time.time_ns()`).
fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as i128
}

/// Latencies in ms, and their percentiles (nearest rank).
#[derive(Default)]
struct Latencies(Vec<f64>);

impl Latencies {
    fn percentile(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    fn json(&self) -> String {
        format!(
            "\"p50_ms\": {}, \"p90_ms\": {}, \"p99_ms\": {}, \"max_ms\": {}",
            num(self.percentile(50.0)),
            num(self.percentile(90.0)),
            num(self.percentile(99.0)),
            num(self.percentile(100.0))
        )
    }
}

/// A number for JSON (`null` when there is none).
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "null".into()
    }
}

/// Which frames of `0..count` arrived.
struct Seen {
    bits: Vec<bool>,
    distinct: u64,
    duplicates: u64,
    out_of_range: u64,
}

impl Seen {
    fn new(count: u64) -> Seen {
        Seen {
            bits: vec![false; count as usize],
            distinct: 0,
            duplicates: 0,
            out_of_range: 0,
        }
    }

    /// Records `seq`; true if it is new.
    fn mark(&mut self, seq: u64) -> bool {
        match self.bits.get_mut(seq as usize) {
            Some(bit) if !*bit => {
                *bit = true;
                self.distinct += 1;
                true
            }
            Some(_) => {
                self.duplicates += 1;
                false
            }
            None => {
                self.out_of_range += 1;
                false
            }
        }
    }

    /// The first ten sequence numbers that did not arrive, as a JSON list.
    fn missing(&self) -> String {
        let first: Vec<String> = (self.bits.iter().enumerate())
            .filter(|(_, seen)| !**seen)
            .take(10)
            .map(|(seq, _)| seq.to_string())
            .collect();
        format!("[{}]", first.join(", "))
    }
}

async fn image_in(args: &Args) -> Result<(), Failure> {
    let bridge_node = node("bench-bridge", args).await?;
    let app = node("bench-app", args).await?;
    let mut frames = app.subscriber::<()>("bench/image").await?;
    let route = TopicRoute::new("/bench/image", Ros2Type::image(), Direction::FromRos2);
    let bridge = Bridge::start(&bridge_node, bridge_config(args, vec![route])).await?;
    bridge_node
        .wait_for_listeners("bench/image", 1, START_BOUND)
        .await?;
    say("ready");
    let expected_len = args.width as usize * args.height as usize * 3;
    let mut seen = Seen::new(args.frames);
    let mut latency = Latencies::default();
    let (mut warmup, mut wrong_size) = (0u64, 0u64);
    let mut wait = START_BOUND;
    while let Ok(Some(archive)) = tokio::time::timeout(wait, frames.recv_archived()).await {
        let image = archive.access::<ArchivedRawImage>()?;
        let arrived = now_ns();
        let stamp = image.timestamp.sec.to_native() as i128 * 1_000_000_000
            + image.timestamp.nsec.to_native() as i128;
        let Some(seq) = image.frame_id.as_str().strip_prefix('f') else {
            warmup += 1;
            continue;
        };
        wait = Duration::from_secs(5);
        let seq: u64 = seq.parse()?;
        if image.data.0.len() != expected_len {
            wrong_size += 1;
        }
        if seen.mark(seq) {
            latency.0.push((arrived - stamp) as f64 / 1e6);
        }
        if seq + 1 >= args.frames {
            break;
        }
    }
    say(&format!(
        "RESULT {{\"scenario\": \"image-in\", \"side\": \"rosy via bridge\", \"expected\": {}, \
         \"received\": {}, \"lost\": {}, \"duplicates\": {}, \"out_of_range\": {}, \
         \"wrong_size\": {wrong_size}, \"warmup\": {warmup}, \"subscriber_dropped\": {}, \
         \"first_missing\": {}, {}}}",
        args.frames,
        seen.distinct,
        args.frames - seen.distinct,
        seen.duplicates,
        seen.out_of_range,
        frames.lost(),
        seen.missing(),
        latency.json()
    ));
    bridge.stop();
    Ok(())
}

/// An `rgb8` frame of the benchmark's size, its pixels a fixed pattern.
fn frame(args: &Args) -> RawImage {
    let len = args.width as usize * args.height as usize * 3;
    RawImage {
        timestamp: Timestamp::now(),
        frame_id: "w0".into(),
        width: args.width,
        height: args.height,
        encoding: "rgb8".into(),
        step: args.width * 3,
        data: Blob((0..len).map(|i| (i % 251) as u8).collect()),
    }
}

/// `ns` as a rosy timestamp.
fn timestamp(ns: i128) -> Timestamp {
    Timestamp {
        sec: (ns / 1_000_000_000) as u32,
        nsec: (ns % 1_000_000_000) as u32,
    }
}

async fn image_out(args: &Args) -> Result<(), Failure> {
    let bridge_node = node("bench-bridge", args).await?;
    let app = node("bench-app", args).await?;
    let mut ack = app.subscriber::<String>("bench/ack").await?;
    let camera = app.archive_publisher::<RawImage>("bench/image_out").await?;
    let routes = vec![
        TopicRoute::new("/bench/image_out", Ros2Type::image(), Direction::ToRos2),
        TopicRoute::new("/bench/ack", Ros2Type::string(), Direction::FromRos2),
    ];
    let bridge = Bridge::start(&bridge_node, bridge_config(args, routes)).await?;
    app.wait_for_listeners("bench/image_out", 1, START_BOUND)
        .await?;
    bridge_node
        .wait_for_listeners("bench/ack", 1, START_BOUND)
        .await?;
    say("ready");
    let mut image = frame(args);
    let room = image.data.0.len() + 4096;
    // Warm-up frames until the rclpy subscriber says it hears them.
    let start = Instant::now();
    let mut warmup = 0u64;
    loop {
        if start.elapsed() > START_BOUND {
            return Err("no ack from the rclpy subscriber: it never heard a warm-up frame".into());
        }
        image.frame_id = format!("w{warmup}");
        image.timestamp = timestamp(now_ns());
        camera.send_archived(&image, room).await?;
        warmup += 1;
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), ack.recv()).await {
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let period = Duration::from_secs_f64(1.0 / args.fps);
    let (mut sent, mut errors, mut late) = (0u64, 0u64, 0u64);
    let mut send_ms = Latencies::default();
    let start = tokio::time::Instant::now();
    for i in 0..args.frames {
        let due = start + period * i as u32;
        if tokio::time::Instant::now() > due + period {
            late += 1;
        }
        tokio::time::sleep_until(due).await;
        image.frame_id = format!("f{i}");
        let before = now_ns();
        image.timestamp = timestamp(before);
        match camera.send_archived(&image, room).await {
            Ok(_) => sent += 1,
            Err(e) => {
                errors += 1;
                if errors <= 3 {
                    eprintln!("frame {i} not sent: {e}");
                }
            }
        }
        send_ms.0.push((now_ns() - before) as f64 / 1e6);
    }
    let rate = sent as f64 / start.elapsed().as_secs_f64();
    // The last frames are still crossing: the rclpy side ends by itself after the last one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    say(&format!(
        "RESULT {{\"scenario\": \"image-out\", \"side\": \"rosy publisher\", \"sent\": {sent}, \
         \"send_errors\": {errors}, \"late_ticks\": {late}, \"warmup\": {warmup}, \
         \"rate_hz\": {}, \"send_p50_ms\": {}, \"send_p99_ms\": {}}}",
        num(rate),
        num(send_ms.percentile(50.0)),
        num(send_ms.percentile(99.0)),
    ));
    bridge.stop();
    Ok(())
}

async fn small_in(args: &Args) -> Result<(), Failure> {
    let bridge_node = node("bench-bridge", args).await?;
    let app = node("bench-app", args).await?;
    let mut chatter = app.subscriber::<String>("bench/chatter").await?;
    let route = TopicRoute::new("/bench/chatter", Ros2Type::string(), Direction::FromRos2);
    let bridge = Bridge::start(&bridge_node, bridge_config(args, vec![route])).await?;
    bridge_node
        .wait_for_listeners("bench/chatter", 1, START_BOUND)
        .await?;
    say("ready");
    let (mut received, mut max_seq, mut not_numbers) = (0u64, None::<u64>, 0u64);
    let mut distinct = std::collections::HashSet::new();
    let mut wait = START_BOUND;
    let mut first = None;
    let mut last = Instant::now();
    while let Ok(Some(text)) = tokio::time::timeout(wait, chatter.recv()).await {
        last = Instant::now();
        first.get_or_insert(last);
        wait = Duration::from_secs(3);
        received += 1;
        match text.trim().parse::<u64>() {
            Ok(seq) => {
                distinct.insert(seq);
                max_seq = max_seq.max(Some(seq));
            }
            Err(_) => not_numbers += 1,
        }
    }
    let span = first.map_or(0.0, |first| (last - first).as_secs_f64());
    say(&format!(
        "RESULT {{\"scenario\": \"small-in\", \"side\": \"rosy via bridge\", \"received\": \
         {received}, \"distinct\": {}, \"max_seq\": {}, \"not_numbers\": {not_numbers}, \
         \"subscriber_dropped\": {}, \"span_s\": {}, \"rate_hz\": {}}}",
        distinct.len(),
        max_seq.map_or("null".into(), |m| m.to_string()),
        chatter.lost(),
        num(span),
        num(if span > 0.0 {
            received as f64 / span
        } else {
            f64::NAN
        })
    ));
    bridge.stop();
    Ok(())
}

/// CPU time this process has used (utime + stime of `/proc/self/stat`), in seconds.
fn cpu_seconds() -> Result<f64, Failure> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command (which may hold spaces), the third of the file: state is 3.
    let rest = stat.rsplit_once(')').ok_or("no ) in /proc/self/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |field: usize| -> Result<f64, Failure> {
        Ok(fields
            .get(field - 3)
            .ok_or("short /proc/self/stat")?
            .parse::<f64>()?)
    };
    // Clock ticks: USER_HZ, 100 on Linux.
    Ok((ticks(14)? + ticks(15)?) / 100.0)
}

async fn idle(args: &Args) -> Result<(), Failure> {
    let bridge_node = node("bench-bridge", args).await?;
    let routes = vec![
        TopicRoute::new("/bench/image", Ros2Type::image(), Direction::FromRos2),
        TopicRoute::new("/bench/image_out", Ros2Type::image(), Direction::ToRos2),
        TopicRoute::new("/bench/chatter", Ros2Type::string(), Direction::FromRos2),
        TopicRoute::new("/bench/status", Ros2Type::string(), Direction::ToRos2),
    ];
    let bridge = Bridge::start(&bridge_node, bridge_config(args, routes)).await?;
    say("ready");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (cpu0, start) = (cpu_seconds()?, Instant::now());
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    let (cpu1, elapsed) = (cpu_seconds()?, start.elapsed().as_secs_f64());
    let threads = std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count());
    say(&format!(
        "RESULT {{\"scenario\": \"idle\", \"side\": \"rosy bridge\", \"cpu_pct\": {}, \
         \"cpu_s\": {}, \"seconds\": {}, \"threads\": {threads}}}",
        num((cpu1 - cpu0) / elapsed * 100.0),
        num(cpu1 - cpu0),
        num(elapsed)
    ));
    bridge.stop();
    Ok(())
}
