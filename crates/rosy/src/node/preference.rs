//! [`TransportPreference`]: which transport a node uses to reach peers. Its own file so the
//! builder and the mesh both take it from below, not from each other.

/// Which transport a node uses to reach peers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TransportPreference {
    /// Shared memory for peers on this host, TCP for the rest.
    #[default]
    Auto,
    /// TCP for everyone.
    Tcp,
    /// Shared memory only (peers on other hosts are unreachable).
    Shm,
}

impl std::str::FromStr for TransportPreference {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(TransportPreference::Auto),
            "tcp" => Ok(TransportPreference::Tcp),
            "shm" => Ok(TransportPreference::Shm),
            _ => Err(format!(
                "unknown transport {s:?} (expected auto, tcp or shm)"
            )),
        }
    }
}
