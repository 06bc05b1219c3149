//! Byte counts written by people: `0`, `1000`, `1kB`, `1.5 MB`, `64MiB`. Used by the builder's
//! environment settings and by the command line, so both read sizes the same way.

/// Parses a size: a number (decimals allowed) and an optional unit, `B`, `kB`/`k` (1000),
/// `MB`/`m`, `GB`/`g` (powers of 1000), `KiB`, `MiB`, `GiB` (powers of 1024); case does not
/// matter.
///
/// ```
/// assert_eq!(rosy::units::parse_size("64MiB"), Ok(64 << 20));
/// assert_eq!(rosy::units::parse_size("1.5 kB"), Ok(1500));
/// assert!(rosy::units::parse_size("1 parsec").unwrap_err().contains("unit"));
/// ```
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (try 0, 1000, 1kB, 1MB, 64MiB)"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {text:?} (B, kB, MB, KiB, MiB)"
            ));
        }
    };
    let bytes = (number * scale).round();
    if !(0.0..=usize::MAX as f64).contains(&bytes) {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("1kB"), Ok(1000));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("1.5 kB"), Ok(1500));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("1 parsec").unwrap_err().contains("unit"));
    }
}
