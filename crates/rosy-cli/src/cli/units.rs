//! How the tools print quantities for people, and read the durations they are given.

/// Most seconds an option takes: about 31 years, far past any run, and short of what a
/// `Duration` holds.
const MAX_SECONDS: f64 = 1e9;

/// Reads a duration option in seconds (`0.5`, `30`): a number from 0 to 10^9. Anything else
/// (a negative number, `nan`, `inf`) is refused with a message naming it, before anything runs.
pub fn parse_seconds(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds (try 0.5 or 30)"))?;
    if !(0.0..=MAX_SECONDS).contains(&seconds) {
        return Err(format!(
            "{text:?} seconds is out of range: give a number from 0 to {MAX_SECONDS:e}"
        ));
    }
    Ok(seconds)
}

/// `1.23 MB`, `12.00 kB`, `17 B` (decimal units, as network and disk figures are given).
pub fn human_bytes(bytes: f64) -> String {
    if bytes >= 1e9 {
        format!("{:.2} GB", bytes / 1e9)
    } else if bytes >= 1e6 {
        format!("{:.2} MB", bytes / 1e6)
    } else if bytes >= 1e3 {
        format!("{:.2} kB", bytes / 1e3)
    } else {
        format!("{bytes:.0} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_numbers_from_zero_up() {
        assert_eq!(parse_seconds("0.5"), Ok(0.5));
        assert_eq!(parse_seconds("30"), Ok(30.0));
        assert_eq!(parse_seconds("0"), Ok(0.0));
        for bad in ["-1", "nan", "inf", "1e300", "soon"] {
            let e = parse_seconds(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }
}
