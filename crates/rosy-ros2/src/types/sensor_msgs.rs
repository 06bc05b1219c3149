//! `sensor_msgs`: images (raw and compressed), point clouds, IMU readings and camera
//! calibrations, and their conversions to and from `rosy::msgs` ([`msgs::RawImage`],
//! [`msgs::CompressedImage`], [`msgs::PointCloud`], [`msgs::Imu`], [`msgs::CameraInfo`]).
//! Each type's doc says what a conversion loses; only point clouds lose more than the time
//! stamps' out-of-range seconds (see [`Time`](super::Time)). Plain serde values laid out as they
//! travel in CDR; nothing here touches DDS.

use rosy::msgs::{self, Blob, NumericType, PackedElementField};
use serde::{Deserialize, Serialize};

use super::geometry_msgs::{Quaternion, Vector3};
use super::std_msgs::Header;

/// `sensor_msgs/msg/Image`; rosy form: [`msgs::RawImage`], which has no `is_bigendian`: an
/// image comes into rosy with its bytes as they are (the flag is dropped) and leaves it marked
/// little-endian.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Acquisition time and the camera's optical frame.
    pub header: Header,
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
    /// Pixel encoding (`rgb8`, `mono8`, `bgr8`, `16UC1`...), as `sensor_msgs/image_encodings`.
    pub encoding: String,
    /// 1 if the pixel data is big-endian.
    pub is_bigendian: u8,
    /// Bytes of one row.
    pub step: u32,
    /// `step * height` bytes of pixels (a CDR `sequence<uint8>`, read and written whole).
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// `sensor_msgs/msg/CompressedImage`; rosy form: [`msgs::CompressedImage`], lossless.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompressedImage {
    /// Acquisition time and the camera's optical frame.
    pub header: Header,
    /// The compression (`jpeg`, `png`; image_transport writes e.g. `rgb8; jpeg compressed
    /// bgr8`).
    pub format: String,
    /// The compressed image, a whole file's bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// `sensor_msgs/msg/PointField`: one field of each point of a [`PointCloud2`]. `datatype` is
/// one of the constants below; `count` elements of it start at `offset`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointField {
    /// The field's name (`x`, `y`, `z`, `intensity`, `rgb`...).
    pub name: String,
    /// Where the field starts, in bytes from the start of each point.
    pub offset: u32,
    /// The element type: [`PointField::INT8`] to [`PointField::FLOAT64`].
    pub datatype: u8,
    /// How many elements the field holds.
    pub count: u32,
}

impl PointField {
    /// `datatype` of a signed 8-bit integer.
    pub const INT8: u8 = 1;
    /// `datatype` of an unsigned 8-bit integer.
    pub const UINT8: u8 = 2;
    /// `datatype` of a signed 16-bit integer.
    pub const INT16: u8 = 3;
    /// `datatype` of an unsigned 16-bit integer.
    pub const UINT16: u8 = 4;
    /// `datatype` of a signed 32-bit integer.
    pub const INT32: u8 = 5;
    /// `datatype` of an unsigned 32-bit integer.
    pub const UINT32: u8 = 6;
    /// `datatype` of a 32-bit float.
    pub const FLOAT32: u8 = 7;
    /// `datatype` of a 64-bit float.
    pub const FLOAT64: u8 = 8;
}

/// `sensor_msgs/msg/PointCloud2`; rosy form: [`msgs::PointCloud`].
///
/// Into rosy: the `height * width` points become one run of `point_step`-byte points (an
/// organized cloud's rows are not kept, and any padding past `width * point_step` in a row is
/// dropped); datatypes map by name to [`NumericType`] (an unknown datatype becomes
/// [`NumericType::Unknown`]); a field of `count` n > 1 becomes n fields `name[0]`...`name[n-1]`,
/// one element each (the data is kept; the grouping is not); a big-endian cloud's elements are
/// byte-swapped to the little-endian order rosy reads; `is_dense` is dropped; the rosy `pose`
/// is the identity (ROS puts a cloud's placement in `/tf`, not in the message).
///
/// Out of rosy: `height` 1, `width` the number of whole points, `point_step` the
/// `point_stride`, `row_step` `width * point_step` (bytes past the last whole point are
/// dropped), every field `count` 1, `is_bigendian` false, `is_dense` true (rosy does not say
/// whether points may be invalid); the rosy `pose` is dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointCloud2 {
    /// Acquisition time and the frame the points are in.
    pub header: Header,
    /// Rows (1 for an unorganized cloud).
    pub height: u32,
    /// Points in a row.
    pub width: u32,
    /// The fields of each point.
    pub fields: Vec<PointField>,
    /// Whether the elements are big-endian.
    pub is_bigendian: bool,
    /// Bytes of one point.
    pub point_step: u32,
    /// Bytes of one row.
    pub row_step: u32,
    /// `row_step * height` bytes of points.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// Whether every point is valid (no NaN, no infinity).
    pub is_dense: bool,
}

/// `sensor_msgs/msg/Imu`; rosy form: [`msgs::Imu`], lossless. Covariances are row-major 3x3.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Imu {
    /// Acquisition time and the IMU's frame.
    pub header: Header,
    /// The orientation.
    pub orientation: Quaternion,
    /// Its covariance (-1 first: no orientation measured).
    pub orientation_covariance: [f64; 9],
    /// The angular velocity, in radians per second.
    pub angular_velocity: Vector3,
    /// Its covariance.
    pub angular_velocity_covariance: [f64; 9],
    /// The linear acceleration, in metres per second².
    pub linear_acceleration: Vector3,
    /// Its covariance.
    pub linear_acceleration_covariance: [f64; 9],
}

/// `sensor_msgs/msg/RegionOfInterest`; rosy form: [`msgs::RegionOfInterest`], lossless.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionOfInterest {
    /// The leftmost pixel.
    pub x_offset: u32,
    /// The topmost pixel.
    pub y_offset: u32,
    /// Height in pixels.
    pub height: u32,
    /// Width in pixels.
    pub width: u32,
    /// Whether the region is computed from a rectified image.
    pub do_rectify: bool,
}

/// `sensor_msgs/msg/CameraInfo`; rosy form: [`msgs::CameraInfo`], lossless. Matrices are
/// row-major.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CameraInfo {
    /// The time of the image it goes with, and the camera's optical frame.
    pub header: Header,
    /// Calibrated image height.
    pub height: u32,
    /// Calibrated image width.
    pub width: u32,
    /// `plumb_bob`, `rational_polynomial`, `equidistant`...
    pub distortion_model: String,
    /// The distortion coefficients.
    pub d: Vec<f64>,
    /// Intrinsics (3x3).
    pub k: [f64; 9],
    /// Rectification rotation (3x3).
    pub r: [f64; 9],
    /// Projection (3x4).
    pub p: [f64; 12],
    /// Horizontal binning.
    pub binning_x: u32,
    /// Vertical binning.
    pub binning_y: u32,
    /// The region of the sensor the image covers.
    pub roi: RegionOfInterest,
}

impl ros2_client::Message for Image {}
impl ros2_client::Message for CompressedImage {}
impl ros2_client::Message for PointField {}
impl ros2_client::Message for PointCloud2 {}
impl ros2_client::Message for Imu {}
impl ros2_client::Message for RegionOfInterest {}
impl ros2_client::Message for CameraInfo {}

fn header(timestamp: msgs::Timestamp, frame_id: String) -> Header {
    Header {
        stamp: timestamp.into(),
        frame_id,
    }
}

impl From<Image> for msgs::RawImage {
    fn from(image: Image) -> msgs::RawImage {
        msgs::RawImage {
            timestamp: image.header.stamp.into(),
            frame_id: image.header.frame_id,
            width: image.width,
            height: image.height,
            encoding: image.encoding,
            step: image.step,
            data: Blob(image.data),
        }
    }
}

impl From<msgs::RawImage> for Image {
    fn from(image: msgs::RawImage) -> Image {
        Image {
            header: header(image.timestamp, image.frame_id),
            height: image.height,
            width: image.width,
            encoding: image.encoding,
            // rosy images are in the machine's order, and every machine rosy runs on is
            // little-endian.
            is_bigendian: 0,
            step: image.step,
            data: image.data.0,
        }
    }
}

impl From<CompressedImage> for msgs::CompressedImage {
    fn from(image: CompressedImage) -> msgs::CompressedImage {
        msgs::CompressedImage {
            timestamp: image.header.stamp.into(),
            frame_id: image.header.frame_id,
            data: Blob(image.data),
            format: image.format,
        }
    }
}

impl From<msgs::CompressedImage> for CompressedImage {
    fn from(image: msgs::CompressedImage) -> CompressedImage {
        CompressedImage {
            header: header(image.timestamp, image.frame_id),
            format: image.format,
            data: image.data.0,
        }
    }
}

/// The rosy type of a `PointField` datatype (rosy numbers them as Foxglove does, not as ROS).
fn numeric_type(datatype: u8) -> NumericType {
    match datatype {
        PointField::INT8 => NumericType::Int8,
        PointField::UINT8 => NumericType::Uint8,
        PointField::INT16 => NumericType::Int16,
        PointField::UINT16 => NumericType::Uint16,
        PointField::INT32 => NumericType::Int32,
        PointField::UINT32 => NumericType::Uint32,
        PointField::FLOAT32 => NumericType::Float32,
        PointField::FLOAT64 => NumericType::Float64,
        _ => NumericType::Unknown,
    }
}

/// The `PointField` datatype of a rosy type (0, no ROS type, for `Unknown`).
fn datatype(numeric_type: NumericType) -> u8 {
    match numeric_type {
        NumericType::Int8 => PointField::INT8,
        NumericType::Uint8 => PointField::UINT8,
        NumericType::Int16 => PointField::INT16,
        NumericType::Uint16 => PointField::UINT16,
        NumericType::Int32 => PointField::INT32,
        NumericType::Uint32 => PointField::UINT32,
        NumericType::Float32 => PointField::FLOAT32,
        NumericType::Float64 => PointField::FLOAT64,
        NumericType::Unknown => 0,
    }
}

/// Bytes of one element of a type (0 for `Unknown`).
fn size_of(numeric_type: NumericType) -> u32 {
    match numeric_type {
        NumericType::Int8 | NumericType::Uint8 => 1,
        NumericType::Int16 | NumericType::Uint16 => 2,
        NumericType::Int32 | NumericType::Uint32 | NumericType::Float32 => 4,
        NumericType::Float64 => 8,
        NumericType::Unknown => 0,
    }
}

impl From<PointCloud2> for msgs::PointCloud {
    fn from(cloud: PointCloud2) -> msgs::PointCloud {
        let mut fields = Vec::with_capacity(cloud.fields.len());
        for field in cloud.fields {
            let numeric_type = numeric_type(field.datatype);
            let size = size_of(numeric_type);
            if field.count <= 1 || size == 0 {
                fields.push(PackedElementField {
                    name: field.name,
                    offset: field.offset,
                    numeric_type,
                });
            } else {
                fields.extend((0..field.count).map(|i| PackedElementField {
                    name: format!("{}[{i}]", field.name),
                    offset: field.offset + i * size,
                    numeric_type,
                }));
            }
        }

        let step = cloud.point_step as usize;
        let row_len = cloud.width as usize * step;
        let rows = cloud.height as usize;
        let mut data = cloud.data;
        if cloud.row_step as usize == row_len {
            data.truncate(row_len * rows);
        } else {
            // Rows padded past their points: keep the points only.
            let row_step = cloud.row_step as usize;
            data = (0..rows)
                .filter_map(|row| data.get(row * row_step..row * row_step + row_len))
                .flatten()
                .copied()
                .collect();
        }
        if cloud.is_bigendian && step > 0 {
            for point in data.chunks_exact_mut(step) {
                for field in &fields {
                    let (start, size) = (field.offset as usize, size_of(field.numeric_type));
                    if let Some(element) = point.get_mut(start..start + size as usize) {
                        element.reverse();
                    }
                }
            }
        }

        msgs::PointCloud {
            timestamp: cloud.header.stamp.into(),
            frame_id: cloud.header.frame_id,
            pose: msgs::Pose::default(),
            point_stride: cloud.point_step,
            fields,
            data: Blob(data),
        }
    }
}

impl From<msgs::PointCloud> for PointCloud2 {
    fn from(cloud: msgs::PointCloud) -> PointCloud2 {
        let width = u32::try_from(cloud.len()).unwrap_or(u32::MAX);
        let row_step = width.saturating_mul(cloud.point_stride);
        let mut data = cloud.data.0;
        data.truncate(row_step as usize);
        PointCloud2 {
            header: header(cloud.timestamp, cloud.frame_id),
            height: 1,
            width,
            fields: cloud
                .fields
                .into_iter()
                .map(|field| PointField {
                    name: field.name,
                    offset: field.offset,
                    datatype: datatype(field.numeric_type),
                    count: 1,
                })
                .collect(),
            is_bigendian: false,
            point_step: cloud.point_stride,
            row_step,
            data,
            is_dense: true,
        }
    }
}

impl From<Imu> for msgs::Imu {
    fn from(imu: Imu) -> msgs::Imu {
        msgs::Imu {
            timestamp: imu.header.stamp.into(),
            frame_id: imu.header.frame_id,
            orientation: imu.orientation.into(),
            orientation_covariance: imu.orientation_covariance,
            angular_velocity: imu.angular_velocity.into(),
            angular_velocity_covariance: imu.angular_velocity_covariance,
            linear_acceleration: imu.linear_acceleration.into(),
            linear_acceleration_covariance: imu.linear_acceleration_covariance,
        }
    }
}

impl From<msgs::Imu> for Imu {
    fn from(imu: msgs::Imu) -> Imu {
        Imu {
            header: header(imu.timestamp, imu.frame_id),
            orientation: imu.orientation.into(),
            orientation_covariance: imu.orientation_covariance,
            angular_velocity: imu.angular_velocity.into(),
            angular_velocity_covariance: imu.angular_velocity_covariance,
            linear_acceleration: imu.linear_acceleration.into(),
            linear_acceleration_covariance: imu.linear_acceleration_covariance,
        }
    }
}

impl From<RegionOfInterest> for msgs::RegionOfInterest {
    fn from(roi: RegionOfInterest) -> msgs::RegionOfInterest {
        msgs::RegionOfInterest {
            x_offset: roi.x_offset,
            y_offset: roi.y_offset,
            height: roi.height,
            width: roi.width,
            do_rectify: roi.do_rectify,
        }
    }
}

impl From<msgs::RegionOfInterest> for RegionOfInterest {
    fn from(roi: msgs::RegionOfInterest) -> RegionOfInterest {
        RegionOfInterest {
            x_offset: roi.x_offset,
            y_offset: roi.y_offset,
            height: roi.height,
            width: roi.width,
            do_rectify: roi.do_rectify,
        }
    }
}

impl From<CameraInfo> for msgs::CameraInfo {
    fn from(info: CameraInfo) -> msgs::CameraInfo {
        msgs::CameraInfo {
            timestamp: info.header.stamp.into(),
            frame_id: info.header.frame_id,
            width: info.width,
            height: info.height,
            distortion_model: info.distortion_model,
            d: info.d,
            k: info.k,
            r: info.r,
            p: info.p,
            binning_x: info.binning_x,
            binning_y: info.binning_y,
            roi: info.roi.into(),
        }
    }
}

impl From<msgs::CameraInfo> for CameraInfo {
    fn from(info: msgs::CameraInfo) -> CameraInfo {
        CameraInfo {
            header: header(info.timestamp, info.frame_id),
            height: info.height,
            width: info.width,
            distortion_model: info.distortion_model,
            d: info.d,
            k: info.k,
            r: info.r,
            p: info.p,
            binning_x: info.binning_x,
            binning_y: info.binning_y,
            roi: info.roi.into(),
        }
    }
}
