//! [`Imu`]: one reading of an inertial measurement unit (orientation, angular velocity, linear
//! acceleration, each with its covariance), as ROS 2's `sensor_msgs/msg/Imu` carries it. No
//! Foxglove schema matches it.

use super::geometry::{Quaternion, Vector3};
use super::stamp::Timestamp;

/// One IMU reading. Each covariance is a row-major 3x3 matrix (about x, y, z); by ROS's
/// convention an all-zero covariance means "unknown" and a first element of -1 means the
/// quantity is not measured (its value is then meaningless).
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
pub struct Imu {
    /// When the reading was taken.
    pub timestamp: Timestamp,
    /// The IMU's frame.
    pub frame_id: String,
    /// The orientation of `frame_id` relative to a fixed frame.
    pub orientation: Quaternion,
    /// The covariance of `orientation` (row-major 3x3, about x, y, z), in radians².
    pub orientation_covariance: [f64; 9],
    /// The angular velocity, in radians per second.
    pub angular_velocity: Vector3,
    /// The covariance of `angular_velocity` (row-major 3x3).
    pub angular_velocity_covariance: [f64; 9],
    /// The linear acceleration, in metres per second².
    pub linear_acceleration: Vector3,
    /// The covariance of `linear_acceleration` (row-major 3x3).
    pub linear_acceleration_covariance: [f64; 9],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_imu_reading_survives_msgpack_json_and_rkyv() {
        let imu = Imu {
            timestamp: Timestamp { sec: 7, nsec: 8 },
            frame_id: "imu_link".into(),
            orientation: Quaternion {
                x: 0.5,
                y: -0.5,
                z: 0.5,
                w: 0.5,
            },
            orientation_covariance: [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
            angular_velocity: Vector3 {
                x: 0.1,
                y: 0.2,
                z: 0.3,
            },
            angular_velocity_covariance: [-1.0; 9],
            linear_acceleration: Vector3 {
                x: 0.0,
                y: 0.0,
                z: 9.81,
            },
            linear_acceleration_covariance: [0.25; 9],
        };
        let packed = rmp_serde::to_vec_named(&imu).unwrap();
        assert_eq!(rmp_serde::from_slice::<Imu>(&packed).unwrap(), imu);
        let json = serde_json::to_value(&imu).unwrap();
        assert_eq!(json["orientation_covariance"][8], 9.0);
        assert_eq!(serde_json::from_value::<Imu>(json).unwrap(), imu);
        let archived = rkyv::to_bytes::<rkyv::rancor::Error>(&imu).unwrap();
        let read = rkyv::access::<ArchivedImu, rkyv::rancor::Error>(&archived).unwrap();
        assert_eq!(read.linear_acceleration.z, 9.81);
        assert_eq!(read.orientation_covariance[4], 5.0);
        assert_eq!(
            rkyv::deserialize::<Imu, rkyv::rancor::Error>(read).unwrap(),
            imu
        );
    }
}
