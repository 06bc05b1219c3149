//! A node's ACL while it runs: [`LiveAcl`] is the policy the node asks, holding the ACL loaded
//! last. Once a node watches it, a thread waits on inotify for `acl.yaml` or its signature to be
//! replaced in the credentials directory (as `rosy security sign-acl --to` does), then loads the
//! pair, verifies it against the CA and swaps it in, and tells the node (which closes links of
//! peers now revoked). A replacement that does not verify, or is older than the ACL held, is
//! refused, said once, and the ACL held stays.
//!
//! The thread sleeps in `poll` on the inotify descriptor and an eventfd that dropping the
//! `LiveAcl` signals: an idle node never wakes for it.

use crate::acl::{ACL_FILE, Acl, SIGNATURE_FILE};
use rosy::security::{ChangeHook, Policy, Verb};
use rustix::event::{EventfdFlags, PollFd, PollFlags};
use rustix::fs::inotify;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;

/// How long the directory must be quiet before a replaced ACL is loaded: `sign-acl --to`
/// replaces the file, then its signature.
const SETTLE: Duration = Duration::from_millis(100);

/// The ACL a node holds, replaced when a newer signed one appears beside its credentials.
pub struct LiveAcl {
    current: RwLock<Arc<Acl>>,
    dir: PathBuf,
    ca: Vec<u8>,
    hooks: Mutex<Vec<ChangeHook>>,
    /// Signals the watching thread to end (set once it runs).
    stop: OnceLock<OwnedFd>,
}

impl std::fmt::Debug for LiveAcl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveAcl")
            .field("dir", &self.dir)
            .field("version", &self.current().version)
            .finish()
    }
}

impl LiveAcl {
    /// Holds `acl`, loaded from `dir` and verified against the CA certificate `ca`.
    pub fn new(acl: Acl, dir: PathBuf, ca: Vec<u8>) -> Arc<LiveAcl> {
        Arc::new(LiveAcl {
            current: RwLock::new(Arc::new(acl)),
            dir,
            ca,
            hooks: Mutex::new(Vec::new()),
            stop: OnceLock::new(),
        })
    }

    /// The ACL held now.
    pub fn current(&self) -> Arc<Acl> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Calls `hook` after every ACL swapped in; starts watching the directory the first time.
    pub fn on_change(self: &Arc<Self>, hook: ChangeHook) {
        self.hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(hook);
        if self.stop.get().is_none() {
            match self.start_watching() {
                Ok(stop) => {
                    let _ = self.stop.set(stop);
                }
                Err(e) => tracing::warn!(
                    "cannot watch {} for a new ACL ({e}): restart the node to apply one",
                    self.dir.display()
                ),
            }
        }
    }

    /// Loads the pair on disk and swaps it in if it verifies and is not older: whether it did.
    pub fn reload(&self) -> bool {
        let acl = match Acl::load(&self.dir, &self.ca) {
            Ok(Some(acl)) => acl,
            Ok(None) => {
                tracing::warn!(
                    "{} is gone from {}: keeping the ACL held (version {})",
                    ACL_FILE,
                    self.dir.display(),
                    self.current().version
                );
                return false;
            }
            Err(e) => {
                tracing::warn!("not applying the new ACL: {e}");
                return false;
            }
        };
        let held = self.current().version;
        if acl.version < held {
            tracing::warn!(
                "not applying the ACL in {}: its version {} is older than the one held ({held})",
                self.dir.display(),
                acl.version
            );
            return false;
        }
        tracing::info!(
            "applying the new ACL from {} (version {})",
            self.dir.display(),
            acl.version
        );
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(acl);
        for hook in self.hooks.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            hook();
        }
        true
    }

    fn start_watching(self: &Arc<Self>) -> std::io::Result<OwnedFd> {
        let events = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)?;
        inotify::add_watch(
            &events,
            &self.dir,
            inotify::WatchFlags::CLOSE_WRITE | inotify::WatchFlags::MOVED_TO,
        )?;
        let stop = rustix::event::eventfd(0, EventfdFlags::CLOEXEC)?;
        let stop_here = stop.try_clone()?;
        let live: Weak<LiveAcl> = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("rosy-acl-watch".into())
            .spawn(move || watch(events, stop_here, live))?;
        Ok(stop)
    }
}

impl Drop for LiveAcl {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.get() {
            let _ = rustix::io::write(stop, &1u64.to_ne_bytes());
        }
    }
}

/// Whether any event read from `events` names the ACL or its signature (draining them all).
fn acl_touched(events: &OwnedFd) -> bool {
    let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
    let mut reader = inotify::Reader::new(events, &mut buf);
    let mut touched = false;
    loop {
        match reader.next() {
            Ok(event) => {
                let name = event.file_name().map(|n| n.to_bytes());
                touched |= event.events().contains(inotify::ReadFlags::QUEUE_OVERFLOW)
                    || name.is_some_and(|n| {
                        n == ACL_FILE.as_bytes() || n == SIGNATURE_FILE.as_bytes()
                    });
            }
            Err(rustix::io::Errno::INTR) => continue,
            // WOULDBLOCK: drained.
            Err(_) => return touched,
        }
    }
}

/// The watching thread: sleeps until the directory changes or the `LiveAcl` goes.
fn watch(events: OwnedFd, stop: OwnedFd, live: Weak<LiveAcl>) {
    loop {
        let mut fds = [
            PollFd::new(&events, PollFlags::IN),
            PollFd::new(&stop, PollFlags::IN),
        ];
        match rustix::event::poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        }
        if !fds[1].revents().is_empty() {
            return;
        }
        if !acl_touched(&events) {
            continue;
        }
        // Let the file and its signature both land.
        loop {
            let mut quiet = [PollFd::new(&events, PollFlags::IN)];
            let timeout = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: SETTLE.as_nanos() as _,
            };
            match rustix::event::poll(&mut quiet, Some(&timeout)) {
                Ok(0) => break,
                Ok(_) => {
                    acl_touched(&events);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return,
            }
        }
        let Some(live) = live.upgrade() else {
            return;
        };
        live.reload();
    }
}

impl Policy for LiveAcl {
    fn allows(&self, who: &str, verb: Verb, name: &str) -> bool {
        self.current().allows(who, verb, name)
    }

    fn is_revoked(&self, serial: &str) -> bool {
        self.current().is_revoked(serial)
    }
}
