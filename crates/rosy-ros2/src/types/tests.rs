//! The types' CDR layouts against bytes real ROS 2 wrote, and their conversions to rosy and back.
//!
//! The hex strings are what `tests/golden/make_golden.py` printed: rclpy's
//! `serialize_message` (ROS 2 Jazzy) of a message with a distinctive value in every field,
//! without the 4-byte encapsulation header, with the padding bytes (which rmw leaves as
//! whatever memory held) set to zero. Each test decodes them with `cdr_encoding` (the CDR
//! codec under ros2-client) into the expected value, encodes that value back to the same bytes
//! (up to the length decoded: rclpy pads the end to a multiple of 4, cdr_encoding does not;
//! the tail is checked to be at most 3 zero bytes), and converts it to its rosy form and back.

use byteorder::LittleEndian;
use rosy::msgs::{self, Blob, NumericType, PackedElementField};
use serde::{Serialize, de::DeserializeOwned};
use std::fmt::Debug;

use super::*;

/// `builtin_interfaces/msg/Time`.
const TIME: &str = "b578256915cd5b07";
/// `std_msgs/msg/Header`.
const HEADER: &str = "b578256915cd5b070a000000626173655f6c696e6b00";
/// `std_msgs/msg/String`.
const STRING: &str = "0b00000068656c6c6f2c20726f7300";
/// `std_msgs/msg/Bool`.
const BOOL: &str = "01000000";
/// `std_msgs/msg/Int8`.
const INT8: &str = "9c000000";
/// `std_msgs/msg/Int16`.
const INT16: &str = "d08a0000";
/// `std_msgs/msg/Int32`.
const INT32: &str = "006cca88";
/// `std_msgs/msg/Int64`.
const INT64: &str = "00007c1daf931983";
/// `std_msgs/msg/UInt8`.
const UINT8: &str = "c8000000";
/// `std_msgs/msg/UInt16`.
const UINT16: &str = "60ea0000";
/// `std_msgs/msg/UInt32`.
const UINT32: &str = "00286bee";
/// `std_msgs/msg/UInt64`.
const UINT64: &str = "000008c5a1d8ccf9";
/// `std_msgs/msg/Float32`.
const FLOAT32: &str = "0000c0bf";
/// `std_msgs/msg/Float64`.
const FLOAT64: &str = "182d4454fb210940";
/// `geometry_msgs/msg/Vector3`.
const VECTOR3: &str = "000000000000f83f00000000000002c00000000000000840";
/// `geometry_msgs/msg/Point`.
const POINT: &str = "00000000000012c0000000000000154000000000000018c0";
/// `geometry_msgs/msg/Quaternion`.
const QUATERNION: &str = "000000000000c03f000000000000d0bf000000000000e03f000000000000ea3f";
/// `geometry_msgs/msg/Pose`.
const POSE: &str = concat!(
    "000000000000f03f00000000000000400000000000000840000000000000c03f000000000000d0bf",
    "000000000000e03f000000000000ea3f",
);
/// `geometry_msgs/msg/PoseStamped`.
const POSE_STAMPED: &str = concat!(
    "b578256915cd5b07040000006d6170000000000000001c4000000000000020c00000000000002340",
    "000000000000c03f000000000000d0bf000000000000e03f000000000000ea3f",
);
/// `geometry_msgs/msg/Twist`.
const TWIST: &str = concat!(
    "000000000000e03f0000000000000000000000000000e0bf00000000000000009a9999999999b93f",
    "000000000000f43f",
);
/// `geometry_msgs/msg/TwistStamped`.
const TWIST_STAMPED: &str = concat!(
    "b578256915cd5b07050000006f646f6d0000000000000000000000000000f03f0000000000000040",
    "0000000000000840000000000000f0bf00000000000000c000000000000008c0",
);
/// `geometry_msgs/msg/Transform`.
const TRANSFORM: &str = concat!(
    "9a9999999999b93f9a9999999999c93f333333333333d33f000000000000c03f000000000000d0bf",
    "000000000000e03f000000000000ea3f",
);
/// `geometry_msgs/msg/TransformStamped`.
const TRANSFORM_STAMPED: &str = concat!(
    "b578256915cd5b0706000000776f726c640000000700000063616d6572610000000000000000e0bf",
    "000000000000f83f0000000000000440000000000000c03f000000000000d0bf000000000000e03f",
    "000000000000ea3f",
);
/// `sensor_msgs/msg/Image`.
const IMAGE: &str = concat!(
    "b578256915cd5b070f00000063616d6572615f6f70746963616c0000020000000300000005000000",
    "72676238000000000900000012000000000102030405060708090a0b0c0d0e0f1011",
);
/// `sensor_msgs/msg/CompressedImage`.
const COMPRESSED_IMAGE: &str = concat!(
    "b578256915cd5b070f00000063616d6572615f6f70746963616c0000050000006a70656700000000",
    "05000000ffd8ffe007",
);
/// `sensor_msgs/msg/PointField`.
const POINT_FIELD: &str = "0a000000696e74656e736974790000000c0000000700000001000000";
/// `sensor_msgs/msg/PointCloud2`.
const POINT_CLOUD2: &str = concat!(
    "b578256915cd5b07060000006c696461720000000100000002000000040000000200000078000000",
    "0000000007000000010000000200000079000000040000000700000001000000020000007a000000",
    "0800000007000000010000000500000072696e67000000000c000000040000000100000000000000",
    "0e0000001c0000001c0000006465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f",
    "01",
);
/// `sensor_msgs/msg/Imu`.
const IMU: &str = concat!(
    "b578256915cd5b0709000000696d755f6c696e6b00000000000000000000c03f000000000000d0bf",
    "000000000000e03f000000000000ea3f000000000000e03f000000000000f83f0000000000000440",
    "0000000000000c40000000000000124000000000000016400000000000001a400000000000001e40",
    "00000000000021407b14ae47e17a843f7b14ae47e17a94bfb81e85eb51b89e3f0000000000000080",
    "000000000000f0bf00000000000000c000000000000008c000000000000010c000000000000014c0",
    "00000000000018c00000000000001cc000000000000020c09a9999999999b93f9a9999999999c93f",
    "1f85eb51b89e23400000000000000000000000000000d03f000000000000e03f000000000000e83f",
    "000000000000f03f000000000000f43f000000000000f83f000000000000fc3f0000000000000040",
);
/// `sensor_msgs/msg/RegionOfInterest`.
const REGION_OF_INTEREST: &str = "0a000000140000001e0000002800000001000000";
/// `sensor_msgs/msg/CameraInfo`.
const CAMERA_INFO: &str = concat!(
    "b578256915cd5b070f00000063616d6572615f6f70746963616c0000e0010000800200000a000000",
    "706c756d625f626f6200000005000000000000000000d0bf000000000000c03ffca9f1d24d62503f",
    "fca9f1d24d6260bf000000000000b03f0000000000407f4000000000000000000000000000087440",
    "00000000000000000000000000507f400000000000106e4000000000000000000000000000000000",
    "000000000000f03f000000000000f03f000000000000000000000000000000000000000000000000",
    "000000000000f03f000000000000000000000000000000000000000000000000000000000000f03f",
    "0000000000407f400000000000000000000000000008744000000000008041c00000000000000000",
    "0000000000507f400000000000106e40000000000000000000000000000000000000000000000000",
    "000000000000f03f000000000000000002000000030000000a000000140000001e00000028000000",
    "01",
);
/// `rcl_interfaces/msg/Log`.
const LOG: &str = concat!(
    "b578256915cd5b071e0000000700000074616c6b657200000c00000062617474657279206c6f7700",
    "0b00000074616c6b65722e6370700000090000006f6e5f74696d6572000000002a000000",
);
/// `std_srvs/srv/SetBool_Request`.
const SET_BOOL_REQUEST: &str = "01000000";
/// `std_srvs/srv/SetBool_Response`.
const SET_BOOL_RESPONSE: &str = "0100000005000000646f6e6500";
/// `std_srvs/srv/Trigger_Request`.
const TRIGGER_REQUEST: &str = "00000000";
/// `std_srvs/srv/Trigger_Response`.
const TRIGGER_RESPONSE: &str = "00000000050000006275737900";

fn bytes_of(hex: &str) -> Vec<u8> {
    assert_eq!(hex.len() % 2, 0, "odd hex length");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// `golden` decodes to `expected`, and `expected` encodes to `golden` (but its end padding).
fn golden<T>(hex: &str, expected: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let bytes = bytes_of(hex);
    let (decoded, used) = cdr_encoding::from_bytes::<T, LittleEndian>(&bytes)
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", std::any::type_name::<T>()));
    assert_eq!(&decoded, expected);
    let tail = &bytes[used..];
    assert!(
        tail.len() < 4 && tail.iter().all(|&b| b == 0),
        "{} left {tail:02x?} undecoded",
        std::any::type_name::<T>()
    );
    let encoded = cdr_encoding::to_vec::<T, LittleEndian>(expected).unwrap();
    assert_eq!(
        encoded,
        &bytes[..used],
        "{} encodes differently",
        std::any::type_name::<T>()
    );
}

/// `ros` converts to a rosy value and back unchanged, and that rosy value converts to ROS and
/// back unchanged; returns the rosy value for the caller to check.
fn both_ways<T, R>(ros: &T) -> R
where
    T: Clone + PartialEq + Debug + From<R>,
    R: Clone + PartialEq + Debug + From<T>,
{
    let rosy = R::from(ros.clone());
    assert_eq!(&T::from(rosy.clone()), ros);
    assert_eq!(R::from(T::from(rosy.clone())), rosy);
    rosy
}

fn stamp() -> Time {
    Time {
        sec: 1_764_063_413,
        nanosec: 123_456_789,
    }
}

fn rosy_stamp() -> msgs::Timestamp {
    msgs::Timestamp {
        sec: 1_764_063_413,
        nsec: 123_456_789,
    }
}

fn header(frame_id: &str) -> Header {
    Header {
        stamp: stamp(),
        frame_id: frame_id.into(),
    }
}

fn vec3(x: f64, y: f64, z: f64) -> Vector3 {
    Vector3 { x, y, z }
}

fn quat() -> Quaternion {
    Quaternion {
        x: 0.125,
        y: -0.25,
        z: 0.5,
        w: 0.8125,
    }
}

fn rosy_quat() -> msgs::Quaternion {
    msgs::Quaternion {
        x: 0.125,
        y: -0.25,
        z: 0.5,
        w: 0.8125,
    }
}

#[test]
fn time_and_header() {
    golden(TIME, &stamp());
    assert_eq!(both_ways::<Time, msgs::Timestamp>(&stamp()), rosy_stamp());
    golden(HEADER, &header("base_link"));
}

#[test]
fn std_msgs_one_field_messages() {
    let string = StringMsg {
        data: "hello, ros".into(),
    };
    golden(STRING, &string);
    assert_eq!(both_ways::<_, String>(&string), "hello, ros");
    golden(BOOL, &BoolMsg { data: true });
    assert!(both_ways::<_, bool>(&BoolMsg { data: true }));
    golden(INT8, &Int8Msg { data: -100 });
    assert_eq!(both_ways::<_, i8>(&Int8Msg { data: -100 }), -100);
    golden(INT16, &Int16Msg { data: -30_000 });
    assert_eq!(both_ways::<_, i16>(&Int16Msg { data: -30_000 }), -30_000);
    let int32 = Int32Msg {
        data: -2_000_000_000,
    };
    golden(INT32, &int32);
    assert_eq!(both_ways::<_, i32>(&int32), -2_000_000_000);
    let int64 = Int64Msg {
        data: -9_000_000_000_000_000_000,
    };
    golden(INT64, &int64);
    assert_eq!(both_ways::<_, i64>(&int64), -9_000_000_000_000_000_000);
    golden(UINT8, &UInt8Msg { data: 200 });
    assert_eq!(both_ways::<_, u8>(&UInt8Msg { data: 200 }), 200);
    golden(UINT16, &UInt16Msg { data: 60_000 });
    assert_eq!(both_ways::<_, u16>(&UInt16Msg { data: 60_000 }), 60_000);
    let uint32 = UInt32Msg {
        data: 4_000_000_000,
    };
    golden(UINT32, &uint32);
    assert_eq!(both_ways::<_, u32>(&uint32), 4_000_000_000);
    let uint64 = UInt64Msg {
        data: 18_000_000_000_000_000_000,
    };
    golden(UINT64, &uint64);
    assert_eq!(both_ways::<_, u64>(&uint64), 18_000_000_000_000_000_000);
    golden(FLOAT32, &Float32Msg { data: -1.5 });
    assert_eq!(both_ways::<_, f32>(&Float32Msg { data: -1.5 }), -1.5);
    let float64 = Float64Msg {
        data: std::f64::consts::PI,
    };
    golden(FLOAT64, &float64);
    assert_eq!(both_ways::<_, f64>(&float64), std::f64::consts::PI);
}

#[test]
fn geometry_msgs_bare() {
    let vector = vec3(1.5, -2.25, 3.0);
    golden(VECTOR3, &vector);
    assert_eq!(
        both_ways::<_, msgs::Vector3>(&vector),
        msgs::Vector3 {
            x: 1.5,
            y: -2.25,
            z: 3.0
        }
    );
    let point = Point {
        x: -4.5,
        y: 5.25,
        z: -6.0,
    };
    golden(POINT, &point);
    assert_eq!(both_ways::<_, msgs::Vector3>(&point).y, 5.25);
    golden(QUATERNION, &quat());
    assert_eq!(both_ways::<_, msgs::Quaternion>(&quat()), rosy_quat());
    assert_eq!(Quaternion::default().w, 1.0);
    let pose = Pose {
        position: Point {
            x: 1.0,
            y: 2.0,
            z: 3.0,
        },
        orientation: quat(),
    };
    golden(POSE, &pose);
    let rosy: msgs::Pose = both_ways(&pose);
    assert_eq!((rosy.position.z, rosy.orientation), (3.0, rosy_quat()));
    let twist = Twist {
        linear: vec3(0.5, 0.0, -0.5),
        angular: vec3(0.0, 0.1, 1.25),
    };
    golden(TWIST, &twist);
    let rosy: msgs::Twist = both_ways(&twist);
    assert_eq!((rosy.linear.z, rosy.angular.z), (-0.5, 1.25));
    let transform = Transform {
        translation: vec3(0.1, 0.2, 0.3),
        rotation: quat(),
    };
    golden(TRANSFORM, &transform);
    let rosy: msgs::Transform = both_ways(&transform);
    assert_eq!((rosy.translation.y, rosy.rotation), (0.2, rosy_quat()));
}

#[test]
fn geometry_msgs_stamped() {
    let pose = PoseStamped {
        header: header("map"),
        pose: Pose {
            position: Point {
                x: 7.0,
                y: -8.0,
                z: 9.5,
            },
            orientation: quat(),
        },
    };
    golden(POSE_STAMPED, &pose);
    let rosy: msgs::PoseStamped = both_ways(&pose);
    assert_eq!(
        (rosy.timestamp, rosy.frame_id.as_str(), rosy.pose.position.z),
        (rosy_stamp(), "map", 9.5)
    );

    let twist = TwistStamped {
        header: header("odom"),
        twist: Twist {
            linear: vec3(1.0, 2.0, 3.0),
            angular: vec3(-1.0, -2.0, -3.0),
        },
    };
    golden(TWIST_STAMPED, &twist);
    let rosy: msgs::TwistStamped = both_ways(&twist);
    assert_eq!(
        (rosy.timestamp, rosy.frame_id.as_str(), rosy.twist.angular.y),
        (rosy_stamp(), "odom", -2.0)
    );

    let transform = TransformStamped {
        header: header("world"),
        child_frame_id: "camera".into(),
        transform: Transform {
            translation: vec3(-0.5, 1.5, 2.5),
            rotation: quat(),
        },
    };
    golden(TRANSFORM_STAMPED, &transform);
    assert_eq!(
        both_ways::<_, msgs::FrameTransform>(&transform),
        msgs::FrameTransform {
            timestamp: rosy_stamp(),
            parent_frame_id: "world".into(),
            child_frame_id: "camera".into(),
            translation: msgs::Vector3 {
                x: -0.5,
                y: 1.5,
                z: 2.5
            },
            rotation: rosy_quat(),
        }
    );
}

#[test]
fn images() {
    let image = Image {
        header: header("camera_optical"),
        height: 2,
        width: 3,
        encoding: "rgb8".into(),
        is_bigendian: 0,
        step: 9,
        data: (0..18).collect(),
    };
    golden(IMAGE, &image);
    assert_eq!(
        both_ways::<_, msgs::RawImage>(&image),
        msgs::RawImage {
            timestamp: rosy_stamp(),
            frame_id: "camera_optical".into(),
            width: 3,
            height: 2,
            encoding: "rgb8".into(),
            step: 9,
            data: Blob((0..18).collect()),
        }
    );

    let compressed = CompressedImage {
        header: header("camera_optical"),
        format: "jpeg".into(),
        data: vec![0xFF, 0xD8, 0xFF, 0xE0, 7],
    };
    golden(COMPRESSED_IMAGE, &compressed);
    assert_eq!(
        both_ways::<_, msgs::CompressedImage>(&compressed),
        msgs::CompressedImage {
            timestamp: rosy_stamp(),
            frame_id: "camera_optical".into(),
            data: Blob(vec![0xFF, 0xD8, 0xFF, 0xE0, 7]),
            format: "jpeg".into(),
        }
    );
}

fn point_field(name: &str, offset: u32, datatype: u8) -> PointField {
    PointField {
        name: name.into(),
        offset,
        datatype,
        count: 1,
    }
}

fn packed(name: &str, offset: u32, numeric_type: NumericType) -> PackedElementField {
    PackedElementField {
        name: name.into(),
        offset,
        numeric_type,
    }
}

#[test]
fn point_clouds() {
    golden(
        POINT_FIELD,
        &point_field("intensity", 12, PointField::FLOAT32),
    );
    let cloud = PointCloud2 {
        header: header("lidar"),
        height: 1,
        width: 2,
        fields: vec![
            point_field("x", 0, PointField::FLOAT32),
            point_field("y", 4, PointField::FLOAT32),
            point_field("z", 8, PointField::FLOAT32),
            point_field("ring", 12, PointField::UINT16),
        ],
        is_bigendian: false,
        point_step: 14,
        row_step: 28,
        data: (100..128).collect(),
        is_dense: true,
    };
    golden(POINT_CLOUD2, &cloud);
    assert_eq!(
        both_ways::<_, msgs::PointCloud>(&cloud),
        msgs::PointCloud {
            timestamp: rosy_stamp(),
            frame_id: "lidar".into(),
            pose: msgs::Pose::default(),
            point_stride: 14,
            fields: vec![
                packed("x", 0, NumericType::Float32),
                packed("y", 4, NumericType::Float32),
                packed("z", 8, NumericType::Float32),
                packed("ring", 12, NumericType::Uint16),
            ],
            data: Blob((100..128).collect()),
        }
    );
}

#[test]
fn every_point_field_datatype_maps_by_name_both_ways() {
    let types = [
        (PointField::INT8, NumericType::Int8),
        (PointField::UINT8, NumericType::Uint8),
        (PointField::INT16, NumericType::Int16),
        (PointField::UINT16, NumericType::Uint16),
        (PointField::INT32, NumericType::Int32),
        (PointField::UINT32, NumericType::Uint32),
        (PointField::FLOAT32, NumericType::Float32),
        (PointField::FLOAT64, NumericType::Float64),
    ];
    let cloud = PointCloud2 {
        height: 1,
        width: 1,
        fields: types
            .iter()
            .map(|&(datatype, _)| point_field("f", 0, datatype))
            .collect(),
        point_step: 8,
        row_step: 8,
        data: vec![0; 8],
        is_dense: true,
        ..PointCloud2::default()
    };
    let rosy: msgs::PointCloud = both_ways(&cloud);
    let mapped: Vec<_> = rosy.fields.iter().map(|f| f.numeric_type).collect();
    assert_eq!(mapped, types.map(|(_, t)| t));
    // A datatype ROS does not define has no rosy type.
    let odd = PointCloud2 {
        fields: vec![point_field("f", 0, 9)],
        ..cloud
    };
    assert_eq!(
        msgs::PointCloud::from(odd).fields[0].numeric_type,
        NumericType::Unknown
    );
}

#[test]
fn a_cloud_from_ros_is_flattened_expanded_and_made_little_endian() {
    // Two rows of two 6-byte points, each row padded to 16 bytes; a big-endian u16 field and
    // a field of two u16s.
    let mut data = Vec::new();
    for row in 0..2u8 {
        for col in 0..2u8 {
            let n = row * 2 + col;
            data.extend_from_slice(&[0, n, 0, 10 + n, 0, 20 + n]);
        }
        data.extend_from_slice(&[0xEE; 4]);
    }
    let cloud = PointCloud2 {
        header: header("lidar"),
        height: 2,
        width: 2,
        fields: vec![
            point_field("ring", 0, PointField::UINT16),
            PointField {
                name: "pair".into(),
                offset: 2,
                datatype: PointField::UINT16,
                count: 2,
            },
        ],
        is_bigendian: true,
        point_step: 6,
        row_step: 16,
        data,
        is_dense: false,
    };
    let rosy = msgs::PointCloud::from(cloud);
    assert_eq!(rosy.len(), 4);
    assert_eq!(
        rosy.fields,
        vec![
            packed("ring", 0, NumericType::Uint16),
            packed("pair[0]", 2, NumericType::Uint16),
            packed("pair[1]", 4, NumericType::Uint16),
        ]
    );
    let mut expected = Vec::new();
    for n in 0..4u8 {
        expected.extend_from_slice(&[n, 0, 10 + n, 0, 20 + n, 0]);
    }
    assert_eq!(rosy.data.0, expected);
    assert_eq!(rosy.pose, msgs::Pose::default());

    let back = PointCloud2::from(rosy);
    assert_eq!((back.height, back.width, back.row_step), (1, 4, 24));
    assert!(!back.is_bigendian && back.is_dense);
    assert!(back.fields.iter().all(|f| f.count == 1));
}

#[test]
fn a_cloud_from_rosy_loses_its_pose_and_any_partial_point() {
    let mut cloud = msgs::PointCloud::xyz("base", rosy_stamp(), &[[1.0, 2.0, 3.0]; 3]);
    cloud.pose.position.x = 5.0;
    cloud.data.0.extend_from_slice(&[1, 2]);
    let ros = PointCloud2::from(cloud.clone());
    assert_eq!(
        (ros.height, ros.width, ros.point_step, ros.row_step),
        (1, 3, 12, 36)
    );
    assert_eq!(ros.data.len(), 36);
    assert_eq!(ros.fields[2], point_field("z", 8, PointField::FLOAT32));
    let back = msgs::PointCloud::from(ros);
    assert_eq!(back.pose, msgs::Pose::default());
    assert_eq!(back.data.0, cloud.data.0[..36]);
}

#[test]
fn imu() {
    let imu = Imu {
        header: header("imu_link"),
        orientation: quat(),
        orientation_covariance: std::array::from_fn(|i| i as f64 + 0.5),
        angular_velocity: vec3(0.01, -0.02, 0.03),
        angular_velocity_covariance: std::array::from_fn(|i| -(i as f64)),
        linear_acceleration: vec3(0.1, 0.2, 9.81),
        linear_acceleration_covariance: std::array::from_fn(|i| i as f64 * 0.25),
    };
    golden(IMU, &imu);
    let rosy: msgs::Imu = both_ways(&imu);
    assert_eq!(
        (rosy.timestamp, rosy.frame_id.as_str()),
        (rosy_stamp(), "imu_link")
    );
    assert_eq!(rosy.orientation, rosy_quat());
    assert_eq!(rosy.orientation_covariance[8], 8.5);
    assert_eq!(rosy.angular_velocity_covariance[1], -1.0);
    assert_eq!(rosy.linear_acceleration.z, 9.81);
    assert_eq!(rosy.linear_acceleration_covariance[4], 1.0);
}

#[test]
fn camera_info() {
    let roi = RegionOfInterest {
        x_offset: 10,
        y_offset: 20,
        height: 30,
        width: 40,
        do_rectify: true,
    };
    golden(REGION_OF_INTEREST, &roi);
    assert_eq!(
        both_ways::<_, msgs::RegionOfInterest>(&roi),
        msgs::RegionOfInterest {
            x_offset: 10,
            y_offset: 20,
            height: 30,
            width: 40,
            do_rectify: true,
        }
    );
    let info = CameraInfo {
        header: header("camera_optical"),
        height: 480,
        width: 640,
        distortion_model: "plumb_bob".into(),
        d: vec![-0.25, 0.125, 0.001, -0.002, 0.0625],
        k: [500.0, 0.0, 320.5, 0.0, 501.0, 240.5, 0.0, 0.0, 1.0],
        r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        p: [
            500.0, 0.0, 320.5, -35.0, 0.0, 501.0, 240.5, 0.0, 0.0, 0.0, 1.0, 0.0,
        ],
        binning_x: 2,
        binning_y: 3,
        roi,
    };
    golden(CAMERA_INFO, &info);
    let rosy: msgs::CameraInfo = both_ways(&info);
    assert_eq!(
        (
            rosy.timestamp,
            rosy.frame_id.as_str(),
            rosy.width,
            rosy.height
        ),
        (rosy_stamp(), "camera_optical", 640, 480)
    );
    assert_eq!(rosy.distortion_model, "plumb_bob");
    assert_eq!(rosy.d, info.d);
    assert_eq!((rosy.k[2], rosy.r[4], rosy.p[3]), (320.5, 1.0, -35.0));
    assert_eq!((rosy.binning_x, rosy.binning_y), (2, 3));
    assert_eq!(rosy.roi.width, 40);
}

#[test]
fn log_drops_only_the_function() {
    let log = Log {
        stamp: stamp(),
        level: Log::WARN,
        name: "talker".into(),
        msg: "battery low".into(),
        file: "talker.cpp".into(),
        function: "on_timer".into(),
        line: 42,
    };
    golden(LOG, &log);
    let rosy = msgs::Log::from(log.clone());
    assert_eq!(
        rosy,
        msgs::Log {
            timestamp: rosy_stamp(),
            level: msgs::LogLevel::Warning,
            message: "battery low".into(),
            name: "talker".into(),
            file: "talker.cpp".into(),
            line: 42,
        }
    );
    assert_eq!(
        Log::from(rosy.clone()),
        Log {
            function: String::new(),
            ..log
        }
    );
    assert_eq!(msgs::Log::from(Log::from(rosy.clone())), rosy);
}

#[test]
fn std_srvs() {
    golden(SET_BOOL_REQUEST, &SetBoolRequest { data: true });
    golden(
        SET_BOOL_RESPONSE,
        &Outcome {
            success: true,
            message: "done".into(),
        },
    );
    golden(TRIGGER_REQUEST, &TriggerRequest::default());
    golden(
        TRIGGER_RESPONSE,
        &Outcome {
            success: false,
            message: "busy".into(),
        },
    );
}

#[test]
fn an_image_keeps_every_field_both_ways() {
    let raw = msgs::RawImage {
        timestamp: rosy_stamp(),
        frame_id: "camera_optical".into(),
        width: 4,
        height: 2,
        encoding: "rgb8".into(),
        step: 12,
        data: Blob((0..24).collect()),
    };
    let ros: Image = raw.clone().into();
    assert_eq!(ros.header.stamp, stamp());
    assert_eq!(
        (ros.width, ros.height, ros.step, ros.is_bigendian),
        (4, 2, 12, 0)
    );
    assert_eq!(msgs::RawImage::from(ros), raw);
}
