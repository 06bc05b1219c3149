//! The DDS side of service routes: a ros2-client server or client per route (made on the DDS
//! thread), and the tasks that pass calls and answers between it and the rosy side. Never
//! touches the rosy node.

use super::{Spawner, dds, ros2_name};
use crate::bad::BadSamples;
use crate::cdr::RawBody;
use crate::crossing::{Answer, Call, ROS2_CALL_BOUND};
use crate::error::Ros2Error;
use crate::routes::{Ros2Service, ServiceRoute};
use crate::types::{Outcome, SetBoolRequest, TriggerRequest};
use futures::StreamExt;
use ros2_client::{
    QosProfile, ServiceMapping,
    qos::{Durability, History, WhenFull},
};
use tokio::sync::mpsc;

/// The ROS 2 end of one service route.
pub(crate) enum RosService {
    /// Serves the ROS 2 service, passing each call to the rosy side.
    Server(mpsc::Sender<Call>),
    /// Calls the ROS 2 service for what the rosy side passes.
    Client(mpsc::Receiver<Call>),
}

/// The QoS of services: rclpy's default (`rmw_qos_profile_services_default`: reliable,
/// volatile, keep last 10). A reliable reader matches reliable writers only.
fn service_qos() -> QosProfile {
    QosProfile::publisher_default()
        .reliability_reliable(WhenFull::DEFAULT)
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: 10 })
}

/// A server or client made on the DDS thread, waiting for its task.
pub(super) enum ServiceEntity {
    SetBoolServer(
        ros2_client::Server<SetBoolRequest, Outcome>,
        mpsc::Sender<Call>,
        String,
    ),
    TriggerServer(
        ros2_client::Server<TriggerRequest, Outcome>,
        mpsc::Sender<Call>,
        String,
    ),
    SetBoolClient(
        ros2_client::Client<SetBoolRequest, Outcome>,
        mpsc::Receiver<Call>,
        String,
    ),
    TriggerClient(
        ros2_client::Client<TriggerRequest, Outcome>,
        mpsc::Receiver<Call>,
        String,
    ),
    OpaqueServer(
        ros2_client::Server<RawBody, RawBody>,
        mpsc::Sender<Call>,
        String,
    ),
    OpaqueClient(
        ros2_client::Client<RawBody, RawBody>,
        mpsc::Receiver<Call>,
        String,
    ),
}

/// Makes the server or client of `route` (before any task runs: it needs the node mutably).
pub(super) fn make_service(
    node: &mut ros2_client::Node,
    route: &ServiceRoute,
    end: RosService,
) -> Result<ServiceEntity, Ros2Error> {
    let qos = service_qos();
    let service = ros2_name(&route.ros2_service)?;
    let kind = route.ros2_type.dds_type();
    let what = format!("{:?} of service {}", route.direction, route.ros2_service);
    let name = route.ros2_service.clone();
    // Enhanced: the request id travels in the sample's identity, as Fast DDS and Cyclone DDS
    // expect of ROS 2 Jazzy.
    let mapping = ServiceMapping::Enhanced;
    Ok(match (end, &route.ros2_type) {
        (RosService::Server(tx), Ros2Service::SetBool) => ServiceEntity::SetBoolServer(
            node.create_server(mapping, &service, &kind, qos.clone(), qos)
                .map_err(dds(what))?,
            tx,
            name,
        ),
        (RosService::Server(tx), Ros2Service::Trigger) => ServiceEntity::TriggerServer(
            node.create_server(mapping, &service, &kind, qos.clone(), qos)
                .map_err(dds(what))?,
            tx,
            name,
        ),
        (RosService::Client(rx), Ros2Service::SetBool) => ServiceEntity::SetBoolClient(
            node.create_client(mapping, &service, &kind, qos.clone(), qos)
                .map_err(dds(what))?,
            rx,
            name,
        ),
        (RosService::Client(rx), Ros2Service::Trigger) => ServiceEntity::TriggerClient(
            node.create_client(mapping, &service, &kind, qos.clone(), qos)
                .map_err(dds(what))?,
            rx,
            name,
        ),
        (RosService::Server(tx), Ros2Service::Opaque { .. }) => ServiceEntity::OpaqueServer(
            node.create_server(mapping, &service, &kind, qos.clone(), qos)
                .map_err(dds(what))?,
            tx,
            name,
        ),
        (RosService::Client(rx), Ros2Service::Opaque { .. }) => ServiceEntity::OpaqueClient(
            node.create_client(mapping, &service, &kind, qos.clone(), qos)
                .map_err(dds(what))?,
            rx,
            name,
        ),
    })
}

/// Starts the task of a server or client.
pub(super) fn spawn_service(spawner: &Spawner<'_, '_>, entity: ServiceEntity) {
    match entity {
        ServiceEntity::SetBoolServer(server, tx, name) => spawn_server(
            spawner,
            server,
            tx,
            name,
            |req: SetBoolRequest, answer| Call::SetBool(req.data, answer),
            failed_outcome,
        ),
        ServiceEntity::TriggerServer(server, tx, name) => spawn_server(
            spawner,
            server,
            tx,
            name,
            |_: TriggerRequest, answer| Call::Trigger(answer),
            failed_outcome,
        ),
        ServiceEntity::OpaqueServer(server, tx, name) => spawn_server(
            spawner,
            server,
            tx,
            name,
            Call::Opaque,
            // A response of a type rosy does not know cannot say it failed: the ROS 2 caller
            // gets none (its own timeout tells it), and the bridge logs why.
            |_| None,
        ),
        ServiceEntity::OpaqueClient(client, rx, name) => {
            spawn_client(spawner, client, rx, name, |call| match call {
                Call::Opaque(body, answer) => Some((body, answer)),
                _ => None,
            })
        }
        ServiceEntity::SetBoolClient(client, rx, name) => {
            spawn_client(spawner, client, rx, name, |call| match call {
                Call::SetBool(data, answer) => Some((SetBoolRequest { data }, answer)),
                _ => None,
            })
        }
        ServiceEntity::TriggerClient(client, rx, name) => {
            spawn_client(spawner, client, rx, name, |call| match call {
                Call::Trigger(answer) => Some((TriggerRequest::default(), answer)),
                _ => None,
            })
        }
    }
}

/// A failed call of a service answering an [`Outcome`]: `success: false` and why.
fn failed_outcome(why: String) -> Option<Outcome> {
    Some(Outcome {
        success: false,
        message: why,
    })
}

/// Serves a ROS 2 service on the DDS thread: each request, made a [`Call`] by `call`, goes to
/// the rosy side, and its answer (or why there is none) back to the ROS 2 caller.
fn spawn_server<Req, Resp>(
    spawner: &Spawner<'_, '_>,
    server: ros2_client::Server<Req, Resp>,
    to_rosy: mpsc::Sender<Call>,
    service: String,
    call: fn(Req, Answer<Resp>) -> Call,
    failed: fn(String) -> Option<Resp>,
) where
    Req: ros2_client::Message + 'static,
    Resp: ros2_client::Message + 'static,
{
    spawner
        .executor
        .spawn(async move {
            let mut requests = std::pin::pin!(server.receive_request_stream());
            let mut bad = BadSamples::new(&service, "its request type");
            while let Some(next) = requests.next().await {
                let (id, request) = match next {
                    Ok(next) => next,
                    Err(e) => {
                        bad.skip(&e);
                        continue;
                    }
                };
                let (answer, answered) = futures::channel::oneshot::channel();
                if to_rosy.send(call(request, answer)).await.is_err() {
                    break;
                }
                let response = match answered.await {
                    Ok(Ok(response)) => response,
                    Ok(Err(why)) => match failed(why.clone()) {
                        Some(response) => response,
                        None => {
                            tracing::warn!("ROS 2 service {service}: no response: {why}");
                            continue;
                        }
                    },
                    Err(_) => break,
                };
                if let Err(e) = server.async_send_response(id, response).await {
                    tracing::warn!("ROS 2 service {service}: response not sent: {e}");
                }
            }
        })
        .detach();
}

/// Calls a ROS 2 service on the DDS thread for each call the rosy side passes, once the
/// service is there (a call waits for it rather than being sent to nobody), each bounded by
/// [`ROS2_CALL_BOUND`]; never sent twice.
fn spawn_client<Req, Resp>(
    spawner: &Spawner<'_, '_>,
    client: ros2_client::Client<Req, Resp>,
    mut from_rosy: mpsc::Receiver<Call>,
    service: String,
    request: fn(Call) -> Option<(Req, Answer<Resp>)>,
) where
    Req: ros2_client::Message + Clone + 'static,
    Resp: ros2_client::Message + 'static,
{
    let node = spawner.node;
    spawner
        .executor
        .spawn(async move {
            client.wait_for_service(node).await;
            while let Some(call) = from_rosy.recv().await {
                let Some((req, answer)) = request(call) else {
                    continue;
                };
                let called = client.async_call_service(req);
                let bound = async {
                    smol::Timer::after(ROS2_CALL_BOUND).await;
                };
                let result =
                    match futures::future::select(std::pin::pin!(called), std::pin::pin!(bound))
                        .await
                    {
                        futures::future::Either::Left((Ok(outcome), _)) => Ok(outcome),
                        futures::future::Either::Left((Err(e), _)) => {
                            Err(format!("ROS 2 service {service} failed: {e:?}"))
                        }
                        futures::future::Either::Right(_) => Err(format!(
                            "ROS 2 service {service} did not answer within {ROS2_CALL_BOUND:?}"
                        )),
                    };
                let _ = answer.send(result);
            }
        })
        .detach();
}
