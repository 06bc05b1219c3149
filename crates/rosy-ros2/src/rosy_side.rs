//! The rosy side of a bridge: a publisher, subscriber, caller or service of the node per route,
//! run as tokio tasks, passing what crosses through the channels of `crossing`. Never touches
//! DDS.

use crate::bad::{BadMessages, BadSamples};
use crate::cdr::{Cdr, RawBody};
use crate::crossing::{Answer, Call};
use crate::error::Ros2Error;
use crate::routes::{Ros2Service, ServiceRoute, TopicRoute};
use crate::types::Outcome;
use bytes::Bytes;
use rosy::codec::{BuiltinCodec, Codec, CodecId};
use rosy::node::{Archivable, Archive, Received};
use serde::{Serialize, de::DeserializeOwned};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::mpsc;

/// A route's rosy side, running.
pub(crate) type Task = Pin<Box<dyn Future<Output = ()> + Send>>;
/// A route's rosy side, starting (its publisher or subscriber made first).
pub(crate) type Starting = Pin<Box<dyn Future<Output = Result<Task, Ros2Error>> + Send>>;

/// Room for the rkyv archive of a message that came as `cdr_len` bytes of CDR: strings and
/// byte arrays are inline in both, so the archive is about as long, plus its layout's padding.
fn archive_room(cdr_len: usize) -> usize {
    cdr_len + cdr_len / 8 + 1024
}

/// The rosy side of a route from ROS 2 whose type rosy carries in its serde codec: each sample
/// decoded as `R`, converted to `Y`, published.
pub(crate) async fn serde_from_ros2<R, Y>(
    node: rosy::Node,
    route: TopicRoute,
    mut from_ros: mpsc::Receiver<Cdr>,
) -> Result<Task, Ros2Error>
where
    R: DeserializeOwned + Send + 'static,
    Y: From<R> + Serialize + Send + Sync + 'static,
{
    let publisher = node
        .publisher_with_qos::<Y>(&route.rosy_topic, route.qos)
        .await?;
    Ok(Box::pin(async move {
        let mut bad = BadSamples::new(&route.ros2_topic, route.ros2_type.name());
        while let Some(cdr) = from_ros.recv().await {
            match cdr.decode::<R>() {
                Ok(ros) => {
                    if let Err(e) = publisher.send(&Y::from(ros)).await {
                        tracing::warn!(
                            "rosy {}: a message from ROS 2 not sent: {e}",
                            route.rosy_topic
                        );
                    }
                }
                Err(e) => bad.skip(&e),
            }
        }
    }))
}

/// The rosy side of a route from ROS 2 whose type rosy carries as an rkyv archive: each sample
/// decoded as `R`, converted to `Y`, written straight into shared memory when same-host nodes
/// listen.
pub(crate) async fn archived_from_ros2<R, Y>(
    node: rosy::Node,
    route: TopicRoute,
    mut from_ros: mpsc::Receiver<Cdr>,
) -> Result<Task, Ros2Error>
where
    R: DeserializeOwned + Send + 'static,
    Y: From<R> + Archivable + Send + Sync + 'static,
{
    let publisher = node
        .archive_publisher_with_qos::<Y>(&route.rosy_topic, route.qos)
        .await?;
    Ok(Box::pin(async move {
        let mut bad = BadSamples::new(&route.ros2_topic, route.ros2_type.name());
        while let Some(cdr) = from_ros.recv().await {
            let room = archive_room(cdr.bytes.len());
            match cdr.decode::<R>() {
                Ok(ros) => {
                    if let Err(e) = publisher.send_archived(&Y::from(ros), room).await {
                        tracing::warn!(
                            "rosy {}: a message from ROS 2 not sent: {e}",
                            route.rosy_topic
                        );
                    }
                }
                Err(e) => bad.skip(&e),
            }
        }
    }))
}

/// The rosy side of a route from ROS 2 whose type rosy does not know: each sample published as
/// it came, in ROS 2's serialized form (encapsulation header, then CDR), codec raw, announced
/// as the ROS 2 type.
pub(crate) async fn opaque_from_ros2(
    node: rosy::Node,
    route: TopicRoute,
    mut from_ros: mpsc::Receiver<Cdr>,
) -> Result<Task, Ros2Error> {
    let publisher = node
        .encoded_publisher(
            &route.rosy_topic,
            BuiltinCodec::Raw,
            &route.ros2_type.name(),
            route.qos,
        )
        .await?;
    Ok(Box::pin(async move {
        while let Some(cdr) = from_ros.recv().await {
            let serialized = Bytes::from(cdr.to_serialized());
            if let Err(e) = publisher.send_encoded(serialized).await {
                tracing::warn!(
                    "rosy {}: a message from ROS 2 not sent: {e}",
                    route.rosy_topic
                );
            }
        }
    }))
}

/// Decodes a rosy message in a serde codec (msgpack, JSON).
fn decode_serde<Y: DeserializeOwned>(received: &Received) -> Result<Y, String> {
    match BuiltinCodec::from_id(received.codec) {
        Some(codec) if received.codec != CodecId::Raw => {
            codec.decode(&received.payload).map_err(|e| e.to_string())
        }
        _ => Err(format!(
            "a {:?} message, not msgpack or JSON",
            received.codec
        )),
    }
}

/// Hands `cdr` to the DDS writer; false once the bridge is stopping.
async fn hand_over(to_ros: &mpsc::Sender<Cdr>, cdr: Cdr) -> bool {
    to_ros.send(cdr).await.is_ok()
}

/// A rosy message in a serde codec (msgpack or JSON, whichever its publisher used) as `Y`,
/// converted to `R` and encoded as CDR.
pub(crate) fn serde_to_cdr<R, Y>(received: &Received) -> Result<Cdr, String>
where
    R: Serialize + From<Y>,
    Y: DeserializeOwned,
{
    decode_serde::<Y>(received).and_then(|y| Cdr::encode(&R::from(y)).map_err(|e| e.to_string()))
}

/// A rosy message as an rkyv archive of `Y` (or msgpack or JSON), converted to `R` and encoded
/// as CDR.
pub(crate) fn archived_to_cdr<R, Y>(received: &Received) -> Result<Cdr, String>
where
    R: Serialize + From<Y>,
    Y: rkyv::Archive + DeserializeOwned,
    Y::Archived: rkyv::Portable
        + for<'a> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'a, rkyv::rancor::Error>>
        + rkyv::Deserialize<Y, rkyv::api::high::HighDeserializer<rkyv::rancor::Error>>,
{
    let value = if received.codec == CodecId::Rkyv {
        let archive = Archive::new(received.payload.clone());
        archive
            .access::<Y::Archived>()
            .map_err(|e| e.to_string())
            .and_then(|archived| {
                rkyv::deserialize::<Y, rkyv::rancor::Error>(archived).map_err(|e| e.to_string())
            })
    } else {
        decode_serde::<Y>(received)
    };
    value.and_then(|y| Cdr::encode(&R::from(y)).map_err(|e| e.to_string()))
}

/// The rosy side of a route to ROS 2 whose type rosy knows: each message converted by
/// `to_cdr` (once, whatever the number of ROS 2 subscribers) and handed to the DDS writer.
pub(crate) async fn converted_to_ros2(
    node: rosy::Node,
    route: TopicRoute,
    to_ros: mpsc::Sender<Cdr>,
    to_cdr: fn(&Received) -> Result<Cdr, String>,
) -> Result<Task, Ros2Error> {
    let mut subscriber = node
        .subscriber_with_qos::<()>(&route.rosy_topic, route.qos)
        .await?;
    Ok(Box::pin(async move {
        let mut bad = BadMessages::new(&route.rosy_topic, route.ros2_type.name());
        while let Some(received) = subscriber.recv_encoded().await {
            match to_cdr(&received) {
                Ok(cdr) => {
                    if !hand_over(&to_ros, cdr).await {
                        break;
                    }
                }
                Err(e) => bad.skip(&e),
            }
        }
    }))
}

/// The rosy side of a route to ROS 2 whose type rosy does not know: each message must be ROS
/// 2's serialized form (as a route from ROS 2 publishes it, or a bag replays it), passed on
/// unchanged.
pub(crate) async fn opaque_to_ros2(
    node: rosy::Node,
    route: TopicRoute,
    to_ros: mpsc::Sender<Cdr>,
) -> Result<Task, Ros2Error> {
    let mut subscriber = node
        .subscriber_with_qos::<()>(&route.rosy_topic, route.qos)
        .await?;
    Ok(Box::pin(async move {
        let mut bad = BadMessages::new(&route.rosy_topic, route.ros2_type.name());
        while let Some(received) = subscriber.recv_encoded().await {
            match Cdr::from_serialized(&received.payload) {
                Some(cdr) if !cdr.big_endian => {
                    if !hand_over(&to_ros, cdr).await {
                        break;
                    }
                }
                _ => bad.skip(&"not a ROS 2 serialized message (little-endian CDR)"),
            }
        }
    }))
}

/// The rosy side of a service ROS 2 clients call: each call from the DDS thread is made to the
/// rosy service, and its answer (or the error's text) passed back.
pub(crate) async fn call_rosy(
    node: rosy::Node,
    route: ServiceRoute,
    mut from_ros: mpsc::Receiver<Call>,
) {
    let service = route.rosy_service;
    while let Some(call) = from_ros.recv().await {
        match call {
            Call::SetBool(data, answer) => {
                let result = node.call::<bool, Outcome>(&service, &data).await;
                let _ = answer.send(result.map_err(|e| e.to_string()));
            }
            Call::Trigger(answer) => {
                let result = node.call::<(), Outcome>(&service, &()).await;
                let _ = answer.send(result.map_err(|e| e.to_string()));
            }
            Call::Opaque(request, answer) => {
                let _ = answer.send(call_opaque(&node, &service, request).await);
            }
        }
    }
}

/// Calls the rosy service of a type rosy has no form for: the request in ROS 2's serialized
/// form, codec raw; the response must be ROS 2's serialized form too.
async fn call_opaque(
    node: &rosy::Node,
    service: &str,
    request: RawBody,
) -> Result<RawBody, String> {
    let serialized = Cdr {
        big_endian: false,
        bytes: Bytes::from(request.0),
    }
    .to_serialized();
    let timeout = crate::crossing::ROS2_CALL_BOUND;
    let answer = node
        .call_encoded(service, CodecId::Raw, Bytes::from(serialized), timeout)
        .await
        .map_err(|e| e.to_string())?;
    match Cdr::from_serialized(&answer.payload) {
        Some(cdr) if !cdr.big_endian => Ok(RawBody(cdr.bytes.to_vec())),
        _ => Err(format!(
            "rosy service {service} answered {} bytes that are not a ROS 2 serialized message",
            answer.payload.len()
        )),
    }
}

/// The rosy side of a ROS 2 service rosy callers reach: a rosy service whose handler passes
/// each call to the DDS thread and answers what the ROS 2 service answered.
pub(crate) async fn provide_on_rosy(
    node: &rosy::Node,
    route: &ServiceRoute,
    to_ros: mpsc::Sender<Call>,
) -> Result<(), Ros2Error> {
    async fn relay(
        to_ros: mpsc::Sender<Call>,
        call: impl FnOnce(Answer) -> Call,
    ) -> Result<Outcome, rosy::ServiceError> {
        let (answer, answered) = futures::channel::oneshot::channel();
        to_ros
            .send(call(answer))
            .await
            .map_err(|_| rosy::ServiceError::msg("the ROS 2 bridge stopped"))?;
        match answered.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(why)) => Err(rosy::ServiceError::msg(why)),
            Err(_) => Err(rosy::ServiceError::msg("the ROS 2 bridge stopped")),
        }
    }
    match &route.ros2_type {
        Ros2Service::SetBool => {
            node.add_service(&route.rosy_service, move |data: bool| {
                relay(to_ros.clone(), move |answer| Call::SetBool(data, answer))
            })
            .await?
        }
        Ros2Service::Trigger => {
            node.add_service(&route.rosy_service, move |(): ()| {
                relay(to_ros.clone(), Call::Trigger)
            })
            .await?
        }
        kind @ Ros2Service::Opaque { .. } => {
            let type_name = kind.name();
            let info = rosy::topology::ServiceInfo {
                name: route.rosy_service.clone(),
                codec: CodecId::Raw,
                codec_name: "raw".into(),
                request_type: format!("{type_name} request (ROS 2 serialized)"),
                response_type: format!("{type_name} response (ROS 2 serialized)"),
            };
            node.add_service_encoded(info, move |request: Received| {
                let to_ros = to_ros.clone();
                async move {
                    let body = match Cdr::from_serialized(&request.payload) {
                        Some(cdr) if !cdr.big_endian => RawBody(cdr.bytes.to_vec()),
                        _ => {
                            return Err(rosy::ServiceError::msg(
                                "the request is not a ROS 2 serialized message (little-endian \
                                 CDR, encapsulation header first)",
                            ));
                        }
                    };
                    let (answer, answered) = futures::channel::oneshot::channel();
                    to_ros
                        .send(Call::Opaque(body, answer))
                        .await
                        .map_err(|_| rosy::ServiceError::msg("the ROS 2 bridge stopped"))?;
                    let response = match answered.await {
                        Ok(Ok(response)) => response,
                        Ok(Err(why)) => return Err(rosy::ServiceError::msg(why)),
                        Err(_) => return Err(rosy::ServiceError::msg("the ROS 2 bridge stopped")),
                    };
                    let serialized = Cdr {
                        big_endian: false,
                        bytes: Bytes::from(response.0),
                    }
                    .to_serialized();
                    Ok(Received {
                        codec: CodecId::Raw,
                        payload: Bytes::from(serialized),
                    })
                }
            })
            .await?
        }
    }
    Ok(())
}
