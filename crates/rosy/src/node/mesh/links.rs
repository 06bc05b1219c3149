//! Dialing and links: who connects to whom, the connections themselves, and the frames they
//! bring in (handed on to the concern each belongs to).
//!
//! Who connects: when discovery reports a peer, the node with the smaller id dials it at once
//! (a secure node dials a same-host peer's local socket first, see `transport::tcp::local`);
//! the other waits [`FALLBACK_DIAL_AFTER`] for that call and dials itself if none came (one side's
//! discovery may be slower). Should both connections exist, both sides keep the one dialed by the
//! smaller id, so a pair ends with exactly one. A dialer whose connection drops redials with
//! backoff (50 ms doubling to 2 s) for as long as discovery still reports the peer.
//!
//! A node that closes says so: it stops accepting and dialing, sends a `Goodbye` on each link,
//! then writes out what is queued. A peer told goodbye never dials that node again (a node that
//! starts anew has a new id), so closing one node of fifty costs no reconnections, and no TLS
//! handshakes in secure mode.
//!
//! A peer is in the topology exactly while its connection is up and has sent its `NodeInfo`:
//! a `kill -9` closes the socket and the peer leaves at once; a host that vanishes is caught by
//! TCP keepalive and user timeout (5 s).
//!
//! This file never routes or publishes a message and never attaches shared memory itself (it only
//! asks `sync_shm` to catch up): it dials, accepts, registers and drops links, and dispatches
//! incoming frames.

use super::info::node_info_frame;
use super::{Mesh, admission, lock, read, write};
use crate::codec_id::CodecId;
use crate::discovery::{Announcement, DiscoveryEvent};
use crate::node::queue::Received;
use crate::transport::tcp::frame::{Frame, FrameAt, FrameKind};
use crate::transport::tcp::link::{self, FrameSink, Handshaken, Link, LinkError, Listener, Remote};
use crate::transport::tcp::local;
use crate::transport::tcp::secure::Verb;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long the node with the larger id waits for the smaller one to dial before dialing itself.
pub const FALLBACK_DIAL_AFTER: Duration = Duration::from_millis(1500);
const BACKOFF_FIRST: Duration = Duration::from_millis(50);
/// Security refusals remembered (so each is said once) before they are only rate-limited.
const SECURITY_SAID_MAX: usize = 1024;
const BACKOFF_MAX: Duration = Duration::from_secs(2);

impl Mesh {
    /// Peers discovery reports that are not connected (yet).
    pub fn unconnected_peers(&self) -> usize {
        let links = read(&self.peers.links);
        lock(&self.peers.known)
            .iter()
            .filter(|(id, k)| {
                !links.contains_key(*id) && k.announcement().is_some_and(|a| self.dials(a))
            })
            .count()
    }

    /// Whether a connection to the peer `a` announces is made from this side: nobody dials a
    /// dial-only node (it dials us, if it wants us), and two dial-only nodes never meet.
    fn dials(&self, a: &Announcement) -> bool {
        !a.dial_only
    }

    /// Feeds discovery events in until the node closes.
    pub async fn run_discovery(
        self: Arc<Self>,
        mut events: tokio::sync::mpsc::UnboundedReceiver<DiscoveryEvent>,
    ) {
        let mut closed = self.closed.subscribe();
        // sync_shm runs on every topology change; what it could not do yet (a segment not
        // ready) it asks to retry, a second later. An idle node never wakes here. The retry
        // lives across loop turns, so an event arriving meanwhile does not lose it.
        let next_retry = || async {
            self.same_host.retry.notified().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        let mut retry = Box::pin(next_retry());
        loop {
            let event = tokio::select! {
                e = events.recv() => e,
                _ = &mut retry => {
                    self.sync_shm();
                    retry.set(next_retry());
                    continue;
                }
                _ = closed.wait_for(|c| *c) => None,
            };
            let Some(event) = event else { return };
            match event {
                DiscoveryEvent::Seen(a, source) => {
                    if a.id == self.hello.node_id || a.domain != self.hello.domain {
                        continue;
                    }
                    let own_host = lock(&self.own).host_id.clone();
                    let id = a.id.clone();
                    let new = {
                        let mut known = lock(&self.peers.known);
                        let new = !known.contains_key(&id);
                        known
                            .entry(id.clone())
                            .or_default()
                            .heard(a, source, &own_host);
                        new
                    };
                    if new {
                        self.bump();
                    }
                    self.clone().maybe_dial(&id);
                }
                DiscoveryEvent::Gone(id, source) => {
                    let own_host = lock(&self.own).host_id.clone();
                    let mut known = lock(&self.peers.known);
                    if known
                        .get_mut(&id)
                        .is_some_and(|k| k.gone(source, &own_host))
                    {
                        known.remove(&id);
                    }
                }
            }
        }
    }

    /// The peer's announced name and the addresses to dial it at, best first (see `known.rs`);
    /// `None` once no discovery source reports it, or once it said goodbye.
    fn dial_plan(&self, peer: &str) -> Option<(String, Vec<SocketAddr>)> {
        let known = lock(&self.peers.known);
        let k = known.get(peer).filter(|k| k.dialable())?;
        Some((k.announcement()?.name.clone(), k.dial_order()))
    }

    /// The local socket of `peer` when this node makes local links and `peer` is on this host
    /// and has one: dialed before its TCP addresses.
    fn local_socket_of(&self, peer: &str) -> Option<std::path::PathBuf> {
        let dir = self.config.local_dir.as_ref()?;
        let own_host = lock(&self.own).host_id.clone();
        let same_host = lock(&self.peers.known)
            .get(peer)
            .and_then(|k| k.announcement())
            .is_some_and(|a| a.host_id == own_host);
        let path = local::socket_path(dir, peer);
        (same_host && path.exists()).then_some(path)
    }

    /// Whether this node is closing: it accepts, dials and registers no more links.
    fn is_leaving(&self) -> bool {
        *self.peers.leaving.borrow()
    }

    /// Starts dialing `peer` unless this node is leaving, discovery does not report the peer
    /// (or it said goodbye, or is dial-only), a link is up or a dial is under way.
    fn maybe_dial(self: Arc<Self>, peer: &str) {
        if self.is_leaving()
            || !lock(&self.peers.known)
                .get(peer)
                .filter(|k| k.dialable())
                .and_then(|k| k.announcement())
                .is_some_and(|a| self.dials(a))
        {
            return;
        }
        if read(&self.peers.links).contains_key(peer)
            || !lock(&self.peers.dialing).insert(peer.to_string())
        {
            return;
        }
        let peer = peer.to_string();
        tokio::spawn(async move {
            self.dial_loop(&peer).await;
            lock(&self.peers.dialing).remove(&peer);
        });
    }

    async fn dial_loop(self: &Arc<Self>, peer: &str) {
        if self.hello.node_id.as_str() > peer && !self.config.dial_only {
            // The smaller id dials; give it the chance first (a dial-only node is the only one
            // that dials).
            let mut leaving = self.peers.leaving.subscribe();
            tokio::select! {
                _ = tokio::time::sleep(FALLBACK_DIAL_AFTER) => {}
                _ = leaving.wait_for(|l| *l) => return,
            }
        }
        let mut backoff = BACKOFF_FIRST;
        loop {
            if self.is_leaving() || read(&self.peers.links).contains_key(peer) {
                return;
            }
            let Some((name, addrs)) = self.dial_plan(peer) else {
                return;
            };
            let mut refused_locally = false;
            if let Some(path) = self.local_socket_of(peer) {
                self.peers.dials.fetch_add(1, Ordering::Relaxed);
                let dialed = local::dial(
                    &path,
                    &self.hello,
                    &self.config.link_timeouts,
                    &self.config.guard,
                )
                .await;
                match dialed {
                    Ok(conn) if conn.peer.node_id == peer => {
                        self.register(conn);
                        return;
                    }
                    Ok(conn) => {
                        tracing::debug!(
                            "{} is node {}, not {peer}",
                            path.display(),
                            conn.peer.node_id
                        );
                    }
                    // TLS would refuse the same certificates: no TCP this round.
                    Err(e) if e.is_security() => {
                        if lock(&self.peers.security_said).insert(format!("{peer} {e}")) {
                            tracing::warn!("cannot connect to {name} on this host: {e}");
                        }
                        refused_locally = true;
                    }
                    // Gone since, or its socket not made yet: TCP next.
                    Err(e) => tracing::debug!("dialing {name} on this host: {e}"),
                }
            }
            for addr in addrs.into_iter().filter(|_| !refused_locally) {
                self.peers.dials.fetch_add(1, Ordering::Relaxed);
                match link::dial(
                    addr,
                    &self.hello,
                    &self.config.link_timeouts,
                    &self.config.guard,
                )
                .await
                {
                    Ok(conn) if conn.peer.node_id == peer => {
                        if let Some(k) = lock(&self.peers.known).get_mut(peer) {
                            k.proven_at(addr);
                        }
                        self.register(conn);
                        return;
                    }
                    Ok(conn) => {
                        tracing::debug!("{addr} is now node {}, not {peer}", conn.peer.node_id);
                    }
                    Err(e) if e.is_security() => {
                        // A mismatch of security or credentials stays until someone acts: say it
                        // once per peer and reason, not on every redial.
                        let said = format!("{peer} {e}");
                        if lock(&self.peers.security_said).insert(said) {
                            tracing::warn!("cannot connect to {name} at {addr}: {e}");
                        }
                    }
                    Err(e) => tracing::debug!("dialing {name} at {addr}: {e}"),
                }
            }
            let mut leaving = self.peers.leaving.subscribe();
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = leaving.wait_for(|l| *l) => return,
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// Accepts connections on `listener` (TCP, or the local socket) until the node starts
    /// closing (then the listener is dropped, and a dial is refused at once). See `admission` for what is
    /// turned away before the handshake: connections beyond `max_handshakes` in handshake, and
    /// any while the descriptors left are only the reserve. Refusals and accept errors are
    /// logged a few lines at most, then one a second with the count left out; while the node
    /// refuses for want of descriptors or handshake slots it says so once, not per connection.
    pub async fn run_listener(self: Arc<Self>, listener: Listener) {
        use std::os::fd::AsRawFd;
        let mut leaving = self.peers.leaving.subscribe();
        let handshakes = Arc::new(tokio::sync::Semaphore::new(self.config.max_handshakes));
        // Why connections are being turned away before their handshake, and how many so far.
        let mut refusing: Option<&'static str> = None;
        let mut refused_meanwhile = 0u64;
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = leaving.wait_for(|l| *l) => return,
            };
            match accepted {
                Ok((stream, remote)) => {
                    let fd = stream.as_raw_fd();
                    let limit = admission::fd_limit();
                    if admission::in_reserve(fd, limit) {
                        drop(stream);
                        refused_meanwhile += 1;
                        if refusing.replace("descriptors") != Some("descriptors") {
                            let left = limit.unwrap_or(0).saturating_sub(fd as u64);
                            self.refused(|| {
                                format!(
                                    "refused connection from {remote}: about {left} descriptors \
                                     left of {limit:?}, kept for the node itself; refusing \
                                     connections until some close"
                                )
                            });
                        }
                        // Closed at once, it gives its descriptor back: nothing to wait for.
                        continue;
                    }
                    let Ok(permit) = handshakes.clone().try_acquire_owned() else {
                        drop(stream);
                        refused_meanwhile += 1;
                        if refusing.replace("handshakes") != Some("handshakes") {
                            let cap = self.config.max_handshakes;
                            self.refused(|| {
                                format!(
                                    "refused connection from {remote}: {cap} connections are in \
                                     handshake already; refusing more until one finishes"
                                )
                            });
                        }
                        continue;
                    };
                    if refusing.take().is_some() {
                        tracing::info!(
                            "accepting connections again ({refused_meanwhile} refused meanwhile)"
                        );
                        refused_meanwhile = 0;
                    }
                    let mesh = self.clone();
                    tokio::spawn(async move {
                        let result = link::accept(
                            stream,
                            remote,
                            &mesh.hello,
                            &mesh.config.link_timeouts,
                            &mesh.config.guard,
                        )
                        .await;
                        drop(permit);
                        match result {
                            Ok(conn) => mesh.register(conn),
                            Err(e) if e.is_security() => mesh.refused_for_security(remote, &e),
                            Err(e) => {
                                mesh.refused(|| format!("refused connection from {remote}: {e}"))
                            }
                        }
                    });
                }
                Err(e) => {
                    if let Some(left_out) = self.peers.refusals.allow() {
                        tracing::warn!(
                            "accept failed: {e}{}",
                            admission::suppressed_note(left_out)
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Logs a connection refused for security (a plain dialer, another CA's certificate...)
    /// once per address and reason: a peer redialing every 2 s, or an intruder trying again,
    /// makes one line, not one per attempt. Past [`SECURITY_SAID_MAX`] remembered refusals,
    /// the rate limit of other refusals applies.
    fn refused_for_security(&self, remote: Remote, e: &LinkError) {
        let first = {
            let mut said = lock(&self.peers.security_said);
            if said.len() >= SECURITY_SAID_MAX {
                None
            } else {
                Some(said.insert(format!("{} {e}", remote.origin())))
            }
        };
        match first {
            Some(true) => tracing::warn!(
                "refused connection from {remote}: {e} (said once for this address and reason)"
            ),
            Some(false) => tracing::debug!("refused connection from {remote}: {e}"),
            None => self.refused(|| format!("refused connection from {remote}: {e}")),
        }
    }

    /// Whether a topic message from `link`'s peer may be taken (its node may publish the
    /// topic); a refusal is said once (the caller counts each message refused).
    fn may_take(&self, link: &Link, topic: &str) -> bool {
        if self.config.policy.is_none()
            || crate::node::service_channel::is_internal(topic)
            || self.peer_may(&link.peer.node_name, Verb::Publish, topic)
        {
            return true;
        }
        self.say_denied(&link.peer.node_name, Verb::Publish, topic);
        false
    }

    /// `link`'s peer is closing: it is not dialed again, neither when this link ends nor while
    /// discovery still reports it.
    fn on_goodbye(&self, link: &Link) {
        tracing::debug!(
            "{} ({}) said goodbye",
            link.peer.node_name,
            link.peer.node_id
        );
        if let Some(k) = lock(&self.peers.known).get_mut(&link.peer.node_id) {
            k.said_goodbye();
        }
    }

    /// Logs a refused connection, within the rate limit.
    fn refused(&self, message: impl FnOnce() -> String) {
        if let Some(left_out) = self.peers.refusals.allow() {
            tracing::warn!("{}{}", message(), admission::suppressed_note(left_out));
        }
    }

    fn register(self: &Arc<Self>, conn: Handshaken) {
        if self.is_leaving() {
            return;
        }
        let peer = conn.peer.node_id.clone();
        let dialed = conn.dialed;
        let i_am_smaller = self.hello.node_id < peer;
        let link = link::start(conn, self.clone() as Arc<dyn FrameSink>);
        let replaced = {
            let mut links = write(&self.peers.links);
            if let Some(existing) = links.get(&peer) {
                // Keep the connection dialed by the smaller id; both sides agree.
                let new_preferred = dialed == i_am_smaller;
                if !existing.is_closed() && !new_preferred {
                    drop(links);
                    tracing::debug!("closing a second connection to {peer}");
                    link.close();
                    return;
                }
            }
            links.insert(peer.clone(), link.clone())
        };
        if let Some(old) = &replaced {
            tracing::debug!("link {} to {peer} replaces link {}", link.id, old.id);
        }
        if let Some(old) = replaced {
            old.close();
            self.invalidate_routes();
        }
        match &link.identity {
            Some(id) => tracing::debug!(
                "connected to {} ({peer}) at {}, sealed, certificate {:?} serial {}",
                link.peer.node_name,
                link.remote,
                id.name,
                id.serial
            ),
            None => tracing::debug!(
                "connected to {} ({peer}) at {}",
                link.peer.node_name,
                link.remote
            ),
        }
        let frame = node_info_frame(&lock(&self.own));
        let _ = link.send_now(frame);
    }

    /// Test hook: dials `peer` once more, as a simultaneous dial would, so that one of the two
    /// links to it is closed as a duplicate. `true` if a second link was made.
    #[cfg(test)]
    pub(crate) async fn dial_again(self: &Arc<Self>, peer: &str) -> bool {
        let Some((_, addrs)) = self.dial_plan(peer) else {
            return false;
        };
        for addr in addrs {
            if let Ok(conn) = link::dial(
                addr,
                &self.hello,
                &self.config.link_timeouts,
                &self.config.guard,
            )
            .await
            {
                self.register(conn);
                return true;
            }
        }
        false
    }

    /// Test hook: the current link to `peer`, if any.
    #[cfg(test)]
    pub(crate) fn link_to(&self, peer: &str) -> Option<Arc<Link>> {
        read(&self.peers.links).get(peer).cloned()
    }

    /// Test hook: dials started so far (each address tried counts one).
    #[cfg(test)]
    pub(crate) fn dials_started(&self) -> u64 {
        self.peers.dials.load(Ordering::Relaxed)
    }

    /// Test hook: whether discovery still reports `peer`.
    #[cfg(test)]
    pub(crate) fn knows(&self, peer: &str) -> bool {
        lock(&self.peers.known).contains_key(peer)
    }

    /// Lets every connection write what it has queued and close. Waits [`FINISH_WAIT`] for
    /// peers to close too, and on while a connection with frames still queued sees its peer
    /// read (a slow reliable subscriber taking what it was sent): until its peer takes nothing
    /// for [`FINISH_STALL`] (or the send timeout, if longer), or [`FINISH_BOUND`] in all. What
    /// is given up is said, per peer.
    pub async fn finish_links(&self) {
        // From here on nothing is accepted, dialed or registered, and each peer is told not to
        // dial this node again: a node closing is not reconnected to while it closes.
        self.peers.leaving.send_replace(true);
        let links: Vec<Arc<Link>> = read(&self.peers.links).values().cloned().collect();
        for link in &links {
            let _ = link.send_now(Frame::new(
                FrameKind::Goodbye,
                CodecId::Raw,
                0,
                "",
                Bytes::new(),
            ));
            link.finish();
        }
        let start = Instant::now();
        // Per link: bytes the socket had taken, and when that last rose.
        let mut progress: Vec<(u64, Instant)> =
            links.iter().map(|l| (l.written_bytes(), start)).collect();
        let stall = self.config.send_timeout.max(FINISH_STALL);
        let mut said = false;
        loop {
            let all_closed = async {
                for link in &links {
                    link.closed().await;
                }
            };
            if tokio::time::timeout(FINISH_WAIT, all_closed).await.is_ok() {
                return;
            }
            let now = Instant::now();
            let mut reading = 0;
            for (link, (written, at)) in links.iter().zip(progress.iter_mut()) {
                if link.written_bytes() != *written {
                    *written = link.written_bytes();
                    *at = now;
                }
                let queued = !link.is_closed() && link.queued_bytes() > 0;
                if queued && now.duration_since(*at) < stall {
                    reading += 1;
                }
            }
            if reading == 0 || now.duration_since(start) >= FINISH_BOUND {
                break;
            }
            if !said {
                said = true;
                tracing::info!("closing: sending what is queued for {reading} slow peer(s) first");
            }
        }
        for link in links.iter().filter(|l| !l.is_closed()) {
            let queued = link.queued_bytes();
            if queued > 0 {
                tracing::warn!(
                    "closing: {queued} bytes queued for {} ({}) were not sent: it read too \
                     slowly",
                    link.peer.node_name,
                    link.peer.node_id
                );
            }
        }
    }
}

/// How long closing waits for peers to close their side of each connection.
const FINISH_WAIT: Duration = Duration::from_secs(1);
/// How long closing waits for a peer to take any of what is queued for it. Its socket takes
/// bytes in steps of about half its send buffer (megabytes): a peer reading 1 MB/s shows
/// progress every 2–3 s.
const FINISH_STALL: Duration = Duration::from_secs(5);
/// How long closing waits in all for slow peers to read what is queued for them.
const FINISH_BOUND: Duration = Duration::from_secs(60);

impl FrameSink for Mesh {
    fn on_frame(&self, link: &Arc<Link>, frame: Frame) {
        match frame.kind {
            FrameKind::Topic => {
                if !self.may_take(link, frame.name()) {
                    self.count_denied();
                    return;
                }
                let message = Received {
                    codec: frame.codec,
                    payload: frame.payload.clone(),
                };
                if frame.id == super::history::HISTORY {
                    self.deliver_history(frame.name(), message)
                } else {
                    self.deliver_local(frame.name(), message)
                }
            }
            FrameKind::Request => {
                // `serve` needs an Arc of the mesh to spawn the handler; every link holds one.
                if let Some(mesh) = self.me.upgrade() {
                    mesh.serve(link, frame);
                }
            }
            FrameKind::Response | FrameKind::ResponseError => self.answer(frame),
            FrameKind::NodeInfo => self.on_node_info(link, &frame),
            FrameKind::Reject => {
                tracing::warn!(
                    "{} refused us: {}",
                    link.remote,
                    String::from_utf8_lossy(&frame.payload)
                );
                link.close();
            }
            FrameKind::ShmSwitch if frame.id == super::shm_switch::ASK => {
                self.on_switch_asked(link, frame.name())
            }
            FrameKind::ShmSwitch => self.open_gate(&link.peer.node_id, frame.name()),
            FrameKind::Goodbye => self.on_goodbye(link),
            FrameKind::Hello => link.close(),
        }
    }

    fn on_frames(&self, link: &Arc<Link>, chunk: &Bytes, frames: &[FrameAt]) {
        // Consecutive messages of one topic are delivered together: one look-up of the topic's
        // subscriptions and one wake-up of each for the run.
        let mut run: Vec<Received> = Vec::new();
        let mut run_topic = 0..0;
        // Whether the run's topic may be taken from this peer (asked once per run).
        let mut run_allowed = true;
        for frame in frames {
            if frame.kind == FrameKind::Topic && frame.id != super::history::HISTORY {
                if chunk[frame.name.clone()] != chunk[run_topic.clone()] {
                    self.deliver_run(&chunk[run_topic], &mut run);
                    run_topic = frame.name.clone();
                    // Asked only under an ACL: the common case reads no name.
                    run_allowed = self.config.policy.is_none() || {
                        let topic = std::str::from_utf8(&chunk[run_topic.clone()]).unwrap_or("");
                        self.may_take(link, topic)
                    };
                }
                if !run_allowed {
                    self.count_denied();
                    continue;
                }
                run.push(Received {
                    codec: frame.codec,
                    payload: chunk.slice(frame.payload.clone()),
                });
            } else {
                self.deliver_run(&chunk[run_topic.clone()], &mut run);
                self.on_frame(link, frame.frame(chunk));
            }
        }
        self.deliver_run(&chunk[run_topic], &mut run);
    }

    fn backpressure(
        &self,
    ) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>> {
        self.local
            .backlog
            .full()
            .then(|| Box::pin(self.local.backlog.room()) as std::pin::Pin<Box<_>>)
    }

    fn on_close(&self, link: &Arc<Link>, error: Option<LinkError>) {
        let peer = link.peer.node_id.clone();
        match &error {
            // A peer that exits or crashes resets its connections: that is no news.
            Some(LinkError::Io(e)) => tracing::debug!(
                "connection to {} ({peer}) at {} ended: {e}",
                link.peer.node_name,
                link.remote
            ),
            Some(e) => tracing::warn!(
                "connection to {} ({peer}) at {} closed: {e}",
                link.peer.node_name,
                link.remote
            ),
            None => {}
        }
        let was_current = {
            let mut links = write(&self.peers.links);
            if links.get(&peer).is_some_and(|l| l.id == link.id) {
                links.remove(&peer);
                true
            } else {
                false
            }
        };
        tracing::debug!("link {} to {peer} closed (current: {was_current})", link.id);
        // Calls waiting on this link go again on the surviving duplicate, or wait a little for
        // a reconnection: they fail only when the provider is gone.
        self.calls_lost_link(link);
        if was_current {
            lock(&self.same_host.switched).remove(&peer);
            write(&self.topology).remove(&peer);
            self.bump();
            self.sync_shm();
            // Redial while discovery still reports the peer (a restart of its network, say),
            // unless it said goodbye: `maybe_dial` asks.
            if let Some(mesh) = self.me.upgrade() {
                mesh.maybe_dial(&peer);
            }
        }
    }
}
