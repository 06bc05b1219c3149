//! [`CodecId`]: which codec wrote a payload, as one byte on the wire and as a name.
//!
//! A base module, below both `transport` (every frame and shared-memory message carries the
//! byte) and `codec` (which re-exports it as `rosy::codec::CodecId`): the id is a plain name,
//! the wire's, with no codec behind it here.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which codec wrote a payload. One byte on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodecId {
    /// The payload is the message's bytes as they are.
    Raw,
    /// MessagePack (rmp-serde), structs as maps.
    MsgPack,
    /// JSON (serde_json).
    Json,
    /// rkyv archives, read in place.
    Rkyv,
    /// A user's codec; its name is announced with the topic or service.
    Custom,
}

impl CodecId {
    /// The byte that stands for this codec in a frame header.
    pub fn to_byte(self) -> u8 {
        match self {
            CodecId::Raw => 0,
            CodecId::MsgPack => 1,
            CodecId::Json => 2,
            CodecId::Rkyv => 3,
            CodecId::Custom => 255,
        }
    }

    /// The codec for a frame header byte, `None` for a byte no codec uses.
    pub fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            0 => CodecId::Raw,
            1 => CodecId::MsgPack,
            2 => CodecId::Json,
            3 => CodecId::Rkyv,
            255 => CodecId::Custom,
            _ => return None,
        })
    }

    /// The codec's name as tools show it (`msgpack`, `json`, ...).
    pub fn name(self) -> &'static str {
        match self {
            CodecId::Raw => "raw",
            CodecId::MsgPack => "msgpack",
            CodecId::Json => "json",
            CodecId::Rkyv => "rkyv",
            CodecId::Custom => "custom",
        }
    }

    /// Parses a codec name as given on a command line or in a launch file.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "raw" | "bytes" => CodecId::Raw,
            "msgpack" | "messagepack" => CodecId::MsgPack,
            "json" => CodecId::Json,
            "rkyv" => CodecId::Rkyv,
            _ => return None,
        })
    }
}

impl fmt::Display for CodecId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_ids_survive_their_byte() {
        for id in [
            CodecId::Raw,
            CodecId::MsgPack,
            CodecId::Json,
            CodecId::Rkyv,
            CodecId::Custom,
        ] {
            assert_eq!(CodecId::from_byte(id.to_byte()), Some(id));
            if id != CodecId::Custom {
                assert_eq!(CodecId::from_name(id.name()), Some(id));
            }
        }
        assert_eq!(CodecId::from_byte(9), None);
    }
}
