//! Point clouds (`foxglove.PointCloud`): points packed in a byte buffer, described by fields.

use super::{Blob, Pose, Timestamp};

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
    #[default]
    Unknown = 0,
    Uint8 = 1,
    Int8 = 2,
    Uint16 = 3,
    Int16 = 4,
    Uint32 = 5,
    Int32 = 6,
    Float32 = 7,
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
    pub name: String,
    pub offset: u32,
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
    pub timestamp: Timestamp,
    pub frame_id: String,
    pub pose: Pose,
    pub point_stride: u32,
    pub fields: Vec<PackedElementField>,
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

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
