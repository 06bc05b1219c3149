//! The rosy side of a bridge: a publisher, subscriber, caller or service of the node per route,
//! run as tokio tasks, passing what crosses through the channels of `crossing`. Never touches
//! DDS.

use crate::crossing::{Answer, Call, Crossing};
use crate::error::Ros2Error;
use crate::routes::{Ros2Service, Ros2Type, ServiceRoute, TopicRoute};
use crate::types::Outcome;
use rosy::msgs::{ArchivedRawImage, RawImage};
use tokio::sync::mpsc;

/// The rosy side of a route from ROS 2: a publisher on the rosy topic, fed by the DDS thread.
pub(crate) async fn publish_on_rosy(
    node: &rosy::Node,
    route: &TopicRoute,
    mut from_ros: mpsc::Receiver<Crossing>,
) -> Result<impl std::future::Future<Output = ()> + Send + 'static, Ros2Error> {
    let topic = route.rosy_topic.clone();
    match route.ros2_type {
        Ros2Type::String => {
            let publisher = node.publisher::<String>(&topic).await?;
            Ok(futures::future::Either::Left(async move {
                while let Some(Crossing::Text(text)) = from_ros.recv().await {
                    if let Err(e) = publisher.send(&text).await {
                        tracing::warn!("rosy {topic}: a message from ROS 2 not sent: {e}");
                    }
                }
            }))
        }
        Ros2Type::Image => {
            let publisher = node.archive_publisher::<RawImage>(&topic).await?;
            Ok(futures::future::Either::Right(async move {
                while let Some(Crossing::Image(image)) = from_ros.recv().await {
                    // The pixels and a little room for the other fields and rkyv's layout.
                    let room =
                        image.data.0.len() + image.frame_id.len() + image.encoding.len() + 256;
                    if let Err(e) = publisher.send_archived(&image, room).await {
                        tracing::warn!("rosy {topic}: an image from ROS 2 not sent: {e}");
                    }
                }
            }))
        }
    }
}

/// The rosy side of a route to ROS 2: a subscriber of the rosy topic, feeding the DDS thread.
pub(crate) async fn read_from_rosy(
    node: &rosy::Node,
    route: &TopicRoute,
    to_ros: mpsc::Sender<Crossing>,
) -> Result<impl std::future::Future<Output = ()> + Send + 'static, Ros2Error> {
    let topic = route.rosy_topic.clone();
    match route.ros2_type {
        Ros2Type::String => {
            let mut subscriber = node.subscriber::<String>(&topic).await?;
            Ok(futures::future::Either::Left(async move {
                while let Some(text) = subscriber.recv().await {
                    if to_ros.send(Crossing::Text(text)).await.is_err() {
                        break;
                    }
                }
            }))
        }
        Ros2Type::Image => {
            let mut subscriber = node.subscriber::<()>(&topic).await?;
            Ok(futures::future::Either::Right(async move {
                while let Some(archive) = subscriber.recv_archived().await {
                    let image = match archive.access::<ArchivedRawImage>() {
                        Ok(archived) => {
                            match rkyv::deserialize::<RawImage, rkyv::rancor::Error>(archived) {
                                Ok(image) => image,
                                Err(e) => {
                                    tracing::warn!("rosy {topic}: not an image, not bridged: {e}");
                                    continue;
                                }
                            }
                        }
                        Err(e) => {
                            tracing::warn!("rosy {topic}: not an image, not bridged: {e}");
                            continue;
                        }
                    };
                    if to_ros.send(Crossing::Image(Box::new(image))).await.is_err() {
                        break;
                    }
                }
            }))
        }
    }
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
        let (result, answer) = match call {
            Call::SetBool(data, answer) => {
                (node.call::<bool, Outcome>(&service, &data).await, answer)
            }
            Call::Trigger(answer) => (node.call::<(), Outcome>(&service, &()).await, answer),
        };
        let _ = answer.send(result.map_err(|e| e.to_string()));
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
    match route.ros2_type {
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
    }
    Ok(())
}
