//! Camera images: [`RawImage`] (pixels, `foxglove.RawImage`) and [`CompressedImage`] (JPEG,
//! PNG..., `foxglove.CompressedImage`).

use super::blob::Blob;
use super::stamp::Timestamp;

/// Uncompressed pixels, row by row (`foxglove.RawImage`). `encoding` is one Foxglove knows:
/// `mono8`, `rgb8`, `rgba8`, `bgr8`, `mono16`, `yuv422`, `32FC1`, `bayer_rggb8`...; `step` is
/// the byte length of one row.
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
pub struct RawImage {
    /// When the image was taken.
    pub timestamp: Timestamp,
    /// The camera's frame (for Foxglove: origin at the optical centre, +x right, +y down, +z
    /// into the image).
    pub frame_id: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// How pixels are stored: one of Foxglove's encodings (`mono8`, `rgb8`, `bgr8`...).
    pub encoding: String,
    /// The length of one row in bytes.
    pub step: u32,
    /// The pixels, `height` rows of `step` bytes.
    pub data: Blob,
}

impl RawImage {
    /// A `mono8` image of `width` x `height` grey pixels, all `value`.
    pub fn mono8(frame_id: &str, width: u32, height: u32, value: u8) -> RawImage {
        RawImage {
            timestamp: Timestamp::now(),
            frame_id: frame_id.to_string(),
            width,
            height,
            encoding: "mono8".into(),
            step: width,
            data: Blob(vec![value; width as usize * height as usize]),
        }
    }

    /// Bytes of pixel data an image of this size and encoding needs (`step * height`).
    pub fn expected_len(&self) -> usize {
        self.step as usize * self.height as usize
    }
}

/// An image in a compressed format (`foxglove.CompressedImage`): `format` is `jpeg`, `png`,
/// `webp` or `avif`.
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
pub struct CompressedImage {
    /// When the image was taken.
    pub timestamp: Timestamp,
    /// The camera's frame (for Foxglove: origin at the optical centre, +x right, +y down, +z
    /// into the image).
    pub frame_id: String,
    /// The compressed image, a whole file's bytes in `format`.
    pub data: Blob,
    /// The compression: `jpeg`, `png`, `webp` or `avif`.
    pub format: String,
}
