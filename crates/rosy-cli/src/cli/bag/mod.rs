//! `rosy bag record|play|info|convert`: arguments. The work is in `record.rs`, `play.rs`,
//! `info.rs` and `convert.rs`; what they share is in `files.rs` (default paths, errors) and
//! `clock.rs` (times as people read them);
//! files are read and written only through `rosy::bag`, the mesh only through `rosy::Node`.
//!
//! Nothing here may overwrite an existing file, or re-encode a recorded message unless asked to
//! (`record --foxglove`, `record --ros2`, `convert`).

mod clock;
mod convert;
mod files;
mod info;
mod play;
mod record;

use super::error::CliError;
use clock::default_name;
use files::bag_path;
use std::path::PathBuf;
use std::time::SystemTime;

#[derive(Debug, clap::Subcommand)]
pub enum BagCommand {
    /// Record the messages of TOPICs to an MCAP file until Ctrl-C (or --duration / --count).
    ///
    /// Messages keep the bytes they travelled with; each topic becomes an MCAP channel whose
    /// message encoding is the codec (msgpack, json, raw, rkyv...) and whose schema is named
    /// after the Rust type when the publisher announced it, so MCAP tools (Foxglove, `mcap`)
    /// open the file. With --foxglove, messages are written as JSON Foxglove decodes.
    ///
    /// A topic bridged from ROS 2 (`rosy ros2 bridge`) of a type rosy has no form of (raw bytes
    /// announced as `pkg/msg/Type`) is written as ROS 2's recorder writes it: message encoding
    /// `cdr`, a `ros2msg` schema with the type's definition, the bytes as they travelled; with
    /// --ros2, so are the topics of types with a ROS 2 form (converted), so the whole bag opens
    /// in ROS 2 tools.
    ///
    /// Data reaches the disk at least every 0.5 s: a recorder killed with `kill -9` leaves a bag
    /// `rosy bag info` and `rosy bag play` still read. A recording that got no message leaves
    /// no file.
    Record {
        /// The topics to record.
        #[arg(required = true)]
        topics: Vec<String>,
        /// The file to write [default: record_YYYY-MM-DD-HH-MM-SS.mcap in the current
        /// directory, at the current UTC time]. An existing file is never overwritten.
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
        /// Stop after this many seconds.
        #[arg(long, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        duration: Option<f64>,
        /// Stop after this many messages (over all topics).
        #[arg(short = 'n', long)]
        count: Option<u64>,
        /// Compress chunks: zstd (what `mcap` and Foxglove write), lz4 (faster) or none.
        #[arg(long, default_value = "none", value_parser = ["none", "zstd", "lz4"])]
        compression: String,
        /// Write a bag Foxglove's panels read: msgpack and JSON messages as JSON, rosy::msgs
        /// types (images, point clouds, transforms, logs) with Foxglove's schemas
        /// (`foxglove.RawImage`...), whatever codec they travelled in. Raw bytes and unknown
        /// rkyv types keep their bytes.
        #[arg(long, conflicts_with = "ros2")]
        foxglove: bool,
        /// Write a bag in ROS 2's MCAP form (what `ros2 bag record -s mcap` writes; Foxglove
        /// and ROS 2 tools read it): messages of the rosy types that have a ROS 2 form
        /// (`rosy ros2 types`: rosy::msgs::Imu as sensor_msgs/msg/Imu, String as
        /// std_msgs/msg/String...) are converted to ROS 2's serialized form, message encoding
        /// `cdr` with a `ros2msg` schema; topics bridged from ROS 2 are always written so.
        /// Other topics keep their bytes and codec; a message that does not convert is kept
        /// with its bytes and counted.
        #[arg(long)]
        ros2: bool,
        /// The recorder's QoS: `--qos-reliability reliable` makes publishers wait for it
        /// rather than drop (it records everything, or fails their sends and says so).
        #[command(flatten)]
        qos: super::qos_args::QosArgs,
    },
    /// Publish the messages of a bag again, with their recorded codec and spacing.
    ///
    /// Waits (at most --wait seconds) for a listener on each recorded topic first, then sends
    /// every message at its recorded time after the first one, divided by --rate.
    Play {
        /// The bag [default: the newest *.mcap in the current directory].
        path: Option<PathBuf>,
        /// Play this many times faster (0.5 = half speed).
        #[arg(short, long, default_value_t = 1.0)]
        rate: f64,
        /// Send every message at once, without the recorded spacing.
        #[arg(long)]
        immediate: bool,
        /// Play again and again, until Ctrl-C.
        #[arg(long = "loop")]
        repeat: bool,
        /// Play only these topics (give PATH before --topics).
        #[arg(long, num_args = 1.., value_name = "TOPIC")]
        topics: Vec<String>,
        /// Do not wait for listeners: start at once, even if nobody listens.
        #[arg(long)]
        no_wait: bool,
        /// How long to wait for listeners (seconds).
        #[arg(long, default_value_t = 10.0, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        wait: f64,
    },
    /// Rewrite a bag for Foxglove: messages as JSON with Foxglove schemas (as `record
    /// --foxglove` writes them), chunks compressed with --compression.
    Convert {
        /// The bag to read.
        input: PathBuf,
        /// The new bag (never overwritten).
        #[arg(short, long, value_name = "PATH")]
        output: PathBuf,
        /// Compress chunks: zstd, lz4 or none.
        #[arg(long, default_value = "zstd", value_parser = ["none", "zstd", "lz4"])]
        compression: String,
    },
    /// Describe a bag: duration, start and end, size, and messages per topic with their codec
    /// and type (--json for one JSON object).
    Info {
        /// The bag [default: the newest *.mcap in the current directory].
        path: Option<PathBuf>,
    },
}

pub async fn run(command: BagCommand, domain: &str, json: bool) -> Result<(), CliError> {
    match command {
        BagCommand::Record {
            topics,
            output,
            duration,
            count,
            compression,
            foxglove,
            ros2,
            qos,
        } => {
            let path = output.unwrap_or_else(|| PathBuf::from(default_name(SystemTime::now())));
            if let Some(d) = duration.filter(|d| !(d.is_finite() && *d > 0.0)) {
                return Err(CliError::Usage(format!(
                    "--duration {d} is not a positive number of seconds"
                )));
            }
            let options = record::Options {
                duration,
                count,
                compression: compression.parse().map_err(CliError::Usage)?,
                foxglove,
                ros2,
                qos: qos.qos(false),
            };
            record::run(domain, topics, path, options, json).await
        }
        BagCommand::Play {
            path,
            rate,
            immediate,
            repeat,
            topics,
            no_wait,
            wait,
        } => {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(CliError::Usage(format!(
                    "--rate {rate} is not a positive number"
                )));
            }
            let path = bag_path(path)?;
            let options = play::Options {
                rate,
                immediate,
                repeat,
                topics,
                wait: (!no_wait).then(|| std::time::Duration::from_secs_f64(wait.max(0.0))),
            };
            play::run(domain, &path, options, json).await
        }
        BagCommand::Info { path } => info::run(&bag_path(path)?, json),
        BagCommand::Convert {
            input,
            output,
            compression,
        } => convert::run(
            &input,
            &output,
            compression.parse().map_err(CliError::Usage)?,
            json,
        ),
    }
}
