//! [`CameraInfo`]: a camera's calibration (intrinsics, distortion, rectification, projection)
//! and the region of its sensor an image comes from, as ROS 2's `sensor_msgs/msg/CameraInfo`
//! carries it. No Foxglove schema matches it (Foxglove's `CameraCalibration` has no binning
//! nor region of interest).

use super::stamp::Timestamp;

/// The part of the full-resolution sensor an image covers; all zeros means the whole sensor.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct RegionOfInterest {
    /// The leftmost pixel of the region.
    pub x_offset: u32,
    /// The topmost pixel of the region.
    pub y_offset: u32,
    /// The region's height in pixels.
    pub height: u32,
    /// The region's width in pixels.
    pub width: u32,
    /// Whether the region should be computed from a rectified image.
    pub do_rectify: bool,
}

/// A camera's calibration for the images of one `frame_id`. Matrices are row-major: `k` the
/// 3x3 intrinsics, `r` the 3x3 rectification rotation, `p` the 3x4 projection.
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
pub struct CameraInfo {
    /// When the image this calibration goes with was taken.
    pub timestamp: Timestamp,
    /// The camera's optical frame.
    pub frame_id: String,
    /// The calibrated image width, in pixels.
    pub width: u32,
    /// The calibrated image height, in pixels.
    pub height: u32,
    /// The distortion model `d` is for (`plumb_bob`, `rational_polynomial`, `equidistant`...).
    pub distortion_model: String,
    /// The distortion coefficients, as many as `distortion_model` takes.
    pub d: Vec<f64>,
    /// The intrinsic matrix (row-major 3x3: fx, 0, cx, 0, fy, cy, 0, 0, 1).
    pub k: [f64; 9],
    /// The rectification rotation (row-major 3x3; stereo cameras).
    pub r: [f64; 9],
    /// The projection matrix (row-major 3x4) of the rectified image.
    pub p: [f64; 12],
    /// Horizontal binning (0 or 1: none).
    pub binning_x: u32,
    /// Vertical binning (0 or 1: none).
    pub binning_y: u32,
    /// The region of the sensor the image covers.
    pub roi: RegionOfInterest,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calibration_survives_msgpack_json_and_rkyv() {
        let info = CameraInfo {
            timestamp: Timestamp { sec: 1, nsec: 2 },
            frame_id: "camera_optical".into(),
            width: 640,
            height: 480,
            distortion_model: "plumb_bob".into(),
            d: vec![-0.25, 0.125, 0.0, 0.0, 0.0625],
            k: [500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0],
            r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            p: [
                500.0, 0.0, 320.0, -35.0, 0.0, 500.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0,
            ],
            binning_x: 2,
            binning_y: 3,
            roi: RegionOfInterest {
                x_offset: 10,
                y_offset: 20,
                height: 30,
                width: 40,
                do_rectify: true,
            },
        };
        let packed = rmp_serde::to_vec_named(&info).unwrap();
        assert_eq!(rmp_serde::from_slice::<CameraInfo>(&packed).unwrap(), info);
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["p"][3], -35.0);
        assert_eq!(json["roi"]["do_rectify"], true);
        assert_eq!(serde_json::from_value::<CameraInfo>(json).unwrap(), info);
        let archived = rkyv::to_bytes::<rkyv::rancor::Error>(&info).unwrap();
        let read = rkyv::access::<ArchivedCameraInfo, rkyv::rancor::Error>(&archived).unwrap();
        assert_eq!(read.d.len(), 5);
        assert_eq!(read.roi.width, 40);
        assert_eq!(
            rkyv::deserialize::<CameraInfo, rkyv::rancor::Error>(read).unwrap(),
            info
        );
    }
}
