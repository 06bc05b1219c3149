//! [`DiscoveryError`]: why discovery could not start.

/// A discovery failure at start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The host-local registry could not be used: its directory not made, this node's entry
    /// not written, or its thread not started.
    #[error("cannot use the host-local registry at {path}: {source}")]
    Registry {
        /// The domain's registry directory
        /// ([`registry::domain_dir`](crate::discovery::registry::domain_dir)).
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// mDNS could not start: the daemon, its interfaces, the registration, the browse or its
    /// thread failed, as the text says. Only an error when the registry is off; otherwise the
    /// node goes on without mDNS, finding only same-host peers.
    #[error("mDNS: {0}")]
    Mdns(String),
    /// A secure node's registry directory is not private to this user: another user made it
    /// or may write to it.
    #[error(
        "the registry directory {path} {problem}: another user could watch or mislead this \
         domain's nodes; remove it (as its owner) or choose another domain id"
    )]
    RegistryNotPrivate {
        /// The domain's registry directory.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
}
