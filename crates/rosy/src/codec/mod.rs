//! Codecs: how a message value becomes bytes and back.
//!
//! Every payload on the wire carries the [`CodecId`] of the codec that wrote it, and every topic
//! and service announces its codec (and Rust type name) to the mesh, so tools such as
//! `rosy topic echo` can decode messages without knowing the type.
//!
//! Built in: [`MsgPack`] (the default; structs as maps, `serde_bytes` fields as binary),
//! [`Json`], and [`Raw`] (the payload *is* the bytes: `Vec<u8>`, `serde_bytes::ByteBuf`,
//! `String`). rkyv messages (zero-copy) are not serde values and take their own path through
//! the shared-memory publisher. A user's own codec implements [`Codec`] with
//! [`CodecId::Custom`] and a name of its own.
//!
//! This module never touches the network: it only turns values into bytes and back.
//!
//! ```
//! use rosy::codec::{Codec, MsgPack};
//! let mut bytes = Vec::new();
//! MsgPack.encode(&("hello", 42u32), &mut bytes).unwrap();
//! let back: (String, u32) = MsgPack.decode(&bytes).unwrap();
//! assert_eq!(back, ("hello".to_string(), 42));
//! ```

mod error;
mod raw;
mod traits;

pub use crate::codec_id::CodecId;
pub use error::CodecError;
pub use raw::Raw;
pub use traits::Codec;

use base64::Engine;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// MessagePack via rmp-serde; structs are written as maps so tools can show field names.
#[derive(Clone, Copy, Debug, Default)]
pub struct MsgPack;

impl Codec for MsgPack {
    fn id(&self) -> CodecId {
        CodecId::MsgPack
    }
    fn encode<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let mut serializer = rmp_serde::Serializer::new(out).with_struct_map();
        value
            .serialize(&mut serializer)
            .map_err(|e| CodecError::Encode {
                codec: "msgpack",
                reason: e.to_string(),
            })
    }
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        rmp_serde::from_slice(bytes).map_err(|e| CodecError::Decode {
            codec: "msgpack",
            len: bytes.len(),
            reason: e.to_string(),
        })
    }
}

/// JSON via serde_json.
#[derive(Clone, Copy, Debug, Default)]
pub struct Json;

impl Codec for Json {
    fn id(&self) -> CodecId {
        CodecId::Json
    }
    fn encode<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        serde_json::to_writer(out, value).map_err(|e| CodecError::Encode {
            codec: "json",
            reason: e.to_string(),
        })
    }
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        serde_json::from_slice(bytes).map_err(|e| CodecError::Decode {
            codec: "json",
            len: bytes.len(),
            reason: e.to_string(),
        })
    }
}

/// A message with keyword arguments, as the Python package sends it: `node.send(topic, "hello",
/// name="world")` travels as the map `{"args": ["hello"], "kwargs": {"name": "world"}}`, which
/// this type reads and writes (msgpack and JSON alike).
///
/// Messages without keyword arguments are plainer: several positional arguments travel as an
/// array (a Rust tuple), a single one as the value itself. So a Rust node reads
/// `send(t, "hello", name="world")` as `ArgsKwargs<(String,), HashMap<String, String>>` (or a
/// struct with a `name` field as `K`), and sends one with
/// `node.send(t, &ArgsKwargs::new(("hello",), Name { name: "world".into() }))`, which a Python
/// callback receives as `cb(topic, "hello", name="world")`.
///
/// ```
/// use rosy::codec::{ArgsKwargs, Codec, MsgPack};
/// use std::collections::HashMap;
/// let mut bytes = Vec::new();
/// let kwargs = HashMap::from([("name".to_string(), "world".to_string())]);
/// MsgPack.encode(&ArgsKwargs::new(("hello",), kwargs), &mut bytes).unwrap();
/// let back: ArgsKwargs<(String,), HashMap<String, String>> = MsgPack.decode(&bytes).unwrap();
/// assert_eq!(back.args.0, "hello");
/// assert_eq!(back.kwargs["name"], "world");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgsKwargs<A, K> {
    /// The positional arguments, a tuple or sequence.
    pub args: A,
    /// The keyword arguments, a map or a struct.
    pub kwargs: K,
}

impl<A, K> ArgsKwargs<A, K> {
    /// A message of positional arguments `args` and keyword arguments `kwargs`.
    pub fn new(args: A, kwargs: K) -> Self {
        ArgsKwargs { args, kwargs }
    }
}

/// rkyv archives: not serde values, so this codec only names them. Publish with
/// `Publisher::send_archived` (from `Node::archive_publisher`) and read with
/// `Subscriber::recv_archived`; the serde methods here always fail, saying so.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rkyv;

impl Codec for Rkyv {
    fn id(&self) -> CodecId {
        CodecId::Rkyv
    }
    fn encode<T: Serialize + ?Sized>(&self, _: &T, _: &mut Vec<u8>) -> Result<(), CodecError> {
        Err(CodecError::Encode {
            codec: "rkyv",
            reason: "rkyv messages are sent with Publisher::send_archived".into(),
        })
    }
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        Err(CodecError::Decode {
            codec: "rkyv",
            len: bytes.len(),
            reason: "rkyv messages are read with Subscriber::recv_archived".into(),
        })
    }
}

/// The codecs a node can use by default, chosen at run time (builder, launch file, CLI).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BuiltinCodec {
    /// [`MsgPack`](crate::codec::MsgPack), the default.
    #[default]
    MsgPack,
    /// [`Json`](crate::codec::Json).
    Json,
    /// [`Raw`](crate::codec::Raw): the payload is the message's bytes.
    Raw,
}

impl BuiltinCodec {
    /// The built-in codec for an id, `None` for rkyv and custom codecs.
    pub fn from_id(id: CodecId) -> Option<Self> {
        match id {
            CodecId::MsgPack => Some(BuiltinCodec::MsgPack),
            CodecId::Json => Some(BuiltinCodec::Json),
            CodecId::Raw => Some(BuiltinCodec::Raw),
            CodecId::Rkyv | CodecId::Custom => None,
        }
    }
}

impl Codec for BuiltinCodec {
    fn id(&self) -> CodecId {
        match self {
            BuiltinCodec::MsgPack => CodecId::MsgPack,
            BuiltinCodec::Json => CodecId::Json,
            BuiltinCodec::Raw => CodecId::Raw,
        }
    }
    fn encode<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        match self {
            BuiltinCodec::MsgPack => MsgPack.encode(value, out),
            BuiltinCodec::Json => Json.encode(value, out),
            BuiltinCodec::Raw => Raw.encode(value, out),
        }
    }
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        match self {
            BuiltinCodec::MsgPack => MsgPack.decode(bytes),
            BuiltinCodec::Json => Json.decode(bytes),
            BuiltinCodec::Raw => Raw.decode(bytes),
        }
    }
}

/// Decodes a msgpack or JSON payload into a JSON value for people and scripts, without knowing
/// the message type (`rosy topic echo`). Binary data shows as `{"bytes": N, "hex": "first 32"}`.
/// `None` for raw, rkyv and custom payloads: show those as [`hex_preview`].
pub fn to_display_value(
    codec: CodecId,
    bytes: &[u8],
) -> Option<Result<serde_json::Value, CodecError>> {
    match codec {
        CodecId::MsgPack => Some(
            rmpv::decode::read_value(&mut &bytes[..])
                .map(|value| msgpack_to_json(value, BinaryAs::Preview))
                .map_err(|e| CodecError::Decode {
                    codec: "msgpack",
                    len: bytes.len(),
                    reason: e.to_string(),
                }),
        ),
        CodecId::Json => Some(Json.decode(bytes)),
        _ => None,
    }
}

/// The first bytes of a payload as hex, with the total size: `1048576 bytes: 00 01 02 ...`.
pub fn hex_preview(bytes: &[u8], max: usize) -> String {
    let shown: Vec<String> = bytes.iter().take(max).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > max { " ..." } else { "" };
    format!("{} bytes: {}{more}", bytes.len(), shown.join(" "))
}

/// How [`msgpack_to_json`] writes what JSON has no form for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinaryAs {
    /// For people (`rosy topic echo`): binary as `{"bytes": N, "hex": "first 32"}`, a string
    /// that is not UTF-8 as `"<invalid UTF-8>"`.
    Preview,
    /// For programs (Foxglove, bags): binary as base64, a string that is not UTF-8 as null.
    Base64,
}

/// A msgpack value as JSON, without knowing its type: map keys as strings, extension types as
/// `{"ext": type, "data": ...}`, binary as `binary` says. The one conversion the display and
/// the JSON forms of messages share.
pub(crate) fn msgpack_to_json(value: rmpv::Value, binary: BinaryAs) -> serde_json::Value {
    use serde_json::Value as J;
    let bytes = |b: &[u8]| match binary {
        BinaryAs::Preview => bytes_value(b),
        BinaryAs::Base64 => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
    };
    match value {
        rmpv::Value::Nil => J::Null,
        rmpv::Value::Boolean(b) => J::Bool(b),
        rmpv::Value::Integer(i) => i
            .as_i64()
            .map(J::from)
            .or_else(|| i.as_u64().map(J::from))
            .unwrap_or(J::Null),
        rmpv::Value::F32(f) => J::from(f as f64),
        rmpv::Value::F64(f) => J::from(f),
        rmpv::Value::String(s) => match (s.into_str(), binary) {
            (Some(s), _) => J::String(s),
            (None, BinaryAs::Preview) => J::String("<invalid UTF-8>".into()),
            (None, BinaryAs::Base64) => J::Null,
        },
        rmpv::Value::Binary(b) => bytes(&b),
        rmpv::Value::Array(items) => J::Array(
            items
                .into_iter()
                .map(|item| msgpack_to_json(item, binary))
                .collect(),
        ),
        rmpv::Value::Map(entries) => {
            let mut map = serde_json::Map::new();
            for (k, v) in entries {
                let key = match k {
                    rmpv::Value::String(s) => s.into_str().unwrap_or_default(),
                    other => other.to_string(),
                };
                map.insert(key, msgpack_to_json(v, binary));
            }
            J::Object(map)
        }
        rmpv::Value::Ext(kind, data) => {
            serde_json::json!({ "ext": kind, "data": bytes(&data) })
        }
    }
}

fn bytes_value(bytes: &[u8]) -> serde_json::Value {
    let hex: String = bytes.iter().take(32).map(|b| format!("{b:02x}")).collect();
    serde_json::json!({ "bytes": bytes.len(), "hex": hex })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Frame {
        id: u32,
        #[serde(with = "serde_bytes")]
        pixels: Vec<u8>,
    }

    fn round_trip<C: Codec>(codec: C) {
        let frame = Frame {
            id: 7,
            pixels: vec![1, 2, 3, 255],
        };
        let mut bytes = Vec::new();
        codec.encode(&frame, &mut bytes).unwrap();
        assert_eq!(codec.decode::<Frame>(&bytes).unwrap(), frame);
    }

    #[test]
    fn msgpack_and_json_round_trip_structs() {
        round_trip(MsgPack);
        round_trip(Json);
        round_trip(BuiltinCodec::Json);
    }

    #[test]
    fn msgpack_writes_byte_fields_as_binary_and_structs_as_maps() {
        let mut bytes = Vec::new();
        MsgPack
            .encode(
                &Frame {
                    id: 1,
                    pixels: vec![0; 300],
                },
                &mut bytes,
            )
            .unwrap();
        // fixmap of 2 entries, then "id" as fixstr.
        assert_eq!(bytes[0], 0x82);
        assert_eq!(&bytes[1..4], b"\xa2id");
        // bin16 header for the 300 pixel bytes: the bytes are not a list of integers.
        assert!(bytes.windows(3).any(|w| w == [0xc5, 0x01, 0x2c]));
        assert!(bytes.len() < 320);
    }

    #[test]
    fn decoding_garbage_names_the_codec() {
        let err = MsgPack.decode::<Frame>(&[0xc1, 0x00]).unwrap_err();
        assert!(err.to_string().contains("msgpack"), "{err}");
        let err = Json.decode::<Frame>(b"{nope").unwrap_err();
        assert!(err.to_string().contains("json"), "{err}");
    }

    #[test]
    fn args_kwargs_is_a_map_of_args_and_kwargs() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Name {
            name: String,
        }
        let message = ArgsKwargs::new(
            ("hello",),
            Name {
                name: "world".into(),
            },
        );
        let mut bytes = Vec::new();
        MsgPack.encode(&message, &mut bytes).unwrap();
        let shown = to_display_value(CodecId::MsgPack, &bytes).unwrap().unwrap();
        assert_eq!(
            shown,
            serde_json::json!({"args": ["hello"], "kwargs": {"name": "world"}})
        );
        let back: ArgsKwargs<(String,), Name> = Json
            .decode(serde_json::to_vec(&shown).unwrap().as_slice())
            .unwrap();
        assert_eq!(back.kwargs.name, "world");
    }

    #[test]
    fn tools_decode_without_the_type() {
        let mut bytes = Vec::new();
        MsgPack.encode(&("hello", "world"), &mut bytes).unwrap();
        let value = to_display_value(CodecId::MsgPack, &bytes).unwrap().unwrap();
        assert_eq!(value, serde_json::json!(["hello", "world"]));

        bytes.clear();
        MsgPack
            .encode(
                &Frame {
                    id: 3,
                    pixels: vec![0xab; 100],
                },
                &mut bytes,
            )
            .unwrap();
        let value = to_display_value(CodecId::MsgPack, &bytes).unwrap().unwrap();
        assert_eq!(value["id"], 3);
        assert_eq!(value["pixels"]["bytes"], 100);
        assert!(value["pixels"]["hex"].as_str().unwrap().starts_with("abab"));
        assert!(to_display_value(CodecId::Raw, &bytes).is_none());
        assert_eq!(hex_preview(&[1, 2, 3], 2), "3 bytes: 01 02 ...");
    }
}
