//! [`Bridge`]: topics crossing between a rosy node and a ROS 2 graph. One DDS participant per
//! bridge, on a thread of its own (ros2-client's futures run on a small executor there), joined
//! to the node's tokio tasks by bounded channels: a slow side makes the other wait, within the
//! channel's room, rather than grow memory.
//!
//! This module never decodes a rosy message it does not bridge, and never touches shared memory
//! or sockets itself: the node does on one side, RustDDS on the other.

use crate::types::{Image, Outcome, SetBoolRequest, StringMsg, TriggerRequest};
use futures::StreamExt;
use ros2_client::{
    Context, ContextOptions, MessageTypeName, Name, NodeName, NodeOptions, QosProfile,
    ServiceMapping, ServiceTypeName,
    qos::{Durability, History, WhenFull},
};
use rosy::msgs::{ArchivedRawImage, RawImage};
use std::time::Duration;
use tokio::sync::mpsc;

/// The ROS 2 types a route can carry, each with its rosy form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ros2Type {
    /// `std_msgs/msg/String`; on rosy, a `String` (msgpack).
    String,
    /// `sensor_msgs/msg/Image`; on rosy, a [`RawImage`] (rkyv: same-host readers read it in
    /// place).
    Image,
}

impl Ros2Type {
    /// The ROS 2 name of the type (`std_msgs/msg/String`).
    pub fn name(self) -> &'static str {
        match self {
            Ros2Type::String => "std_msgs/msg/String",
            Ros2Type::Image => "sensor_msgs/msg/Image",
        }
    }

    /// The type for its ROS 2 name (`std_msgs/msg/String`, or the short `std_msgs/String`).
    pub fn from_name(name: &str) -> Option<Ros2Type> {
        match name {
            "std_msgs/msg/String" | "std_msgs/String" => Some(Ros2Type::String),
            "sensor_msgs/msg/Image" | "sensor_msgs/Image" => Some(Ros2Type::Image),
            _ => None,
        }
    }

    fn dds_type(self) -> MessageTypeName {
        match self {
            Ros2Type::String => MessageTypeName::new("std_msgs", "String"),
            Ros2Type::Image => MessageTypeName::new("sensor_msgs", "Image"),
        }
    }
}

/// Which way a route's messages cross.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// ROS 2 publishers' messages reach rosy listeners.
    FromRos2,
    /// rosy publishers' messages reach ROS 2 subscribers.
    ToRos2,
}

/// One topic crossing one way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicRoute {
    /// The topic's rosy name (`camera/image`).
    pub rosy_topic: String,
    /// The topic's ROS 2 name (`/camera/image`; a name without a leading `/` is taken from
    /// the root namespace).
    pub ros2_topic: String,
    /// What it carries.
    pub ros2_type: Ros2Type,
    /// Which way.
    pub direction: Direction,
}

impl TopicRoute {
    /// A route of `ros2_type` named `topic` on both sides, crossing `direction`.
    pub fn new(topic: &str, ros2_type: Ros2Type, direction: Direction) -> TopicRoute {
        TopicRoute {
            rosy_topic: topic.trim_start_matches('/').to_string(),
            ros2_topic: topic.to_string(),
            ros2_type,
            direction,
        }
    }
}

/// The ROS 2 service types a route can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ros2Service {
    /// `std_srvs/srv/SetBool`; on rosy, a service taking a `bool` and answering an
    /// [`Outcome`](crate::types::Outcome).
    SetBool,
    /// `std_srvs/srv/Trigger`; on rosy, a service taking `()` and answering an
    /// [`Outcome`](crate::types::Outcome).
    Trigger,
}

impl Ros2Service {
    /// The ROS 2 name of the type (`std_srvs/srv/SetBool`).
    pub fn name(self) -> &'static str {
        match self {
            Ros2Service::SetBool => "std_srvs/srv/SetBool",
            Ros2Service::Trigger => "std_srvs/srv/Trigger",
        }
    }

    /// The type for its ROS 2 name (`std_srvs/srv/SetBool`, or the short `std_srvs/SetBool`).
    pub fn from_name(name: &str) -> Option<Ros2Service> {
        match name {
            "std_srvs/srv/SetBool" | "std_srvs/SetBool" => Some(Ros2Service::SetBool),
            "std_srvs/srv/Trigger" | "std_srvs/Trigger" => Some(Ros2Service::Trigger),
            _ => None,
        }
    }

    fn dds_type(self) -> ServiceTypeName {
        match self {
            Ros2Service::SetBool => ServiceTypeName::new("std_srvs", "SetBool"),
            Ros2Service::Trigger => ServiceTypeName::new("std_srvs", "Trigger"),
        }
    }
}

/// One service reachable from the other side. [`Direction::FromRos2`]: ROS 2 clients call a
/// rosy service (the bridge serves it in the ROS 2 graph); [`Direction::ToRos2`]: rosy callers
/// reach a ROS 2 service (the bridge provides it in the rosy mesh).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRoute {
    /// The service's rosy name.
    pub rosy_service: String,
    /// The service's ROS 2 name (`/set_flag`).
    pub ros2_service: String,
    /// Its type.
    pub ros2_type: Ros2Service,
    /// Which way calls go.
    pub direction: Direction,
}

impl ServiceRoute {
    /// A route of `ros2_type` named `service` on both sides, called `direction`.
    pub fn new(service: &str, ros2_type: Ros2Service, direction: Direction) -> ServiceRoute {
        ServiceRoute {
            rosy_service: service.trim_start_matches('/').to_string(),
            ros2_service: service.to_string(),
            ros2_type,
            direction,
        }
    }
}

/// What a bridge joins and how.
#[derive(Clone, Debug)]
pub struct BridgeConfig {
    /// The ROS 2 domain (`ROS_DOMAIN_ID`), 0 to 232.
    pub ros_domain_id: u16,
    /// The bridge's ROS 2 node name (as `ros2 node list` would show it).
    pub node_name: String,
    /// The topics that cross.
    pub topics: Vec<TopicRoute>,
    /// The services reachable from the other side.
    pub services: Vec<ServiceRoute>,
}

impl BridgeConfig {
    /// No topics yet, ROS 2 domain from `ROS_DOMAIN_ID` (0 when unset), node `rosy_bridge`.
    pub fn from_env() -> Result<BridgeConfig, Ros2Error> {
        let ros_domain_id = match std::env::var("ROS_DOMAIN_ID") {
            Ok(text) if !text.trim().is_empty() => parse_domain(&text)?,
            _ => 0,
        };
        Ok(BridgeConfig {
            ros_domain_id,
            node_name: "rosy_bridge".into(),
            topics: Vec::new(),
            services: Vec::new(),
        })
    }
}

fn parse_domain(text: &str) -> Result<u16, Ros2Error> {
    match text.trim().parse::<u16>() {
        Ok(id) if id <= 232 => Ok(id),
        _ => Err(Ros2Error::Config(format!(
            "ROS_DOMAIN_ID {text:?} is not a ROS 2 domain id (0 to 232)"
        ))),
    }
}

/// Why a bridge could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Ros2Error {
    /// A setting is out of range or a name is not a valid ROS 2 name.
    #[error("ROS 2 bridge: {0}")]
    Config(String),
    /// The DDS participant, a topic, a reader or a writer could not be made.
    #[error("ROS 2 bridge: {what}: {reason}")]
    Dds {
        /// What was being made.
        what: String,
        /// What RustDDS said.
        reason: String,
    },
    /// The rosy side refused a publisher or subscriber.
    #[error("ROS 2 bridge: {0}")]
    Rosy(#[from] rosy::Error),
}

/// Messages that wait between the two sides of one route at most.
const ROUTE_ROOM: usize = 16;

/// A message on its way between the sides.
enum Crossing {
    Text(String),
    Image(Box<RawImage>),
}

/// Where a service call's answer goes: the outcome, or why there is none.
type Answer = futures::channel::oneshot::Sender<Result<Outcome, String>>;

/// A service call on its way between the sides, with where its answer goes.
enum Call {
    SetBool(bool, Answer),
    Trigger(Answer),
}

/// How long a call to a ROS 2 service may take before the rosy caller is told it has no answer.
const ROS2_CALL_BOUND: Duration = Duration::from_secs(10);

/// A running bridge. It stops when dropped (or [`Bridge::stop`]): its ROS 2 participant leaves
/// the graph, its rosy publishers and subscribers go.
pub struct Bridge {
    stop: Option<futures::channel::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Bridge {
    /// Starts bridging `config`'s topics and services for `node`. Returns once the ROS 2
    /// participant and every reader, writer, server and client exist (discovery of ROS 2 peers
    /// goes on in the background).
    pub async fn start(node: &rosy::Node, config: BridgeConfig) -> Result<Bridge, Ros2Error> {
        if config.ros_domain_id > 232 {
            return Err(Ros2Error::Config(format!(
                "ROS 2 domain id {} is out of range (0 to 232)",
                config.ros_domain_id
            )));
        }
        let mut tasks = Vec::new();
        let mut ros_side = Vec::new();
        for route in &config.topics {
            let (tx, rx) = mpsc::channel::<Crossing>(ROUTE_ROOM);
            match route.direction {
                Direction::FromRos2 => {
                    tasks.push(tokio::spawn(publish_on_rosy(node, route, rx).await?));
                    ros_side.push((route.clone(), RosEnd::Reader(tx)));
                }
                Direction::ToRos2 => {
                    tasks.push(tokio::spawn(read_from_rosy(node, route, tx).await?));
                    ros_side.push((route.clone(), RosEnd::Writer(rx)));
                }
            }
        }
        let mut ros_services = Vec::new();
        for route in &config.services {
            let (tx, rx) = mpsc::channel::<Call>(ROUTE_ROOM);
            match route.direction {
                Direction::FromRos2 => {
                    tasks.push(tokio::spawn(call_rosy(node.clone(), route.clone(), rx)));
                    ros_services.push((route.clone(), RosService::Server(tx)));
                }
                Direction::ToRos2 => {
                    provide_on_rosy(node, route, tx).await?;
                    ros_services.push((route.clone(), RosService::Client(rx)));
                }
            }
        }
        let (stop, stopped) = futures::channel::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), Ros2Error>>();
        let thread = std::thread::Builder::new()
            .name("rosy-ros2".into())
            .spawn(move || run_dds(config, ros_side, ros_services, stopped, ready_tx))
            .map_err(|e| Ros2Error::Config(format!("cannot start the DDS thread: {e}")))?;
        let ready = tokio::task::spawn_blocking(move || {
            ready_rx
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| {
                    Err(Ros2Error::Config(
                        "the DDS participant did not start within 30 s".into(),
                    ))
                })
        })
        .await
        .unwrap_or_else(|e| Err(Ros2Error::Config(format!("DDS start: {e}"))));
        let bridge = Bridge {
            stop: Some(stop),
            thread: Some(thread),
            tasks,
        };
        ready.map(|()| bridge)
    }

    /// Stops the bridge and waits for its ROS 2 participant to leave.
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.shut();
    }
}

/// The ROS 2 end of one route.
enum RosEnd {
    /// Reads the ROS 2 topic and hands messages to the rosy side.
    Reader(mpsc::Sender<Crossing>),
    /// Takes messages from the rosy side and writes them to the ROS 2 topic.
    Writer(mpsc::Receiver<Crossing>),
}

/// The ROS 2 end of one service route.
enum RosService {
    /// Serves the ROS 2 service, passing each call to the rosy side.
    Server(mpsc::Sender<Call>),
    /// Calls the ROS 2 service for what the rosy side passes.
    Client(mpsc::Receiver<Call>),
}

/// rclpy's default QoS (`rmw_qos_profile_default`): reliable, volatile, keep last 10. A
/// reliable reader matches reliable writers only; ROS 2's defaults are reliable both ways.
fn ros2_qos() -> QosProfile {
    QosProfile::publisher_default()
        .reliability_reliable(WhenFull::DEFAULT)
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: 10 })
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
    StringReader(
        ros2_client::Subscription<StringMsg>,
        mpsc::Sender<Crossing>,
        String,
    ),
    ImageReader(
        ros2_client::Subscription<Image>,
        mpsc::Sender<Crossing>,
        String,
    ),
    StringWriter(
        ros2_client::Publisher<StringMsg>,
        mpsc::Receiver<Crossing>,
        String,
    ),
    ImageWriter(
        ros2_client::Publisher<Image>,
        mpsc::Receiver<Crossing>,
        String,
    ),
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
    node: &mut ros2_client::Node,
    routes: Vec<(TopicRoute, RosEnd)>,
    services: Vec<(ServiceRoute, RosService)>,
) -> Result<Vec<Entity>, Ros2Error> {
    let qos = ros2_qos();
    let mut made = Vec::new();
    for (route, end) in routes {
        let topic = node
            .create_topic(
                &ros2_name(&route.ros2_topic)?,
                route.ros2_type.dds_type(),
                &qos,
            )
            .map_err(dds(format!("topic {}", route.ros2_topic)))?;
        let what = format!("{:?} of {}", route.direction, route.ros2_topic);
        let name = route.ros2_topic.clone();
        made.push(match (end, route.ros2_type) {
            (RosEnd::Reader(tx), Ros2Type::String) => Entity::StringReader(
                node.create_subscription(&topic, None).map_err(dds(what))?,
                tx,
                name,
            ),
            (RosEnd::Reader(tx), Ros2Type::Image) => Entity::ImageReader(
                node.create_subscription(&topic, None).map_err(dds(what))?,
                tx,
                name,
            ),
            (RosEnd::Writer(rx), Ros2Type::String) => Entity::StringWriter(
                node.create_publisher(&topic, None).map_err(dds(what))?,
                rx,
                name,
            ),
            (RosEnd::Writer(rx), Ros2Type::Image) => Entity::ImageWriter(
                node.create_publisher(&topic, None).map_err(dds(what))?,
                rx,
                name,
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
fn run_dds(
    config: BridgeConfig,
    routes: Vec<(TopicRoute, RosEnd)>,
    services: Vec<(ServiceRoute, RosService)>,
    stopped: futures::channel::oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<Result<(), Ros2Error>>,
) {
    // Made before the executor, so they outlive every task (a client waits for its server
    // through the node).
    let made = make_node(&config).and_then(|(context, mut node)| {
        let entities = make_entities(&mut node, routes, services)?;
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
            Entity::StringReader(reader, tx, name) => {
                spawn_reader(&executor, reader, tx, name, |m| Crossing::Text(m.data))
            }
            Entity::ImageReader(reader, tx, name) => {
                spawn_reader(&executor, reader, tx, name, |m| {
                    Crossing::Image(Box::new(RawImage::from(m)))
                })
            }
            Entity::StringWriter(writer, rx, name) => {
                spawn_writer(&executor, writer, rx, name, |c| match c {
                    Crossing::Text(data) => Some(StringMsg { data }),
                    Crossing::Image(_) => None,
                })
            }
            Entity::ImageWriter(writer, rx, name) => {
                spawn_writer(&executor, writer, rx, name, |c| match c {
                    Crossing::Image(image) => Some(Image::from(*image)),
                    Crossing::Text(_) => None,
                })
            }
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
            let mut bad = BadSamples::default();
            while let Some(next) = requests.next().await {
                let (id, request) = match next {
                    Ok(next) => next,
                    Err(e) => {
                        bad.skip(&service, &e);
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

/// Reads a ROS 2 topic on the DDS thread and hands each sample, made a [`Crossing`] by
/// `cross`, to the rosy side; a sample that cannot be read is skipped ([`BadSamples`]).
fn spawn_reader<M>(
    executor: &smol::LocalExecutor<'_>,
    reader: ros2_client::Subscription<M>,
    to_rosy: mpsc::Sender<Crossing>,
    topic: String,
    cross: fn(M) -> Crossing,
) where
    M: serde::de::DeserializeOwned + 'static,
{
    executor
        .spawn(async move {
            let mut stream = std::pin::pin!(reader.async_stream());
            let mut bad = BadSamples::default();
            while let Some(next) = stream.next().await {
                match next {
                    Ok((m, _)) => {
                        if to_rosy.send(cross(m)).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => bad.skip(&topic, &e),
                }
            }
        })
        .detach();
}

/// Writes to a ROS 2 topic, on the DDS thread, what the rosy side hands over, made a ROS 2
/// message by `uncross` (serialized once, whatever the number of ROS 2 subscribers).
fn spawn_writer<M>(
    executor: &smol::LocalExecutor<'_>,
    writer: ros2_client::Publisher<M>,
    mut from_rosy: mpsc::Receiver<Crossing>,
    topic: String,
    uncross: fn(Crossing) -> Option<M>,
) where
    M: serde::Serialize + 'static,
{
    executor
        .spawn(async move {
            while let Some(crossing) = from_rosy.recv().await {
                let Some(message) = uncross(crossing) else {
                    continue;
                };
                if let Err(e) = writer.async_publish(message).await {
                    tracing::warn!("ROS 2 {topic}: not written: {e}");
                }
            }
        })
        .detach();
}

/// Samples of one ROS 2 topic that could not be read (a malformed CDR payload, a type
/// mismatch): the first is logged as a warning naming the topic, later ones at debug level, so
/// a bad publisher cannot flood the log; each is skipped, and the bridge reads on.
#[derive(Default)]
struct BadSamples(u64);

impl BadSamples {
    fn skip(&mut self, topic: &str, error: &dyn std::fmt::Debug) {
        self.0 += 1;
        if self.0 == 1 {
            tracing::warn!(
                "ROS 2 {topic}: a sample could not be read as its type, skipped (further ones \
                 are logged at debug level): {error:?}"
            );
        } else {
            tracing::debug!(
                "ROS 2 {topic}: unreadable sample {} skipped: {error:?}",
                self.0
            );
        }
    }
}

/// The rosy side of a route from ROS 2: a publisher on the rosy topic, fed by the DDS thread.
async fn publish_on_rosy(
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
async fn read_from_rosy(
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
async fn call_rosy(node: rosy::Node, route: ServiceRoute, mut from_ros: mpsc::Receiver<Call>) {
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
async fn provide_on_rosy(
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
