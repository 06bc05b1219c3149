//! Identities: the host id (equal exactly for processes that share /dev/shm), fresh node ids,
//! the host's name. The checks on names live below, in [`crate::names`].

use std::io::Write;
use std::path::{Path, PathBuf};

/// The directory where rosy keeps host-local state: `/dev/shm` when it exists (so that "same
/// directory" means "can share memory"), else `$XDG_RUNTIME_DIR`, else the temp directory.
pub fn shm_dir() -> PathBuf {
    let dev_shm = Path::new("/dev/shm");
    if dev_shm.is_dir() {
        return dev_shm.to_path_buf();
    }
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// This host's id: `$ROSY_HOST_ID` if set, else the id stored in `/dev/shm/rosy-host-id`,
/// created on first use. Two processes get the same id exactly when they see the same /dev/shm,
/// that is when shared memory can reach between them (unlike /etc/machine-id, which containers
/// and network namespaces share without sharing memory).
pub fn host_id() -> std::io::Result<String> {
    if let Ok(id) = std::env::var("ROSY_HOST_ID") {
        if !id.is_empty() {
            return Ok(id);
        }
    }
    let path = shm_dir().join("rosy-host-id");
    for _ in 0..3 {
        if let Ok(id) = std::fs::read_to_string(&path) {
            let id = id.trim();
            if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(id.to_string());
            }
        }
        // Write to a private file, then link it into place: whoever links first wins, and a
        // reader never sees a half-written id. Private to this call, not only this process:
        // two threads of one process (two nodes starting) may be here at once.
        let tmp = path.with_extension(format!("{}.{}.tmp", std::process::id(), random_id()));
        {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(random_id().as_bytes())?;
        }
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // Someone else won, or a corrupt file is there: replace a corrupt one.
                if let Ok(id) = std::fs::read_to_string(&path) {
                    if id.trim().len() != 32 {
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "cannot create a host id at {}; set ROSY_HOST_ID",
        path.display()
    )))
}

/// 32 random hex digits from the OS.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    let mut filled = 0;
    while filled < bytes.len() {
        match rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => panic!("the OS random source failed: {e}"),
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// This machine's host name, for people.
pub fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_id_is_stable_within_one_host() {
        let a = host_id().unwrap();
        let b = host_id().unwrap();
        assert_eq!(a, b);
        assert!(!a.is_empty());
    }

    #[test]
    fn random_ids_differ() {
        let a = random_id();
        assert_eq!(a.len(), 32);
        assert_ne!(a, random_id());
    }
}
