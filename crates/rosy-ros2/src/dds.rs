//! The DDS side of a bridge: one participant and ROS 2 node on a thread of its own, a reader,
//! writer, server or client per route, each run as a task on a small executor there
//! (ros2-client's futures), passing what crosses through the channels of `crossing`. Never
//! touches the rosy node.

use crate::bad::BadSamples;
use crate::cdr::{Cdr, CdrBytes};
use crate::crossing::{Answer, Call, ROS2_CALL_BOUND};
use crate::error::Ros2Error;
use crate::routes::{BridgeConfig, Ros2Service, ServiceRoute, TopicRoute};
use crate::types::{Outcome, SetBoolRequest, TriggerRequest};
use futures::StreamExt;
use ros2_client::{
    Context, ContextOptions, Name, NodeName, NodeOptions, QosProfile, ServiceMapping,
    qos::{Durability, History, WhenFull},
};
use rustdds::no_key::{DataWriter, SimpleDataReader};
use tokio::sync::mpsc;

/// The ROS 2 end of one route.
pub(crate) enum RosEnd {
    /// Reads the ROS 2 topic and hands its samples to the rosy side.
    Reader(mpsc::Sender<Cdr>),
    /// Takes samples from the rosy side and writes them to the ROS 2 topic.
    Writer(mpsc::Receiver<Cdr>),
}

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

/// A route's rosy QoS as ROS 2's: the same reliability, durability and history.
fn topic_qos(qos: &rosy::qos::Qos) -> QosProfile {
    let profile = QosProfile::publisher_default();
    let profile = match qos.reliability {
        rosy::qos::Reliability::Reliable => profile.reliability_reliable(WhenFull::DEFAULT),
        rosy::qos::Reliability::BestEffort => profile.reliability_best_effort(),
    };
    let profile = match qos.durability {
        rosy::qos::Durability::Volatile => profile.durability(Durability::Volatile),
        rosy::qos::Durability::TransientLocal => profile.durability(Durability::TransientLocal),
    };
    match qos.history {
        rosy::qos::History::KeepLast(depth) => profile.history(History::KeepLast {
            depth: depth.max(1) as usize,
        }),
        rosy::qos::History::KeepAll => profile.history(History::KeepAll),
    }
}

fn ros2_name(topic: &str) -> Result<Name, Ros2Error> {
    let full = if topic.starts_with('/') {
        topic.to_string()
    } else {
        format!("/{topic}")
    };
    Name::parse(&full)
        .map_err(|e| Ros2Error::Config(format!("{topic:?} is not a ROS 2 topic name: {e:?}")))
}

fn dds<E: std::fmt::Debug>(what: impl Into<String>) -> impl FnOnce(E) -> Ros2Error {
    let what = what.into();
    move |e| Ros2Error::Dds {
        what,
        reason: format!("{e:?}"),
    }
}

/// A reader, writer, server or client made on the DDS thread, waiting for its task.
enum Entity {
    Reader(
        SimpleDataReader<Cdr, CdrBytes>,
        mpsc::Sender<Cdr>,
        BadSamples,
    ),
    Writer(DataWriter<Cdr, CdrBytes>, mpsc::Receiver<Cdr>, String),
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
}

/// The participant and the bridge's ROS 2 node.
fn make_node(config: &BridgeConfig) -> Result<(Context, ros2_client::Node), Ros2Error> {
    let context = Context::with_options(ContextOptions::new().domain_id(config.ros_domain_id))
        .map_err(dds("the DDS participant"))?;
    let name = NodeName::new("/", &config.node_name).map_err(|e| {
        Ros2Error::Config(format!(
            "{:?} is not a ROS 2 node name: {e:?}",
            config.node_name
        ))
    })?;
    let node = context
        .new_node(name, NodeOptions::new().enable_rosout(false))
        .map_err(dds("the ROS 2 node"))?;
    Ok((context, node))
}

/// Every reader, writer, server and client the routes need.
fn make_entities(
    context: &Context,
    node: &mut ros2_client::Node,
    routes: Vec<(TopicRoute, RosEnd)>,
    services: Vec<(ServiceRoute, RosService)>,
) -> Result<Vec<Entity>, Ros2Error> {
    let qos = service_qos();
    let participant = context.domain_participant();
    let mut made = Vec::new();
    for (route, end) in routes {
        let route_qos = topic_qos(&route.qos);
        let topic = node
            .create_topic(
                &ros2_name(&route.ros2_topic)?,
                route.ros2_type.dds_type(),
                &route_qos,
            )
            .map_err(dds(format!("topic {}", route.ros2_topic)))?;
        let what = format!("{:?} of {}", route.direction, route.ros2_topic);
        let dds_qos = rustdds::QosPolicies::from(&route_qos);
        made.push(match end {
            RosEnd::Reader(tx) => Entity::Reader(
                participant
                    .create_subscriber(&dds_qos)
                    .map_err(dds(what.clone()))?
                    .create_simple_datareader_no_key::<Cdr, CdrBytes>(&topic, Some(dds_qos))
                    .map_err(dds(what))?,
                tx,
                BadSamples::new(&route.ros2_topic, &route.ros2_type),
            ),
            RosEnd::Writer(rx) => Entity::Writer(
                participant
                    .create_publisher(&dds_qos)
                    .map_err(dds(what.clone()))?
                    .create_datawriter_no_key::<Cdr, CdrBytes>(&topic, Some(dds_qos))
                    .map_err(dds(what))?,
                rx,
                route.ros2_topic.clone(),
            ),
        });
    }
    for (route, end) in services {
        let service = ros2_name(&route.ros2_service)?;
        let kind = route.ros2_type.dds_type();
        let what = format!("{:?} of service {}", route.direction, route.ros2_service);
        let name = route.ros2_service.clone();
        // Enhanced: the request id travels in the sample's identity, as Fast DDS and Cyclone
        // DDS expect of ROS 2 Jazzy.
        let mapping = ServiceMapping::Enhanced;
        made.push(match (end, route.ros2_type) {
            (RosService::Server(tx), Ros2Service::SetBool) => Entity::SetBoolServer(
                node.create_server(mapping, &service, &kind, qos.clone(), qos.clone())
                    .map_err(dds(what))?,
                tx,
                name,
            ),
            (RosService::Server(tx), Ros2Service::Trigger) => Entity::TriggerServer(
                node.create_server(mapping, &service, &kind, qos.clone(), qos.clone())
                    .map_err(dds(what))?,
                tx,
                name,
            ),
            (RosService::Client(rx), Ros2Service::SetBool) => Entity::SetBoolClient(
                node.create_client(mapping, &service, &kind, qos.clone(), qos.clone())
                    .map_err(dds(what))?,
                rx,
                name,
            ),
            (RosService::Client(rx), Ros2Service::Trigger) => Entity::TriggerClient(
                node.create_client(mapping, &service, &kind, qos.clone(), qos.clone())
                    .map_err(dds(what))?,
                rx,
                name,
            ),
        });
    }
    Ok(made)
}

/// The DDS thread: one participant and node, a task per route, until `stopped`.
pub(crate) fn run_dds(
    config: BridgeConfig,
    routes: Vec<(TopicRoute, RosEnd)>,
    services: Vec<(ServiceRoute, RosService)>,
    stopped: futures::channel::oneshot::Receiver<()>,
    ready: futures::channel::oneshot::Sender<Result<(), Ros2Error>>,
) {
    // Made before the executor, so they outlive every task (a client waits for its server
    // through the node).
    let made = make_node(&config).and_then(|(context, mut node)| {
        let entities = make_entities(&context, &mut node, routes, services)?;
        let spinner = node.spinner().map_err(dds("the ROS 2 node's spinner"))?;
        Ok((context, node, entities, spinner))
    });
    let (_context, node, entities, spinner) = match made {
        Ok(made) => made,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let executor = smol::LocalExecutor::new();
    executor.spawn(spinner.spin()).detach();
    for entity in entities {
        match entity {
            Entity::Reader(reader, tx, bad) => spawn_reader(&executor, reader, tx, bad),
            Entity::Writer(writer, rx, name) => spawn_writer(&executor, writer, rx, name),
            Entity::SetBoolServer(server, tx, name) => spawn_server(
                &executor,
                server,
                tx,
                name,
                |req: SetBoolRequest, answer| Call::SetBool(req.data, answer),
            ),
            Entity::TriggerServer(server, tx, name) => {
                spawn_server(&executor, server, tx, name, |_: TriggerRequest, answer| {
                    Call::Trigger(answer)
                })
            }
            Entity::SetBoolClient(client, rx, name) => {
                spawn_client(&executor, &node, client, rx, name, |call| match call {
                    Call::SetBool(data, answer) => Some((SetBoolRequest { data }, answer)),
                    Call::Trigger(_) => None,
                })
            }
            Entity::TriggerClient(client, rx, name) => {
                spawn_client(&executor, &node, client, rx, name, |call| match call {
                    Call::Trigger(answer) => Some((TriggerRequest::default(), answer)),
                    Call::SetBool(..) => None,
                })
            }
        }
    }
    let _ = ready.send(Ok(()));
    smol::block_on(executor.run(async {
        let _ = stopped.await;
    }));
    // The tasks (and their readers and writers) go before the node and the participant.
    drop(executor);
}

/// Serves a ROS 2 service on the DDS thread: each request, made a [`Call`] by `call`, goes to
/// the rosy side, and its answer (or why there is none) back to the ROS 2 caller.
fn spawn_server<'a, Req>(
    executor: &smol::LocalExecutor<'a>,
    server: ros2_client::Server<Req, Outcome>,
    to_rosy: mpsc::Sender<Call>,
    service: String,
    call: fn(Req, Answer) -> Call,
) where
    Req: ros2_client::Message + 'static,
{
    executor
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
                let outcome = match answered.await {
                    Ok(Ok(outcome)) => outcome,
                    Ok(Err(why)) => Outcome {
                        success: false,
                        message: why,
                    },
                    Err(_) => break,
                };
                if let Err(e) = server.async_send_response(id, outcome).await {
                    tracing::warn!("ROS 2 service {service}: response not sent: {e}");
                }
            }
        })
        .detach();
}

/// Calls a ROS 2 service on the DDS thread for each call the rosy side passes, once the
/// service is there (a call waits for it rather than being sent to nobody), each bounded by
/// [`ROS2_CALL_BOUND`]; never sent twice.
fn spawn_client<'a, Req>(
    executor: &smol::LocalExecutor<'a>,
    node: &'a ros2_client::Node,
    client: ros2_client::Client<Req, Outcome>,
    mut from_rosy: mpsc::Receiver<Call>,
    service: String,
    request: fn(Call) -> Option<(Req, Answer)>,
) where
    Req: ros2_client::Message + 'static,
{
    executor
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

/// Reads a ROS 2 topic on the DDS thread and hands each sample's bytes to the rosy side (which
/// decodes them); a sample in an encoding other than plain CDR is skipped ([`BadSamples`]).
fn spawn_reader(
    executor: &smol::LocalExecutor<'_>,
    reader: SimpleDataReader<Cdr, CdrBytes>,
    to_rosy: mpsc::Sender<Cdr>,
    mut bad: BadSamples,
) {
    executor
        .spawn(async move {
            let mut stream = std::pin::pin!(reader.as_async_stream());
            while let Some(next) = stream.next().await {
                match next {
                    Ok(sample) => {
                        if to_rosy.send(sample.into_value()).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => bad.skip(&e),
                }
            }
        })
        .detach();
}

/// Writes to a ROS 2 topic, on the DDS thread, the samples the rosy side encoded (once,
/// whatever the number of ROS 2 subscribers).
fn spawn_writer(
    executor: &smol::LocalExecutor<'_>,
    writer: DataWriter<Cdr, CdrBytes>,
    mut from_rosy: mpsc::Receiver<Cdr>,
    topic: String,
) {
    executor
        .spawn(async move {
            while let Some(sample) = from_rosy.recv().await {
                if let Err(e) = writer.async_write(sample, None).await {
                    tracing::warn!("ROS 2 {topic}: not written: {e}");
                }
            }
        })
        .detach();
}
