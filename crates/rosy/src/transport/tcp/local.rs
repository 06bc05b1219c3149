//! Local links: a secure node's connections to peers on its own host go over a Unix socket in
//! the domain's private registry directory (`<id>.sock`, in the 0700 directory of the user
//! every same-host node of a secure domain runs as), not TLS over loopback.
//!
//! What stands in for TLS here, and why it is enough:
//! - **Who may connect.** Only processes that can enter the directory (its user, and root)
//!   reach the socket, and the kernel says who holds the other end (`SO_PEERCRED`): both sides
//!   refuse a peer that runs as another user. Loopback TCP, by contrast, is open to every local
//!   user, which is why it is sealed.
//! - **Who the peer is.** Its hello carries its certificate, checked as the TLS handshake checks
//!   one (signed by the domain's CA, for this domain, not revoked) and bound to its name and
//!   node id the same way. What the user check replaces is TLS's proof that the peer holds the
//!   certificate's key: any process of this user can read the domain's keys anyway.
//! - **Privacy and integrity.** The bytes never leave the kernel, and no other user can read or
//!   alter them.
//!
//! A TLS handshake costs both ends about 0.5 ms of CPU; a local link's costs one certificate
//! check each. A node with fifty same-host peers joins in a fraction of the time.
//!
//! Plain nodes make no local links (their peers may run as other users), and a provider that
//! shows no certificate for them ([`LinkSecurity::local_certificate`]) makes none either: every
//! link of such a node is sealed.

use super::error::LinkError;
use super::handshake::{
    Handshaken, Hello, LinkTimeouts, Remote, answer_hello, check_identity, hello_frame, read_hello,
};
use super::secure::{Guard, LinkSecurity, PeerIdentity, SecurityError};
use super::wire::{self, Stream};
use crate::transport::tcp::frame;
use bytes::BytesMut;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use tokio::net::{UnixListener, UnixStream};

/// The socket a node listens on for local links: `<id>.sock` in its domain's registry
/// directory `dir`.
pub fn socket_path(dir: &Path, node_id: &str) -> PathBuf {
    dir.join(format!("{node_id}.sock"))
}

/// A node's listening local socket. Dropping it removes the socket file.
pub struct LocalListener {
    listener: UnixListener,
    path: PathBuf,
}

impl LocalListener {
    /// Listens at `path` (in a directory only this user may enter).
    pub fn bind(path: PathBuf) -> std::io::Result<Self> {
        let listener = UnixListener::bind(&path)?;
        Ok(LocalListener { listener, path })
    }

    /// The next connection, with who the kernel says holds its other end.
    pub async fn accept(&self) -> std::io::Result<(UnixStream, Remote)> {
        let (stream, _) = self.listener.accept().await?;
        let remote = peer_of(&stream)?;
        Ok((stream, remote))
    }

    /// Where it listens.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LocalListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Who holds the other end of `stream`, as the kernel recorded it when it connected (or, for a
/// dialer, when the listener began listening).
fn peer_of(stream: &UnixStream) -> std::io::Result<Remote> {
    let cred = stream.peer_cred()?;
    Ok(Remote::Local {
        pid: cred.pid().map_or(0, |p| p as u32),
        uid: cred.uid(),
    })
}

/// This process's effective user.
fn own_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Refuses a peer that runs as another user.
fn check_user(remote: Remote) -> Result<(), LinkError> {
    match remote {
        Remote::Local { uid, .. } if uid != own_uid() => {
            Err(LinkError::Security(SecurityError::Refused(format!(
                "the peer runs as uid {uid}, this node as uid {}: same-host nodes of a secure \
                 domain must run as one user",
                own_uid()
            ))))
        }
        _ => Ok(()),
    }
}

/// The provider when it makes local links: this node's certificate to show, and the provider
/// that checks the peer's.
fn local_provider(guard: &Guard) -> Result<(&Arc<dyn LinkSecurity>, Vec<u8>), LinkError> {
    guard
        .sealing()
        .and_then(|p| p.local_certificate().map(|cert| (p, cert)))
        .ok_or_else(|| {
            LinkError::Security(SecurityError::Refused(
                "this node makes no local links (it seals every link)".into(),
            ))
        })
}

/// The certificate a peer's hello shows, checked by `provider`: who it proves the peer is.
fn vouch(provider: &Arc<dyn LinkSecurity>, hello: &Hello) -> Result<PeerIdentity, LinkError> {
    let der = hello.certificate.as_ref().ok_or_else(|| {
        LinkError::Security(SecurityError::Refused(
            "the peer's hello on a local link shows no certificate".into(),
        ))
    })?;
    Ok(provider.vouch(der)?)
}

fn with_certificate(ours: &Hello, certificate: Vec<u8>) -> Hello {
    Hello {
        certificate: Some(serde_bytes::ByteBuf::from(certificate)),
        ..ours.clone()
    }
}

/// Dials the local socket at `path` and performs the handshake: both hellos, each peer's
/// certificate checked by the other.
pub async fn dial(
    path: &Path,
    ours: &Hello,
    timeouts: &LinkTimeouts,
    guard: &Guard,
) -> Result<Handshaken, LinkError> {
    let (provider, certificate) = local_provider(guard)?;
    tokio::time::timeout(timeouts.handshake, async {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|source| LinkError::ConnectLocal {
                path: path.to_path_buf(),
                source,
            })?;
        let remote = peer_of(&stream)?;
        check_user(remote)?;
        let (mut read, write) = wire::split(Stream::Unix(stream), None);
        let mut out = BytesMut::new();
        out.extend_from_slice(&frame::preamble());
        hello_frame(&with_certificate(ours, certificate)).encode(&mut out);
        write
            .write_all(&mut [out.freeze()], &AtomicU64::new(0))
            .await?;
        let mut buf = BytesMut::with_capacity(frame::MAX_HELLO_LEN);
        let peer = read_hello(&mut read, &mut buf, ours).await?;
        let identity = vouch(provider, &peer)?;
        check_identity(&peer, Some(&identity))?;
        Ok(Handshaken {
            read,
            write,
            buf,
            peer,
            identity: Some(identity),
            remote,
            dialed: true,
            stall: timeouts.stall,
        })
    })
    .await
    .map_err(|_| LinkError::HandshakeTimeout(timeouts.handshake))?
}

/// Performs the acceptor's side of the handshake on a fresh local connection from `remote`.
pub async fn accept(
    stream: UnixStream,
    remote: Remote,
    ours: &Hello,
    timeouts: &LinkTimeouts,
    guard: &Guard,
) -> Result<Handshaken, LinkError> {
    check_user(remote)?;
    let (provider, certificate) = local_provider(guard)?;
    tokio::time::timeout(timeouts.handshake, async {
        let (mut read, write) = wire::split(Stream::Unix(stream), None);
        let mut buf = BytesMut::with_capacity(frame::MAX_HELLO_LEN);
        let (checked, identity) = match read_hello(&mut read, &mut buf, ours).await {
            Ok(peer) => {
                let proven = vouch(provider, &peer)
                    .and_then(|id| check_identity(&peer, Some(&id)).map(|()| id));
                match proven {
                    Ok(id) => (Ok(peer), Some(id)),
                    Err(e) => (Err(e), None),
                }
            }
            Err(e) => (Err(e), None),
        };
        let peer = answer_hello(&write, &with_certificate(ours, certificate), checked).await?;
        Ok(Handshaken {
            read,
            write,
            buf,
            peer,
            identity,
            remote,
            dialed: false,
            stall: timeouts.stall,
        })
    })
    .await
    .map_err(|_| LinkError::HandshakeTimeout(timeouts.handshake))?
}
