//! Service calls: the services this node provides, calls to providers (load-balanced; same-host
//! ones as internal topics through shared memory, others as TCP request frames), serving the
//! calls that arrive and matching answers to the calls waiting for them.
//!
//! This file never dials or closes a connection (links') and never picks how bytes travel: a
//! same-host call goes out through routing's `publish_to`, a TCP one on the provider's link.

use super::{ErasedHandler, Mesh, lock, read, write};
use crate::codec::CodecId;
use crate::error::{Error, Result};
use crate::node::queue::Received;
use crate::node::service_channel;
use crate::topology::{ServiceInfo, TopicInfo, TopicRole};
use crate::transport::tcp::frame::{Frame, FrameKind, ResponseError};
use crate::transport::tcp::link::{Link, LinkError};
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::oneshot;

pub(super) struct ServiceEntry {
    handler: ErasedHandler,
}

pub(super) struct PendingCall {
    pub(super) link: u64,
    pub(super) reply: oneshot::Sender<Result<(CodecId, Bytes)>>,
    pub(super) service: String,
}

impl Mesh {
    pub fn add_service(&self, info: ServiceInfo, handler: ErasedHandler) {
        self.ensure_request_listener();
        let name = info.name.clone();
        write(&self.services).insert(name, ServiceEntry { handler });
        self.update_own(|own| {
            own.services.retain(|s| s.name != info.name);
            own.services.push(info);
            own.services.sort_by(|a, b| a.name.cmp(&b.name));
        });
    }

    pub fn remove_service(&self, name: &str) -> bool {
        let removed = write(&self.services).remove(name).is_some();
        if removed {
            self.update_own(|own| own.services.retain(|s| s.name != name));
        }
        removed
    }

    /// Whether any node (this one included) hosts `service`.
    pub fn has_providers(&self, service: &str) -> bool {
        if read(&self.services).contains_key(service) {
            return true;
        }
        let links = read(&self.links);
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
        let local = read(&self.services).get(service).map(|s| s.handler.clone());
        let mut providers: Vec<(String, Option<Arc<Link>>)> = Vec::new();
        if local.is_some() {
            providers.push((self.hello.node_id.clone(), None));
        }
        {
            let links = read(&self.links);
            for info in read(&self.topology).providers(service) {
                if let Some(link) = links.get(&info.id) {
                    providers.push((info.id.clone(), Some(link.clone())));
                }
            }
        }
        providers.sort_by(|a, b| a.0.cmp(&b.0));
        let Some((_, link)) = self
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
        let id = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        lock(&self.pending).insert(
            id,
            PendingCall {
                link: link.id,
                reply,
                service: service.to_string(),
            },
        );
        let same_host = self.shm.is_some() && {
            let own_host = lock(&self.own).host_id.clone();
            read(&self.topology)
                .get(&link.peer.node_id)
                .is_some_and(|p| p.host_id == own_host && p.transports.iter().any(|t| t == "shm"))
        };
        if same_host {
            self.ensure_response_listener();
        }
        let outcome = tokio::time::timeout(timeout, async {
            let sent = if same_host {
                // Same host: the request and its answer travel as internal topics, through
                // shared memory once both sides read each other's segments (TCP until then).
                let request = service_channel::request(id, &self.hello.node_id, service, &payload);
                self.publish_to(service_channel::REQUESTS, codec, request, &link, timeout)
                    .await
            } else {
                let frame = Frame::new(FrameKind::Request, codec, id, service, payload);
                link.send(frame, timeout).await
            };
            if let Err(e) = sent {
                return Err(match e {
                    LinkError::Full(_) => Error::Timeout {
                        service: service.to_string(),
                        timeout,
                    },
                    _ => Error::ProviderGone {
                        service: service.to_string(),
                    },
                });
            }
            answer.await.unwrap_or(Err(Error::ProviderGone {
                service: service.to_string(),
            }))
        })
        .await;
        lock(&self.pending).remove(&id);
        outcome.unwrap_or(Err(Error::Timeout {
            service: service.to_string(),
            timeout,
        }))
    }

    pub(super) fn serve(self: &Arc<Self>, link: &Arc<Link>, frame: Frame) {
        let service = frame.name().to_string();
        let handler = read(&self.services)
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
        tokio::spawn(async move {
            let reply = match handler(frame.codec, frame.payload).await {
                Ok((codec, payload)) => Frame::new(FrameKind::Response, codec, id, "", payload),
                Err((kind, text)) => error_frame(id, kind, &text),
            };
            if let Err(e) = link.send(reply, Duration::from_secs(5)).await {
                tracing::debug!("reply to {} lost: {e}", link.peer.node_id);
            }
        });
    }

    pub(super) fn answer(&self, frame: Frame) {
        let Some(call) = lock(&self.pending).remove(&frame.id) else {
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
        let _ = call.reply.send(result);
    }

    fn internal_topic(name: &str) -> TopicInfo {
        TopicInfo {
            name: name.to_string(),
            role: TopicRole::Listen,
            codec: CodecId::Raw,
            codec_name: "raw".to_string(),
            type_name: String::new(),
        }
    }

    /// Serves same-host requests arriving on the internal requests topic by TCP, before both
    /// sides read each other's segments (once per node). Through shared memory they do not
    /// queue: the reader thread hands them to [`Mesh::on_internal_request`] itself.
    fn ensure_request_listener(&self) {
        if self.shm.is_none() || read(&self.subscriptions).contains_key(service_channel::REQUESTS) {
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
        if read(&self.subscriptions).contains_key(service_channel::RESPONSES) {
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
        let Some(link) = read(&self.links).get(&request.caller).cloned() else {
            return;
        };
        let Some(mesh) = self.me.upgrade() else {
            return;
        };
        let handler = read(&self.services)
            .get(&request.service)
            .map(|s| s.handler.clone());
        self.runtime.spawn(async move {
            let answer = match handler {
                Some(handler) => handler(message.codec, request.payload).await,
                None => Err((
                    ResponseError::NoSuchService,
                    format!(
                        "node {} does not provide service {:?}",
                        mesh.hello.node_name, request.service
                    ),
                )),
            };
            let (codec, response) = service_channel::response(request.id, answer);
            if let Err(e) = mesh
                .publish_to(
                    service_channel::RESPONSES,
                    codec,
                    response,
                    &link,
                    mesh.config.send_timeout,
                )
                .await
            {
                tracing::debug!("same-host reply lost: {e}");
            }
        });
    }

    /// Completes the call one same-host answer is for.
    pub(super) fn on_internal_response(&self, message: Received) {
        let Some((id, status, payload)) = service_channel::parse_response(&message.payload) else {
            tracing::warn!("malformed same-host service response skipped");
            return;
        };
        let Some(call) = lock(&self.pending).remove(&id) else {
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
        let _ = call.reply.send(result);
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
    }
}
