//! [`BagWriter`]: appends encoded messages to a new MCAP file, one channel per (topic, codec),
//! finishing a chunk (uncompressed, zstd or lz4: [`BagCompression`]) at least every
//! [`FLUSH_INTERVAL`] so a killed recorder loses little.
//!
//! It writes the payloads it is given and never overwrites an existing file; turning messages
//! into JSON for Foxglove, or into ROS 2's serialized form, is the caller's choice
//! ([`BagWriter::json_channel`] and [`BagWriter::cdr_channel`] only declare such channels).

use super::error::{BagError, show};
use super::keys::{CDR_ENCODING, CODEC_KEY, QOS_KEY, ROS2MSG_ENCODING, TYPE_KEY};
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The longest time a written message stays only in memory: a chunk is finished and written
/// out at least this often while messages arrive.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(500);

/// A chunk is also finished once it holds this many bytes.
const CHUNK_BYTES: usize = 1 << 20;

/// How chunks are compressed. `zstd` is what the `mcap` CLI and Foxglove write by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BagCompression {
    /// Chunks are written as they are (`none`; the default).
    #[default]
    None,
    /// Chunks are compressed with Zstandard (`zstd`).
    Zstd,
    /// Chunks are compressed with LZ4 frames (`lz4`).
    Lz4,
}

impl std::str::FromStr for BagCompression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(BagCompression::None),
            "zstd" => Ok(BagCompression::Zstd),
            "lz4" => Ok(BagCompression::Lz4),
            other => Err(format!(
                "unknown compression {other:?}: use zstd, lz4 or none"
            )),
        }
    }
}

impl std::fmt::Display for BagCompression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BagCompression::None => "none",
            BagCompression::Zstd => "zstd",
            BagCompression::Lz4 => "lz4",
        })
    }
}

/// Writes a new MCAP file. Call [`BagWriter::finish`] to write its summary and footer; a
/// writer dropped without it still finishes the file.
pub struct BagWriter {
    path: PathBuf,
    out: mcap::Writer<BufWriter<File>>,
    channels: HashMap<(String, String), u16>,
    /// The QoS to record with each topic's channels (`set_qos`).
    qos: HashMap<String, crate::qos::Qos>,
    /// The last sequence number written on each channel.
    sequences: HashMap<u16, u32>,
    messages: u64,
    unflushed: usize,
    last_flush: Instant,
}

impl BagWriter {
    /// Creates `path` (refusing one that exists) and writes the MCAP header to it; chunks are
    /// not compressed.
    pub fn create(path: &Path) -> Result<BagWriter, BagError> {
        BagWriter::create_compressed(path, BagCompression::None)
    }

    /// Like [`BagWriter::create`], with chunks compressed as `compression` says.
    pub fn create_compressed(
        path: &Path,
        compression: BagCompression,
    ) -> Result<BagWriter, BagError> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|source| {
                if source.kind() == std::io::ErrorKind::AlreadyExists {
                    BagError::Exists { path: show(path) }
                } else {
                    BagError::Io {
                        path: show(path),
                        source,
                    }
                }
            })?;
        let options = mcap::WriteOptions::new()
            .compression(match compression {
                BagCompression::None => None,
                BagCompression::Zstd => Some(mcap::Compression::Zstd),
                BagCompression::Lz4 => Some(mcap::Compression::Lz4),
            })
            // One thread: a recorder must not take the cores the mesh runs on.
            .compression_threads(0)
            .chunk_size(None)
            .library(format!("rosy {}", env!("CARGO_PKG_VERSION")));
        let write_error = |source| BagError::Write {
            path: show(path),
            source,
        };
        let mut out = options
            .create(BufWriter::with_capacity(1 << 20, file))
            .map_err(write_error)?;
        // The header reaches the disk now: even a recorder killed at once leaves an MCAP file.
        out.flush().map_err(write_error)?;
        Ok(BagWriter {
            path: path.to_path_buf(),
            out,
            channels: HashMap::new(),
            qos: HashMap::new(),
            sequences: HashMap::new(),
            messages: 0,
            unflushed: 0,
            last_flush: Instant::now(),
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Messages written so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    fn error(&self, source: mcap::McapError) -> BagError {
        BagError::Write {
            path: show(&self.path),
            source,
        }
    }

    /// Records `qos` with the channels of `topic` made from now on (`bag play` republishes
    /// with it).
    pub fn set_qos(&mut self, topic: &str, qos: crate::qos::Qos) {
        self.qos.insert(topic.to_string(), qos);
    }

    fn metadata(&self, topic: &str, codec: &str, type_name: &str) -> BTreeMap<String, String> {
        let mut metadata = BTreeMap::from([
            (CODEC_KEY.to_string(), codec.to_string()),
            (TYPE_KEY.to_string(), type_name.to_string()),
        ]);
        if let Some(qos) = self.qos.get(topic) {
            let json = serde_json::to_string(qos).expect("a QoS always encodes");
            metadata.insert(QOS_KEY.to_string(), json);
        }
        metadata
    }

    /// The channel for messages on `topic` encoded with the codec named `codec` (`msgpack`,
    /// `json`, ...), of Rust type `type_name` ("" when unknown). Adds it on first use.
    pub fn channel(&mut self, topic: &str, codec: &str, type_name: &str) -> Result<u16, BagError> {
        let key = (topic.to_string(), codec.to_string());
        if let Some(&id) = self.channels.get(&key) {
            return Ok(id);
        }
        let schema = if type_name.is_empty() {
            0
        } else if codec == "json" {
            // JSON is self-describing; a schema accepting any value keeps the type's name and
            // lets JSON-aware viewers (Foxglove) decode the messages.
            let data = serde_json::json!({ "title": type_name }).to_string();
            self.out
                .add_schema(type_name, "jsonschema", data.as_bytes())
                .map_err(|e| self.error(e))?
        } else {
            // No schema language describes serde types: name the type, with no definition
            // (an empty schema encoding, as the MCAP spec allows).
            self.out
                .add_schema(type_name, "", &[])
                .map_err(|e| self.error(e))?
        };
        let metadata = self.metadata(topic, codec, type_name);
        let id = self
            .out
            .add_channel(schema, topic, codec, &metadata)
            .map_err(|e| self.error(e))?;
        self.channels.insert(key, id);
        Ok(id)
    }

    /// The channel for messages on `topic` converted to JSON (`message_encoding` `json`) with
    /// `schema` (a JSON schema; `None`: schemaless), remembering the codec and Rust type they
    /// travelled as. Adds it on first use.
    pub fn json_channel(
        &mut self,
        topic: &str,
        schema: Option<&crate::msgs::JsonSchema>,
        type_name: &str,
    ) -> Result<u16, BagError> {
        let key = (topic.to_string(), "json (converted)".to_string());
        if let Some(&id) = self.channels.get(&key) {
            return Ok(id);
        }
        let schema_id = match schema {
            Some(s) => self
                .out
                .add_schema(&s.name, s.encoding, &s.data)
                .map_err(|e| self.error(e))?,
            None => 0,
        };
        let metadata = self.metadata(topic, "json", type_name);
        let id = self
            .out
            .add_channel(schema_id, topic, "json", &metadata)
            .map_err(|e| self.error(e))?;
        self.channels.insert(key, id);
        Ok(id)
    }

    /// The channel for messages on `topic` in ROS 2's serialized form (the 4-byte CDR
    /// encapsulation header, then CDR) of the ROS 2 type `ros2_type` (`sensor_msgs/msg/Imu`),
    /// as ROS 2's own recorder writes them: `message_encoding` [`CDR_ENCODING`], and a schema
    /// named `ros2_type` of encoding [`ROS2MSG_ENCODING`] holding `definition`, the type's
    /// complete `ros2msg` text (`rosy_ros2::ros2_definition`). Foxglove and ROS 2 tools decode
    /// such a channel. Without a definition the schema is empty: tools that need one cannot
    /// decode the messages, so the caller should warn. Adds it on first use.
    ///
    /// The channel's rosy metadata says the messages travel in rosy with the `raw` codec,
    /// announced as `ros2_type`, which is how `rosy bag play` republishes them (and how the
    /// ROS 2 bridge carries a type it has no rosy form of).
    pub fn cdr_channel(
        &mut self,
        topic: &str,
        ros2_type: &str,
        definition: Option<&str>,
    ) -> Result<u16, BagError> {
        let key = (topic.to_string(), CDR_ENCODING.to_string());
        if let Some(&id) = self.channels.get(&key) {
            return Ok(id);
        }
        let schema = self
            .out
            .add_schema(
                ros2_type,
                ROS2MSG_ENCODING,
                definition.unwrap_or_default().as_bytes(),
            )
            .map_err(|e| self.error(e))?;
        let metadata = self.metadata(topic, "raw", ros2_type);
        let id = self
            .out
            .add_channel(schema, topic, CDR_ENCODING, &metadata)
            .map_err(|e| self.error(e))?;
        self.channels.insert(key, id);
        Ok(id)
    }

    /// Appends one message on `channel` (from [`BagWriter::channel`]); times are nanoseconds
    /// since the Unix epoch.
    pub fn write(
        &mut self,
        channel: u16,
        log_time: u64,
        publish_time: u64,
        data: &[u8],
    ) -> Result<(), BagError> {
        let sequence = self.sequences.entry(channel).or_insert(0);
        *sequence = sequence.wrapping_add(1);
        let sequence = *sequence;
        let header = mcap::records::MessageHeader {
            channel_id: channel,
            sequence,
            log_time,
            publish_time,
        };
        self.out
            .write_to_known_channel(&header, data)
            .map_err(|e| self.error(e))?;
        self.messages += 1;
        self.unflushed += data.len() + 31;
        if self.unflushed >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Flushes when something was written and the last flush is [`FLUSH_INTERVAL`] old.
    pub fn flush_if_due(&mut self) -> Result<(), BagError> {
        if self.unflushed > 0 && self.last_flush.elapsed() >= FLUSH_INTERVAL {
            self.flush()?;
        }
        Ok(())
    }

    /// Finishes the current chunk and writes it to the file.
    pub fn flush(&mut self) -> Result<(), BagError> {
        self.out.flush().map_err(|e| self.error(e))?;
        self.unflushed = 0;
        self.last_flush = Instant::now();
        Ok(())
    }

    /// Writes the summary and footer and closes the file. Returns the number of messages.
    pub fn finish(mut self) -> Result<u64, BagError> {
        self.out.finish().map_err(|e| self.error(e))?;
        let messages = self.messages;
        let path = self.path.clone();
        let mut file = self.out.into_inner();
        std::io::Write::flush(&mut file).map_err(|source| BagError::Io {
            path: show(&path),
            source,
        })?;
        Ok(messages)
    }

    /// Closes and deletes the file (a recording that got no message).
    pub fn discard(self) -> Result<(), BagError> {
        let path = self.path.clone();
        drop(self.out.into_inner());
        std::fs::remove_file(&path).map_err(|source| BagError::Io {
            path: show(&path),
            source,
        })
    }
}
