//! Secure mode for rosy: every TCP link is TLS 1.3 from its first byte, both ends prove they
//! hold a certificate from the domain's CA, and a node may only call itself by the name its
//! certificate grants. Shared memory between same-host nodes is not sealed (it never leaves
//! the host and is open to its owner only).
//!
//! A program turns it on by installing the provider once; nodes then follow `ROSY_SECURITY`
//! and `ROSY_SECURITY_DIR`:
//!
//! ```no_run
//! # async fn run() -> rosy::Result<()> {
//! rosy_security::install();
//! // With ROSY_SECURITY=enforce and ROSY_SECURITY_DIR=<what `rosy security issue` wrote>:
//! let node = rosy::Node::builder("camera").build().await?;
//! # Ok(()) }
//! ```
//!
//! or gives a node its guard directly, with [`guard`]. The credentials come from
//! `rosy security create-domain` and `rosy security issue` ([`provision`]).
//!
//! Modules: [`credentials`] loads and checks a node's files, [`identity`] reads what a
//! certificate names, [`tls`] is the handshake and the sealed session, [`provision`] makes
//! CAs and identities, [`check`] proves a node's credentials. This crate opens no connection of
//! its own, except `check`'s loopback handshake with itself.

pub mod acl;
pub mod check;
pub mod credentials;
/// Fuzz entry points, for `fuzz/` (feature `fuzzing`); not part of the API.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod identity;
pub mod provision;
pub mod reload;
pub mod tls;

use credentials::Credentials;
use rosy::security::{BoxFuture, Guard, LinkSecurity, Policy, SecurityError, SecurityMode};
use rosy::security::{PeerIdentity, Secured, Side};
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;

/// The TLS provider for one node: its credentials' configurations.
pub struct TlsSecurity {
    configs: tls::TlsConfigs,
    identity: identity::CertIdentity,
    /// This node's certificate, shown to same-host peers on local links.
    certificate: rustls_pki_types::CertificateDer<'static>,
    /// SHA-256 of the CA certificate: the discovery tag's key.
    ca_digest: Vec<u8>,
    /// The domain's signed access rules, when the credentials carry them (replaced while the
    /// node runs when a newer signed ACL appears beside the credentials).
    acl: Option<Arc<reload::LiveAcl>>,
}

impl TlsSecurity {
    /// A provider from loaded credentials, with the signed ACL beside them if there is one
    /// (refused when its signature does not verify, or when it revokes this very certificate).
    pub fn new(creds: &Credentials) -> Result<Self, String> {
        let acl = acl::Acl::load(&creds.dir, &creds.ca).map_err(|e| e.to_string())?;
        if let Some(acl) = &acl {
            if acl.is_revoked(&creds.identity.serial) {
                return Err(format!(
                    "this node's certificate (serial {}) is revoked by the domain's ACL in {}",
                    creds.identity.serial,
                    creds.dir.display()
                ));
            }
        }
        Ok(TlsSecurity {
            configs: tls::configs(creds)?,
            identity: creds.identity.clone(),
            certificate: creds.cert.clone(),
            ca_digest: aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &creds.ca)
                .as_ref()
                .to_vec(),
            acl: acl.map(|acl| reload::LiveAcl::new(acl, creds.dir.clone(), creds.ca.to_vec())),
        })
    }

    /// The domain's access rules these credentials carry now, if any.
    pub fn acl(&self) -> Option<Arc<acl::Acl>> {
        self.acl.as_ref().map(|live| live.current())
    }

    /// Loads the credentials in `dir` and checks they are for `domain`.
    pub fn from_dir(dir: &Path, domain: &str) -> Result<Self, String> {
        let creds = Credentials::load(dir).map_err(|e| e.to_string())?;
        creds.check_domain(domain).map_err(|e| e.to_string())?;
        TlsSecurity::new(&creds)
    }
}

impl LinkSecurity for TlsSecurity {
    fn handshake<'a>(
        &'a self,
        stream: &'a TcpStream,
        side: Side,
    ) -> BoxFuture<'a, Result<Secured, SecurityError>> {
        Box::pin(tls::handshake(
            &self.configs,
            stream,
            side,
            &self.identity.domain,
            self.acl.clone(),
        ))
    }

    fn id_prefix(&self) -> String {
        self.identity.key_id.clone()
    }

    fn local_certificate(&self) -> Option<Vec<u8>> {
        Some(self.certificate.to_vec())
    }

    fn vouch(&self, certificate: &[u8]) -> Result<PeerIdentity, SecurityError> {
        tls::vouch(
            &self.configs,
            certificate,
            &self.identity.domain,
            self.acl.as_deref(),
        )
    }

    fn discovery_tag(&self, domain: &str) -> String {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.ca_digest);
        let mut message = b"rosy-discovery-v1".to_vec();
        message.extend_from_slice(domain.as_bytes());
        identity::hex(&aws_lc_rs::hmac::sign(&key, &message).as_ref()[..8])
    }

    fn own_name(&self) -> String {
        self.identity.name.clone()
    }

    fn policy(&self) -> Option<Arc<dyn Policy>> {
        self.acl.clone().map(|acl| acl as Arc<dyn Policy>)
    }

    fn watch(&self, changed: rosy::security::ChangeHook) {
        if let Some(acl) = &self.acl {
            acl.on_change(changed);
        }
    }
}

/// A guard for [`rosy::NodeBuilder::security`]: `mode`, with the credentials in `dir` for
/// `domain`.
pub fn guard(mode: SecurityMode, dir: &Path, domain: &str) -> Result<Guard, String> {
    Ok(Guard {
        mode,
        provider: match mode {
            SecurityMode::Off => None,
            _ => Some(Arc::new(TlsSecurity::from_dir(dir, domain)?)),
        },
    })
}

fn from_env(dir: &Path, domain: &str) -> Result<Arc<dyn LinkSecurity>, String> {
    Ok(Arc::new(TlsSecurity::from_dir(dir, domain)?))
}

/// Installs this crate as the provider nodes use when `ROSY_SECURITY` asks for security.
/// Call it once at start; `false` if a provider was installed already.
pub fn install() -> bool {
    rosy::security::install_provider(from_env)
}
