//! Point clouds (`foxglove.PointCloud`): points packed in a byte buffer, described by fields.

use super::blob::Blob;
use super::geometry::Pose;
use super::stamp::Timestamp;

/// The type of one packed field. Integers are little-endian.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde_repr::Serialize_repr,
    serde_repr::Deserialize_repr,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[repr(u8)]
pub enum NumericType {
    /// Not given (Foxglove's `UNKNOWN`, 0; the default).
    #[default]
    Unknown = 0,
    /// An unsigned 8-bit integer (`UINT8`, 1).
    Uint8 = 1,
    /// A signed 8-bit integer (`INT8`, 2).
    Int8 = 2,
    /// An unsigned 16-bit integer (`UINT16`, 3).
    Uint16 = 3,
    /// A signed 16-bit integer (`INT16`, 4).
    Int16 = 4,
    /// An unsigned 32-bit integer (`UINT32`, 5).
    Uint32 = 5,
    /// A signed 32-bit integer (`INT32`, 6).
    Int32 = 6,
    /// A 32-bit float (`FLOAT32`, 7).
    Float32 = 7,
    /// A 64-bit float (`FLOAT64`, 8).
    Float64 = 8,
}

/// A field inside each point: its name (`x`, `y`, `z`, `intensity`, `red`...), byte offset in
/// the point and type.
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    serde::Serialize,
    serde::Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct PackedElementField {
    /// The field's name (`x`, `y`, `z`, `intensity`...).
    pub name: String,
    /// Where the field starts, in bytes from the start of each point.
    pub offset: u32,
    /// How the field's bytes are read; `type` in JSON, as in Foxglove's schema.
    #[serde(rename = "type")]
    pub numeric_type: NumericType,
}

/// Points of `point_stride` bytes each in `data`, laid out by `fields`, at `pose` in
/// `frame_id`. Foxglove needs at least two of `x`, `y`, `z`.
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    serde::Serialize,
    serde::Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct PointCloud {
    /// When the points were measured.
    pub timestamp: Timestamp,
    /// The frame the points are in.
    pub frame_id: String,
    /// The cloud's origin in `frame_id` (the default: the frame's own origin).
    pub pose: Pose,
    /// The size of one point in `data`, in bytes.
    pub point_stride: u32,
    /// The fields of each point, by name, offset and type.
    pub fields: Vec<PackedElementField>,
    /// The points, one after another, `point_stride` bytes each.
    pub data: Blob,
}

impl PointCloud {
    /// A cloud of `f32` x, y, z points (12 bytes each).
    pub fn xyz(frame_id: &str, timestamp: Timestamp, points: &[[f32; 3]]) -> PointCloud {
        let field = |name: &str, offset| PackedElementField {
            name: name.into(),
            offset,
            numeric_type: NumericType::Float32,
        };
        let mut data = Vec::with_capacity(points.len() * 12);
        for p in points {
            for v in p {
                data.extend_from_slice(&v.to_le_bytes());
            }
        }
        PointCloud {
            timestamp,
            frame_id: frame_id.into(),
            pose: Pose::default(),
            point_stride: 12,
            fields: vec![field("x", 0), field("y", 4), field("z", 8)],
            data: Blob(data),
        }
    }

    /// How many whole points `data` holds.
    pub fn len(&self) -> usize {
        match self.point_stride {
            0 => 0,
            s => self.data.len() / s as usize,
        }
    }

    /// Whether `data` holds no whole point.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
