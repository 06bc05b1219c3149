//! TLS 1.3 for rosy links: the configurations (mutual authentication against the domain CA,
//! ALPN `rosy/1`, TLS 1.3 only, so AEAD suites only, no session resumption), the handshake on a
//! fresh socket, and the [`Session`] that seals a link's bytes afterwards.
//!
//! The session drives rustls by hand, never waiting: the link's writer and a sender's fast
//! path seal and write what the socket takes now, and the reader opens what has come. One lock
//! guards the TLS state; each holds it only while sealing or opening.

use crate::credentials::Credentials;
use crate::identity::{CertIdentity, identity_of};
use bytes::BytesMut;
use rosy::security::{NonBlocking, PeerIdentity, Secured, SecurityError, Session, Side};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{ClientConfig, ClientConnection, Connection, RootCertStore, ServerConfig};
use rustls::{ServerConnection, version::TLS13};
use rustls_pki_types::ServerName;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::TcpStream;

/// The application protocol both sides must name.
pub const ALPN: &[u8] = b"rosy/1";
/// The DNS name every node certificate carries and every dialer expects: who the peer is comes
/// from its `rosy://` URI, checked after the handshake.
pub const SERVER_NAME: &str = "node.rosy.invalid";
/// Sealed bytes one link may hold unsent before sealing more waits for the socket.
const SEALED_BUFFER: usize = 256 << 10;
/// Sealed bytes read from the socket at once: a link starts with room for one record and
/// doubles it each time a read fills it, up to this (a link of small messages stays small).
const STAGING: usize = 256 << 10;
/// A TLS record with its header and AEAD tag, rounded up: the staging buffer's first size.
const STAGING_FIRST: usize = 17 << 10;
/// Plain bytes one `open` hands over at most, so the reader goes on to its frames.
const OPEN_BATCH: usize = 4 << 20;

/// The one crypto provider rosy uses (aws-lc-rs), installed explicitly in each configuration:
/// TLS 1.3's suites only (all AEAD), AES-128-GCM with SHA-256 first. aws-lc's default order
/// puts AES-256-GCM with SHA-384 first, whose handshake hashes run without the CPU's SHA
/// instructions (SHA-512 has none on x86) and whose records take 14 AES rounds to 128's 10:
/// 128-bit AES is what TLS 1.3 requires every implementation to offer, and ample here.
pub fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::aws_lc_rs::cipher_suite::{
        TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256,
    };
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.cipher_suites = vec![
        TLS13_AES_128_GCM_SHA256,
        TLS13_AES_256_GCM_SHA384,
        TLS13_CHACHA20_POLY1305_SHA256,
    ];
    Arc::new(provider)
}

/// Both ends' TLS configurations for one node's credentials.
pub struct TlsConfigs {
    pub(crate) client: Arc<ClientConfig>,
    pub(crate) server: Arc<ServerConfig>,
    /// What the server side checks a client certificate with (the domain CA): also what
    /// checks a certificate shown on a local link.
    pub(crate) verifier: Arc<dyn ClientCertVerifier>,
}

/// Builds the configurations: this node's certificate and key, the domain CA as the only root,
/// client certificates required.
pub fn configs(creds: &Credentials) -> Result<TlsConfigs, String> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    roots
        .add(creds.ca.clone())
        .map_err(|e| format!("the CA certificate is not usable: {e}"))?;
    let roots = Arc::new(roots);
    let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
        .build()
        .map_err(|e| format!("cannot verify client certificates: {e}"))?;
    let mut server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&TLS13])
        .map_err(|e| format!("TLS 1.3: {e}"))?
        .with_client_cert_verifier(verifier.clone())
        .with_single_cert(vec![creds.cert.clone()], creds.key.clone_key())
        .map_err(|e| format!("the node's certificate or key is not usable: {e}"))?;
    server.alpn_protocols = vec![ALPN.to_vec()];
    server.send_tls13_tickets = 0;
    let mut client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&TLS13])
        .map_err(|e| format!("TLS 1.3: {e}"))?
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![creds.cert.clone()], creds.key.clone_key())
        .map_err(|e| format!("the node's certificate or key is not usable: {e}"))?;
    client.alpn_protocols = vec![ALPN.to_vec()];
    client.resumption = Resumption::disabled();
    Ok(TlsConfigs {
        client: Arc::new(client),
        server: Arc::new(server),
        verifier,
    })
}

/// Runs a TLS handshake on a fresh socket; `domain` is the node's, which the peer's
/// certificate must name too.
pub async fn handshake(
    configs: &TlsConfigs,
    stream: &TcpStream,
    side: Side,
    domain: &str,
    acl: Option<Arc<crate::reload::LiveAcl>>,
) -> Result<Secured, SecurityError> {
    let refused = SecurityError::Refused;
    let mut conn: Connection = match side {
        Side::Dialer => {
            let name = ServerName::try_from(SERVER_NAME).expect("a valid DNS name");
            ClientConnection::new(configs.client.clone(), name)
                .map_err(|e| refused(format!("cannot start TLS: {e}")))?
                .into()
        }
        Side::Acceptor => ServerConnection::new(configs.server.clone())
            .map_err(|e| refused(format!("cannot start TLS: {e}")))?
            .into(),
    };
    let mut heard = false;
    loop {
        while conn.wants_write() {
            match conn.write_tls(&mut NonBlocking(stream)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => stream.writable().await?,
                Err(e) => return Err(e.into()),
            }
        }
        if !conn.is_handshaking() {
            break;
        }
        if !heard {
            // A plain rosy node answers a TLS hello with its own preamble ("ROSY..."): say
            // that, not that the bytes are not TLS.
            let mut first = [0u8; 1];
            if stream.peek(&mut first).await? == 0 {
                return Err(refused(
                    "the peer closed the connection during the TLS handshake".into(),
                ));
            }
            if first[0] == rosy::transport::tcp::frame::MAGIC[0] {
                return Err(SecurityError::PeerNotSecure);
            }
            heard = true;
        }
        match conn.read_tls(&mut NonBlocking(stream)) {
            Ok(0) => {
                return Err(refused(
                    "the peer closed the connection during the TLS handshake".into(),
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                stream.readable().await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        if let Err(e) = conn.process_new_packets() {
            // Tell the peer why (rustls queued the alert), then give up.
            let _ = conn.write_tls(&mut NonBlocking(stream));
            return Err(refused(explain(&e)));
        }
    }
    if conn.alpn_protocol() != Some(ALPN) {
        return Err(refused("the peer does not speak rosy/1 (ALPN)".into()));
    }
    let der = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| refused("the peer presented no certificate".into()))?;
    let identity = admit(der, domain, acl.as_deref())?;
    if let Connection::Client(c) = &mut conn {
        // Fewer, larger records waiting on a full socket.
        c.set_buffer_limit(Some(SEALED_BUFFER));
    } else if let Connection::Server(s) = &mut conn {
        s.set_buffer_limit(Some(SEALED_BUFFER));
    }
    let session = TlsSession {
        conn: Mutex::new(conn),
        staging: Mutex::new(Staging::default()),
    };
    Ok((Arc::new(session), identity))
}

/// Whether a peer's certificate (checked against the domain CA already) is one this node
/// takes: for `domain`, and not revoked by the domain's ACL. Who it names, if so.
fn admit(
    der: &[u8],
    domain: &str,
    acl: Option<&crate::reload::LiveAcl>,
) -> Result<PeerIdentity, SecurityError> {
    let refused = SecurityError::Refused;
    let identity: CertIdentity =
        identity_of(der).map_err(|r| refused(format!("the peer's certificate: {r}")))?;
    if acl.is_some_and(|acl| acl.current().is_revoked(&identity.serial)) {
        return Err(refused(format!(
            "the peer's certificate (serial {}, {:?}) is revoked by the domain's ACL",
            identity.serial, identity.name
        )));
    }
    if identity.domain != domain {
        return Err(refused(format!(
            "the peer's certificate is for domain {:?}, this node is in {domain:?}",
            identity.domain
        )));
    }
    Ok(PeerIdentity {
        name: identity.name,
        key_id: identity.key_id,
        serial: identity.serial,
    })
}

/// Checks a certificate a same-host peer showed on a local link as the TLS handshake checks a
/// client's (signed by the domain CA, valid) and then as [`admit`] does: who it names.
pub fn vouch(
    configs: &TlsConfigs,
    der: &[u8],
    domain: &str,
    acl: Option<&crate::reload::LiveAcl>,
) -> Result<PeerIdentity, SecurityError> {
    let cert = rustls_pki_types::CertificateDer::from(der);
    configs
        .verifier
        .verify_client_cert(&cert, &[], rustls_pki_types::UnixTime::now())
        .map_err(|e| SecurityError::Refused(format!("the peer's certificate: {}", explain(&e))))?;
    admit(der, domain, acl)
}

/// A rustls error in words a user can act on.
fn explain(e: &rustls::Error) -> String {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
            "the peer's certificate is not from this domain's CA".into()
        }
        E::InvalidCertificate(C::Revoked) => "the peer's certificate is revoked".into(),
        E::InvalidCertificate(C::Expired | C::NotValidYet) => {
            "the peer's certificate is outside its validity period".into()
        }
        E::NoCertificatesPresented => "the peer presented no certificate".into(),
        E::AlertReceived(A::UnknownCA | A::BadCertificate | A::DecryptError) => {
            format!("the peer refused this node's certificate ({e}): is it from the domain's CA?")
        }
        E::AlertReceived(A::CertificateRequired) => {
            "the peer requires a certificate this node did not present".into()
        }
        E::AlertReceived(A::NoApplicationProtocol) => {
            "the peer does not speak rosy/1 (ALPN)".into()
        }
        E::AlertReceived(A::ProtocolVersion) => "the peer does not speak TLS 1.3".into(),
        other => format!("TLS: {other}"),
    }
}

/// Sealed bytes read from the socket and not yet handed to rustls: `bytes[at..end]`. `bytes`
/// is zeroed once when it grows, never per read.
#[derive(Default)]
struct Staging {
    bytes: Vec<u8>,
    at: usize,
    end: usize,
    /// Why the session failed, once it has: said again on every later `open`.
    failed: Option<String>,
}

/// Appends the plain bytes the connection has opened to `buf`, straight from rustls' buffers
/// (no zeroed staging): how many.
fn take_plain(conn: &mut Connection, buf: &mut BytesMut) -> io::Result<usize> {
    use std::io::BufRead;
    let mut reader = conn.reader();
    let mut taken = 0;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(taken),
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(taken);
        }
        let n = chunk.len();
        buf.extend_from_slice(chunk);
        reader.consume(n);
        taken += n;
    }
}

/// One link's TLS state after the handshake.
struct TlsSession {
    conn: Mutex<Connection>,
    /// Used by the reader only.
    staging: Mutex<Staging>,
}

impl TlsSession {
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes sealed bytes until none wait (`true`) or the socket is full (`false`).
fn flush(conn: &mut Connection, out: &mut dyn Write) -> io::Result<bool> {
    while conn.wants_write() {
        match conn.write_tls(out) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, explain(&e))
}

impl Session for TlsSession {
    fn seal(&self, plain: &[io::IoSlice<'_>], out: &mut dyn Write) -> io::Result<usize> {
        let mut conn = self.conn();
        if !flush(&mut conn, out)? {
            return Ok(0);
        }
        if plain.iter().all(|s| s.is_empty()) {
            return Ok(0);
        }
        // All slices in one call: rustls packs them into records of up to 16 kB across slice
        // boundaries (a batch of 1 kB frames is a few records, not two a frame, each with its
        // own seal, allocation and header), up to SEALED_BUFFER; then one write of them all.
        let taken = conn.writer().write_vectored(plain)?;
        if taken == 0 {
            // Nothing taken with nothing waiting: the session is closed for sending.
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        flush(&mut conn, out)?;
        Ok(taken)
    }

    fn pending(&self) -> bool {
        self.conn().wants_write()
    }

    fn open(&self, input: &mut dyn Read, buf: &mut BytesMut) -> io::Result<usize> {
        let mut conn = self.conn();
        let mut staging = self.staging.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(failure) = &staging.failed {
            return Err(io::Error::new(io::ErrorKind::InvalidData, failure.clone()));
        }
        let mut total = 0;
        loop {
            let state = match conn.process_new_packets() {
                Ok(state) => state,
                Err(e) => {
                    // Records before the bad one opened: hand them over now, the error next.
                    total += take_plain(&mut conn, buf).unwrap_or(0);
                    let failure = tls_error(e);
                    if total == 0 {
                        return Err(failure);
                    }
                    staging.failed = Some(failure.to_string());
                    return Ok(total);
                }
            };
            if state.plaintext_bytes_to_read() > 0 {
                total += take_plain(&mut conn, buf)?;
            }
            if state.peer_has_closed() || total >= OPEN_BATCH {
                // A clean end reads as 0 once what came before it is handed over.
                return Ok(total);
            }
            if staging.at == staging.end {
                let full = staging.end == staging.bytes.len() && staging.end > 0;
                if !full && staging.end > 0 && total > 0 {
                    // The last read took less than it had room for: the socket was drained.
                    // Hand over what opened now; the next call's read finds out whether more
                    // came (usually not: a paced message is delivered a system call sooner).
                    staging.end = 0;
                    staging.at = 0;
                    return Ok(total);
                }
                if staging.bytes.is_empty() || (full && staging.bytes.len() < STAGING) {
                    // The last read filled the buffer: more was waiting, read more at once.
                    let size = (staging.bytes.len() * 2).clamp(STAGING_FIRST, STAGING);
                    staging.bytes.resize(size, 0);
                }
                staging.at = 0;
                staging.end = 0;
                match input.read(&mut staging.bytes) {
                    Ok(0) => {
                        if total > 0 {
                            return Ok(total);
                        }
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the connection ended without the peer's TLS close notice (cut or \
                             truncated on the way)",
                        ));
                    }
                    Ok(n) => staging.end = n,
                    Err(e) => {
                        if e.kind() == io::ErrorKind::WouldBlock && total > 0 {
                            return Ok(total);
                        }
                        return Err(e);
                    }
                }
            }
            let Staging { bytes, at, end, .. } = &mut *staging;
            let n = conn.read_tls(&mut &bytes[*at..*end])?;
            *at += n;
        }
    }

    fn close(&self) {
        self.conn().send_close_notify();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_1_3_suites_only_aes_128_first() {
        let provider = provider();
        let suites: Vec<_> = provider.cipher_suites.iter().map(|s| s.suite()).collect();
        assert_eq!(
            suites,
            [
                rustls::CipherSuite::TLS13_AES_128_GCM_SHA256,
                rustls::CipherSuite::TLS13_AES_256_GCM_SHA384,
                rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
            ]
        );
        assert!(provider.cipher_suites.iter().all(|s| s.tls13().is_some()));
    }
}
