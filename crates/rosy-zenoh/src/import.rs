//! What comes into a site: a topic's messages from zenoh, published on the mesh by the
//! bridge's importing node (which never routes them to a bridge's exporting node, so nothing
//! goes back out), written straight into shared memory for same-host listeners; and services
//! of other sites, offered on the mesh by the importing node, each call made as a zenoh query.
//! Nothing here decides what comes in (`bridge` does) or sends anything out (`export`).

use crate::forwarded::Forwarded;
use crate::keys::{service_key, topic_key};
use crate::shared::Shared;
use crate::stamp::{CodecName, Stamp, check_payload, encoding_of};
use bytes::Bytes;
use rosy::codec_id::CodecId;
use rosy::node::{Publisher, Received};
use rosy::qos::{Durability, Qos};
use std::sync::Arc;
use std::time::Duration;
use zenoh::handlers::FifoChannel;
use zenoh::query::QueryTarget;
use zenoh::sample::{Locality, Sample};

/// Samples of a topic waiting for the mesh.
const ROOM: usize = 64;

/// A topic brought into the site, as its local listeners want it.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicIn {
    pub topic: String,
    pub qos: Qos,
}

/// Brings `route`'s messages into the mesh until aborted.
pub async fn import_topic(shared: Arc<Shared>, route: TopicIn) {
    if let Err(e) = run_topic(&shared, &route).await {
        tracing::warn!("zenoh bridge: topic {} is not brought in: {e}", route.topic);
    }
}

async fn run_topic(shared: &Shared, route: &TopicIn) -> Result<(), String> {
    let key = topic_key(&shared.domain, &route.topic);
    let subscriber = shared
        .session
        .declare_subscriber(key.clone())
        .allowed_origin(Locality::Remote)
        .with(FifoChannel::new(ROOM))
        .await
        .map_err(|e| e.to_string())?;
    let mut incoming = Incoming {
        shared,
        route,
        publishers: Vec::new(),
        last: None,
    };
    if route.qos.durability == Durability::TransientLocal {
        // Latched: what the other sites' bridges kept of the topic comes first (they answer
        // queries on the topic's key with it), then what is published from now on. The
        // importing publisher is transient-local too, so later local listeners get it.
        match shared
            .session
            .get(key.clone())
            .target(QueryTarget::All)
            .allowed_destination(Locality::Remote)
            .timeout(HISTORY_BOUND)
            .await
        {
            Ok(replies) => {
                while let Ok(reply) = replies.recv_async().await {
                    if let Ok(sample) = reply.result() {
                        incoming.take(sample).await?;
                    }
                }
            }
            Err(e) => tracing::warn!(
                "zenoh bridge: the history of {} was not asked for: {e}",
                route.topic
            ),
        }
    }
    while let Ok(sample) = subscriber.recv_async().await {
        incoming.take(&sample).await?;
    }
    Ok(())
}

/// How long a topic's history is waited for from other sites.
const HISTORY_BOUND: Duration = Duration::from_secs(5);

/// A topic's samples coming in: read, checked, published on the mesh.
struct Incoming<'a> {
    shared: &'a Shared,
    route: &'a TopicIn,
    /// One publisher per codec and type the topic's samples come in (usually one).
    publishers: Vec<(PublisherKey, Publisher<[u8], Forwarded>)>,
    /// A topic's samples carry the same stamp, message after message: it is read, and its
    /// publisher found, once.
    last: Option<Accepted>,
}

/// What a topic's publishers are told apart by: the codec and the type name.
type PublisherKey = (CodecName, String);

/// A stamp read, with what it decided.
struct Accepted {
    /// The attachment it was read from.
    attachment: Vec<u8>,
    origin: String,
    codec: CodecName,
    /// Its publisher, in `Incoming::publishers`.
    publisher: usize,
}

impl Incoming<'_> {
    /// Publishes `sample` on the mesh, or drops it (said once per key and kind). Err only when
    /// the mesh refuses the topic itself.
    async fn take(&mut self, sample: &Sample) -> Result<(), String> {
        let shared = self.shared;
        let sample_key = sample.key_expr().as_str();
        let attachment = sample.attachment().map(|a| a.to_bytes());
        let known = matches!(
            (&self.last, attachment.as_deref()),
            (Some(last), Some(bytes)) if last.attachment == bytes
        );
        if !known {
            match self.accept(attachment.as_deref(), sample).await {
                Ok(accepted) => self.last = Some(accepted),
                Err(why) => {
                    shared.dropped.drop_one(sample_key, &why);
                    return Ok(());
                }
            }
        }
        let Some(last) = &self.last else {
            return Ok(());
        };
        if shared.is_own_origin(&last.origin) {
            // Sent from this mesh by another of its bridges: it is already here.
            return Ok(());
        }
        let payload = sample.payload();
        if matches!(last.codec.id, CodecId::Json | CodecId::MsgPack) {
            if let Err(why) = check_payload(last.codec.id, &payload.to_bytes()) {
                let why = format!("its payload is not {}: {why}", last.codec.name);
                shared.dropped.drop_one(sample_key, &why);
                return Ok(());
            }
        }
        let publisher = &self.publishers[last.publisher].1;
        // One copy, from zenoh's buffers into the loan (shared memory when same-host nodes
        // listen).
        let mut loan = publisher.loan(payload.len());
        let mut at = 0;
        for slice in payload.slices() {
            loan[at..at + slice.len()].copy_from_slice(slice);
            at += slice.len();
        }
        if let Err(e) = loan.send().await {
            tracing::debug!(
                "zenoh bridge: a message of {} not sent on: {e}",
                self.route.topic
            );
        }
        Ok(())
    }

    /// Reads a stamp not seen last: its codec, and the publisher of its codec and type (made
    /// if new). A sample without an attachment (a plain zenoh program's) is read afresh each
    /// time. Err says why the sample is dropped (a publisher the mesh refuses included).
    async fn accept(
        &mut self,
        attachment: Option<&[u8]>,
        sample: &Sample,
    ) -> Result<Accepted, String> {
        let stamp = Stamp::read(attachment, Some(sample.encoding()))?;
        let codec = stamp.codec()?;
        let key = (codec.clone(), stamp.type_name.clone());
        let publisher = match self.publishers.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                let type_name = if stamp.type_name.is_empty() {
                    format!("({} from zenoh)", codec.name)
                } else {
                    stamp.type_name.clone()
                };
                let publisher = self
                    .shared
                    .importer
                    .encoded_publisher(
                        &self.route.topic,
                        Forwarded(codec.clone()),
                        &type_name,
                        self.route.qos,
                    )
                    .await
                    .map_err(|e| format!("the mesh refuses its publisher: {e}"))?;
                self.publishers.push((key, publisher));
                self.publishers.len() - 1
            }
        };
        Ok(Accepted {
            attachment: attachment.map(<[u8]>::to_vec).unwrap_or_default(),
            origin: stamp.origin,
            codec,
            publisher,
        })
    }
}

/// Offers `info`, a service of another site, on the mesh: each call becomes a zenoh query.
pub async fn import_service(
    shared: &Arc<Shared>,
    info: rosy::topology::ServiceInfo,
) -> Result<(), rosy::Error> {
    let key = service_key(&shared.domain, &info.name);
    let weak = Arc::downgrade(shared);
    let name = info.name.clone();
    shared
        .importer
        .add_service_encoded(info, move |request: Received| {
            let weak = weak.clone();
            let key = key.clone();
            let name = name.clone();
            async move {
                let Some(shared) = weak.upgrade() else {
                    return Err(rosy::ServiceError::msg("the zenoh bridge stopped"));
                };
                call_remote(&shared, &key, &name, request).await
            }
        })
        .await
}

async fn call_remote(
    shared: &Shared,
    key: &str,
    service: &str,
    request: Received,
) -> Result<Received, rosy::ServiceError> {
    let codec = CodecName {
        id: request.codec,
        name: request.codec.name().to_string(),
    };
    let bound = shared.config.call_bound();
    let replies = shared
        .session
        .get(key)
        .payload(zenoh::bytes::ZBytes::from(request.payload))
        .encoding(encoding_of(request.codec))
        .attachment(
            Stamp::new(&codec, "", &shared.exporter.id())
                .within(bound)
                .to_bytes(),
        )
        .allowed_destination(Locality::Remote)
        .timeout(bound)
        .await
        .map_err(|e| rosy::ServiceError::msg(format!("zenoh: {e}")))?;
    let Ok(reply) = replies.recv_async().await else {
        return Err(rosy::ServiceError::msg(format!(
            "no site answered a call of {service} through zenoh within {:?} (the bridge's \
             call_timeout)",
            bound
        )));
    };
    match reply.into_result() {
        Ok(sample) => {
            let attachment = sample.attachment().map(|a| a.to_bytes());
            let codec = Stamp::read(attachment.as_deref(), Some(sample.encoding()))
                .and_then(|s| s.codec())
                .map_err(|why| {
                    rosy::ServiceError::msg(format!("the answer of {service} was dropped: {why}"))
                })?;
            Ok(Received {
                codec: codec.id,
                payload: Bytes::from(sample.payload().to_bytes().into_owned()),
            })
        }
        Err(error) => Err(rosy::ServiceError::msg(
            error
                .payload()
                .try_to_string()
                .map(|s| s.into_owned())
                .unwrap_or_else(|_| format!("{service} failed at the other site")),
        )),
    }
}
