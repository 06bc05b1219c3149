//! Publishing: a message's way from `publish` into shared memory, links' outboxes, or this
//! node's own subscriptions, read top-down: the sends made at once (`send_now`), then the
//! waits (`finish_waits`).
//!
//! Almost every message is sent without waiting, so the future made per message holds a few
//! words: only a full outbox or a reliable reader behind waits, in a boxed future of its own.
//! Who listens is `routing`'s (`route_topic`); this file never dials, registers or drops a
//! connection, and never attaches a shared-memory reader (it asks for a segment of its own,
//! `want_segment`, when a same-host listener could read one).

use super::routes::{PeerTarget, PublishedTopic, ShmWay, Target};
use super::shm::prefix;
use super::{Mesh, lock, read};
use crate::codec::CodecId;
use crate::error::{Error, Result};
use crate::node::preference::TransportPreference;
use crate::node::queue::Received;
use crate::transport::shm::ShmError;
use crate::transport::tcp::frame::{Frame, FrameHead, FrameKind};
use crate::transport::tcp::link::{Link, LinkError};
use bytes::Bytes;
use smallvec::SmallVec;
use std::borrow::Borrow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

/// The bytes queued at least before a message to a `keep_last(n)` listener is dropped.
const KEEP_LAST_QUEUE_MIN: usize = 64 << 10;

/// A message to send: bytes, or a buffer from [`Mesh::loan`].
pub(crate) enum Outbound {
    Bytes(Bytes),
    Heap(Vec<u8>),
    /// A loaned chunk whose first `PREFIX_LEN` bytes are left for the recipients prefix.
    Loan(crate::transport::shm::Loan),
}

impl Outbound {
    /// Payload bytes (the prefix of a loan not counted).
    pub fn len(&self) -> usize {
        match self {
            Outbound::Bytes(b) => b.len(),
            Outbound::Heap(v) => v.len(),
            Outbound::Loan(l) => l.len() - prefix::PREFIX_LEN,
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match self {
            Outbound::Bytes(_) => &mut [],
            Outbound::Heap(v) => v,
            Outbound::Loan(l) => &mut l[prefix::PREFIX_LEN..],
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            Outbound::Bytes(b) => b,
            Outbound::Heap(v) => v,
            Outbound::Loan(l) => &l[prefix::PREFIX_LEN..],
        }
    }

    /// Shortens the payload to `len` bytes.
    pub fn truncate(&mut self, len: usize) {
        match self {
            Outbound::Bytes(b) => b.truncate(len),
            Outbound::Heap(v) => v.truncate(len),
            Outbound::Loan(l) => l.truncate(prefix::PREFIX_LEN + len),
        }
    }

    /// Whether the bytes live in shared memory (written once, read in place).
    pub fn in_shared_memory(&self) -> bool {
        matches!(self, Outbound::Loan(_))
    }
}

/// What the sends of one message came to.
#[derive(Default)]
struct Outcome {
    /// Nodes the message reached (this one counted).
    delivered: usize,
    /// A reliable subscriber that took nothing for the send timeout: said after the others
    /// got the message.
    slow: Option<Error>,
}

impl Outcome {
    fn into_result(self) -> Result<usize> {
        match self.slow {
            Some(e) => Err(e),
            None => Ok(self.delivered),
        }
    }
}

/// A message's sends that could not be made at once (rare: made only then).
#[derive(Default)]
struct Waits {
    /// What the sends made at once came to.
    outcome: Outcome,
    /// Groups of shm readers with a reliable one behind: sent again as it reads.
    shm: Vec<Vec<PeerTarget>>,
    /// Peers whose link's outbox is full: sent as it drains.
    tcp: Vec<PeerTarget>,
    payload: Bytes,
}

/// A publisher's message on its way ([`Mesh::publish_on`]): a future of a few words. Its first
/// poll makes every send that needs no wait; what must wait goes on in a boxed future. Nothing
/// is sent until it is awaited (or polled).
#[must_use = "a message is sent when its Publishing is awaited"]
pub struct Publishing(Step);

enum Step {
    Start {
        mesh: Arc<Mesh>,
        topic: Arc<PublishedTopic>,
        codec: CodecId,
        payload: Outbound,
    },
    Waiting(super::BoxFuture<Result<usize>>),
    Failed(Error),
    Done,
}

impl Publishing {
    /// A message that failed before it was sent (its encoding): the future says so.
    pub(crate) fn failed(error: Error) -> Self {
        Publishing(Step::Failed(error))
    }
}

impl Future for Publishing {
    type Output = Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<usize>> {
        let this = &mut self.get_mut().0;
        loop {
            match std::mem::replace(this, Step::Done) {
                Step::Start {
                    mesh,
                    topic,
                    codec,
                    payload,
                } => match mesh.send_now(&topic.name, Some(&topic), codec, payload) {
                    Err(e) => return Poll::Ready(Err(e)),
                    Ok(Sent::Done(outcome)) => return Poll::Ready(outcome.into_result()),
                    Ok(Sent::Waiting(waits)) => {
                        *this = Step::Waiting(Box::pin(async move {
                            mesh.finish_waits(&topic.name, codec, *waits).await
                        }));
                    }
                },
                Step::Waiting(mut rest) => {
                    let poll = rest.as_mut().poll(cx);
                    if poll.is_pending() {
                        *this = Step::Waiting(rest);
                    }
                    return poll;
                }
                Step::Failed(e) => return Poll::Ready(Err(e)),
                Step::Done => panic!("a Publishing future polled after it completed"),
            }
        }
    }
}

/// Where a message stands after `send_now`.
enum Sent {
    Done(Outcome),
    Waiting(Box<Waits>),
}

impl Mesh {
    /// Sends an encoded message to the listeners of `topic`. Returns how many nodes it went to.
    pub async fn publish(&self, topic: &str, codec: CodecId, payload: Bytes) -> Result<usize> {
        match self.send_now(topic, None, codec, Outbound::Bytes(payload))? {
            Sent::Done(outcome) => outcome.into_result(),
            // Boxed: the future made per message stays a few words.
            Sent::Waiting(waits) => Box::pin(self.finish_waits(topic, codec, *waits)).await,
        }
    }

    /// A publisher's [`Mesh::publish`] of what [`Mesh::loan`] gave, once filled, or of bytes:
    /// its topic keeps the route its messages take. Sent when first polled.
    pub fn publish_on(
        self: &Arc<Self>,
        topic: &Arc<PublishedTopic>,
        codec: CodecId,
        payload: Outbound,
    ) -> Publishing {
        Publishing(Step::Start {
            mesh: self.clone(),
            topic: topic.clone(),
            codec,
            payload,
        })
    }

    /// A buffer of `len` bytes to fill for `topic`: a loaned chunk of this node's segment when
    /// same-host peers read it (zero copy), else plain memory.
    pub fn loan(&self, topic: &str, len: usize) -> Outbound {
        match self
            .same_host
            .routes
            .as_ref()
            .and_then(|s| s.loan(topic, len))
        {
            Some(Ok(loan)) => Outbound::Loan(loan),
            Some(Err(e)) => {
                tracing::debug!("no loan from shared memory for {topic:?}: {e}");
                Outbound::Heap(vec![0; len])
            }
            None => Outbound::Heap(vec![0; len]),
        }
    }

    /// Checks a message and makes every send of it that needs no wait: to this node's own
    /// subscriptions, into shared memory, into links' outboxes. Returns what is left to wait
    /// for, if anything.
    fn send_now(
        &self,
        topic: &str,
        route: Option<&PublishedTopic>,
        codec: CodecId,
        payload: Outbound,
    ) -> Result<Sent> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let limit = self.config.shm.max_message;
        if payload.len() > limit {
            return Err(Error::MessageTooLarge {
                topic: topic.to_string(),
                len: payload.len(),
                limit,
            });
        }
        self.remember_sent(topic, codec, payload.as_slice());
        let (groups, strategy) = self.route_topic(topic, route);
        let shm_only = self.config.transport == TransportPreference::Shm;
        let mut local = false;
        let mut by_shm: SmallVec<[&PeerTarget; 4]> = SmallVec::new();
        let mut by_tcp: SmallVec<[&PeerTarget; 4]> = SmallVec::new();
        for (name, members) in groups.iter() {
            for target in self.routing.balancer.pick(topic, name, members, strategy) {
                let peer = match target {
                    Target::Local => {
                        local = true;
                        continue;
                    }
                    Target::Peer(peer) => peer,
                };
                match peer.shm {
                    ShmWay::Reading if self.same_host.routes.is_some() => {
                        self.switch_to_shm(peer, topic);
                        by_shm.push(peer);
                    }
                    ShmWay::Wanted if shm_only => {
                        // Not reading our segment yet: with shm forced there is no other way.
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                        self.want_segment(topic);
                    }
                    ShmWay::Wanted => {
                        self.want_segment(topic);
                        by_tcp.push(peer);
                    }
                    _ => by_tcp.push(peer),
                }
            }
        }
        // A loan goes once, to the first group of shm readers, in place; everyone else needs
        // bytes of their own, copied before the loan is handed over.
        let (mut loan, bytes) = match payload {
            Outbound::Bytes(b) => (None, Some(b)),
            Outbound::Heap(v) => (None, Some(Bytes::from(v))),
            Outbound::Loan(l) => {
                let needs_copy =
                    local || !by_tcp.is_empty() || by_shm.len() > prefix::MAX_RECIPIENTS;
                let bytes = needs_copy.then(|| Bytes::copy_from_slice(&l[prefix::PREFIX_LEN..]));
                (Some(l), bytes)
            }
        };
        let mut outcome = Outcome::default();
        let mut waits: Option<Box<Waits>> = None;
        if let (true, Some(payload)) = (local, &bytes) {
            self.deliver_local(
                topic,
                Received {
                    codec,
                    payload: payload.clone(),
                },
            );
            outcome.delivered += 1;
        }
        if let Some(shm) = &self.same_host.routes {
            for group in by_shm.chunks(prefix::MAX_RECIPIENTS) {
                let hashes: SmallVec<[u64; prefix::MAX_RECIPIENTS]> =
                    group.iter().map(|p| p.hash).collect();
                let sent = match loan.take() {
                    Some(mut l) => {
                        l[..prefix::PREFIX_LEN].copy_from_slice(&prefix::prefix(codec, &hashes));
                        l.send(codec.to_byte() as u32);
                        Ok(())
                    }
                    None => shm.send(topic, codec, bytes.as_deref().unwrap_or_default(), &hashes),
                };
                if matches!(sent, Err(ShmError::ReaderBehind { .. })) {
                    let group = group.iter().map(|p| (*p).clone()).collect();
                    waits.get_or_insert_default().shm.push(group);
                } else if self.shm_sent(topic, group, sent, &mut outcome) {
                    by_tcp.extend_from_slice(group);
                }
            }
        }
        if let Some(payload) = &bytes {
            let head = topic_head(topic, codec);
            for peer in by_tcp {
                if self.history_full(peer, payload.len()) {
                    continue;
                }
                match peer.link.try_send(&head, payload) {
                    Ok(true) => self.tcp_sent(topic, peer, Ok(()), &mut outcome),
                    Ok(false) => waits.get_or_insert_default().tcp.push(peer.clone()),
                    Err(e) => self.tcp_sent(topic, peer, Err(e), &mut outcome),
                }
            }
        }
        Ok(match waits {
            None => Sent::Done(outcome),
            Some(mut waits) => {
                waits.outcome = outcome;
                waits.payload = bytes.unwrap_or_default();
                Sent::Waiting(waits)
            }
        })
    }

    /// Sends what could not go at once, each as soon as there is room, for at most the send
    /// timeout.
    async fn finish_waits(&self, topic: &str, codec: CodecId, waits: Waits) -> Result<usize> {
        let Waits {
            mut outcome,
            shm: groups,
            tcp: mut by_tcp,
            payload,
        } = waits;
        if let Some(shm) = &self.same_host.routes {
            for group in groups {
                let hashes: SmallVec<[u64; prefix::MAX_RECIPIENTS]> =
                    group.iter().map(|p| p.hash).collect();
                let mut sent = self
                    .wait_for_reader(topic, || shm.send(topic, codec, &payload, &hashes))
                    .await;
                if matches!(sent, Err(ShmError::ReaderBehind { .. })) {
                    // Waited the send timeout for a reader: best-effort ones lose the oldest
                    // after all (a publisher that waits when full); reliable ones still fail.
                    sent = shm.send_dropping_oldest(topic, codec, &payload, &hashes);
                }
                if self.shm_sent(topic, &group, sent, &mut outcome) {
                    by_tcp.extend(group);
                }
            }
        }
        for peer in &by_tcp {
            if self.history_full(peer, payload.len()) {
                continue;
            }
            let sent = peer
                .link
                .send_parts(topic_head(topic, codec), &payload, self.config.send_timeout)
                .await;
            self.tcp_sent(topic, peer, sent, &mut outcome);
        }
        outcome.into_result()
    }

    /// Counts a send to a group of shm readers. `true`: shared memory failed them, send
    /// over their links instead.
    fn shm_sent<P: Borrow<PeerTarget>>(
        &self,
        topic: &str,
        group: &[P],
        sent: std::result::Result<(), ShmError>,
        outcome: &mut Outcome,
    ) -> bool {
        match sent {
            Ok(()) => {
                outcome.delivered += group.len();
                self.sent_shm
                    .fetch_add(group.len() as u64, Ordering::Relaxed);
            }
            Err(ShmError::ReaderBehind { pid, .. }) => {
                self.dropped
                    .fetch_add(group.len() as u64, Ordering::Relaxed);
                let names: Vec<String> = group
                    .iter()
                    .map(Borrow::borrow)
                    .filter(|p| p.reliable)
                    .map(|p| p.link.peer.node_name.clone())
                    .collect();
                outcome.slow = Some(Error::SlowSubscriber {
                    topic: topic.to_string(),
                    subscriber: format!("{} (pid {pid})", names.join(", ")),
                    waited: self.config.send_timeout,
                });
            }
            Err(e @ ShmError::PoolExhausted(_)) => {
                // Readers hold every chunk (samples not consumed yet): this message is lost for
                // them, as a slow reader loses the oldest; never wait for them.
                self.dropped
                    .fetch_add(group.len() as u64, Ordering::Relaxed);
                tracing::debug!("message on {topic:?} dropped: {e}");
            }
            Err(e) => {
                self.note_shm_fallback(topic, &e);
                return true;
            }
        }
        false
    }

    /// Counts a send to one peer over its link.
    fn tcp_sent(
        &self,
        topic: &str,
        peer: &PeerTarget,
        sent: std::result::Result<(), LinkError>,
        outcome: &mut Outcome,
    ) {
        let link = &peer.link;
        match sent {
            Ok(()) => {
                outcome.delivered += 1;
                self.sent_tcp.fetch_add(1, Ordering::Relaxed);
            }
            Err(LinkError::Full(waited)) if peer.reliable => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                outcome.slow = Some(Error::SlowSubscriber {
                    topic: topic.to_string(),
                    subscriber: format!("{} ({})", link.peer.node_name, link.peer.node_id),
                    waited,
                });
            }
            Err(e) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "message on {topic:?} to {} ({}) dropped: {e}",
                    link.peer.node_name,
                    link.peer.node_id
                );
            }
        }
    }

    /// Whether a `keep_last(n)` peer's link holds more than its history's worth of older
    /// messages still on their way: then this one (`len` bytes) is lost for it (counted), as
    /// its own queue would drop the oldest. At least [`KEEP_LAST_QUEUE_MIN`] bytes are queued.
    fn history_full(&self, peer: &PeerTarget, len: usize) -> bool {
        let Some(depth) = peer.keep_last else {
            return false;
        };
        let bound = depth.saturating_mul(len + 64).max(KEEP_LAST_QUEUE_MIN);
        let full = peer.link.queued_bytes() > bound;
        if full {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        full
    }

    /// Sends again while a reader this node's segment of `topic` waits for (a reliable one,
    /// or any when its publishers wait when full) has not taken the message the next one
    /// would overwrite, until it does or the send timeout passes. Sleeps until a reader moves
    /// (a futex the readers ring while a writer waits), off the runtime's threads.
    async fn wait_for_reader(
        &self,
        topic: &str,
        mut send: impl FnMut() -> std::result::Result<(), ShmError>,
    ) -> std::result::Result<(), ShmError> {
        let deadline = std::time::Instant::now() + self.config.send_timeout;
        let segment = self
            .same_host
            .routes
            .as_ref()
            .and_then(|s| s.segment(topic));
        loop {
            // Announced before the try: a reader moving after it ends the sleep below at once.
            let waiting = segment.as_ref().map(|s| s.announce_wait());
            match send() {
                Err(ShmError::ReaderBehind { .. }) if std::time::Instant::now() < deadline => {}
                other => return other,
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match waiting {
                Some(waiting) => {
                    let nap = left.min(Duration::from_millis(50));
                    off_runtime(move || waiting.sleep(nap)).await;
                }
                None => tokio::time::sleep(Duration::from_micros(200)).await,
            }
        }
    }

    /// Sends one message on `topic` to one peer: through shared memory when it reads this
    /// node's segment of the topic, else over its connection.
    pub(super) async fn publish_to(
        &self,
        topic: &str,
        codec: CodecId,
        payload: Bytes,
        link: &Arc<Link>,
        wait: Duration,
    ) -> std::result::Result<(), LinkError> {
        let own_host = lock(&self.own).host_id.clone();
        let way = read(&self.topology)
            .get(&link.peer.node_id)
            .map(|peer| self.shm_way(peer, topic, &own_host))
            .unwrap_or(ShmWay::No);
        if way == ShmWay::Wanted {
            self.want_segment(topic);
        }
        if let (ShmWay::Reading, Some(shm)) = (way, &self.same_host.routes) {
            self.switch_link_to_shm(link, topic);
            let hash = prefix::id_hash(&link.peer.node_id);
            match shm.send(topic, codec, &payload, &[hash]) {
                Ok(()) => return Ok(()),
                Err(e) => self.note_shm_fallback(topic, &e),
            }
        }
        let frame = Frame::new(FrameKind::Topic, codec, 0, topic, payload);
        link.send(frame, wait).await
    }
}

/// Runs a blocking wait without holding up the runtime's other tasks: in place on a
/// multi-threaded runtime (its worker hands its tasks over meanwhile), else on the blocking pool.
async fn off_runtime(wait: impl FnOnce() + Send + 'static) {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => {
            let _ = tokio::task::spawn_blocking(wait).await;
        }
    }
}

/// The head of a topic message's frame.
fn topic_head(topic: &str, codec: CodecId) -> FrameHead<'_> {
    FrameHead {
        kind: FrameKind::Topic,
        codec,
        id: 0,
        name: topic.as_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_on_its_way_is_a_few_words() {
        // Made and moved once per message: it holds the message and handles, not the sends.
        let words = std::mem::size_of::<Publishing>() / std::mem::size_of::<usize>();
        assert!(words <= 12, "Publishing is {words} words");
    }
}
