//! Which bag a command reads when none is named (the newest `*.mcap` here), and how bag errors
//! read on the command line. Never creates or overwrites a file.

use crate::cli::error::CliError;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A bag error as the command line reports it.
pub(super) fn failed(e: rosy::bag::BagError) -> CliError {
    CliError::Failed(e.to_string())
}

/// The bag to read: `path`, or the newest `*.mcap` of the current directory.
pub(super) fn bag_path(path: Option<PathBuf>) -> Result<PathBuf, CliError> {
    match path {
        Some(p) => Ok(p),
        None => newest_mcap(Path::new(".")),
    }
}

/// The most recently modified `*.mcap` file in `dir`.
fn newest_mcap(dir: &Path) -> Result<PathBuf, CliError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CliError::Failed(format!("cannot list {} for bags: {e}", dir.display())))?;
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "mcap"))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            meta.is_file()
                .then(|| (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), e.path()))
        })
        .max()
        .map(|(_, p)| match p.strip_prefix(".") {
            Ok(name) if dir == Path::new(".") => name.to_path_buf(),
            _ => p,
        })
        .ok_or_else(|| {
            CliError::Usage(format!(
                "no *.mcap file in {}: give the bag's PATH",
                if dir == Path::new(".") {
                    "the current directory".to_string()
                } else {
                    dir.display().to_string()
                }
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_newest_mcap_file_is_the_default_bag() {
        let dir = std::env::temp_dir().join(format!("rosy-bag-newest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let err = newest_mcap(&dir).unwrap_err().to_string();
        assert!(err.contains("no *.mcap file"), "{err}");
        let old = dir.join("old.mcap");
        let new = dir.join("new.mcap");
        std::fs::write(&old, b"a").unwrap();
        std::fs::write(&new, b"b").unwrap();
        std::fs::write(dir.join("newer.txt"), b"c").unwrap();
        let t = SystemTime::now();
        let set = |p: &Path, at: SystemTime| {
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(at)
                .unwrap()
        };
        set(&old, t - Duration::from_secs(100));
        set(&new, t - Duration::from_secs(10));
        assert_eq!(newest_mcap(&dir).unwrap(), new);
        set(&old, t);
        assert_eq!(newest_mcap(&dir).unwrap(), old);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
