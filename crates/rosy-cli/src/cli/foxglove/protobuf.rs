//! The `rosy::msgs` types that have a Foxglove schema (RawImage, CompressedImage, PointCloud,
//! FrameTransform, Log) turned into the Foxglove SDK's own messages (`foxglove::messages`),
//! which the SDK encodes as protobuf: from msgpack and JSON by decoding the rosy value and
//! moving its fields over, from rkyv by reading the archive in place.
//!
//! Pixels and points are never base64 and never copied twice: a decoded value's bytes move
//! into the SDK's message as they are, and an archive's bytes are shared with the received
//! payload when it was read where it arrived (shared memory), else copied once from the
//! archived slice. It converts values only: it never subscribes, never opens a channel and
//! never encodes (the SDK's typed channel writes each message once, whatever the number of
//! clients).

use foxglove::bytes::Bytes;
use foxglove::messages as fg;
use rosy::codec::{Codec, CodecId};
use rosy::msgs::{self, KnownType, MsgError};
use rosy::node::Archive;

/// A Foxglove SDK message that a rosy message of one known type becomes.
pub trait FromRosy: foxglove::Encode + Sized + Send + Sync + 'static {
    /// The rosy type it comes from.
    const KNOWN: KnownType;
    /// That rosy type, as decoded from msgpack or JSON.
    type Rosy: serde::de::DeserializeOwned;
    /// Moves a decoded rosy value's fields over (bytes included, without a copy).
    fn from_rosy(value: Self::Rosy) -> Self;
    /// Reads a received rkyv archive in place; `payload` is the received bytes the archive
    /// may be reading, so that its pixels or points can be shared rather than copied.
    fn from_archive(archive: &Archive, payload: &Bytes) -> Result<Self, rosy::codec::CodecError>;
}

/// The rosy message of `T::KNOWN` in `payload`, encoded with `codec`, as the SDK's `T`.
pub fn convert<T: FromRosy>(codec: CodecId, payload: &Bytes) -> Result<T, MsgError> {
    let decode = |e: rosy::codec::CodecError| MsgError::Decode {
        codec: codec.name(),
        type_name: T::KNOWN.rust_type_name(),
        reason: e.to_string(),
    };
    match codec {
        CodecId::MsgPack => rosy::codec::MsgPack
            .decode::<T::Rosy>(payload)
            .map(T::from_rosy)
            .map_err(decode),
        CodecId::Json => rosy::codec::Json
            .decode::<T::Rosy>(payload)
            .map(T::from_rosy)
            .map_err(decode),
        CodecId::Rkyv => T::from_archive(&Archive::new(payload.clone()), payload).map_err(decode),
        _ => Err(MsgError::Codec {
            codec: codec.name(),
            type_name: T::KNOWN.rust_type_name(),
        }),
    }
}

/// `slice` as `Bytes`: a view of `payload` when `slice` lies inside it (an archive read in
/// place), else one copy.
fn shared(payload: &Bytes, slice: &[u8]) -> Bytes {
    let start = payload.as_ptr() as usize;
    let at = slice.as_ptr() as usize;
    if !slice.is_empty() && at >= start && at + slice.len() <= start + payload.len() {
        payload.slice_ref(slice)
    } else {
        Bytes::copy_from_slice(slice)
    }
}

fn timestamp(t: msgs::Timestamp) -> Option<fg::Timestamp> {
    Some(fg::Timestamp::new(t.sec, t.nsec))
}

fn archived_timestamp(t: &msgs::ArchivedTimestamp) -> Option<fg::Timestamp> {
    Some(fg::Timestamp::new(t.sec.to_native(), t.nsec.to_native()))
}

fn vector3(v: msgs::Vector3) -> Option<fg::Vector3> {
    Some(fg::Vector3 {
        x: v.x,
        y: v.y,
        z: v.z,
    })
}

fn archived_vector3(v: &msgs::ArchivedVector3) -> Option<fg::Vector3> {
    Some(fg::Vector3 {
        x: v.x.to_native(),
        y: v.y.to_native(),
        z: v.z.to_native(),
    })
}

fn quaternion(q: msgs::Quaternion) -> Option<fg::Quaternion> {
    Some(fg::Quaternion {
        x: q.x,
        y: q.y,
        z: q.z,
        w: q.w,
    })
}

fn archived_quaternion(q: &msgs::ArchivedQuaternion) -> Option<fg::Quaternion> {
    Some(fg::Quaternion {
        x: q.x.to_native(),
        y: q.y.to_native(),
        z: q.z.to_native(),
        w: q.w.to_native(),
    })
}

/// A log level from its archive, as its discriminant (rosy declares `LogLevel` with the values
/// of Foxglove's enum). Deserializing a fieldless enum copies one validated byte.
fn archived_level(level: &<msgs::LogLevel as rkyv::Archive>::Archived) -> i32 {
    rkyv::deserialize::<msgs::LogLevel, rkyv::rancor::Error>(level)
        .map(|l| l as i32)
        .unwrap_or_default()
}

/// A point field's numeric type from its archive, as its discriminant (rosy declares
/// `NumericType` with the values of Foxglove's enum).
fn archived_numeric_type(numeric: &<msgs::NumericType as rkyv::Archive>::Archived) -> i32 {
    rkyv::deserialize::<msgs::NumericType, rkyv::rancor::Error>(numeric)
        .map(|t| t as i32)
        .unwrap_or_default()
}

impl FromRosy for fg::RawImage {
    const KNOWN: KnownType = KnownType::RawImage;
    type Rosy = msgs::RawImage;

    fn from_rosy(v: msgs::RawImage) -> Self {
        fg::RawImage {
            timestamp: timestamp(v.timestamp),
            frame_id: v.frame_id,
            width: v.width,
            height: v.height,
            encoding: v.encoding,
            step: v.step,
            data: Bytes::from(v.data.0),
        }
    }

    fn from_archive(archive: &Archive, payload: &Bytes) -> Result<Self, rosy::codec::CodecError> {
        let a = archive.access::<msgs::ArchivedRawImage>()?;
        Ok(fg::RawImage {
            timestamp: archived_timestamp(&a.timestamp),
            frame_id: a.frame_id.as_str().to_owned(),
            width: a.width.to_native(),
            height: a.height.to_native(),
            encoding: a.encoding.as_str().to_owned(),
            step: a.step.to_native(),
            data: shared(payload, a.data.as_slice()),
        })
    }
}

impl FromRosy for fg::CompressedImage {
    const KNOWN: KnownType = KnownType::CompressedImage;
    type Rosy = msgs::CompressedImage;

    fn from_rosy(v: msgs::CompressedImage) -> Self {
        fg::CompressedImage {
            timestamp: timestamp(v.timestamp),
            frame_id: v.frame_id,
            data: Bytes::from(v.data.0),
            format: v.format,
        }
    }

    fn from_archive(archive: &Archive, payload: &Bytes) -> Result<Self, rosy::codec::CodecError> {
        let a = archive.access::<msgs::ArchivedCompressedImage>()?;
        Ok(fg::CompressedImage {
            timestamp: archived_timestamp(&a.timestamp),
            frame_id: a.frame_id.as_str().to_owned(),
            data: shared(payload, a.data.as_slice()),
            format: a.format.as_str().to_owned(),
        })
    }
}

impl FromRosy for fg::PointCloud {
    const KNOWN: KnownType = KnownType::PointCloud;
    type Rosy = msgs::PointCloud;

    fn from_rosy(v: msgs::PointCloud) -> Self {
        fg::PointCloud {
            timestamp: timestamp(v.timestamp),
            frame_id: v.frame_id,
            pose: Some(fg::Pose {
                position: vector3(v.pose.position),
                orientation: quaternion(v.pose.orientation),
            }),
            point_stride: v.point_stride,
            fields: v
                .fields
                .into_iter()
                .map(|f| fg::PackedElementField {
                    name: f.name,
                    offset: f.offset,
                    r#type: f.numeric_type as i32,
                })
                .collect(),
            data: Bytes::from(v.data.0),
        }
    }

    fn from_archive(archive: &Archive, payload: &Bytes) -> Result<Self, rosy::codec::CodecError> {
        let a = archive.access::<msgs::ArchivedPointCloud>()?;
        Ok(fg::PointCloud {
            timestamp: archived_timestamp(&a.timestamp),
            frame_id: a.frame_id.as_str().to_owned(),
            pose: Some(fg::Pose {
                position: archived_vector3(&a.pose.position),
                orientation: archived_quaternion(&a.pose.orientation),
            }),
            point_stride: a.point_stride.to_native(),
            fields: a
                .fields
                .iter()
                .map(|f| fg::PackedElementField {
                    name: f.name.as_str().to_owned(),
                    offset: f.offset.to_native(),
                    r#type: archived_numeric_type(&f.numeric_type),
                })
                .collect(),
            data: shared(payload, a.data.as_slice()),
        })
    }
}

impl FromRosy for fg::FrameTransform {
    const KNOWN: KnownType = KnownType::FrameTransform;
    type Rosy = msgs::FrameTransform;

    fn from_rosy(v: msgs::FrameTransform) -> Self {
        fg::FrameTransform {
            timestamp: timestamp(v.timestamp),
            parent_frame_id: v.parent_frame_id,
            child_frame_id: v.child_frame_id,
            translation: vector3(v.translation),
            rotation: quaternion(v.rotation),
        }
    }

    fn from_archive(archive: &Archive, _: &Bytes) -> Result<Self, rosy::codec::CodecError> {
        let a = archive.access::<msgs::ArchivedFrameTransform>()?;
        Ok(fg::FrameTransform {
            timestamp: archived_timestamp(&a.timestamp),
            parent_frame_id: a.parent_frame_id.as_str().to_owned(),
            child_frame_id: a.child_frame_id.as_str().to_owned(),
            translation: archived_vector3(&a.translation),
            rotation: archived_quaternion(&a.rotation),
        })
    }
}

impl FromRosy for fg::Log {
    const KNOWN: KnownType = KnownType::Log;
    type Rosy = msgs::Log;

    fn from_rosy(v: msgs::Log) -> Self {
        fg::Log {
            timestamp: timestamp(v.timestamp),
            level: v.level as i32,
            message: v.message,
            name: v.name,
            file: v.file,
            line: v.line,
        }
    }

    fn from_archive(archive: &Archive, _: &Bytes) -> Result<Self, rosy::codec::CodecError> {
        let a = archive.access::<msgs::ArchivedLog>()?;
        Ok(fg::Log {
            timestamp: archived_timestamp(&a.timestamp),
            level: archived_level(&a.level),
            message: a.message.as_str().to_owned(),
            name: a.name.as_str().to_owned(),
            file: a.file.as_str().to_owned(),
            line: a.line.to_native(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use foxglove::Decode;
    use rosy::msgs::{LogLevel, NumericType, PackedElementField, Timestamp};

    fn image() -> msgs::RawImage {
        let mut image = msgs::RawImage::mono8("camera", 4, 3, 0);
        image.encoding = "rgb8".into();
        image.step = 12;
        image.data = msgs::Blob((0..36).collect());
        image.timestamp = Timestamp {
            sec: 1_700_000_000,
            nsec: 123_456_789,
        };
        image
    }

    /// An rkyv archive of `value` in 16-byte aligned memory, as shared memory delivers it.
    fn archived<T>(value: &T) -> Bytes
    where
        T: for<'a> rkyv::Serialize<
                rkyv::api::high::HighSerializer<
                    rkyv::util::AlignedVec,
                    rkyv::ser::allocator::ArenaHandle<'a>,
                    rkyv::rancor::Error,
                >,
            >,
    {
        let bytes = Bytes::from_owner(rkyv::to_bytes::<rkyv::rancor::Error>(value).unwrap());
        assert_eq!(bytes.as_ptr() as usize % 16, 0);
        bytes
    }

    /// The same archive one byte off alignment, as TCP may deliver it.
    fn unaligned(archive: &Bytes) -> Bytes {
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(archive);
        let shifted = Bytes::from(shifted).slice(1..);
        if shifted.as_ptr() as usize % 16 == 0 {
            // The allocator put the copy one byte before a 16-byte boundary: shift once more.
            let mut again = vec![0u8; 2];
            again.extend_from_slice(archive);
            return Bytes::from(again).slice(2..);
        }
        shifted
    }

    /// `value` through the SDK's protobuf encoding and back.
    fn round_trip<T: FromRosy + Decode>(value: &T) -> (usize, T) {
        let mut buf = Vec::new();
        value.encode(&mut buf).unwrap();
        (buf.len(), T::decode(&buf[..]).unwrap())
    }

    #[test]
    fn an_image_keeps_every_field_from_msgpack_json_and_rkyv() {
        let image = image();
        let expected = fg::RawImage {
            timestamp: Some(fg::Timestamp::new(1_700_000_000, 123_456_789)),
            frame_id: "camera".into(),
            width: 4,
            height: 3,
            encoding: "rgb8".into(),
            step: 12,
            data: Bytes::from((0..36).collect::<Vec<u8>>()),
        };
        let archive = archived(&image);
        for (codec, payload) in [
            (
                CodecId::MsgPack,
                Bytes::from(rmp_serde::to_vec(&image).unwrap()),
            ),
            (
                CodecId::Json,
                Bytes::from(serde_json::to_vec(&image).unwrap()),
            ),
            (CodecId::Rkyv, archive.clone()),
            (CodecId::Rkyv, unaligned(&archive)),
        ] {
            let converted = convert::<fg::RawImage>(codec, &payload).unwrap();
            assert_eq!(converted, expected, "{codec}");
            let (len, decoded) = round_trip(&converted);
            assert_eq!(decoded, expected, "{codec}");
            // The pixels as bytes plus a few dozen bytes of fields: no base64.
            assert!((36..36 + 64).contains(&len), "{codec}: {len} bytes");
            let ts = decoded.timestamp.unwrap();
            assert_eq!((ts.sec(), ts.nsec()), (1_700_000_000, 123_456_789));
        }
    }

    #[test]
    fn archived_pixels_are_shared_not_copied_when_read_in_place() {
        let archive = archived(&image());
        let converted = convert::<fg::RawImage>(CodecId::Rkyv, &archive).unwrap();
        let (start, end) = (
            archive.as_ptr() as usize,
            archive.as_ptr() as usize + archive.len(),
        );
        let at = converted.data.as_ptr() as usize;
        assert!(
            at >= start && at + converted.data.len() <= end,
            "the pixels were copied out of the received archive"
        );
        // Unaligned, the archive is copied once to be read: the pixels come from that copy.
        let moved = unaligned(&archive);
        let converted = convert::<fg::RawImage>(CodecId::Rkyv, &moved).unwrap();
        assert_eq!(&converted.data[..], &(0..36).collect::<Vec<u8>>()[..]);
    }

    #[test]
    fn compressed_images_transforms_clouds_and_logs_keep_their_fields() {
        let stamp = Timestamp { sec: 7, nsec: 8 };
        let jpeg = msgs::CompressedImage {
            timestamp: stamp,
            frame_id: "cam".into(),
            data: msgs::Blob(vec![0xff, 0xd8, 0xff, 0xe0]),
            format: "jpeg".into(),
        };
        let tf = msgs::FrameTransform {
            timestamp: stamp,
            parent_frame_id: "world".into(),
            child_frame_id: "base".into(),
            translation: msgs::Vector3 {
                x: 1.0,
                y: -2.0,
                z: 3.5,
            },
            rotation: msgs::Quaternion {
                x: 0.0,
                y: 0.0,
                z: 0.6,
                w: 0.8,
            },
        };
        let mut cloud = msgs::PointCloud::xyz("lidar", stamp, &[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        cloud.pose.position.z = 1.5;
        // Every numeric type, so the archived enum's values are checked one by one.
        let types = [
            NumericType::Unknown,
            NumericType::Uint8,
            NumericType::Int8,
            NumericType::Uint16,
            NumericType::Int16,
            NumericType::Uint32,
            NumericType::Int32,
            NumericType::Float32,
            NumericType::Float64,
        ];
        cloud
            .fields
            .extend(types.iter().map(|&t| PackedElementField {
                name: format!("{t:?}"),
                offset: 0,
                numeric_type: t,
            }));
        let levels = [
            LogLevel::Unknown,
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warning,
            LogLevel::Error,
            LogLevel::Fatal,
        ];
        for codec in [CodecId::MsgPack, CodecId::Json, CodecId::Rkyv] {
            let payload = |msgpack: Vec<u8>, json: Vec<u8>, rkyv: Bytes| match codec {
                CodecId::MsgPack => Bytes::from(msgpack),
                CodecId::Json => Bytes::from(json),
                _ => rkyv,
            };
            let p = payload(
                rmp_serde::to_vec(&jpeg).unwrap(),
                serde_json::to_vec(&jpeg).unwrap(),
                archived(&jpeg),
            );
            let (_, got) = round_trip(&convert::<fg::CompressedImage>(codec, &p).unwrap());
            assert_eq!(got.timestamp, Some(fg::Timestamp::new(7, 8)), "{codec}");
            assert_eq!(
                (got.frame_id.as_str(), got.format.as_str(), &got.data[..]),
                ("cam", "jpeg", &[0xff, 0xd8, 0xff, 0xe0][..]),
                "{codec}"
            );

            let p = payload(
                rmp_serde::to_vec(&tf).unwrap(),
                serde_json::to_vec(&tf).unwrap(),
                archived(&tf),
            );
            let (_, got) = round_trip(&convert::<fg::FrameTransform>(codec, &p).unwrap());
            assert_eq!(
                got,
                fg::FrameTransform {
                    timestamp: Some(fg::Timestamp::new(7, 8)),
                    parent_frame_id: "world".into(),
                    child_frame_id: "base".into(),
                    translation: Some(fg::Vector3 {
                        x: 1.0,
                        y: -2.0,
                        z: 3.5
                    }),
                    rotation: Some(fg::Quaternion {
                        x: 0.0,
                        y: 0.0,
                        z: 0.6,
                        w: 0.8
                    }),
                },
                "{codec}"
            );

            let p = payload(
                rmp_serde::to_vec(&cloud).unwrap(),
                serde_json::to_vec(&cloud).unwrap(),
                archived(&cloud),
            );
            let (_, got) = round_trip(&convert::<fg::PointCloud>(codec, &p).unwrap());
            assert_eq!(got.frame_id, "lidar", "{codec}");
            assert_eq!(got.point_stride, 12, "{codec}");
            assert_eq!(&got.data[..], &cloud.data[..], "{codec}");
            let pose = got.pose.unwrap();
            assert_eq!(pose.position.unwrap().z, 1.5, "{codec}");
            assert_eq!(pose.orientation.unwrap().w, 1.0, "{codec}");
            let fields: Vec<(String, u32, i32)> = got
                .fields
                .iter()
                .map(|f| (f.name.clone(), f.offset, f.r#type))
                .collect();
            assert_eq!(
                &fields[..3],
                &[
                    ("x".to_string(), 0, 7),
                    ("y".to_string(), 4, 7),
                    ("z".to_string(), 8, 7)
                ],
                "{codec}"
            );
            for (i, t) in types.iter().enumerate() {
                assert_eq!(fields[3 + i].2, *t as i32, "{codec} {t:?}");
            }

            for level in levels {
                let log = msgs::Log {
                    timestamp: stamp,
                    level,
                    message: "hot".into(),
                    name: "thermo".into(),
                    file: "main.rs".into(),
                    line: 42,
                };
                let p = payload(
                    rmp_serde::to_vec(&log).unwrap(),
                    serde_json::to_vec(&log).unwrap(),
                    archived(&log),
                );
                let (_, got) = round_trip(&convert::<fg::Log>(codec, &p).unwrap());
                assert_eq!(
                    got,
                    fg::Log {
                        timestamp: Some(fg::Timestamp::new(7, 8)),
                        level: level as i32,
                        message: "hot".into(),
                        name: "thermo".into(),
                        file: "main.rs".into(),
                        line: 42,
                    },
                    "{codec}"
                );
            }
        }
        // Foxglove's enum values are rosy's.
        assert_eq!(fg::log::Level::Warning as i32, LogLevel::Warning as i32);
        assert_eq!(
            fg::packed_element_field::NumericType::Float64 as i32,
            NumericType::Float64 as i32
        );
    }

    #[test]
    fn what_cannot_convert_says_why() {
        let msgpack = Bytes::from(rmp_serde::to_vec(&image()).unwrap());
        let raw = convert::<fg::RawImage>(CodecId::Raw, &msgpack).unwrap_err();
        assert!(matches!(raw, MsgError::Codec { .. }), "{raw}");
        let garbage = convert::<fg::RawImage>(CodecId::MsgPack, &Bytes::from_static(b"\x01\x02"))
            .unwrap_err();
        assert!(
            matches!(
                &garbage,
                MsgError::Decode {
                    codec: "msgpack",
                    ..
                }
            ),
            "{garbage}"
        );
        assert!(garbage.to_string().contains("RawImage"), "{garbage}");
        let bad_archive = convert::<fg::RawImage>(CodecId::Rkyv, &msgpack).unwrap_err();
        assert!(
            matches!(&bad_archive, MsgError::Decode { codec: "rkyv", .. }),
            "{bad_archive}"
        );
    }
}
