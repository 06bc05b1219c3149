//! What a connection needs of a security provider: a handshake that authenticates the peer
//! ([`LinkSecurity`]) and a [`Session`] that seals every byte after it. rosy itself holds no
//! cryptography: the `rosy-security` crate implements these traits with TLS 1.3 (rustls), so a
//! build without it compiles no TLS at all.
//!
//! The mode ([`SecurityMode`]) says what a node does with peers: `Off` speaks plain rosy only,
//! `Enforce` speaks TLS only and refuses plain peers with a reason they can log, `Permissive`
//! (for migrating a mesh) speaks TLS where the peer does and plain where it does not, warning
//! about each plain peer.
//!
//! Nothing here reads or writes frames: `handshake` and `link` do, through `wire`.

use bytes::BytesMut;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use tokio::net::TcpStream;

/// Whether and how strictly a node secures its links (`ROSY_SECURITY`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SecurityMode {
    /// Plain rosy: no authentication, no encryption (the default).
    #[default]
    Off,
    /// TLS with peers that speak it, plain with those that do not (each logged): for moving a
    /// running mesh to security one node at a time, never for keeping.
    Permissive,
    /// TLS with every peer; plain peers are refused.
    Enforce,
}

impl std::str::FromStr for SecurityMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "" | "off" | "0" => Ok(SecurityMode::Off),
            "permissive" => Ok(SecurityMode::Permissive),
            "enforce" | "1" => Ok(SecurityMode::Enforce),
            other => Err(format!(
                "{other:?} is not a security mode (off, permissive, enforce)"
            )),
        }
    }
}

impl std::fmt::Display for SecurityMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SecurityMode::Off => "off",
            SecurityMode::Permissive => "permissive",
            SecurityMode::Enforce => "enforce",
        })
    }
}

/// Which end of a connection this node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// This node dialed.
    Dialer,
    /// This node accepted.
    Acceptor,
}

/// Who the peer proved to be in the handshake (from its verified certificate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The node name the certificate grants: a name, or a pattern with `*` (`*` alone is the
    /// domain's shared member credential, good for any name).
    pub name: String,
    /// Names the peer's key: secure node ids begin with it ([`LinkSecurity::id_prefix`]), so
    /// no node can claim the id of a node holding another key.
    pub key_id: String,
    /// The certificate's serial number, as hex.
    pub serial: String,
}

impl PeerIdentity {
    /// Whether the certificate grants `name` (`*` matches any run of characters).
    pub fn grants(&self, name: &str) -> bool {
        glob_match(&self.name, name)
    }
}

/// `*` matches any run of characters (none included); everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Why a secure handshake failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecurityError {
    /// The peer speaks plain rosy: it runs without security.
    #[error("the peer is not secure (it speaks plain rosy; start it with ROSY_SECURITY=enforce)")]
    PeerNotSecure,
    /// The peer proved nothing acceptable, or refused what this node proved: the reason says
    /// which (another domain's CA, a revoked serial, no certificate...).
    #[error("{0}")]
    Refused(String),
    /// The socket failed during the handshake.
    #[error("reading or writing the socket during the TLS handshake: {0}")]
    Io(#[from] io::Error),
}

/// What a successful handshake gives: the session sealing the link, and who the peer proved
/// to be.
pub type Secured = (Arc<dyn Session>, PeerIdentity);

/// A future a provider returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A security provider: authenticates peers and seals links. Implemented by `rosy-security`.
pub trait LinkSecurity: Send + Sync + 'static {
    /// Runs the handshake on a fresh connection (nothing read or written on it yet) and returns
    /// the session sealing the rest, with the peer's proven identity.
    fn handshake<'a>(
        &'a self,
        stream: &'a TcpStream,
        side: Side,
    ) -> BoxFuture<'a, Result<Secured, SecurityError>>;

    /// This node's own key id: secure node ids begin with it (see [`PeerIdentity::key_id`]).
    fn id_prefix(&self) -> String;

    /// What discovery announces instead of the domain id: a tag only holders of the domain's
    /// credentials can compute, so the domain is not broadcast in the clear.
    fn discovery_tag(&self, domain: &str) -> String;

    /// The node name this node's certificate grants (a name or pattern).
    fn own_name(&self) -> String;

    /// The domain's access rules, when it has any: every flow is then checked at both ends
    /// (see [`Policy`]). `None`: members may do everything.
    fn policy(&self) -> Option<Arc<dyn Policy>> {
        None
    }

    /// This node's certificate (DER), shown to same-host peers on local links (see
    /// [`super::local`]). `None`, the default: this provider makes no local links, and every
    /// link is sealed.
    fn local_certificate(&self) -> Option<Vec<u8>> {
        None
    }

    /// Checks the certificate a same-host peer showed on a local link as the handshake checks
    /// one (signed by the domain's CA, for this domain, not revoked) and says who it names.
    /// Only called when [`LinkSecurity::local_certificate`] is `Some`.
    fn vouch(&self, certificate: &[u8]) -> Result<PeerIdentity, SecurityError> {
        let _ = certificate;
        Err(SecurityError::Refused(
            "this node's security provider makes no local links".into(),
        ))
    }

    /// Calls `changed` whenever the provider has loaded new rules (an ACL replaced on disk and
    /// verified), for as long as the provider lives. By default the rules never change.
    fn watch(&self, changed: ChangeHook) {
        let _ = changed;
    }
}

/// What a provider calls when its rules change.
pub type ChangeHook = Box<dyn Fn() + Send + Sync>;

/// What a node may do with a topic or service name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// Send messages on a topic.
    Publish,
    /// Receive a topic's messages.
    Subscribe,
    /// Send requests to a service.
    Call,
    /// Host a service and answer its calls.
    Provide,
}

impl std::fmt::Display for Verb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verb::Publish => "publish",
            Verb::Subscribe => "subscribe to",
            Verb::Call => "call",
            Verb::Provide => "provide",
        })
    }
}

/// A domain's access rules, as a provider loaded them (default deny, deny beats allow).
pub trait Policy: Send + Sync + std::fmt::Debug + 'static {
    /// Whether the node named `who` (a name its certificate grants) may `verb` `name`.
    fn allows(&self, who: &str, verb: Verb, name: &str) -> bool;

    /// Whether a certificate (its serial, as hex) is revoked: links to its holder close.
    fn is_revoked(&self, serial: &str) -> bool {
        let _ = serial;
        false
    }
}

/// A sealed connection's state after the handshake, shared by the link's reader and writer.
/// Methods never wait: they do what the socket allows now and say `WouldBlock` otherwise.
pub trait Session: Send + Sync + 'static {
    /// Seals as much of `plain` as it takes and writes sealed bytes with `out` until the socket
    /// would block. Returns how many bytes of `plain` were taken (all of it, or fewer when the
    /// socket is full); sealed bytes not yet written stay in the session ([`Session::pending`]).
    fn seal(&self, plain: &[io::IoSlice<'_>], out: &mut dyn io::Write) -> io::Result<usize>;
    /// Whether sealed bytes wait to be written (flushed by the next [`Session::seal`]).
    fn pending(&self) -> bool;
    /// Reads sealed bytes with `input` and appends what they open to `buf`. `Ok(0)` is the
    /// peer's clean end; `WouldBlock` means nothing more is readable now. A record that does not
    /// open (tampered, truncated, replayed) is an error: the link closes.
    fn open(&self, input: &mut dyn io::Read, buf: &mut BytesMut) -> io::Result<usize>;
    /// Queues the notice that this side sends nothing more (written by the next `seal`).
    fn close(&self);
}

/// How a node secures its links: the mode and, unless it is `Off`, the provider.
#[derive(Clone, Default)]
pub struct Guard {
    /// What the node does with plain and secure peers.
    pub mode: SecurityMode,
    /// The provider (always present unless the mode is `Off`).
    pub provider: Option<Arc<dyn LinkSecurity>>,
}

impl Guard {
    /// A guard that secures nothing.
    pub fn off() -> Self {
        Guard::default()
    }

    /// The provider, when links are to be sealed.
    pub fn sealing(&self) -> Option<&Arc<dyn LinkSecurity>> {
        match self.mode {
            SecurityMode::Off => None,
            _ => self.provider.as_ref(),
        }
    }
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("mode", &self.mode)
            .field("provider", &self.provider.as_ref().map(|p| p.own_name()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_documented() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "camera"));
        assert!(glob_match("camera", "camera"));
        assert!(!glob_match("camera", "camera2"));
        assert!(glob_match("camera*", "camera_front"));
        assert!(!glob_match("camera*", "lidar"));
        assert!(glob_match("rosy-*-echo", "rosy-topic-echo"));
        assert!(!glob_match("rosy-*-echo", "rosy-topic-hz"));
        assert!(glob_match("a*b*c", "abc"));
        assert!(!glob_match("a*b*c", "acb"));
        assert!(!glob_match("ab*ba", "aba"));
    }

    #[test]
    fn modes_parse_and_name_bad_values() {
        assert_eq!("enforce".parse(), Ok(SecurityMode::Enforce));
        assert_eq!("".parse(), Ok(SecurityMode::Off));
        assert_eq!("permissive".parse(), Ok(SecurityMode::Permissive));
        let e = "enforced".parse::<SecurityMode>().unwrap_err();
        assert!(
            e.contains("\"enforced\"") && e.contains("permissive"),
            "{e}"
        );
    }
}
