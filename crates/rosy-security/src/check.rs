//! `rosy security check`: what a node's credentials say and whether they work: the files and
//! their modes are loaded as a node loads them, then the identity completes a TLS handshake
//! with itself over loopback (so the certificate really chains to the CA and the key really
//! matches it). The only connection this crate ever opens, to itself.

use crate::TlsSecurity;
use crate::credentials::Credentials;
use rosy::security::{LinkSecurity, Side};
use std::path::Path;
use std::time::Duration;

/// What `check` found.
#[derive(Debug)]
pub struct Report {
    /// The domain the credentials are for.
    pub domain: String,
    /// The node name (or pattern) they grant.
    pub name: String,
    /// The certificate's serial, as hex.
    pub serial: String,
    /// The key id node ids begin with.
    pub key_id: String,
    /// The kind of the node's key: `Ed25519`, `P-256`, or the algorithm's object identifier.
    pub key: String,
    /// The signed ACL beside the credentials, if any.
    pub acl: Option<crate::acl::Acl>,
}

/// The kind of key a certificate holds, named as `rosy security create-domain --key` names it.
fn key_kind(cert_der: &[u8]) -> String {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let Ok((_, cert)) = X509Certificate::from_der(cert_der) else {
        return "unknown (the certificate does not parse)".into();
    };
    match crate::identity::KeyAlgorithm::of(cert.public_key()) {
        Some(kind) => kind.name().into(),
        None => format!(
            "{} (not one rosy makes)",
            cert.public_key().algorithm.algorithm
        ),
    }
}

/// Loads the credentials in `dir` and proves them with a loopback handshake with themselves.
pub async fn check(dir: &Path) -> Result<Report, String> {
    let creds = Credentials::load(dir).map_err(|e| e.to_string())?;
    let security = TlsSecurity::new(&creds)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot open a loopback port for the self-test: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("loopback self-test: {e}"))?;
    let proved = tokio::time::timeout(Duration::from_secs(5), async {
        let (dialed, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        let dialed = dialed.map_err(|e| format!("loopback self-test: {e}"))?;
        let accepted = accepted.map_err(|e| format!("loopback self-test: {e}"))?.0;
        let (d, a) = tokio::join!(
            security.handshake(&dialed, Side::Dialer),
            security.handshake(&accepted, Side::Acceptor)
        );
        d.and(a).map(|_| ()).map_err(|e| {
            format!("the credentials do not complete a TLS handshake with themselves: {e}")
        })
    })
    .await
    .map_err(|_| "the loopback self-test did not finish within 5 s".to_string())?;
    proved?;
    Ok(Report {
        key: key_kind(&creds.cert),
        domain: creds.identity.domain,
        name: creds.identity.name,
        serial: creds.identity.serial,
        key_id: creds.identity.key_id,
        acl: security.acl().map(|acl| (*acl).clone()),
    })
}
