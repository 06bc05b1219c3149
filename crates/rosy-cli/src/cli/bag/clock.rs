//! Times as people read them in bags' names and `bag info`: UTC calendar dates from the
//! system clock, with no time-zone database.

use std::time::SystemTime;

/// `record_YYYY-MM-DD-HH-MM-SS.mcap` for `at`, in UTC.
pub(super) fn default_name(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("record_{y:04}-{mo:02}-{d:02}-{h:02}-{mi:02}-{s:02}.mcap")
}

/// (year, month, day, hour, minute, second) in UTC of `secs` since the Unix epoch.
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rest / 3600) as u32,
        (rest % 3600 / 60) as u32,
        (rest % 60) as u32,
    )
}

/// `2026-11-25 09:36:53.123 UTC` for nanoseconds since the Unix epoch.
pub(super) fn utc(ns: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(ns / 1_000_000_000);
    let ms = ns % 1_000_000_000 / 1_000_000;
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{ms:03} UTC")
}

/// Nanoseconds since the Unix epoch, now.
pub(super) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn default_names_and_times_are_utc_calendar_dates() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_063_413);
        assert_eq!(default_name(at), "record_2025-11-25-09-36-53.mcap");
        assert_eq!(
            default_name(SystemTime::UNIX_EPOCH),
            "record_1970-01-01-00-00-00.mcap"
        );
        // A leap day.
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(utc(1_500_000), "1970-01-01 00:00:00.001 UTC");
    }
}
