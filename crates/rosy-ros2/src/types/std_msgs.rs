//! `std_msgs`: [`Header`] and the one-field messages ([`StringMsg`], [`BoolMsg`],
//! [`Int32Msg`], [`Float64Msg`]...), whose rosy form is the primitive itself (`String`,
//! `bool`, `i32`, `f64`...): `From` both ways, lossless. Plain serde values laid out as they
//! travel in CDR; nothing here touches DDS.

use serde::{Deserialize, Serialize};

use super::builtin::Time;

/// `std_msgs/msg/Header`: when and in which frame. It has no rosy form of its own: rosy
/// messages carry `timestamp` and `frame_id` fields, which the conversions fill from it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// When the data was taken.
    pub stamp: Time,
    /// The coordinate frame the data is in.
    pub frame_id: String,
}

impl ros2_client::Message for Header {}

/// One `std_msgs` message of a single `data` field, with `From` both ways between it and the
/// primitive that is its rosy form.
macro_rules! data_msg {
    ($(#[$doc:meta])* $name:ident, $ty:ty, $($derive:ident),*) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, $($derive),*)]
        pub struct $name {
            /// The value.
            pub data: $ty,
        }

        impl ros2_client::Message for $name {}

        impl From<$name> for $ty {
            fn from(msg: $name) -> $ty {
                msg.data
            }
        }

        impl From<$ty> for $name {
            fn from(data: $ty) -> $name {
                $name { data }
            }
        }
    };
}

data_msg!(
    /// `std_msgs/msg/String`; rosy form: `String`.
    StringMsg, String, Eq
);
data_msg!(
    /// `std_msgs/msg/Bool`; rosy form: `bool`.
    BoolMsg, bool, Copy, Eq
);
data_msg!(
    /// `std_msgs/msg/Int8`; rosy form: `i8`.
    Int8Msg, i8, Copy, Eq
);
data_msg!(
    /// `std_msgs/msg/Int16`; rosy form: `i16`.
    Int16Msg, i16, Copy, Eq
);
data_msg!(
    /// `std_msgs/msg/Int32`; rosy form: `i32`.
    Int32Msg, i32, Copy, Eq
);
data_msg!(
    /// `std_msgs/msg/Int64`; rosy form: `i64`.
    Int64Msg, i64, Copy, Eq
);
data_msg!(
    /// `std_msgs/msg/UInt8`; rosy form: `u8`.
    UInt8Msg, u8, Copy, Eq
);
data_msg!(
    /// `std_msgs/msg/UInt16`; rosy form: `u16`.
    UInt16Msg, u16, Copy, Eq
);
data_msg!(
    /// `std_msgs/msg/UInt32`; rosy form: `u32`.
    UInt32Msg, u32, Copy, Eq
);
data_msg!(
    /// `std_msgs/msg/UInt64`; rosy form: `u64`.
    UInt64Msg, u64, Copy, Eq
);
data_msg!(
    /// `std_msgs/msg/Float32`; rosy form: `f32`.
    Float32Msg, f32, Copy
);
data_msg!(
    /// `std_msgs/msg/Float64`; rosy form: `f64`.
    Float64Msg, f64, Copy
);
