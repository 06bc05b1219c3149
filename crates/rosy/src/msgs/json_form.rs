//! [`JsonForm`]: how a topic's messages look to Foxglove, which reads JSON but not msgpack or
//! rkyv: known `rosy::msgs` types become their Foxglove schema's JSON, other msgpack and JSON
//! values become plain JSON (bytes as base64), with a JSON schema naming the Rust type when the
//! publisher announced one and no schema otherwise.
//!
//! Shared by the live bridge and by Foxglove bags; it converts values only.

use super::known::{KnownType, MsgError};
use crate::codec::{BinaryAs, CodecId, msgpack_to_json};

/// The JSON form of one topic's messages in one codec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonForm {
    known: Option<KnownType>,
    type_name: String,
}

/// A schema as MCAP and the Foxglove protocol carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonSchema {
    /// The schema's name: the Foxglove schema name of a known type (`foxglove.RawImage`...),
    /// else the Rust type name.
    pub name: String,
    /// Always `jsonschema`.
    pub encoding: &'static str,
    /// The JSON schema itself, as UTF-8 JSON text.
    pub data: Vec<u8>,
}

impl JsonForm {
    /// The form of messages in `codec` announced as Rust type `type_name` ("" when unknown);
    /// `None` when they cannot become JSON (raw bytes, custom codecs, rkyv of a type this
    /// module does not know).
    pub fn new(codec: CodecId, type_name: &str) -> Option<JsonForm> {
        let known = KnownType::from_type_name(type_name);
        match codec {
            CodecId::MsgPack | CodecId::Json => {}
            CodecId::Rkyv if known.is_some() => {}
            _ => return None,
        }
        Some(JsonForm {
            known,
            type_name: type_name.to_string(),
        })
    }

    /// The `rosy::msgs` type, when it is one.
    pub fn known(&self) -> Option<KnownType> {
        self.known
    }

    /// The schema to announce: the Foxglove schema of a known type, a schema accepting any
    /// value titled with the Rust type otherwise, none when the type is unknown.
    pub fn schema(&self) -> Option<JsonSchema> {
        let (name, value) = match self.known {
            Some(k) => (k.schema_name().to_string(), k.json_schema()),
            None if self.type_name.is_empty() => return None,
            None => (
                self.type_name.clone(),
                serde_json::json!({ "title": self.type_name }),
            ),
        };
        Some(JsonSchema {
            name,
            encoding: "jsonschema",
            data: value.to_string().into_bytes(),
        })
    }

    /// One message, as JSON bytes.
    pub fn convert(&self, codec: CodecId, payload: &[u8]) -> Result<Vec<u8>, MsgError> {
        if let Some(known) = self.known {
            return known.to_json(codec, payload);
        }
        let failed = |reason: String| MsgError::Decode {
            codec: codec.name(),
            type_name: "a serde value",
            reason,
        };
        match codec {
            CodecId::Json => {
                // Checked, so a viewer never gets bytes that are not JSON.
                serde_json::from_slice::<serde::de::IgnoredAny>(payload)
                    .map_err(|e| failed(e.to_string()))?;
                Ok(payload.to_vec())
            }
            CodecId::MsgPack => {
                let value = rmpv::decode::read_value(&mut &payload[..])
                    .map_err(|e| failed(e.to_string()))?;
                serde_json::to_vec(&msgpack_to_json(value, BinaryAs::Base64))
                    .map_err(|e| failed(e.to_string()))
            }
            _ => Err(MsgError::Codec {
                codec: codec.name(),
                type_name: "a serde value",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgpack_values_become_json_and_known_types_their_schema() {
        let form = JsonForm::new(
            CodecId::MsgPack,
            "(alloc::string::String, alloc::string::String)",
        )
        .unwrap();
        let payload = rmp_serde::to_vec(&("hello", "world")).unwrap();
        assert_eq!(
            form.convert(CodecId::MsgPack, &payload).unwrap(),
            br#"["hello","world"]"#
        );
        assert_eq!(
            form.schema().unwrap().data,
            br#"{"title":"(alloc::string::String, alloc::string::String)"}"#
        );
        let untyped = JsonForm::new(CodecId::Json, "").unwrap();
        assert_eq!(untyped.schema(), None);
        assert_eq!(
            untyped.convert(CodecId::Json, b"[1, 2]").unwrap(),
            b"[1, 2]"
        );
        assert!(untyped.convert(CodecId::Json, b"[1, ").is_err());
        let bytes = rmp_serde::to_vec(&serde_bytes::Bytes::new(&[1, 2, 3])).unwrap();
        assert_eq!(
            untyped.convert(CodecId::MsgPack, &bytes).unwrap(),
            br#""AQID""#
        );
        assert_eq!(JsonForm::new(CodecId::Raw, ""), None);
        assert_eq!(JsonForm::new(CodecId::Rkyv, "my::Frame"), None);
        let image = JsonForm::new(CodecId::Rkyv, KnownType::RawImage.rust_type_name()).unwrap();
        assert_eq!(image.schema().unwrap().name, "foxglove.RawImage");
    }
}
