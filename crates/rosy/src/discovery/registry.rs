//! The host-local registry: one small JSON file per node in `<shm dir>/rosy-registry/<domain>/`.
//!
//! A node writes its [`Announcement`] there at start (to a `.tmp` file, renamed into place),
//! touches the file every [`REFRESH`] as a heartbeat, and deletes it on close. Every node watches
//! the directory with inotify, so a new, changed or deleted entry is reported at once: new or
//! changed files are [`DiscoveryEvent::Seen`], deleted ones [`DiscoveryEvent::Gone`]. An event
//! names its entry, and only that entry is read (50 nodes starting together used to make each
//! node scan the whole directory for every other's entry: 40% of a 50-node join's CPU). At each
//! event, and in a full scan every [`SCAN_EVERY`], what inotify cannot see is caught: a writer
//! killed with `kill -9` is gone as soon as its pid is dead (when the writer shares this node's
//! pid namespace, which the entry records), else once its entry has not been touched for
//! [`STALE_AFTER`]. Entries of dead pids are
//! removed at once, other stale entries after [`REMOVE_AFTER`], each with the local socket a
//! secure node keeps beside its entry (`<id>.sock`). Where inotify cannot be set up,
//! the scan every [`SCAN_EVERY`] is all there is. A malformed file is skipped with a debug log,
//! never trusted.
//!
//! Idle, a node wakes once per [`SCAN_EVERY`] (10 s); nothing here polls faster.
//!
//! This module never opens connections; it only reads and writes its directory.

use super::announcement::Announcement;
use super::error::DiscoveryError;
use super::event::{DiscoveryEvent, Source};
use super::host::shm_dir;
use rustix::fs::inotify;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::mem::MaybeUninit;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc::UnboundedSender;

/// How often a node touches its own entry.
pub const REFRESH: Duration = Duration::from_secs(10);
/// How often a node scans the whole directory (inotify reports everything else at once).
pub const SCAN_EVERY: Duration = Duration::from_secs(10);
/// An entry not touched for this long belongs to a dead node.
pub const STALE_AFTER: Duration = Duration::from_secs(30);
/// A stale entry is deleted after this long.
pub const REMOVE_AFTER: Duration = Duration::from_secs(120);

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
    /// Writes `own` to the registry and starts the thread that refreshes it and watches for peers.
    /// A `private` registry (secure mode) is a 0700 directory of this user's, with 0600
    /// entries.
    pub fn start(
        own: &Announcement,
        events: UnboundedSender<DiscoveryEvent>,
        private: bool,
    ) -> Result<Self, DiscoveryError> {
        if private {
            make_private_dir(&domain_dir(&own.domain))?;
        }
        Self::start_scanning_every(own, events, SCAN_EVERY, private)
    }

    /// As [`RegistryEntry::start`], with full scans (and refreshes) every `scan_every`.
    pub fn start_scanning_every(
        own: &Announcement,
        events: UnboundedSender<DiscoveryEvent>,
        scan_every: Duration,
        private: bool,
    ) -> Result<Self, DiscoveryError> {
        let dir = domain_dir(&own.domain);
        let shown = dir.display().to_string();
        let fail = |source| DiscoveryError::Registry {
            path: shown.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(fail)?;
        let path = dir.join(format!("{}.json", own.id));
        write_entry(&path, own, private).map_err(fail)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let path = path.clone();
            let own_id = own.id.clone();
            std::thread::Builder::new()
                .name("rosy-registry".into())
                .spawn(move || watch(&dir, &path, &own_id, &stop, &events, scan_every))
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
        // The deletion is an inotify event: it wakes this node's own threads at once, too.
        if let Err(e) = std::fs::remove_file(&self.path) {
            if e.kind() == std::io::ErrorKind::NotFound {
                // Someone removed the entry already: make another event to wake the threads.
                let wake = self.path.with_extension("tmp");
                if std::fs::write(&wake, b"").is_ok() {
                    let _ = std::fs::remove_file(&wake);
                }
            }
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RegistryEntry {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What the file holds: the announcement, and the pid namespace its `pid` is valid in.
#[derive(Serialize)]
struct EntryFile<'a> {
    #[serde(flatten)]
    announcement: &'a Announcement,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid_ns: Option<u64>,
}

/// The pid namespace part of an entry (absent in entries of older writers).
#[derive(Deserialize)]
struct EntryPidNs {
    #[serde(default)]
    pid_ns: Option<u64>,
}

/// This process's pid namespace (the inode of `/proc/self/ns/pid`), if /proc tells.
fn own_pid_ns() -> Option<u64> {
    static NS: OnceLock<Option<u64>> = OnceLock::new();
    *NS.get_or_init(|| std::fs::metadata("/proc/self/ns/pid").ok().map(|m| m.ino()))
}

/// True when no process has this pid (in this pid namespace). A zombie still counts as alive.
fn pid_is_dead(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH)
}

fn write_entry(path: &Path, own: &Announcement, private: bool) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let file = EntryFile {
        announcement: own,
        pid_ns: own_pid_ns(),
    };
    let bytes = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
    let mode = if private { 0o600 } else { 0o666 };
    let _ = std::fs::remove_file(&tmp);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?
        .write_all(&bytes)?;
    std::fs::rename(&tmp, path)
}

/// Makes a secure domain's registry directory 0700, or checks the one there: it must be a
/// directory (not a link) of this user's that nobody else may write to; one of this user's
/// made open by a plain node earlier is closed to 0700.
pub fn make_private_dir(dir: &Path) -> Result<(), DiscoveryError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let shown = dir.display().to_string();
    let io = |source| DiscoveryError::Registry {
        path: shown.clone(),
        source,
    };
    let not_private = |problem: String| DiscoveryError::RegistryNotPrivate {
        path: shown.clone(),
        problem,
    };
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(e)),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(io)?;
    if !meta.file_type().is_dir() {
        return Err(not_private("is not a directory".into()));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(not_private(format!(
            "is owned by uid {}, not this node's {me}",
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    Ok(())
}

struct Known {
    modified: SystemTime,
    len: u64,
    announcement: Option<Announcement>,
    /// The writer's pid, when it lives in this node's pid namespace (so that it can be checked).
    pid: Option<u32>,
}

/// Watches the directory until `stop` or until nobody listens to `events`.
fn watch(
    dir: &Path,
    own_path: &Path,
    own_id: &str,
    stop: &Arc<AtomicBool>,
    events: &UnboundedSender<DiscoveryEvent>,
    scan_every: Duration,
) {
    let own_name = format!("{own_id}.json");
    let mut wakes = None;
    let mut watching_failed = false;
    let mut known: HashMap<String, Known> = HashMap::new();
    let mut last_refresh = Instant::now();
    let mut next_scan = Instant::now();
    // The entries inotify named since the last look; `None`: scan the whole directory.
    let mut changed: Option<HashSet<String>> = None;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next_scan {
            if now.duration_since(last_refresh) >= scan_every.min(REFRESH) {
                if let Err(e) = touch(own_path) {
                    if !stop.load(Ordering::Relaxed) {
                        tracing::warn!("cannot refresh registry entry {}: {e}", own_path.display());
                    }
                }
                last_refresh = now;
            }
            if wakes.is_none() {
                match watch_events(dir, &own_name, stop) {
                    Ok(rx) => {
                        wakes = Some(rx);
                        watching_failed = false;
                    }
                    Err(e) if !watching_failed => {
                        tracing::debug!(
                            "no inotify on registry {} ({e}): scanning every {scan_every:?}",
                            dir.display()
                        );
                        watching_failed = true;
                    }
                    Err(_) => {}
                }
            }
            next_scan = now + scan_every;
            changed = None;
        }
        let looked = match changed.take() {
            Some(names) => look_at(dir, own_id, &names, SystemTime::now(), &mut known, events),
            None => scan(dir, own_id, SystemTime::now(), &mut known, events),
        };
        if looked.is_err() {
            // The receiver is gone: the node closed.
            return;
        }
        let timeout = next_scan.saturating_duration_since(Instant::now());
        match &wakes {
            Some(rx) => match rx.recv_timeout(timeout) {
                // Several batches may be waiting: one look takes them all.
                Ok(first) => {
                    let mut names = HashSet::new();
                    let mut everything = false;
                    for wake in
                        std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok()))
                    {
                        match wake {
                            Wake::Entries(batch) => names.extend(batch),
                            Wake::Everything => everything = true,
                        }
                    }
                    changed = (!everything).then_some(names);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // The watch ended (the directory went away, or reading failed): scan only,
                    // and try to watch again at the next periodic scan.
                    wakes = None;
                    next_scan = Instant::now() + scan_every;
                }
            },
            None => std::thread::sleep(timeout),
        }
    }
}

/// What the inotify thread saw in one batch of events.
#[derive(Debug, PartialEq)]
enum Wake {
    /// These entries (file names, `<id>.json`) were written, renamed or deleted.
    Entries(Vec<String>),
    /// Events were lost (the kernel's queue overflowed): everything is looked at again.
    Everything,
}

/// Sets the modification time of `path` to now, without opening it: opening it for writing would
/// end in an inotify close-write event that wakes every node watching the directory.
fn touch(path: &Path) -> rustix::io::Result<()> {
    let now = rustix::fs::Timespec {
        tv_sec: 0,
        tv_nsec: rustix::fs::UTIME_NOW,
    };
    let keep = rustix::fs::Timespec {
        tv_sec: 0,
        tv_nsec: rustix::fs::UTIME_OMIT,
    };
    let times = rustix::fs::Timestamps {
        last_access: keep,
        last_modification: now,
    };
    rustix::fs::utimensat(rustix::fs::CWD, path, &times, rustix::fs::AtFlags::empty())
}

/// Starts a thread that blocks reading inotify events on `dir` and sends, per batch that
/// concerns other nodes' entries, the names of those entries. It ends at the first event after
/// `stop`, when the watch ends, or when the receiver is gone.
fn watch_events(
    dir: &Path,
    own_name: &str,
    stop: &Arc<AtomicBool>,
) -> std::io::Result<mpsc::Receiver<Wake>> {
    let watched = inotify::init(inotify::CreateFlags::CLOEXEC).and_then(|fd| {
        inotify::add_watch(
            &fd,
            dir,
            inotify::WatchFlags::CLOSE_WRITE
                | inotify::WatchFlags::MOVED_TO
                | inotify::WatchFlags::MOVED_FROM
                | inotify::WatchFlags::DELETE
                | inotify::WatchFlags::DELETE_SELF
                | inotify::WatchFlags::MOVE_SELF
                | inotify::WatchFlags::ONLYDIR,
        )
        .map(|_| fd)
    });
    let fd = watched?;
    let (tx, rx) = mpsc::channel();
    let own_name = own_name.to_string();
    let stop = stop.clone();
    std::thread::Builder::new()
        .name("rosy-registry-watch".into())
        .spawn(move || {
            let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
            let mut reader = inotify::Reader::new(&fd, &mut buf);
            loop {
                let mut names: Vec<String> = Vec::new();
                let mut overflow = false;
                let mut ended = false;
                loop {
                    let event = match reader.next() {
                        Ok(event) => event,
                        Err(rustix::io::Errno::INTR) => continue,
                        Err(e) => {
                            tracing::debug!("reading registry events failed: {e}");
                            return;
                        }
                    };
                    let flags = event.events();
                    if flags.intersects(
                        inotify::ReadFlags::IGNORED
                            | inotify::ReadFlags::DELETE_SELF
                            | inotify::ReadFlags::MOVE_SELF,
                    ) {
                        ended = true;
                    }
                    overflow |= flags.contains(inotify::ReadFlags::QUEUE_OVERFLOW);
                    let name = event.file_name().and_then(|n| n.to_str().ok());
                    if let Some(name) = name.filter(|n| n.ends_with(".json") && *n != own_name) {
                        names.push(name.to_string());
                    }
                    if reader.is_buffer_empty() {
                        break;
                    }
                }
                let wake = match overflow {
                    true => Some(Wake::Everything),
                    false => (!names.is_empty()).then_some(Wake::Entries(names)),
                };
                if stop.load(Ordering::Relaxed)
                    || ended
                    || wake.is_some_and(|w| tx.send(w).is_err())
                {
                    return;
                }
            }
        })?;
    Ok(rx)
}

/// One pass over the directory. Errs only when nobody listens to events any more.
fn scan(
    dir: &Path,
    own_id: &str,
    now: SystemTime,
    known: &mut HashMap<String, Known>,
    events: &UnboundedSender<DiscoveryEvent>,
) -> Result<(), ()> {
    let mut present: HashSet<String> = HashSet::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::debug!("cannot read registry {}: {e}", dir.display());
            return Ok(());
        }
    };
    for entry in entries.flatten() {
        let Some(id) = entry.file_name().to_str().and_then(|n| entry_id(n, own_id)) else {
            continue;
        };
        let Ok(meta) = entry.metadata() else { continue };
        if look_at_entry(&entry.path(), &id, &meta, now, known, events)? {
            present.insert(id);
        }
    }
    let gone: Vec<String> = known
        .keys()
        .filter(|id| !present.contains(*id))
        .cloned()
        .collect();
    for id in gone {
        forget(&id, known, events)?;
    }
    Ok(())
}

/// Looks at the entries inotify named (written, renamed or deleted), and at whether the
/// writers of the others still live: what a scan would find, without reading the directory
/// and every entry's metadata. With 50 nodes starting at once, each of them scanned the whole
/// directory for each other's entry; this reads the one that changed.
fn look_at(
    dir: &Path,
    own_id: &str,
    names: &HashSet<String>,
    now: SystemTime,
    known: &mut HashMap<String, Known>,
    events: &UnboundedSender<DiscoveryEvent>,
) -> Result<(), ()> {
    for name in names {
        let Some(id) = entry_id(name, own_id) else {
            continue;
        };
        let path = dir.join(name);
        let present = match std::fs::metadata(&path) {
            Ok(meta) => look_at_entry(&path, &id, &meta, now, known, events)?,
            Err(_) => false,
        };
        if !present {
            forget(&id, known, events)?;
        }
    }
    // A writer killed with `kill -9` leaves its entry: it is gone as soon as its pid is.
    let dead: Vec<String> = known
        .iter()
        .filter(|(_, k)| k.pid.is_some_and(pid_is_dead))
        .map(|(id, _)| id.clone())
        .collect();
    for id in dead {
        remove_entry(&dir.join(format!("{id}.json")));
        forget(&id, known, events)?;
    }
    Ok(())
}

/// Removes a dead or stale node's entry at `path` (`<id>.json`) and the local socket a secure
/// node left beside it (`<id>.sock`, see `transport::tcp::local`).
fn remove_entry(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("sock"));
}

/// The node id of a registry file name, when it is another node's entry (`<id>.json`, the id
/// 32 hex digits): only entries a node wrote are read, and ever removed.
fn entry_id(file_name: &str, own_id: &str) -> Option<String> {
    let id = file_name.strip_suffix(".json")?;
    (id != own_id && id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| id.to_string())
}

/// Takes in the entry of `id` at `path` (its metadata `meta`): `Ok(true)` while it stands for
/// a live node (reported when new or changed), `Ok(false)` when it is stale or its writer is
/// dead (removed if so). Errs only when nobody listens to events any more.
fn look_at_entry(
    path: &Path,
    id: &str,
    meta: &std::fs::Metadata,
    now: SystemTime,
    known: &mut HashMap<String, Known>,
    events: &UnboundedSender<DiscoveryEvent>,
) -> Result<bool, ()> {
    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let age = now.duration_since(modified).unwrap_or_default();
    if age > STALE_AFTER {
        if age > REMOVE_AFTER {
            remove_entry(path);
        }
        return Ok(false);
    }
    let changed = match known.get(id) {
        Some(k) => k.len != meta.len() || (k.announcement.is_none() && k.modified != modified),
        None => true,
    };
    if !changed {
        if let Some(k) = known.get_mut(id) {
            k.modified = modified;
            if k.pid.is_some_and(pid_is_dead) {
                // Killed without saying goodbye; reported gone by the caller.
                remove_entry(path);
                return Ok(false);
            }
        }
        return Ok(true);
    }
    let (announcement, pid) = match read_entry(path, id) {
        Some((a, pid)) => (Some(a), pid),
        None => (None, None),
    };
    if pid.is_some_and(pid_is_dead) {
        remove_entry(path);
        return Ok(false);
    }
    let previous = known.insert(
        id.to_string(),
        Known {
            modified,
            len: meta.len(),
            announcement: announcement.clone(),
            pid,
        },
    );
    if let Some(a) = announcement {
        if previous.and_then(|p| p.announcement).as_ref() != Some(&a) {
            events
                .send(DiscoveryEvent::Seen(a, Source::Registry))
                .map_err(|_| ())?;
        }
    }
    Ok(true)
}

/// `id`'s entry is gone: reported so, if it had been announced.
fn forget(
    id: &str,
    known: &mut HashMap<String, Known>,
    events: &UnboundedSender<DiscoveryEvent>,
) -> Result<(), ()> {
    if known.remove(id).and_then(|k| k.announcement).is_some() {
        events
            .send(DiscoveryEvent::Gone(id.to_string(), Source::Registry))
            .map_err(|_| ())?;
    }
    Ok(())
}

/// Reads one entry: its announcement, and its pid when that is valid in this pid namespace.
/// `None` (with a debug log) for a file that is not a valid entry named `id`.
fn read_entry(path: &Path, id: &str) -> Option<(Announcement, Option<u32>)> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice::<Announcement>(&bytes) {
        Ok(a) if a.id == id => {
            let ns = serde_json::from_slice::<EntryPidNs>(&bytes)
                .ok()
                .and_then(|e| e.pid_ns);
            let pid = (ns.is_some() && ns == own_pid_ns()).then_some(a.pid);
            Some((a, pid))
        }
        Ok(_) => {
            tracing::debug!("registry entry {} names another id", path.display());
            None
        }
        Err(e) => {
            tracing::debug!("malformed registry entry {}: {e}", path.display());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::host::random_id;

    /// Full scans in tests: often enough to see a dead pid within `next`'s bound.
    const TEST_SCAN: Duration = Duration::from_secs(1);

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
            dial_only: false,
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
        let entry_a = RegistryEntry::start(&a, tx_a, false).unwrap();
        let entry_b = RegistryEntry::start(&b, tx_b, false).unwrap();
        assert_eq!(
            next(&mut rx_a),
            DiscoveryEvent::Seen(b.clone(), Source::Registry)
        );
        entry_b.close();
        assert_eq!(
            next(&mut rx_a),
            DiscoveryEvent::Gone(b.id.clone(), Source::Registry)
        );
        entry_a.close();
        let _ = std::fs::remove_dir(domain_dir(&domain));
    }

    /// Secure mode: the directory is made 0700 (an open one of this user's is closed), the
    /// entries 0600, and entries still find each other; a directory another user owns is
    /// refused, naming the owner (that part needs root, to make such a directory).
    #[test]
    fn a_private_registry_is_closed_to_other_users() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let domain = format!("test-registry-{}", random_id());
        let dir = domain_dir(&domain);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let (a, b) = (announcement(&domain), announcement(&domain));
        let (tx_a, mut rx_a) = tokio::sync::mpsc::unbounded_channel();
        let (tx_b, _rx_b) = tokio::sync::mpsc::unbounded_channel();
        let entry_a = RegistryEntry::start(&a, tx_a, true).unwrap();
        let entry_b = RegistryEntry::start(&b, tx_b, true).unwrap();
        assert_eq!(
            next(&mut rx_a),
            DiscoveryEvent::Seen(b.clone(), Source::Registry)
        );
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        let entry = std::fs::metadata(dir.join(format!("{}.json", a.id))).unwrap();
        assert_eq!(entry.mode() & 0o777, 0o600);
        entry_b.close();
        entry_a.close();
        let _ = std::fs::remove_dir(&dir);

        if rustix::process::geteuid().is_root() {
            let squatted = domain_dir(&format!("test-registry-{}", random_id()));
            std::fs::create_dir_all(&squatted).unwrap();
            std::os::unix::fs::chown(&squatted, Some(54_321), None).unwrap();
            let e = make_private_dir(&squatted).unwrap_err().to_string();
            assert!(e.contains("owned by uid 54321"), "{e}");
            let _ = std::fs::remove_dir(&squatted);
        }
    }

    #[test]
    fn a_file_that_is_no_node_entry_is_never_removed() {
        let domain = format!("test-registry-{}", random_id());
        let dir = domain_dir(&domain);
        std::fs::create_dir_all(&dir).unwrap();
        let foreign = dir.join("notes.json");
        std::fs::write(&foreign, b"{}").unwrap();
        let ancient = SystemTime::now() - 2 * REMOVE_AFTER;
        std::fs::File::options()
            .write(true)
            .open(&foreign)
            .unwrap()
            .set_modified(ancient)
            .unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        scan(&dir, "me", SystemTime::now(), &mut HashMap::new(), &tx).unwrap();
        assert!(foreign.exists(), "a file rosy did not write was removed");
        std::fs::remove_dir_all(&dir).unwrap();
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
        let old = SystemTime::now() - 2 * STALE_AFTER;
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

    #[test]
    fn a_new_entry_is_seen_at_once_not_at_the_next_scan() {
        let domain = format!("test-registry-{}", random_id());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let watcher =
            RegistryEntry::start_scanning_every(&announcement(&domain), tx, TEST_SCAN, false)
                .unwrap();
        // The first peer may be found by a scan. Each next one is written right after the previous
        // one was reported, a scan at most: a periodic scan would find it only SCAN_EVERY later.
        let mut peers = Vec::new();
        for i in 0..4 {
            let peer = announcement(&domain);
            let (peer_tx, _peer_rx) = tokio::sync::mpsc::unbounded_channel();
            let written = Instant::now();
            peers.push((
                RegistryEntry::start(&peer, peer_tx, false).unwrap(),
                _peer_rx,
            ));
            assert_eq!(next(&mut rx), DiscoveryEvent::Seen(peer, Source::Registry));
            let took = written.elapsed();
            if i > 0 {
                assert!(
                    took < TEST_SCAN / 2,
                    "peer {i} seen after {took:?}: not by inotify"
                );
            }
        }
        for (peer, _) in peers {
            peer.close();
        }
        watcher.close();
        let _ = std::fs::remove_dir(domain_dir(&domain));
    }

    #[test]
    fn an_entry_whose_pid_is_dead_is_gone_before_it_is_stale() {
        let domain = format!("test-registry-{}", random_id());
        let dir = domain_dir(&domain);
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let peer = Announcement {
            pid: child.id(),
            ..announcement(&domain)
        };
        let peer_path = dir.join(format!("{}.json", peer.id));
        // Written like a node does, with this pid namespace; never refreshed afterwards.
        write_entry(&peer_path, &peer, false).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let watcher =
            RegistryEntry::start_scanning_every(&announcement(&domain), tx, TEST_SCAN, false)
                .unwrap();
        assert_eq!(
            next(&mut rx),
            DiscoveryEvent::Seen(peer.clone(), Source::Registry)
        );
        child.kill().unwrap();
        child.wait().unwrap();
        let killed = Instant::now();
        assert_eq!(
            next(&mut rx),
            DiscoveryEvent::Gone(peer.id.clone(), Source::Registry)
        );
        let took = killed.elapsed();
        assert!(
            took <= TEST_SCAN * 3 && took < STALE_AFTER,
            "gone after {took:?}: not by the pid check"
        );
        assert!(!peer_path.exists(), "the dead writer's entry is removed");
        watcher.close();
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn a_heartbeat_wakes_no_watcher_but_a_new_entry_does() {
        let domain = format!("test-registry-{}", random_id());
        let dir = domain_dir(&domain);
        std::fs::create_dir_all(&dir).unwrap();
        let peer = announcement(&domain);
        let peer_path = dir.join(format!("{}.json", peer.id));
        write_entry(&peer_path, &peer, false).unwrap();
        let old = SystemTime::now() - STALE_AFTER;
        std::fs::File::options()
            .write(true)
            .open(&peer_path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let wakes = watch_events(&dir, "me.json", &stop).unwrap();
        touch(&peer_path).unwrap();
        let modified = std::fs::metadata(&peer_path).unwrap().modified().unwrap();
        assert!(
            modified > old + STALE_AFTER / 2,
            "the heartbeat sets the mtime"
        );
        assert_eq!(
            wakes.recv_timeout(Duration::from_millis(200)),
            Err(mpsc::RecvTimeoutError::Timeout),
            "a heartbeat wakes nobody"
        );
        let other = announcement(&domain);
        write_entry(&dir.join(format!("{}.json", other.id)), &other, false).unwrap();
        // Named: the watcher reads that entry, not the whole directory (its `.tmp` is no entry).
        assert_eq!(
            wakes.recv_timeout(Duration::from_secs(5)),
            Ok(Wake::Entries(vec![format!("{}.json", other.id)]))
        );
        stop.store(true, Ordering::Relaxed);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
