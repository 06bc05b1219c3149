//! A node's credentials on disk: a directory holding `node.pem` (its certificate), `node.key`
//! (its private key, readable by its owner only) and `ca.pem` (the domain's CA), as
//! `rosy security issue` writes it. Loading checks what ssh checks of a key: a key file others
//! may read, or one owned by another user, is refused.
//!
//! Nothing here talks to a peer; `tls` builds the TLS configurations from what is loaded.

use crate::identity::{CertIdentity, identity_of};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The node's certificate in a credentials directory.
pub const CERT_FILE: &str = "node.pem";
/// The node's private key in a credentials directory.
pub const KEY_FILE: &str = "node.key";
/// The domain CA's certificate in a credentials directory.
pub const CA_FILE: &str = "ca.pem";

/// Why credentials could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// A file is missing or unreadable.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A file holds no PEM object of the expected kind.
    #[error("{path} holds no {what} in PEM form")]
    NotPem {
        /// The file.
        path: PathBuf,
        /// What was expected in it.
        what: &'static str,
    },
    /// A key file that others may read, or that another user owns.
    #[error(
        "{path} is {problem}: a private key must be owned by the node's user and readable by \
         it only (chmod 600 {path})"
    )]
    Exposed {
        /// The key file.
        path: PathBuf,
        /// What is wrong with its mode or owner.
        problem: String,
    },
    /// The certificate does not name a usable identity.
    #[error("{path}: {reason}")]
    BadCertificate {
        /// The certificate file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The credentials are for another domain.
    #[error("the credentials in {dir} are for domain {theirs:?}, this node is in {ours:?}")]
    WrongDomain {
        /// The credentials directory.
        dir: PathBuf,
        /// The certificate's domain.
        theirs: String,
        /// The node's.
        ours: String,
    },
}

/// A node's loaded credentials.
#[derive(Debug)]
pub struct Credentials {
    /// Where they were loaded from.
    pub dir: PathBuf,
    /// The node's certificate.
    pub cert: CertificateDer<'static>,
    /// The node's private key.
    pub key: PrivateKeyDer<'static>,
    /// The domain CA's certificate.
    pub ca: CertificateDer<'static>,
    /// What the node's certificate names.
    pub identity: CertIdentity,
}

impl Credentials {
    /// Loads the credentials in `dir`, checking the key file's owner and mode.
    pub fn load(dir: &Path) -> Result<Self, CredentialsError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path)
                .map(|bytes| (path.clone(), bytes))
                .map_err(|source| CredentialsError::Read { path, source })
        };
        let key_path = dir.join(KEY_FILE);
        check_private(&key_path)?;
        let (cert_path, cert_pem) = read(CERT_FILE)?;
        let (_, key_pem) = read(KEY_FILE)?;
        let (ca_path, ca_pem) = read(CA_FILE)?;
        let cert =
            CertificateDer::from_pem_slice(&cert_pem).map_err(|_| CredentialsError::NotPem {
                path: cert_path.clone(),
                what: "certificate",
            })?;
        let key =
            PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| CredentialsError::NotPem {
                path: key_path.clone(),
                what: "private key",
            })?;
        let ca = CertificateDer::from_pem_slice(&ca_pem).map_err(|_| CredentialsError::NotPem {
            path: ca_path,
            what: "certificate",
        })?;
        let identity = identity_of(&cert).map_err(|reason| CredentialsError::BadCertificate {
            path: cert_path,
            reason,
        })?;
        Ok(Credentials {
            dir: dir.to_path_buf(),
            cert,
            key,
            ca,
            identity,
        })
    }

    /// Checks that these credentials are for `domain`.
    pub fn check_domain(&self, domain: &str) -> Result<(), CredentialsError> {
        if self.identity.domain != domain {
            return Err(CredentialsError::WrongDomain {
                dir: self.dir.clone(),
                theirs: self.identity.domain.clone(),
                ours: domain.to_string(),
            });
        }
        Ok(())
    }
}

/// Refuses a private key file that another user owns or that group or others may read or
/// write.
pub fn check_private(path: &Path) -> Result<(), CredentialsError> {
    let meta = std::fs::metadata(path).map_err(|source| CredentialsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let exposed = |problem: String| CredentialsError::Exposed {
        path: path.to_path_buf(),
        problem,
    };
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(exposed(format!("mode {mode:o}, open to group or others")));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(exposed(format!(
            "owned by uid {}, not this process's {me}",
            meta.uid()
        )));
    }
    Ok(())
}
