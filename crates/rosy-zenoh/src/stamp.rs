//! What travels beside each payload through zenoh (the sample's attachment, JSON): the rosy
//! codec the payload is in, its type name, and the node id of the bridge that sent it from its
//! site (its origin: a bridge never brings back a message whose origin is a node of its own
//! mesh). A call's query says how long its caller's site waits for the answer, so the site
//! that takes it in waits as long. The sample's encoding says the codec too, as a MIME type,
//! for plain zenoh programs.
//!
//! A plain zenoh program may publish with no attachment: its payload is then taken as JSON
//! when its encoding says `application/json`, else as raw bytes. Nothing here does I/O.

use rosy::codec_id::CodecId;
use serde::{Deserialize, Serialize};
use zenoh::bytes::Encoding;

/// The attachment of a sample, a query or a reply a bridge sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// The rosy codec's name (`msgpack`, `json`, `raw`, `rkyv`, or a custom codec's own).
    pub codec: String,
    /// The codec's id, when it is a custom codec's: `custom`. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<bool>,
    /// The type the payload holds, as its publisher announced it.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub type_name: String,
    /// The node id of the bridge that sent it from its site.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub origin: String,
    /// A call's: the milliseconds its caller's site waits for the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_ms: Option<u64>,
}

/// A codec as the stamp names it: its id and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CodecName {
    pub id: CodecId,
    pub name: String,
}

impl Stamp {
    pub fn new(codec: &CodecName, type_name: &str, origin: &str) -> Self {
        Stamp {
            codec: codec.name.clone(),
            custom: (codec.id == CodecId::Custom).then_some(true),
            type_name: type_name.to_string(),
            origin: origin.to_string(),
            within_ms: None,
        }
    }

    /// The stamp of a call whose caller's site waits `bound` for its answer.
    pub fn within(mut self, bound: std::time::Duration) -> Self {
        self.within_ms = Some(u64::try_from(bound.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// How long the caller's site waits, if the stamp says, at most `max`.
    pub fn bound(&self, max: std::time::Duration) -> Option<std::time::Duration> {
        self.within_ms
            .map(|ms| std::time::Duration::from_millis(ms).min(max))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a stamp serializes")
    }

    /// The stamp of a sample or query: from its attachment, else guessed from its encoding
    /// (a plain zenoh program's). Err says why it cannot be read.
    pub fn read(attachment: Option<&[u8]>, encoding: Option<&Encoding>) -> Result<Stamp, String> {
        match attachment {
            Some(bytes) => serde_json::from_slice::<Stamp>(bytes).map_err(|e| {
                format!(
                    "its attachment is not a rosy stamp ({{\"codec\": ..., \"type\": ...}}): {e}"
                )
            }),
            None => {
                let json = encoding.is_some_and(|e| *e == Encoding::APPLICATION_JSON);
                Ok(Stamp {
                    codec: if json { "json" } else { "raw" }.to_string(),
                    custom: None,
                    type_name: String::new(),
                    origin: String::new(),
                    within_ms: None,
                })
            }
        }
    }

    /// The codec it names.
    pub fn codec(&self) -> Result<CodecName, String> {
        if self.custom == Some(true) {
            return Ok(CodecName {
                id: CodecId::Custom,
                name: self.codec.clone(),
            });
        }
        match CodecId::from_name(&self.codec) {
            Some(id) => Ok(CodecName {
                id,
                name: id.name().to_string(),
            }),
            None => Err(format!(
                "its codec {:?} is none of msgpack, json, raw, rkyv (nor marked custom)",
                self.codec
            )),
        }
    }
}

/// The encoding a payload in `codec` is sent with.
pub fn encoding_of(codec: CodecId) -> Encoding {
    match codec {
        CodecId::Json => Encoding::APPLICATION_JSON,
        CodecId::Raw => Encoding::ZENOH_BYTES,
        CodecId::MsgPack => Encoding::from("application/msgpack"),
        CodecId::Rkyv => Encoding::from("application/x-rkyv"),
        CodecId::Custom => Encoding::APPLICATION_OCTET_STREAM,
    }
}

/// Whether `payload` reads as its codec says (JSON and msgpack are checked; raw, rkyv and
/// custom payloads have no form to check without their type): Err says why not.
pub fn check_payload(codec: CodecId, payload: &[u8]) -> Result<(), String> {
    use rosy::codec::Codec;
    let checked = match codec {
        CodecId::Json => rosy::codec::Json.decode::<serde::de::IgnoredAny>(payload),
        CodecId::MsgPack => rosy::codec::MsgPack.decode::<serde::de::IgnoredAny>(payload),
        _ => return Ok(()),
    };
    checked.map(drop).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_stamp_goes_and_comes_back() {
        let codec = CodecName {
            id: CodecId::Rkyv,
            name: "rkyv".into(),
        };
        let stamp = Stamp::new(&codec, "rosy::msgs::Image", "abc");
        let read = Stamp::read(Some(&stamp.to_bytes()), None).unwrap();
        assert_eq!(read, stamp);
        assert_eq!(read.codec().unwrap(), codec);
        assert_eq!(read.bound(Duration::MAX), None);
        let call = Stamp::new(&codec, "", "abc").within(Duration::from_millis(2500));
        let read = Stamp::read(Some(&call.to_bytes()), None).unwrap();
        assert_eq!(
            read.bound(Duration::from_secs(60)),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(
            read.bound(Duration::from_secs(1)),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn plain_zenoh_samples_are_json_or_raw_by_encoding() {
        let json = Stamp::read(None, Some(&Encoding::APPLICATION_JSON)).unwrap();
        assert_eq!(json.codec().unwrap().id, CodecId::Json);
        let raw = Stamp::read(None, Some(&Encoding::TEXT_PLAIN)).unwrap();
        assert_eq!(raw.codec().unwrap().id, CodecId::Raw);
    }

    #[test]
    fn garbage_is_named() {
        assert!(
            Stamp::read(Some(b"\xff\x00"), None)
                .unwrap_err()
                .contains("not a rosy stamp")
        );
        let odd = Stamp::read(Some(br#"{"codec":"yaml"}"#), None).unwrap();
        assert!(odd.codec().unwrap_err().contains("yaml"));
        assert!(check_payload(CodecId::Json, b"{oops").is_err());
        assert!(check_payload(CodecId::MsgPack, &[0xc1]).is_err());
        assert!(check_payload(CodecId::Json, br#"{"a":1}"#).is_ok());
        assert!(check_payload(CodecId::Raw, &[0xc1]).is_ok());
    }
}
