//! The host-local registry: one small JSON file per node in `<shm dir>/rosy-registry/<domain>/`.
//!
//! A node writes its [`Announcement`] there at start, touches the file every [`REFRESH`] as a
//! heartbeat, and deletes it on close. Every node scans the directory every [`SCAN_EVERY`]:
//! new or changed files are [`DiscoveryEvent::Seen`], files that vanish or stop being touched for
//! [`STALE_AFTER`] (a `kill -9`) are [`DiscoveryEvent::Gone`]. Files of dead writers are removed
//! after [`REMOVE_AFTER`]. A malformed file is skipped with a debug log, never trusted.
//!
//! This module never opens connections; it only reads and writes its directory.

use super::host::shm_dir;
use super::{Announcement, DiscoveryError, DiscoveryEvent};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc::UnboundedSender;

/// How often a node touches its own entry.
pub const REFRESH: Duration = Duration::from_millis(500);
/// How often a node scans for peers.
pub const SCAN_EVERY: Duration = Duration::from_millis(100);
/// An entry not touched for this long belongs to a dead node.
pub const STALE_AFTER: Duration = Duration::from_millis(2500);
/// A stale entry is deleted after this long.
pub const REMOVE_AFTER: Duration = Duration::from_secs(30);

/// The registry directory of one domain.
pub fn domain_dir(domain: &str) -> PathBuf {
    shm_dir().join("rosy-registry").join(domain)
}

/// This node's entry in the registry, kept fresh by a background thread until closed.
pub struct RegistryEntry {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RegistryEntry {
    /// Writes `own` to the registry and starts the thread that refreshes it and scans for peers.
    pub fn start(
        own: &Announcement,
        events: UnboundedSender<DiscoveryEvent>,
    ) -> Result<Self, DiscoveryError> {
        let dir = domain_dir(&own.domain);
        let shown = dir.display().to_string();
        let fail = |source| DiscoveryError::Registry {
            path: shown.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(fail)?;
        let path = dir.join(format!("{}.json", own.id));
        write_entry(&path, own).map_err(fail)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let path = path.clone();
            let own_id = own.id.clone();
            std::thread::Builder::new()
                .name("rosy-registry".into())
                .spawn(move || watch(&dir, &path, &own_id, &stop, &events))
                .map_err(fail)?
        };
        Ok(RegistryEntry {
            path,
            stop,
            thread: Some(thread),
        })
    }

    /// Deletes this node's entry and stops the thread.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for RegistryEntry {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn write_entry(path: &Path, own: &Announcement) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec(own).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, path)
}

struct Known {
    modified: SystemTime,
    len: u64,
    announcement: Option<Announcement>,
}

fn watch(
    dir: &Path,
    own_path: &Path,
    own_id: &str,
    stop: &AtomicBool,
    events: &UnboundedSender<DiscoveryEvent>,
) {
    let mut known: HashMap<String, Known> = HashMap::new();
    let mut last_refresh = SystemTime::now();
    while !stop.load(Ordering::Relaxed) {
        let now = SystemTime::now();
        if now.duration_since(last_refresh).unwrap_or_default() >= REFRESH {
            if let Err(e) = std::fs::File::options()
                .write(true)
                .open(own_path)
                .and_then(|f| f.set_modified(now))
            {
                tracing::warn!("cannot refresh registry entry {}: {e}", own_path.display());
            }
            last_refresh = now;
        }
        if scan(dir, own_id, now, &mut known, events).is_err() {
            // The receiver is gone: the node closed.
            return;
        }
        std::thread::sleep(SCAN_EVERY);
    }
}

/// One pass over the directory. Errs only when nobody listens to events any more.
fn scan(
    dir: &Path,
    own_id: &str,
    now: SystemTime,
    known: &mut HashMap<String, Known>,
    events: &UnboundedSender<DiscoveryEvent>,
) -> Result<(), ()> {
    let mut present: Vec<String> = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::debug!("cannot read registry {}: {e}", dir.display());
            return Ok(());
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Some(id) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if id == own_id {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let age = now.duration_since(modified).unwrap_or_default();
        if age > STALE_AFTER {
            if age > REMOVE_AFTER {
                let _ = std::fs::remove_file(&path);
            }
            continue;
        }
        present.push(id.clone());
        let changed = match known.get(&id) {
            Some(k) => k.len != meta.len() || (k.announcement.is_none() && k.modified != modified),
            None => true,
        };
        if !changed {
            if let Some(k) = known.get_mut(&id) {
                k.modified = modified;
            }
            continue;
        }
        let announcement =
            std::fs::read(&path).ok().and_then(|bytes| {
                match serde_json::from_slice::<Announcement>(&bytes) {
                    Ok(a) if a.id == id => Some(a),
                    Ok(_) => {
                        tracing::debug!("registry entry {} names another id", path.display());
                        None
                    }
                    Err(e) => {
                        tracing::debug!("malformed registry entry {}: {e}", path.display());
                        None
                    }
                }
            });
        let previous = known.insert(
            id.clone(),
            Known {
                modified,
                len: meta.len(),
                announcement: announcement.clone(),
            },
        );
        if let Some(a) = announcement {
            if previous.and_then(|p| p.announcement).as_ref() != Some(&a) {
                events.send(DiscoveryEvent::Seen(a)).map_err(|_| ())?;
            }
        }
    }
    let gone: Vec<String> = known
        .keys()
        .filter(|id| !present.contains(id))
        .cloned()
        .collect();
    for id in gone {
        if known.remove(&id).and_then(|k| k.announcement).is_some() {
            events.send(DiscoveryEvent::Gone(id)).map_err(|_| ())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::host::random_id;

    fn announcement(domain: &str) -> Announcement {
        Announcement {
            id: random_id(),
            name: "n".into(),
            domain: domain.into(),
            host_id: "h".into(),
            pid: std::process::id(),
            endpoints: vec!["127.0.0.1:1".parse().unwrap()],
            version: 1,
            tool: false,
        }
    }

    fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<DiscoveryEvent>) -> DiscoveryEvent {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(e) = rx.try_recv() {
                return e;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no registry event within 5 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn two_entries_see_each_other_and_the_goodbye() {
        let domain = format!("test-registry-{}", random_id());
        let (a, b) = (announcement(&domain), announcement(&domain));
        let (tx_a, mut rx_a) = tokio::sync::mpsc::unbounded_channel();
        let (tx_b, _rx_b) = tokio::sync::mpsc::unbounded_channel();
        let entry_a = RegistryEntry::start(&a, tx_a).unwrap();
        let entry_b = RegistryEntry::start(&b, tx_b).unwrap();
        assert_eq!(next(&mut rx_a), DiscoveryEvent::Seen(b.clone()));
        entry_b.close();
        assert_eq!(next(&mut rx_a), DiscoveryEvent::Gone(b.id.clone()));
        entry_a.close();
        let _ = std::fs::remove_dir(domain_dir(&domain));
    }

    #[test]
    fn a_malformed_or_stale_entry_is_never_announced() {
        let domain = format!("test-registry-{}", random_id());
        let dir = domain_dir(&domain);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("garbage.json"), b"\x00\xffnot json").unwrap();
        let stale = announcement(&domain);
        let stale_path = dir.join(format!("{}.json", stale.id));
        std::fs::write(&stale_path, serde_json::to_vec(&stale).unwrap()).unwrap();
        let old = SystemTime::now() - Duration::from_secs(10);
        std::fs::File::options()
            .write(true)
            .open(&stale_path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut known = HashMap::new();
        scan(&dir, "me", SystemTime::now(), &mut known, &tx).unwrap();
        assert!(
            rx.try_recv().is_err(),
            "nothing valid and fresh to announce"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
