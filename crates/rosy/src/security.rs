//! Secure mode: links sealed with TLS 1.3 and mutually authenticated against the domain's CA,
//! each node's name bound to its certificate. rosy holds no cryptography itself: the
//! `rosy-security` crate provides it, and a program that wants secure mode installs it once
//! (`rosy_security::install()`), as the `rosy` CLI and the Python package do. A node then
//! follows `ROSY_SECURITY` (`off`, `permissive`, `enforce`) and finds its credentials in
//! `ROSY_SECURITY_DIR` (a path, never a key), or takes a [`Guard`] from
//! [`NodeBuilder::security`](crate::NodeBuilder::security).
//!
//! A node asked for security that cannot have it does not start: `ROSY_SECURITY=enforce` in a
//! program built without a provider is an error, not a plain node.
//!
//! Shared memory is not sealed: same-host nodes of a secure domain must run as one user (the
//! segments are 0600, the registry directory 0700).

pub use crate::transport::tcp::NonBlocking;
pub use crate::transport::tcp::secure::{
    BoxFuture, ChangeHook, Guard, LinkSecurity, PeerIdentity, Policy, Secured, SecurityError,
    SecurityMode, Session, Side, Verb, glob_match,
};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// Makes a provider from the credentials in a directory, for a domain; the error says what is
/// wrong with them.
pub type ProviderFactory = fn(dir: &Path, domain: &str) -> Result<Arc<dyn LinkSecurity>, String>;

static FACTORY: OnceLock<ProviderFactory> = OnceLock::new();

/// Installs the provider nodes use when the environment asks for security. The first one
/// installed stays; `false` if one was there already.
pub fn install_provider(factory: ProviderFactory) -> bool {
    FACTORY.set(factory).is_ok()
}

/// The guard `ROSY_SECURITY` and `ROSY_SECURITY_DIR` ask for, for a node of `domain`.
pub(crate) fn guard_from_env(domain: &str) -> Result<Guard, (&'static str, String)> {
    let mode: SecurityMode = std::env::var("ROSY_SECURITY")
        .unwrap_or_default()
        .parse()
        .map_err(|r| ("ROSY_SECURITY", r))?;
    if mode == SecurityMode::Off {
        return Ok(Guard::off());
    }
    let dir = match std::env::var_os("ROSY_SECURITY_DIR") {
        Some(d) if !d.is_empty() => d,
        _ => {
            return Err((
                "ROSY_SECURITY_DIR",
                format!(
                    "ROSY_SECURITY={mode} needs ROSY_SECURITY_DIR: the directory \
                     `rosy security issue` wrote this node's credentials to"
                ),
            ));
        }
    };
    let Some(factory) = FACTORY.get() else {
        return Err((
            "ROSY_SECURITY",
            format!(
                "ROSY_SECURITY={mode}, but this program was built without a security provider: \
                 add the rosy-security crate and call rosy_security::install() at start"
            ),
        ));
    };
    let provider = factory(Path::new(&dir), domain).map_err(|r| ("ROSY_SECURITY_DIR", r))?;
    Ok(Guard {
        mode,
        provider: Some(provider),
    })
}
