//! Service calls: the services this node provides, calls to providers (load-balanced; same-host
//! ones as internal topics through shared memory, others as TCP request frames), serving the
//! calls that arrive and matching answers to the calls waiting for them.
//!
//! This file never dials or closes a connection (links') and never picks how bytes travel: a
//! same-host call goes out through routing's `publish_to`, a TCP one on the provider's link.

use super::calls::{AnswerSpin, CallEvent, PendingCall, ServiceEntry};
use super::served::{Answer, Begin, ReplyTo};
use super::{BoxFuture, ErasedHandler, Mesh, lock, read, write};
use crate::codec::CodecId;
use crate::error::{Error, Result};
use crate::node::queue::Received;
use crate::node::service_channel;
use crate::topology::{ServiceInfo, TopicInfo, TopicRole};
use crate::transport::tcp::frame::{Frame, FrameKind, ResponseError};
use crate::transport::tcp::link::{Link, LinkError};
use crate::transport::tcp::secure::Verb;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long a provider whose answer lost its link waits for a new link to the caller (still
/// reported by discovery). A handshake may take up to 5 s on a loaded host. (A caller waits for
/// a new link to its provider as long as its call's timeout allows.)
const RECONNECT_GRACE: Duration = Duration::from_secs(10);
/// When a call that lost its link and was sent again has no answer yet, it goes once more
/// after this, then after twice as long each time, up to [`RESEND_MAX`].
const RESEND_FIRST: Duration = Duration::from_millis(200);
const RESEND_MAX: Duration = Duration::from_secs(2);

impl Mesh {
    /// Hosts a service; `inline`: its handler answers at once and runs on the thread that
    /// takes a same-host request in (see [`ServiceEntry::inline`]).
    pub fn add_service(&self, info: ServiceInfo, handler: ErasedHandler, inline: bool) {
        self.ensure_request_listener();
        let name = info.name.clone();
        write(&self.calls.table).insert(name, ServiceEntry { handler, inline });
        self.update_own(|own| {
            own.services.retain(|s| s.name != info.name);
            own.services.push(info);
            own.services.sort_by(|a, b| a.name.cmp(&b.name));
        });
    }

    pub fn remove_service(&self, name: &str) -> bool {
        let removed = write(&self.calls.table).remove(name).is_some();
        if removed {
            self.update_own(|own| own.services.retain(|s| s.name != name));
        }
        removed
    }

    /// Whether any node (this one included) hosts `service`.
    pub fn has_providers(&self, service: &str) -> bool {
        if read(&self.calls.table).contains_key(service) {
            return true;
        }
        let links = read(&self.peers.links);
        read(&self.topology)
            .providers(service)
            .iter()
            .any(|n| links.contains_key(&n.id))
    }

    /// Calls `service` on one provider (load-balanced) and waits up to `timeout` for its answer.
    pub async fn request(
        &self,
        service: &str,
        codec: CodecId,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<(CodecId, Bytes)> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        self.check_own(Verb::Call, service)?;
        let local = read(&self.calls.table)
            .get(service)
            .map(|s| s.handler.clone());
        let mut providers: Vec<(String, Option<Arc<Link>>)> = Vec::new();
        if local.is_some() {
            providers.push((self.hello.node_id.clone(), None));
        }
        {
            let links = read(&self.peers.links);
            for info in read(&self.topology).providers(service) {
                if let Some(link) = links.get(&info.id) {
                    // The ACL: a node that may not provide the service is not asked.
                    if self.peer_may(&link.peer.node_name, Verb::Provide, service) {
                        providers.push((info.id.clone(), Some(link.clone())));
                    } else {
                        self.say_denied(&link.peer.node_name, Verb::Provide, service);
                    }
                }
            }
        }
        providers.sort_by(|a, b| a.0.cmp(&b.0));
        let Some((_, link)) = self
            .routing
            .balancer
            .pick(service, "", &providers, self.config.service_strategy())
            .first()
            .cloned()
        else {
            return Err(Error::NoProvider {
                service: service.to_string(),
                domain: self.hello.domain.clone(),
            });
        };
        let Some(link) = link else {
            let handler = local.expect("a local provider was listed");
            let answer = tokio::time::timeout(timeout, handler(codec, payload))
                .await
                .map_err(|_| Error::Timeout {
                    service: service.to_string(),
                    timeout,
                })?;
            return answer
                .map_err(|(kind, text)| response_error(service, &self.hello.domain, kind, text));
        };
        let id = self.calls.next_request.fetch_add(1, Ordering::Relaxed);
        let (reply, mut events) = mpsc::unbounded_channel();
        lock(&self.calls.pending).insert(
            id,
            PendingCall {
                link: link.id,
                reply,
                service: service.to_string(),
            },
        );
        let peer = link.peer.node_id.clone();
        let outcome = tokio::time::timeout(timeout, async {
            let mut link = link;
            // Once the call has lost a link, a copy sent again may itself be lost in the
            // change-over (its answer sent on the closing link, the request read while the
            // provider had no link to this node): it goes again until answered, at growing
            // intervals. The provider runs the handler once and answers every copy.
            let mut resend_after: Option<Duration> = None;
            loop {
                // The link may have closed before the call was listed as pending on it.
                if link.is_closed() {
                    match self.move_call(id, &peer).await {
                        Some(l) => link = l,
                        None => break Err(self.provider_gone(service)),
                    }
                }
                if let Err(e) = self
                    .send_request(id, service, codec, &payload, &link, timeout)
                    .await
                {
                    if let LinkError::Full(_) = e {
                        break Err(Error::Timeout {
                            service: service.to_string(),
                            timeout,
                        });
                    }
                    // The link is closing under us (its closed flag may not be set yet): its
                    // `on_close` tells where to send the call again, or the resend timer does.
                    tracing::debug!("call {id} to {service:?} not sent: {e}");
                    resend_after.get_or_insert(RESEND_FIRST);
                }
                let event = match resend_after {
                    None if self.through_shm(&link) => self.spin_for_answer(&mut events).await,
                    None => events.recv().await,
                    Some(after) => match tokio::time::timeout(after, events.recv()).await {
                        Ok(event) => event,
                        Err(_) => {
                            resend_after = Some((after * 2).min(RESEND_MAX));
                            match self.move_call(id, &peer).await {
                                Some(l) => link = l,
                                None => break Err(self.provider_gone(service)),
                            }
                            continue;
                        }
                    },
                };
                resend_after.get_or_insert(RESEND_FIRST);
                match event {
                    Some(CallEvent::Done(answer)) => break answer,
                    Some(CallEvent::Moved(l)) => link = l,
                    Some(CallEvent::Lost) => match self.move_call(id, &peer).await {
                        Some(l) => link = l,
                        None => break Err(self.provider_gone(service)),
                    },
                    None => break Err(self.provider_gone(service)),
                }
            }
        })
        .await;
        lock(&self.calls.pending).remove(&id);
        outcome.unwrap_or(Err(Error::Timeout {
            service: service.to_string(),
            timeout,
        }))
    }

    /// Waits for a same-host call's first event, spinning briefly first (see [`AnswerSpin`]):
    /// the task yields to others but its thread does not sleep.
    async fn spin_for_answer(
        &self,
        events: &mut mpsc::UnboundedReceiver<CallEvent>,
    ) -> Option<CallEvent> {
        let start = Instant::now();
        if !lock(&self.calls.spin).worth_it(start) {
            return events.recv().await;
        }
        loop {
            match events.try_recv() {
                Ok(event) => {
                    lock(&self.calls.spin).record(true, Instant::now());
                    return Some(event);
                }
                Err(mpsc::error::TryRecvError::Disconnected) => return None,
                Err(mpsc::error::TryRecvError::Empty) if start.elapsed() < AnswerSpin::FOR => {
                    tokio::task::yield_now().await;
                }
                Err(mpsc::error::TryRecvError::Empty) => {
                    lock(&self.calls.spin).record(false, Instant::now());
                    return events.recv().await;
                }
            }
        }
    }

    fn provider_gone(&self, service: &str) -> Error {
        Error::ProviderGone {
            service: service.to_string(),
        }
    }

    /// Sends call `id` on `link`: through the internal requests topic to a same-host provider
    /// (shared memory once both sides read each other's segments), else as a request frame.
    async fn send_request(
        &self,
        id: u64,
        service: &str,
        codec: CodecId,
        payload: &Bytes,
        link: &Arc<Link>,
        timeout: Duration,
    ) -> std::result::Result<(), LinkError> {
        if self.through_shm(link) {
            self.ensure_response_listener();
            let request = service_channel::request(id, &self.hello.node_id, service, payload);
            self.publish_to(service_channel::REQUESTS, codec, request, link, timeout)
                .await
        } else {
            let frame = Frame::new(FrameKind::Request, codec, id, service, payload.clone());
            link.send(frame, timeout).await
        }
    }

    /// Whether calls to `link`'s node go through the internal topics (a same-host node with
    /// shared memory, this node having it too).
    fn through_shm(&self, link: &Link) -> bool {
        self.same_host.routes.is_some() && {
            let own_host = lock(&self.own).host_id.clone();
            read(&self.topology)
                .get(&link.peer.node_id)
                .is_some_and(|p| p.host_id == own_host && p.transports.iter().any(|t| t == "shm"))
        }
    }

    /// The link call `id` should now go on, after the one it was on closed: the provider's
    /// current link (see [`Mesh::link_when_up`]). `None`: the provider is gone.
    async fn move_call(&self, id: u64, peer: &str) -> Option<Arc<Link>> {
        // No bound of its own: the call's timeout bounds the wait.
        let link = self.link_when_up(peer, None).await?;
        if let Some(call) = lock(&self.calls.pending).get_mut(&id) {
            call.link = link.id;
        }
        Some(link)
    }

    /// The open link to `peer`, waiting (up to `grace`, if given) for one while discovery still
    /// reports `peer` (a duplicate link replacing another, a reconnection). `None`: no link came
    /// in time, or `peer` is gone.
    async fn link_when_up(&self, peer: &str, grace: Option<Duration>) -> Option<Arc<Link>> {
        let deadline = grace.map(|g| Instant::now() + g);
        loop {
            let current = read(&self.peers.links)
                .get(peer)
                .filter(|l| !l.is_closed())
                .cloned();
            if current.is_some() {
                return current;
            }
            if self.is_closed()
                || deadline.is_some_and(|d| Instant::now() >= d)
                || !lock(&self.peers.known).contains_key(peer)
            {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `link` closed: the calls waiting on it are sent again on the provider's surviving link
    /// (a duplicate closed by de-duplication), or wait a little for a new one (a reconnection).
    /// The provider runs each handler once: it recognizes a call it has seen ([`Served`]).
    pub(super) fn calls_lost_link(&self, link: &Arc<Link>) {
        let current = read(&self.peers.links)
            .get(&link.peer.node_id)
            .filter(|l| l.id != link.id && !l.is_closed())
            .cloned();
        let mut pending = lock(&self.calls.pending);
        for call in pending.values_mut().filter(|c| c.link == link.id) {
            match &current {
                Some(l) => {
                    call.link = l.id;
                    let _ = call.reply.send(CallEvent::Moved(l.clone()));
                }
                None => {
                    let _ = call.reply.send(CallEvent::Lost);
                }
            }
        }
    }

    /// Sends the answer of `caller`'s call `id` on the link its latest copy came on or, when
    /// that one has closed (replaced by a duplicate, or dropped), on the caller's current link:
    /// through the internal responses topic for a same-host call, else as a response frame.
    /// A copy of the call sent again after a close finds the answer here ([`Served`]), so an
    /// answer lost with its link is sent once more.
    async fn send_answer(&self, caller: &str, id: u64, answer: Answer, reply_to: ReplyTo) {
        let mut link = Some(reply_to.link).filter(|l| !l.is_closed());
        for _ in 0..3 {
            let Some(to) = (match link.take() {
                Some(l) => Some(l),
                None => self.link_when_up(caller, Some(RECONNECT_GRACE)).await,
            }) else {
                break;
            };
            let sent = if reply_to.internal {
                let (codec, response) = service_channel::response(id, answer.clone());
                self.publish_to(
                    service_channel::RESPONSES,
                    codec,
                    response,
                    &to,
                    self.config.send_timeout,
                )
                .await
            } else {
                let frame = match answer.clone() {
                    Ok((codec, payload)) => Frame::new(FrameKind::Response, codec, id, "", payload),
                    Err((kind, text)) => error_frame(id, kind, &text),
                };
                to.send(frame, Duration::from_secs(5)).await
            };
            match sent {
                Ok(()) => return,
                Err(_) if to.is_closed() => continue,
                Err(e) => {
                    tracing::debug!("reply to {caller} lost: {e}");
                    return;
                }
            }
        }
        tracing::debug!("reply to {caller} lost: no connection to it");
    }

    /// Runs `handler` for `caller`'s call `id` unless that call is running or was just answered
    /// (it came again on another link): then only its answer is sent (again).
    async fn serve_once(
        self: Arc<Self>,
        caller: String,
        id: u64,
        run: BoxFuture<Answer>,
        came_on: Arc<Link>,
        internal: bool,
    ) {
        let this_copy = ReplyTo {
            link: came_on,
            internal,
        };
        let begin = lock(&self.calls.served).begin(&caller, id, this_copy.clone());
        let (answer, reply_to) = match begin {
            Begin::Running => return,
            Begin::Replay(answer) => (answer, this_copy),
            Begin::Run => {
                let answer = run.await;
                // To the link the latest copy of the call came on: the caller's newest.
                let latest = lock(&self.calls.served).finish(&caller, id, &answer);
                (answer, latest.unwrap_or(this_copy))
            }
        };
        self.send_answer(&caller, id, answer, reply_to).await;
    }

    pub(super) fn serve(self: &Arc<Self>, link: &Arc<Link>, frame: Frame) {
        let service = frame.name().to_string();
        let handler = read(&self.calls.table)
            .get(&service)
            .map(|s| s.handler.clone());
        let link = link.clone();
        let id = frame.id;
        let Some(handler) = handler else {
            let _ = link.send_now(error_frame(
                id,
                ResponseError::NoSuchService,
                &format!(
                    "node {} does not provide service {service:?}",
                    self.hello.node_name
                ),
            ));
            return;
        };
        if !self.peer_may(&link.peer.node_name, Verb::Call, &service) {
            self.say_denied(&link.peer.node_name, Verb::Call, &service);
            let _ = link.send_now(error_frame(
                id,
                ResponseError::Denied,
                &denied_text(&link.peer.node_name, &service),
            ));
            return;
        }
        let caller = link.peer.node_id.clone();
        let run = handler(frame.codec, frame.payload);
        tokio::spawn(self.clone().serve_once(caller, id, run, link, false));
    }

    pub(super) fn answer(&self, frame: Frame) {
        let Some(call) = lock(&self.calls.pending).remove(&frame.id) else {
            return; // timed out already
        };
        let result = match frame.kind {
            FrameKind::Response => Ok((frame.codec, frame.payload)),
            _ => {
                let (kind, text) = match frame.payload.split_first() {
                    Some((&k, text)) => (
                        ResponseError::from_byte(k).unwrap_or(ResponseError::Handler),
                        String::from_utf8_lossy(text).into_owned(),
                    ),
                    None => (ResponseError::Handler, String::new()),
                };
                Err(response_error(
                    &call.service,
                    &self.hello.domain,
                    kind,
                    text,
                ))
            }
        };
        let _ = call.reply.send(CallEvent::Done(result));
    }

    fn internal_topic(name: &str) -> TopicInfo {
        TopicInfo {
            name: name.to_string(),
            role: TopicRole::Listen,
            codec: CodecId::Raw,
            codec_name: "raw".to_string(),
            type_name: String::new(),
            qos: crate::qos::Qos::default(),
        }
    }

    /// Serves same-host requests arriving on the internal requests topic by TCP, before both
    /// sides read each other's segments (once per node). Through shared memory they do not
    /// queue: the reader thread hands them to [`Mesh::on_internal_request`] itself.
    fn ensure_request_listener(&self) {
        if self.same_host.routes.is_none()
            || read(&self.local.subscriptions).contains_key(service_channel::REQUESTS)
        {
            return;
        }
        let queue = self.subscribe(Self::internal_topic(service_channel::REQUESTS));
        let mesh = self.me.clone();
        tokio::spawn(async move {
            while let Some(message) = queue.pop().await {
                let Some(mesh) = mesh.upgrade() else { return };
                mesh.on_internal_request(message);
            }
        });
    }

    /// Routes same-host answers that came by TCP to the calls waiting for them (once per node);
    /// those through shared memory go straight to [`Mesh::on_internal_response`].
    fn ensure_response_listener(&self) {
        if read(&self.local.subscriptions).contains_key(service_channel::RESPONSES) {
            return;
        }
        let queue = self.subscribe(Self::internal_topic(service_channel::RESPONSES));
        let mesh = self.me.clone();
        tokio::spawn(async move {
            while let Some(message) = queue.pop().await {
                let Some(mesh) = mesh.upgrade() else { return };
                mesh.on_internal_response(message);
            }
        });
    }

    /// Runs the handler of one same-host request on the node's runtime and sends its answer.
    /// Requests are independent (answers are matched by id), so they need no ordering gate.
    pub(super) fn on_internal_request(&self, message: Received) {
        let Some(request) = service_channel::parse_request(&message.payload) else {
            tracing::warn!("malformed same-host service request skipped");
            return;
        };
        let Some(link) = read(&self.peers.links).get(&request.caller).cloned() else {
            return;
        };
        let Some(mesh) = self.me.upgrade() else {
            return;
        };
        let (handler, inline) = read(&self.calls.table)
            .get(&request.service)
            .map_or((None, false), |s| (Some(s.handler.clone()), s.inline));
        let caller_name = link.peer.node_name.clone();
        let run: BoxFuture<Answer> = match handler {
            Some(_) if !self.peer_may(&caller_name, Verb::Call, &request.service) => {
                self.say_denied(&caller_name, Verb::Call, &request.service);
                let text = denied_text(&caller_name, &request.service);
                Box::pin(async move { Err((ResponseError::Denied, text)) })
            }
            Some(handler) => handler(message.codec, request.payload),
            None => {
                let text = format!(
                    "node {} does not provide service {:?}",
                    mesh.hello.node_name, request.service
                );
                Box::pin(async move { Err((ResponseError::NoSuchService, text)) })
            }
        };
        let serving = Box::pin(mesh.serve_once(request.caller, request.id, run, link, true));
        if inline {
            // Answered from this thread (the shared-memory reader's): no hand-over to the
            // runtime, one wake-up less a call. Tokio's timers and spawns work inside; a part
            // that must wait (a full ring) goes on in the runtime, which polls it again.
            let _runtime = self.runtime.enter();
            let mut serving = serving;
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            if serving.as_mut().poll(&mut cx).is_pending() {
                self.runtime.spawn(serving);
            }
            return;
        }
        self.runtime.spawn(serving);
    }

    /// Completes the call one same-host answer is for.
    pub(super) fn on_internal_response(&self, message: Received) {
        let Some((id, status, payload)) = service_channel::parse_response(&message.payload) else {
            tracing::warn!("malformed same-host service response skipped");
            return;
        };
        let Some(call) = lock(&self.calls.pending).remove(&id) else {
            return;
        };
        let result = match status {
            None => Ok((message.codec, payload)),
            Some(kind) => Err(response_error(
                &call.service,
                &self.hello.domain,
                kind,
                String::from_utf8_lossy(&payload).into_owned(),
            )),
        };
        let _ = call.reply.send(CallEvent::Done(result));
    }
}

fn error_frame(id: u64, kind: ResponseError, text: &str) -> Frame {
    let mut payload = Vec::with_capacity(1 + text.len());
    payload.push(kind as u8);
    payload.extend_from_slice(text.as_bytes());
    Frame::new(
        FrameKind::ResponseError,
        CodecId::Raw,
        id,
        "",
        Bytes::from(payload),
    )
}

fn response_error(service: &str, domain: &str, kind: ResponseError, text: String) -> Error {
    let service = service.to_string();
    match kind {
        ResponseError::Handler => Error::Handler {
            service,
            message: text,
        },
        ResponseError::NoSuchService => {
            tracing::debug!("{text}");
            Error::NoProvider {
                service,
                domain: domain.to_string(),
            }
        }
        ResponseError::CodecMismatch => Error::CodecMismatch {
            name: service,
            detail: text,
        },
        ResponseError::Denied => Error::Refused {
            service,
            reason: text,
        },
    }
}

/// What a caller the ACL refuses is told.
fn denied_text(caller: &str, service: &str) -> String {
    format!("the domain's ACL does not let node {caller:?} call {service:?}")
}
