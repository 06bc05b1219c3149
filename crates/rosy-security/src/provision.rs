//! Making credentials: a domain's CA (`rosy security create-domain`, with an ACL letting every
//! member do everything, signed), node identities signed by it (`rosy security issue`, which
//! copies the signed ACL beside them), and signing an edited ACL (`sign-acl`). Keys are written
//! 0600 in directories made 0700; no key or certificate is ever overwritten.
//!
//! Certificates are valid from 2000 to 9999: a robot whose clock is wrong at boot must still
//! connect, so expiry is not how an identity ends (revocation is).

use crate::acl::{ACL_FILE, SIGNATURE_FILE};
use crate::credentials::{CA_FILE, CERT_FILE, KEY_FILE, check_private};
pub use crate::identity::KeyAlgorithm;
use crate::identity::URI_SCHEME;
use crate::tls::SERVER_NAME;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber, date_time_ymd,
};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The CA's private key in a domain directory.
pub const CA_KEY_FILE: &str = "ca.key";

/// What rcgen calls each kind of key.
fn rcgen_algorithm(kind: KeyAlgorithm) -> &'static rcgen::SignatureAlgorithm {
    match kind {
        KeyAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
        KeyAlgorithm::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
    }
}

/// A new key of `kind`. An Ed25519 key is kept in PKCS#8 version 1 (the seed alone): aws-lc
/// writes version 2, with the public key appended, which OpenSSL 3.0 cannot load, and a key file
/// `openssl` cannot read is one nobody can inspect or use with `s_client`.
fn generate(kind: KeyAlgorithm) -> Result<KeyPair, ProvisionError> {
    if kind != KeyAlgorithm::Ed25519 {
        return Ok(KeyPair::generate_for(rcgen_algorithm(kind))?);
    }
    use aws_lc_rs::signature::Ed25519KeyPair;
    let v1 = Ed25519KeyPair::generate_pkcs8v1(&aws_lc_rs::rand::SystemRandom::new())
        .map_err(|_| ProvisionError::Invalid("making an Ed25519 key failed".into()))?;
    Ok(KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls_pki_types::PrivatePkcs8KeyDer::from(v1.as_ref()),
        rcgen_algorithm(kind),
    )?)
}

/// What a CA's common name begins with; the domain id follows.
const CA_NAME_PREFIX: &str = "rosy domain ";

/// Why credentials could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionError {
    /// A file to write exists already.
    #[error("{0} exists already; nothing was overwritten (remove it first to replace it)")]
    Exists(PathBuf),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A name, a domain or a CA file is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// Making a key or certificate failed.
    #[error("making the certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The CA's key file is exposed.
    #[error(transparent)]
    Credentials(#[from] crate::credentials::CredentialsError),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ProvisionError + '_ {
    move |source| ProvisionError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes `dir` (and its parents) with mode 0700 where they do not exist.
fn private_dir(dir: &Path) -> Result<(), ProvisionError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_error(dir))
}

/// Writes a new file (never an existing one) with `mode`.
fn write_new(path: &Path, contents: &str, mode: u32) -> Result<(), ProvisionError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => ProvisionError::Exists(path.to_path_buf()),
            _ => ProvisionError::Io {
                path: path.to_path_buf(),
                source: e,
            },
        })?;
    file.write_all(contents.as_bytes()).map_err(io_error(path))
}

fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut bytes)
        .expect("the OS random source works");
    bytes[0] &= 0x7f; // a positive INTEGER
    bytes[0] |= 0x01; // of full length
    SerialNumber::from_slice(&bytes)
}

fn lifetime(params: &mut CertificateParams) {
    params.not_before = date_time_ymd(2000, 1, 1);
    params.not_after = date_time_ymd(9999, 12, 31);
}

/// Creates `<parent>/<domain>/` with the domain's CA: `ca.key` (0600) and `ca.pem`.
pub fn create_domain(parent: &Path, domain: &str) -> Result<PathBuf, ProvisionError> {
    create_domain_with_key(parent, domain, KeyAlgorithm::default())
}

/// As [`create_domain`], with the CA's key of `algorithm`.
pub fn create_domain_with_key(
    parent: &Path,
    domain: &str,
    algorithm: KeyAlgorithm,
) -> Result<PathBuf, ProvisionError> {
    rosy::DomainId::new(domain).map_err(|e| ProvisionError::Invalid(e.to_string()))?;
    let dir = parent.join(domain);
    if dir.join(CA_KEY_FILE).exists() {
        return Err(ProvisionError::Exists(dir.join(CA_KEY_FILE)));
    }
    private_dir(&dir)?;
    let key = generate(algorithm)?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, format!("{CA_NAME_PREFIX}{domain}"));
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(random_serial());
    lifetime(&mut params);
    let cert = params.self_signed(&key)?;
    write_new(&dir.join(CA_KEY_FILE), &key.serialize_pem(), 0o600)?;
    write_new(&dir.join(CA_FILE), &cert.pem(), 0o644)?;
    write_new(&dir.join(ACL_FILE), crate::acl::TEMPLATE, 0o644)?;
    sign_acl(&dir)?;
    Ok(dir)
}

/// Signs `domain_dir/acl.yaml` with the domain's CA key into `acl.yaml.sig` (replacing an
/// older signature), after checking that the file parses: a broken ACL is never signed.
pub fn sign_acl(domain_dir: &Path) -> Result<(), ProvisionError> {
    let key_path = domain_dir.join(CA_KEY_FILE);
    check_private(&key_path)?;
    let key = std::fs::read_to_string(&key_path).map_err(io_error(&key_path))?;
    let acl_path = domain_dir.join(ACL_FILE);
    let text = std::fs::read(&acl_path).map_err(io_error(&acl_path))?;
    let shown = acl_path.display().to_string();
    crate::acl::Acl::parse(&String::from_utf8_lossy(&text), &shown)
        .map_err(|e| ProvisionError::Invalid(e.to_string()))?;
    let signature = crate::acl::sign(&key, &text).map_err(ProvisionError::Invalid)?;
    let sig_path = domain_dir.join(SIGNATURE_FILE);
    let tmp = sig_path.with_extension("sig.tmp");
    let _ = std::fs::remove_file(&tmp);
    write_new(&tmp, &signature, 0o644)?;
    std::fs::rename(&tmp, &sig_path).map_err(io_error(&sig_path))
}

/// The domain a CA certificate was made for.
pub fn ca_domain(ca_pem: &str) -> Result<String, ProvisionError> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let der = rustls_pki_types::pem::PemObject::from_pem_slice(ca_pem.as_bytes())
        .map_err(|_| ProvisionError::Invalid("the CA file holds no PEM certificate".into()))
        .map(|d: rustls_pki_types::CertificateDer<'static>| d)?;
    let (_, cert) = X509Certificate::from_der(&der)
        .map_err(|e| ProvisionError::Invalid(format!("the CA certificate does not parse: {e}")))?;
    cert.subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .find_map(|cn| cn.strip_prefix(CA_NAME_PREFIX))
        .map(str::to_string)
        .ok_or_else(|| ProvisionError::Invalid("the CA certificate is not a rosy domain's".into()))
}

/// Issues an identity for node name `name` (or a pattern with `*`; `*` alone is the domain's
/// shared member credential) from the CA in `domain_dir`, into `out`: `node.key` (0600),
/// `node.pem` and `ca.pem`, what `ROSY_SECURITY_DIR` points a node at.
pub fn issue(domain_dir: &Path, name: &str, out: &Path) -> Result<(), ProvisionError> {
    issue_with_key(domain_dir, name, out, KeyAlgorithm::default())
}

/// As [`issue`], with the node's key of `algorithm` (whatever the CA's is).
pub fn issue_with_key(
    domain_dir: &Path,
    name: &str,
    out: &Path,
    algorithm: KeyAlgorithm,
) -> Result<(), ProvisionError> {
    if name.is_empty() || name.len() > 200 || name.chars().any(|c| c.is_whitespace()) {
        return Err(ProvisionError::Invalid(format!(
            "{name:?} is not a node name or pattern (no spaces, 1 to 200 characters)"
        )));
    }
    if !name.contains('*') {
        rosy::names::check_name("node", name).map_err(ProvisionError::Invalid)?;
    }
    let ca_key_path = domain_dir.join(CA_KEY_FILE);
    check_private(&ca_key_path)?;
    let ca_key_pem = std::fs::read_to_string(&ca_key_path).map_err(io_error(&ca_key_path))?;
    let ca_path = domain_dir.join(CA_FILE);
    let ca_pem = std::fs::read_to_string(&ca_path).map_err(io_error(&ca_path))?;
    let domain = ca_domain(&ca_pem)?;
    let ca_key = KeyPair::from_pem(&ca_key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key)?;
    let key = generate(algorithm)?;
    let mut params = CertificateParams::new(vec![SERVER_NAME.to_string()])?;
    params.subject_alt_names.push(SanType::URI(
        format!("{URI_SCHEME}{domain}/{name}")
            .try_into()
            .map_err(|_| ProvisionError::Invalid(format!("{name:?} cannot go in a URI")))?,
    ));
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.serial_number = Some(random_serial());
    params.use_authority_key_identifier_extension = true;
    lifetime(&mut params);
    let cert = params.signed_by(&key, &issuer)?;
    private_dir(out)?;
    for file in [KEY_FILE, CERT_FILE, CA_FILE] {
        if out.join(file).exists() {
            return Err(ProvisionError::Exists(out.join(file)));
        }
    }
    write_new(&out.join(KEY_FILE), &key.serialize_pem(), 0o600)?;
    write_new(&out.join(CERT_FILE), &cert.pem(), 0o644)?;
    write_new(&out.join(CA_FILE), &ca_pem, 0o644)?;
    copy_acl(domain_dir, out)?;
    Ok(())
}

/// Copies the domain's signed ACL (`acl.yaml` and its `.sig`) into a node's credentials
/// directory, replacing the older copy there: what to do after `sign_acl`.
pub fn copy_acl(domain_dir: &Path, out: &Path) -> Result<(), ProvisionError> {
    for file in [ACL_FILE, SIGNATURE_FILE] {
        let from = domain_dir.join(file);
        if !from.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&from).map_err(io_error(&from))?;
        let to = out.join(file);
        let tmp = to.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        write_new(&tmp, &text, 0o644)?;
        std::fs::rename(&tmp, &to).map_err(io_error(&to))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TlsSecurity;
    use rosy::security::{LinkSecurity, Side};

    #[test]
    fn an_ed25519_key_is_written_as_pkcs8_version_1() {
        let key = generate(KeyAlgorithm::Ed25519).unwrap();
        let der = key.serialize_der();
        // RFC 8410's version 1: version 0, the Ed25519 algorithm, the 32-byte seed; nothing
        // after it (version 2 appends the public key).
        let v1_head = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        assert_eq!(der.len(), 48);
        assert_eq!(der[..16], v1_head);
        // The same key, read back, signs as the one made.
        let again = KeyPair::from_pem(&key.serialize_pem()).unwrap();
        assert_eq!(again.public_key_raw(), key.public_key_raw());
    }

    /// A domain made with P-256 keys (as `create-domain` made them before Ed25519) keeps
    /// working: its ACL's signature verifies, and a P-256 node talks with an Ed25519 node
    /// issued by the same CA today.
    #[tokio::test]
    async fn a_p256_domain_made_before_works_beside_ed25519_nodes() {
        let root = std::env::temp_dir().join(format!("rosy-p256-domain-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let domain = "older-p256";
        let dir = create_domain_with_key(&root, domain, KeyAlgorithm::P256).unwrap();
        let older = root.join("older");
        issue_with_key(&dir, "camera", &older, KeyAlgorithm::P256).unwrap();
        let newer = root.join("newer");
        issue(&dir, "viewer", &newer).unwrap();
        let key = |d: &Path| std::fs::read_to_string(d.join(KEY_FILE)).unwrap();
        let algorithm = |d: &Path| KeyPair::from_pem(&key(d)).unwrap().algorithm();
        assert_eq!(algorithm(&older), rcgen_algorithm(KeyAlgorithm::P256));
        assert_eq!(algorithm(&newer), rcgen_algorithm(KeyAlgorithm::Ed25519));

        let camera = TlsSecurity::from_dir(&older, domain).unwrap();
        let viewer = TlsSecurity::from_dir(&newer, domain).unwrap();
        assert!(camera.acl().is_some() && viewer.acl().is_some());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (dialed, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        let (dialed, accepted) = (dialed.unwrap(), accepted.unwrap().0);
        let (a, b) = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            tokio::join!(
                camera.handshake(&dialed, Side::Dialer),
                viewer.handshake(&accepted, Side::Acceptor)
            )
        })
        .await
        .expect("the handshake ends within 5 s");
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.1.name, "viewer");
        assert_eq!(b.1.name, "camera");
        let _ = std::fs::remove_dir_all(&root);
    }
}
