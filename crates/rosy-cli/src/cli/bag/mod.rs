//! `rosy bag record|play|info|convert`: arguments, and what the commands share (default paths,
//! times and sizes as people read them). The work is in `record.rs`, `play.rs`, `info.rs` and
//! `convert.rs`;
//! files are read and written only through `rosy::bag`, the mesh only through `rosy::Node`.
//!
//! Nothing here may overwrite an existing file, or re-encode a recorded message unless asked to
//! (`record --foxglove`, `convert`).

mod convert;
mod info;
mod play;
mod record;

use super::error::CliError;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

#[derive(Debug, clap::Subcommand)]
pub enum BagCommand {
    /// Record the messages of TOPICs to an MCAP file until Ctrl-C (or --duration / --count).
    ///
    /// Messages keep the bytes they travelled with; each topic becomes an MCAP channel whose
    /// message encoding is the codec (msgpack, json, raw, rkyv...) and whose schema is named
    /// after the Rust type when the publisher announced it, so MCAP tools (Foxglove, `mcap`)
    /// open the file. With --foxglove, messages are written as JSON Foxglove decodes. Data reaches the disk at least every 0.5 s: a recorder killed with
    /// `kill -9` leaves a bag `rosy bag info` and `rosy bag play` still read. A recording that
    /// got no message leaves no file.
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
        #[arg(long)]
        foxglove: bool,
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

fn failed(e: rosy::bag::BagError) -> CliError {
    CliError::Failed(e.to_string())
}

/// The bag to read: `path`, or the newest `*.mcap` of the current directory.
fn bag_path(path: Option<PathBuf>) -> Result<PathBuf, CliError> {
    match path {
        Some(p) => Ok(p),
        None => newest_mcap(Path::new(".")),
    }
}

/// The most recently modified `*.mcap` file in `dir`.
fn newest_mcap(dir: &Path) -> Result<PathBuf, CliError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CliError::Failed(format!("cannot list {} for bags: {e}", dir.display())))?;
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "mcap"))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            meta.is_file()
                .then(|| (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), e.path()))
        })
        .max()
        .map(|(_, p)| match p.strip_prefix(".") {
            Ok(name) if dir == Path::new(".") => name.to_path_buf(),
            _ => p,
        })
        .ok_or_else(|| {
            CliError::Usage(format!(
                "no *.mcap file in {}: give the bag's PATH",
                if dir == Path::new(".") {
                    "the current directory".to_string()
                } else {
                    dir.display().to_string()
                }
            ))
        })
}

/// `record_YYYY-MM-DD-HH-MM-SS.mcap` for `at`, in UTC.
fn default_name(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("record_{y:04}-{mo:02}-{d:02}-{h:02}-{mi:02}-{s:02}.mcap")
}

/// (year, month, day, hour, minute, second) in UTC of `secs` since the Unix epoch.
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rest / 3600) as u32,
        (rest % 3600 / 60) as u32,
        (rest % 60) as u32,
    )
}

/// `2026-11-25 09:36:53.123 UTC` for nanoseconds since the Unix epoch.
fn utc(ns: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(ns / 1_000_000_000);
    let ms = ns % 1_000_000_000 / 1_000_000;
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{ms:03} UTC")
}

/// Nanoseconds since the Unix epoch, now.
fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn default_names_and_times_are_utc_calendar_dates() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_063_413);
        assert_eq!(default_name(at), "record_2025-11-25-09-36-53.mcap");
        assert_eq!(
            default_name(SystemTime::UNIX_EPOCH),
            "record_1970-01-01-00-00-00.mcap"
        );
        // A leap day.
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(utc(1_500_000), "1970-01-01 00:00:00.001 UTC");
    }

    #[test]
    fn the_newest_mcap_file_is_the_default_bag() {
        let dir = std::env::temp_dir().join(format!("rosy-bag-newest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let err = newest_mcap(&dir).unwrap_err().to_string();
        assert!(err.contains("no *.mcap file"), "{err}");
        let old = dir.join("old.mcap");
        let new = dir.join("new.mcap");
        std::fs::write(&old, b"a").unwrap();
        std::fs::write(&new, b"b").unwrap();
        std::fs::write(dir.join("newer.txt"), b"c").unwrap();
        let t = SystemTime::now();
        let set = |p: &Path, at: SystemTime| {
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(at)
                .unwrap()
        };
        set(&old, t - Duration::from_secs(100));
        set(&new, t - Duration::from_secs(10));
        assert_eq!(newest_mcap(&dir).unwrap(), new);
        set(&old, t);
        assert_eq!(newest_mcap(&dir).unwrap(), old);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
