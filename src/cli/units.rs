//! How the tools print quantities for people.

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
