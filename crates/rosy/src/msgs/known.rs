//! [`KnownType`]: which `rosy::msgs` type a topic carries (from the Rust type name its
//! publisher announced), its Foxglove schema, and its messages turned into Foxglove JSON
//! whatever codec they travelled in (msgpack, JSON, rkyv).
//!
//! It converts values only; it never sees a node, a socket or a file.

use super::cloud::PointCloud;
use super::geometry::FrameTransform;
use super::image::{CompressedImage, RawImage};
use super::log::Log;
use super::scalar::Scalar;
use super::schema;
use crate::codec::CodecId;

/// A message could not be turned into Foxglove JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MsgError {
    /// The payload does not decode as the type its topic announced (or, rarely, the decoded
    /// value does not write as JSON).
    #[error("a {codec} message announced as {type_name} does not decode as one: {reason}")]
    Decode {
        /// The name of the codec the message travelled in (`msgpack`, `json`, `rkyv`).
        codec: &'static str,
        /// The Rust type name it was announced as (`a serde value` for a type rosy does not
        /// know).
        type_name: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// The message travelled in a codec that cannot be converted to JSON (raw or custom;
    /// rkyv for a type rosy does not know).
    #[error(
        "{type_name} messages in codec {codec} cannot be converted (only msgpack, json and rkyv)"
    )]
    Codec {
        /// The codec's name.
        codec: &'static str,
        /// The Rust type name it was announced as (`a serde value` for a type rosy does not
        /// know).
        type_name: &'static str,
    },
}

/// The message types of `rosy::msgs` that map to a Foxglove schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KnownType {
    /// [`RawImage`](crate::msgs::RawImage), `foxglove.RawImage`.
    RawImage,
    /// [`CompressedImage`](crate::msgs::CompressedImage), `foxglove.CompressedImage`.
    CompressedImage,
    /// [`PointCloud`](crate::msgs::PointCloud), `foxglove.PointCloud`.
    PointCloud,
    /// [`FrameTransform`](crate::msgs::FrameTransform), `foxglove.FrameTransform`.
    FrameTransform,
    /// [`Log`](crate::msgs::Log), `foxglove.Log`.
    Log,
    /// [`Scalar`](crate::msgs::Scalar), `rosy.Scalar` (no Foxglove counterpart).
    Scalar,
}

impl KnownType {
    /// Every known type, in declaration order.
    pub const ALL: [KnownType; 6] = [
        KnownType::RawImage,
        KnownType::CompressedImage,
        KnownType::PointCloud,
        KnownType::FrameTransform,
        KnownType::Log,
        KnownType::Scalar,
    ];

    /// The Rust type name a publisher of this type announces (`std::any::type_name`).
    pub fn rust_type_name(self) -> &'static str {
        match self {
            KnownType::RawImage => std::any::type_name::<RawImage>(),
            KnownType::CompressedImage => std::any::type_name::<CompressedImage>(),
            KnownType::PointCloud => std::any::type_name::<PointCloud>(),
            KnownType::FrameTransform => std::any::type_name::<FrameTransform>(),
            KnownType::Log => std::any::type_name::<Log>(),
            KnownType::Scalar => std::any::type_name::<Scalar>(),
        }
    }

    /// The type a topic announced as `type_name` carries, if it is one of these.
    pub fn from_type_name(type_name: &str) -> Option<KnownType> {
        KnownType::ALL
            .into_iter()
            .find(|k| k.rust_type_name() == type_name)
    }

    /// The Foxglove schema name (`foxglove.RawImage`...; `rosy.Scalar` has no Foxglove twin).
    pub fn schema_name(self) -> &'static str {
        match self {
            KnownType::RawImage => "foxglove.RawImage",
            KnownType::CompressedImage => "foxglove.CompressedImage",
            KnownType::PointCloud => "foxglove.PointCloud",
            KnownType::FrameTransform => "foxglove.FrameTransform",
            KnownType::Log => "foxglove.Log",
            KnownType::Scalar => "rosy.Scalar",
        }
    }

    /// The JSON schema of the JSON [`KnownType::to_json`] produces.
    pub fn json_schema(self) -> serde_json::Value {
        match self {
            KnownType::RawImage => schema::raw_image(),
            KnownType::CompressedImage => schema::compressed_image(),
            KnownType::PointCloud => schema::point_cloud(),
            KnownType::FrameTransform => schema::frame_transform(),
            KnownType::Log => schema::log(),
            KnownType::Scalar => schema::scalar(),
        }
    }

    /// A message of this type, encoded with `codec`, as Foxglove JSON.
    pub fn to_json(self, codec: CodecId, payload: &[u8]) -> Result<Vec<u8>, MsgError> {
        match self {
            KnownType::RawImage => convert::<RawImage>(self, codec, payload),
            KnownType::CompressedImage => convert::<CompressedImage>(self, codec, payload),
            KnownType::PointCloud => convert::<PointCloud>(self, codec, payload),
            KnownType::FrameTransform => convert::<FrameTransform>(self, codec, payload),
            KnownType::Log => convert::<Log>(self, codec, payload),
            KnownType::Scalar => convert::<Scalar>(self, codec, payload),
        }
    }
}

/// Decodes `payload` as a `T` in `codec`, then writes it as JSON.
fn convert<T>(known: KnownType, codec: CodecId, payload: &[u8]) -> Result<Vec<u8>, MsgError>
where
    T: serde::Serialize + serde::de::DeserializeOwned + rkyv::Archive,
    T::Archived: rkyv::Deserialize<T, rkyv::api::high::HighDeserializer<rkyv::rancor::Error>>
        + for<'a> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'a, rkyv::rancor::Error>>,
{
    let type_name = known.rust_type_name();
    let decode = |reason: String| MsgError::Decode {
        codec: codec.name(),
        type_name,
        reason,
    };
    let value: T = match codec {
        CodecId::MsgPack => rmp_serde::from_slice(payload).map_err(|e| decode(e.to_string()))?,
        CodecId::Json => serde_json::from_slice(payload).map_err(|e| decode(e.to_string()))?,
        CodecId::Rkyv => {
            // rkyv reads from 16-byte aligned memory: shared memory is, TCP buffers may not be.
            let result = if payload.as_ptr() as usize % 16 == 0 {
                rkyv::from_bytes::<T, rkyv::rancor::Error>(payload)
            } else {
                let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(payload.len());
                aligned.extend_from_slice(payload);
                rkyv::from_bytes::<T, rkyv::rancor::Error>(&aligned)
            };
            result.map_err(|e| decode(e.to_string()))?
        }
        _ => {
            return Err(MsgError::Codec {
                codec: codec.name(),
                type_name,
            });
        }
    };
    serde_json::to_vec(&value).map_err(|e| decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgs::{LogLevel, Timestamp};

    fn sample_image() -> RawImage {
        let mut image = RawImage::mono8("camera", 4, 2, 7);
        image.timestamp = Timestamp { sec: 10, nsec: 5 };
        image
    }

    #[test]
    fn type_names_map_to_foxglove_schemas() {
        assert_eq!(
            KnownType::from_type_name(std::any::type_name::<RawImage>()),
            Some(KnownType::RawImage)
        );
        assert_eq!(KnownType::RawImage.schema_name(), "foxglove.RawImage");
        assert_eq!(KnownType::from_type_name("alloc::string::String"), None);
        for k in KnownType::ALL {
            let schema = k.json_schema();
            assert_eq!(schema["title"], k.schema_name());
            assert!(
                schema["properties"]
                    .as_object()
                    .is_some_and(|p| p.contains_key("timestamp"))
            );
        }
    }

    #[test]
    fn an_image_in_any_codec_becomes_the_same_foxglove_json() {
        let image = sample_image();
        let expected = serde_json::json!({
            "timestamp": {"sec": 10, "nsec": 5}, "frame_id": "camera", "width": 4, "height": 2,
            "encoding": "mono8", "step": 4, "data": "BwcHBwcHBwc="
        });
        let msgpack = rmp_serde::to_vec(&image).unwrap();
        let json = serde_json::to_vec(&image).unwrap();
        let archived = rkyv::to_bytes::<rkyv::rancor::Error>(&image).unwrap();
        for (codec, payload) in [
            (CodecId::MsgPack, &msgpack[..]),
            (CodecId::Json, &json[..]),
            (CodecId::Rkyv, &archived[..]),
        ] {
            let out = KnownType::RawImage.to_json(codec, payload).unwrap();
            let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(value, expected, "{codec}");
        }
        // An unaligned rkyv payload (as TCP may deliver it) is copied, then read.
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&archived);
        assert!(
            KnownType::RawImage
                .to_json(CodecId::Rkyv, &shifted[1..])
                .is_ok()
        );
        // The msgpack form carries the pixels as bytes, not as an array of numbers.
        assert!(msgpack.len() < 64, "{}", msgpack.len());
        assert!(matches!(
            KnownType::RawImage.to_json(CodecId::Raw, &msgpack),
            Err(MsgError::Codec { .. })
        ));
        assert!(matches!(
            KnownType::RawImage.to_json(CodecId::MsgPack, b"\x01\x02"),
            Err(MsgError::Decode { .. })
        ));
    }

    #[test]
    fn archived_images_are_read_in_place() {
        let image = sample_image();
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&image).unwrap();
        let archived =
            rkyv::access::<crate::msgs::ArchivedRawImage, rkyv::rancor::Error>(&bytes).unwrap();
        assert_eq!(archived.width.to_native(), 4);
        assert_eq!(archived.data.as_slice(), &[7u8; 8]);
        assert_eq!(archived.timestamp.as_nanos(), 10_000_000_005);
    }

    #[test]
    fn enums_and_clouds_are_numbers_and_base64() {
        let log = Log {
            level: LogLevel::Warning,
            message: "hot".into(),
            ..Default::default()
        };
        let out = KnownType::Log
            .to_json(CodecId::MsgPack, &rmp_serde::to_vec(&log).unwrap())
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["level"], 3);
        let cloud = PointCloud::xyz("lidar", Timestamp::default(), &[[1.0, 2.0, 3.0]]);
        assert_eq!(cloud.len(), 1);
        let out = KnownType::PointCloud
            .to_json(CodecId::MsgPack, &rmp_serde::to_vec(&cloud).unwrap())
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["fields"][2],
            serde_json::json!({"name": "z", "offset": 8, "type": 7})
        );
        assert_eq!(v["pose"]["orientation"]["w"], 1.0);
        assert!(v["data"].is_string());
    }
}
