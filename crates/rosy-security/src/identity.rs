//! What a certificate says about its holder: the domain and node name of its SAN URI
//! (`rosy://<domain>/<name>`), its serial, the key id node ids begin with, and the kind of its
//! key ([`KeyAlgorithm`]).
//!
//! Only reads certificates that rustls has verified (or that the node loads as its own): this
//! module never decides whether a certificate is to be trusted.

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, SubjectPublicKeyInfo, X509Certificate};

/// The URI scheme of rosy identities.
pub const URI_SCHEME: &str = "rosy://";
/// Hex digits of a key id (64 bits of the key's SHA-256).
pub const KEY_ID_LEN: usize = 16;

/// Who a certificate names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertIdentity {
    /// The domain the certificate is for.
    pub domain: String,
    /// The node name it grants: a name, or a pattern with `*`.
    pub name: String,
    /// SHA-256 of the certificate's public key (SubjectPublicKeyInfo), first 64 bits as hex.
    pub key_id: String,
    /// The serial number, as hex.
    pub serial: String,
}

/// The kind of key a CA or a node identity is made with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// Ed25519, the default. A TLS handshake of two nodes signs twice and verifies four
    /// signatures (two certificates, two handshake transcripts): with Ed25519 it costs 16% less
    /// CPU than with P-256 (`cargo bench -p rosy-security --bench handshake`), and 50 nodes
    /// joining make 1,225 of them.
    #[default]
    Ed25519,
    /// ECDSA P-256 with SHA-256, what domains were made with before 2026-12-08 (they keep
    /// working beside Ed25519 ones), and what a site whose rules or key store ask for NIST
    /// curves can still choose.
    P256,
}

impl KeyAlgorithm {
    /// Its usual name: `Ed25519`, `P-256`.
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::Ed25519 => "Ed25519",
            KeyAlgorithm::P256 => "P-256",
        }
    }

    /// The kind of a certificate's public key; `None` for a kind rosy never makes.
    pub fn of(key: &SubjectPublicKeyInfo<'_>) -> Option<KeyAlgorithm> {
        use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_SIG_ED25519};
        let algorithm = &key.algorithm;
        let curve = algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
        if algorithm.algorithm == OID_SIG_ED25519 {
            Some(KeyAlgorithm::Ed25519)
        } else if algorithm.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY && curve == Some(OID_EC_P256) {
            Some(KeyAlgorithm::P256)
        } else {
            None
        }
    }
}

/// Reads the identity out of a DER certificate; the error says what is missing.
pub fn identity_of(der: &[u8]) -> Result<CertIdentity, String> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| format!("the certificate does not parse: {e}"))?;
    let mut uris = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let GeneralName::URI(uri) = name {
                uris.push(*uri);
            }
        }
    }
    let uri = uris
        .iter()
        .find(|u| u.starts_with(URI_SCHEME))
        .ok_or_else(|| format!("the certificate names no {URI_SCHEME}<domain>/<name> identity"))?;
    let (domain, name) = uri[URI_SCHEME.len()..]
        .split_once('/')
        .ok_or_else(|| format!("the identity {uri:?} is not {URI_SCHEME}<domain>/<name>"))?;
    if domain.is_empty() || name.is_empty() {
        return Err(format!("the identity {uri:?} has an empty domain or name"));
    }
    Ok(CertIdentity {
        domain: domain.to_string(),
        name: name.to_string(),
        key_id: key_id(cert.public_key().raw),
        serial: cert.raw_serial_as_string().replace(':', ""),
    })
}

/// The key id of a SubjectPublicKeyInfo.
pub fn key_id(spki_der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki_der);
    hex(&digest.as_ref()[..KEY_ID_LEN / 2])
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
