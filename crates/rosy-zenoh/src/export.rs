//! What leaves a site: a topic's messages, read by the bridge's exporting node and put on the
//! topic's zenoh key (only while some zenoh subscriber matches it, at most at the topic's rate
//! limit, the newest kept); a service's calls from other sites, taken by a zenoh queryable and
//! made to the local service. Nothing here decides which topics or services leave (`bridge`
//! does) or brings anything in (`import`).

use crate::config::MAX_CALL_TIMEOUT;
use crate::keys::{service_key, topic_key};
use crate::shared::{Shared, lock};
use crate::stamp::{CodecName, Stamp, encoding_of};
use bytes::Bytes;
use rosy::codec_id::CodecId;
use rosy::qos::{Qos, Reliability};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use zenoh::bytes::ZBytes;
use zenoh::qos::CongestionControl;
use zenoh::sample::Locality;

/// A topic that leaves the site, as the bridge found it announced by its local publishers.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicOut {
    pub topic: String,
    pub reliable: bool,
    pub type_name: String,
    /// A custom codec's name, announced by its publisher.
    pub codec_name: String,
    /// The shortest time between two messages leaving, if it is limited.
    pub min_period: Option<Duration>,
    /// Latched (a local publisher is transient-local): how many of the last messages the
    /// bridge keeps for other sites' bridges that join later.
    pub history: Option<usize>,
}

/// The most messages of a latched topic a bridge keeps.
pub const HISTORY_MAX: usize = 64;

/// A latched topic's last messages, as they left: (payload, codec, stamp). The payload is the
/// message's own buffer (handed to zenoh as it is when a query is answered), the stamp shared.
type History = Arc<Mutex<VecDeque<(bytes::Bytes, CodecId, ZBytes)>>>;

/// Aborts a task when dropped (the export task's helpers end with it).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends `route`'s messages to zenoh until aborted.
pub async fn export_topic(shared: Arc<Shared>, route: TopicOut) {
    if let Err(e) = run_topic(&shared, &route).await {
        tracing::warn!(
            "zenoh bridge: topic {} does not leave the site: {e}",
            route.topic
        );
    }
}

async fn run_topic(shared: &Shared, route: &TopicOut) -> Result<(), String> {
    let key = topic_key(&shared.domain, &route.topic);
    let publisher = shared
        .session
        .declare_publisher(key.clone())
        .congestion_control(if route.reliable {
            CongestionControl::Block
        } else {
            CongestionControl::Drop
        })
        .allowed_destination(Locality::Remote)
        .await
        .map_err(|e| e.to_string())?;
    // Nothing is copied for zenoh while no zenoh subscriber wants the topic.
    let matching = Arc::new(AtomicBool::new(false));
    let flag = matching.clone();
    publisher
        .matching_listener()
        .callback(move |status| flag.store(status.matching(), Ordering::Relaxed))
        .background()
        .await
        .map_err(|e| e.to_string())?;
    // A limited topic keeps only the newest message; a best-effort one a few; a reliable one
    // waits for zenoh as its publisher asked.
    let mut qos = match (route.min_period, route.reliable) {
        (Some(_), _) => Qos::keep_last(1),
        (None, true) => Qos::keep_last(64).reliable(),
        (None, false) => Qos::keep_last(16),
    };
    // A latched topic: the publisher's history comes to the bridge when it subscribes, and
    // the bridge keeps it for other sites, answering their queries on the topic's key.
    let history: History = Arc::new(Mutex::new(VecDeque::new()));
    let mut _answering = None;
    if let Some(depth) = route.history {
        qos = Qos::keep_last(depth as u32).transient_local();
        if route.reliable {
            qos = qos.reliable();
        }
        let queryable = remote_queryable(shared, &key).await?;
        let kept = history.clone();
        _answering = Some(AbortOnDrop(tokio::spawn(async move {
            while let Ok(query) = queryable.recv_async().await {
                let messages: Vec<_> = lock(&kept).iter().cloned().collect();
                for (payload, codec, stamp) in messages {
                    let _ = query
                        .reply(query.key_expr().clone(), ZBytes::from(payload))
                        .encoding(encoding_of(codec))
                        .attachment(stamp)
                        .await;
                }
            }
        })));
    }
    let mut subscriber = shared
        .exporter
        .subscriber_with_qos::<()>(&route.topic, qos)
        .await
        .map_err(|e| e.to_string())?;
    // A stamp per codec the topic's messages come in, made once; each message shares it.
    let mut stamps: Vec<(CodecId, ZBytes)> = Vec::new();
    let origin = shared.exporter.id();
    let mut put = async |message: rosy::node::Received| {
        if route.history.is_none() && !matching.load(Ordering::Relaxed) {
            return;
        }
        let stamp = match stamps.iter().find(|(id, _)| *id == message.codec) {
            Some((_, stamp)) => stamp.clone(),
            None => {
                let name = if message.codec == CodecId::Custom {
                    route.codec_name.clone()
                } else {
                    message.codec.name().to_string()
                };
                let codec = CodecName {
                    id: message.codec,
                    name,
                };
                let stamp = ZBytes::from(Stamp::new(&codec, &route.type_name, &origin).to_bytes());
                stamps.push((message.codec, stamp.clone()));
                stamp
            }
        };
        if let Some(depth) = route.history {
            let mut kept = lock(&history);
            if kept.len() == depth {
                kept.pop_front();
            }
            kept.push_back((message.payload.clone(), message.codec, stamp.clone()));
        }
        if !matching.load(Ordering::Relaxed) {
            return;
        }
        let sent = publisher
            .put(ZBytes::from(message.payload))
            .encoding(encoding_of(message.codec))
            .attachment(stamp)
            .await;
        if let Err(e) = sent {
            tracing::debug!("zenoh bridge: a message of {} not put: {e}", route.topic);
        }
    };
    let Some(period) = route.min_period else {
        while let Some(message) = subscriber.recv_encoded().await {
            put(message).await;
        }
        return Ok(());
    };
    // Rate-limited: a message that comes before its slot waits for it; a newer one replaces
    // it (the newest is what a remote viewer wants).
    let mut next_slot = Instant::now();
    let mut waiting: Option<rosy::node::Received> = None;
    loop {
        tokio::select! {
            message = subscriber.recv_encoded() => {
                let Some(message) = message else { return Ok(()) };
                if waiting.is_none() && Instant::now() >= next_slot {
                    next_slot = Instant::now() + period;
                    put(message).await;
                } else {
                    waiting = Some(message);
                }
            }
            () = tokio::time::sleep_until(next_slot), if waiting.is_some() => {
                next_slot = Instant::now() + period;
                if let Some(message) = waiting.take() {
                    put(message).await;
                }
            }
        }
    }
}

/// A service other sites may call, as its local providers announce it.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceOut {
    pub info: rosy::topology::ServiceInfo,
}

/// Answers other sites' calls of `route`'s service until aborted.
pub async fn export_service(shared: Arc<Shared>, route: ServiceOut) {
    if let Err(e) = run_service(shared, &route).await {
        tracing::warn!(
            "zenoh bridge: service {} is not offered to other sites: {e}",
            route.info.name
        );
    }
}

async fn run_service(shared: Arc<Shared>, route: &ServiceOut) -> Result<(), String> {
    let key = service_key(&shared.domain, &route.info.name);
    let queryable = remote_queryable(&shared, &key).await?;
    while let Ok(query) = queryable.recv_async().await {
        let shared = shared.clone();
        let service = route.info.name.clone();
        let key = key.clone();
        tokio::spawn(async move {
            let stamp = Stamp::read(
                query.attachment().map(|a| a.to_bytes()).as_deref(),
                query.encoding(),
            );
            let checked = stamp.and_then(|s| Ok((s.codec()?, s.bound(MAX_CALL_TIMEOUT))));
            let (codec, bound) = match checked {
                Ok((codec, bound)) => (codec, bound.unwrap_or(shared.config.call_bound())),
                Err(why) => {
                    shared.dropped.drop_one(&key, &why);
                    let _ = query
                        .reply_err(format!("the call was dropped: {why}"))
                        .await;
                    return;
                }
            };
            let payload = query
                .payload()
                .map(|p| Bytes::from(p.to_bytes().into_owned()))
                .unwrap_or_default();
            match shared
                .exporter
                .call_encoded(&service, codec.id, payload, bound)
                .await
            {
                Ok(answer) => {
                    let name = if answer.codec == codec.id {
                        codec.name.clone()
                    } else {
                        answer.codec.name().to_string()
                    };
                    let stamp = Stamp::new(
                        &CodecName {
                            id: answer.codec,
                            name,
                        },
                        "",
                        &shared.exporter.id(),
                    );
                    let _ = query
                        .reply(query.key_expr().clone(), ZBytes::from(answer.payload))
                        .encoding(encoding_of(answer.codec))
                        .attachment(stamp.to_bytes())
                        .await;
                }
                Err(e) => {
                    let _ = query.reply_err(e.to_string()).await;
                }
            }
        });
    }
    Ok(())
}

/// A queryable on `key` that answers other sessions only (a session's own queries, from its
/// importing side, never reach its exporting side).
async fn remote_queryable(
    shared: &Shared,
    key: &str,
) -> Result<zenoh::query::Queryable<zenoh::handlers::FifoChannelHandler<zenoh::query::Query>>, String>
{
    shared
        .session
        .declare_queryable(key.to_string())
        .allowed_origin(Locality::Remote)
        .await
        .map_err(|e| e.to_string())
}

/// Whether a local publisher's QoS asks that nothing be lost.
pub fn is_reliable(qos: &Qos) -> bool {
    qos.reliability == Reliability::Reliable
}
