//! `rcl_interfaces`: [`Log`], the log line ROS 2 nodes publish on `/rosout`, and its
//! conversions to and from [`rosy::msgs::Log`]. Plain serde values laid out as they travel in
//! CDR; nothing here touches DDS.

use rosy::msgs::{self, LogLevel};
use serde::{Deserialize, Serialize};

use super::builtin::Time;

/// `rcl_interfaces/msg/Log`; rosy form: [`msgs::Log`].
///
/// Into rosy: `function` is dropped (rosy has no field for it); `level` maps to the nearest
/// rosy level (a level halfway between two goes to the more severe), 0 (rcutils' `UNSET`)
/// to [`LogLevel::Unknown`]. Out of rosy: `function` is empty, and [`LogLevel::Unknown`]
/// becomes 0. The five ROS levels and the five rosy ones map one to one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Log {
    /// When the line was logged.
    pub stamp: Time,
    /// How severe it is: [`Log::DEBUG`] to [`Log::FATAL`].
    pub level: u8,
    /// The logger's name (usually the node's).
    pub name: String,
    /// The text.
    pub msg: String,
    /// The source file it was logged from.
    pub file: String,
    /// The function it was logged from.
    pub function: String,
    /// The line in `file` it was logged from.
    pub line: u32,
}

impl Log {
    /// `level` of debugging detail.
    pub const DEBUG: u8 = 10;
    /// `level` of normal operation.
    pub const INFO: u8 = 20;
    /// `level` of something unexpected that did not stop the work.
    pub const WARN: u8 = 30;
    /// `level` of a failure.
    pub const ERROR: u8 = 40;
    /// `level` of a failure the program cannot go on after.
    pub const FATAL: u8 = 50;
}

impl ros2_client::Message for Log {}

/// The rosy level of a ROS level: the nearest, ties to the more severe; 0 is `Unknown`.
fn level_from_ros(level: u8) -> LogLevel {
    match level {
        0 => LogLevel::Unknown,
        1..15 => LogLevel::Debug,
        15..25 => LogLevel::Info,
        25..35 => LogLevel::Warning,
        35..45 => LogLevel::Error,
        45.. => LogLevel::Fatal,
    }
}

/// The ROS level of a rosy level; `Unknown` is 0.
fn level_to_ros(level: LogLevel) -> u8 {
    match level {
        LogLevel::Unknown => 0,
        LogLevel::Debug => Log::DEBUG,
        LogLevel::Info => Log::INFO,
        LogLevel::Warning => Log::WARN,
        LogLevel::Error => Log::ERROR,
        LogLevel::Fatal => Log::FATAL,
    }
}

impl From<Log> for msgs::Log {
    fn from(log: Log) -> msgs::Log {
        msgs::Log {
            timestamp: log.stamp.into(),
            level: level_from_ros(log.level),
            message: log.msg,
            name: log.name,
            file: log.file,
            line: log.line,
        }
    }
}

impl From<msgs::Log> for Log {
    fn from(log: msgs::Log) -> Log {
        Log {
            stamp: log.timestamp.into(),
            level: level_to_ros(log.level),
            name: log.name,
            msg: log.message,
            file: log.file,
            function: String::new(),
            line: log.line,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_one_to_one_and_others_to_the_nearest() {
        for (ros, rosy) in [
            (0, LogLevel::Unknown),
            (Log::DEBUG, LogLevel::Debug),
            (Log::INFO, LogLevel::Info),
            (Log::WARN, LogLevel::Warning),
            (Log::ERROR, LogLevel::Error),
            (Log::FATAL, LogLevel::Fatal),
        ] {
            assert_eq!(level_from_ros(ros), rosy);
            assert_eq!(level_to_ros(rosy), ros);
        }
        assert_eq!(level_from_ros(1), LogLevel::Debug);
        assert_eq!(level_from_ros(14), LogLevel::Debug);
        assert_eq!(level_from_ros(15), LogLevel::Info);
        assert_eq!(level_from_ros(31), LogLevel::Warning);
        assert_eq!(level_from_ros(35), LogLevel::Error);
        assert_eq!(level_from_ros(44), LogLevel::Error);
        assert_eq!(level_from_ros(255), LogLevel::Fatal);
    }
}
