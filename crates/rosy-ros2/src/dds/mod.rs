//! The DDS side of a bridge: one participant and ROS 2 node on a thread of its own, a reader,
//! writer, server or client per route, each run as a task on a small executor there
//! (ros2-client's futures), passing what crosses through channels. Topic routes can be added
//! while it runs ([`DdsCommand`]); twice a second it notes the ROS 2 graph it has discovered
//! ([`Ros2Graph`]) for the bridge's on-demand routes. Never touches the rosy node.

mod services;
mod topics;

pub(crate) use services::RosService;
pub(crate) use topics::RosEnd;

use crate::error::Ros2Error;
use crate::graph::Ros2Graph;
use crate::routes::{BridgeConfig, ServiceRoute, TopicRoute};
use futures::{FutureExt, StreamExt};
use ros2_client::entities_info::ParticipantEntitiesInfo;
use ros2_client::{Context, ContextOptions, Gid, Name, NodeName, NodeOptions};
use rustdds::RTPSEntity;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the DDS thread notes the ROS 2 graph it has discovered.
const GRAPH_REFRESH: Duration = Duration::from_millis(500);

/// What the bridge asks of the DDS thread while it runs.
pub(crate) enum DdsCommand {
    /// Add a topic route's reader or writer; the result says whether it was made.
    Topic(
        TopicRoute,
        RosEnd,
        futures::channel::oneshot::Sender<Result<(), Ros2Error>>,
    ),
    /// Drop the reader or writer of the route added for this ROS 2 topic.
    Drop(String),
}

/// What the tasks of one DDS thread are started with.
pub(super) struct Spawner<'a, 'e> {
    executor: &'e smol::LocalExecutor<'a>,
    node: &'a ros2_client::Node,
    participant: rustdds::DomainParticipant,
}

/// A ROS 2 name (`/camera/image`; a name without a leading `/` is taken from the root).
fn ros2_name(topic: &str) -> Result<Name, Ros2Error> {
    let full = if topic.starts_with('/') {
        topic.to_string()
    } else {
        format!("/{topic}")
    };
    Name::parse(&full)
        .map_err(|e| Ros2Error::Config(format!("{topic:?} is not a ROS 2 name: {e:?}")))
}

fn dds<E: std::fmt::Debug>(what: impl Into<String>) -> impl FnOnce(E) -> Ros2Error {
    let what = what.into();
    move |e| Ros2Error::Dds {
        what,
        reason: format!("{e:?}"),
    }
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

/// The DDS thread's inputs.
pub(crate) struct DdsStart {
    pub config: BridgeConfig,
    pub routes: Vec<(TopicRoute, RosEnd)>,
    pub services: Vec<(ServiceRoute, RosService)>,
    pub commands: mpsc::Receiver<DdsCommand>,
    pub graph: Arc<Mutex<Ros2Graph>>,
    pub stopped: futures::channel::oneshot::Receiver<()>,
    pub ready: futures::channel::oneshot::Sender<Result<(), Ros2Error>>,
}

/// The DDS thread: one participant and node, a task per route, until `stopped`.
pub(crate) fn run_dds(start: DdsStart) {
    let DdsStart {
        config,
        routes,
        services,
        mut commands,
        graph,
        stopped,
        ready,
    } = start;
    // Made before the executor, so they outlive every task (a client waits for its server
    // through the node). Servers and clients need the node mutably: made before any task.
    let made = make_node(&config).and_then(|(context, mut node)| {
        let services = services
            .into_iter()
            .map(|(route, end)| services::make_service(&mut node, &route, end))
            .collect::<Result<Vec<_>, _>>()?;
        let spinner = node.spinner().map_err(dds("the ROS 2 node's spinner"))?;
        Ok((context, node, services, spinner))
    });
    let (context, node, service_entities, spinner) = match made {
        Ok(made) => made,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let executor = smol::LocalExecutor::new();
    executor.spawn(spinner.spin()).detach();
    let spawner = Spawner {
        executor: &executor,
        node: &node,
        participant: context.domain_participant(),
    };
    let node_names = Arc::new(Mutex::new(HashMap::new()));
    if let Err(e) = watch_node_names(&spawner, node_names.clone()) {
        // The graph's node names are for tools; the routes work without them.
        tracing::warn!("ROS 2 node names will not be listed: {e}");
    }
    for entity in service_entities {
        services::spawn_service(&spawner, entity);
    }
    // Fixed routes live as long as the bridge.
    let started = routes.into_iter().try_for_each(|(route, end)| {
        topics::start_topic(&spawner, &route, end).map(smol::Task::detach)
    });
    let failed = started.is_err();
    let _ = ready.send(started);
    if !failed {
        let noted = Noted {
            graph: &graph,
            node_names: &node_names,
        };
        smol::block_on(executor.run(serve(&spawner, &mut commands, noted, stopped)));
    }
    // The tasks (and their readers and writers) go before the node and the participant.
    drop(spawner);
    drop(executor);
}

/// The ROS 2 node names each participant announces (by its GID), from `ros_discovery_info`.
type NodeNames = Arc<Mutex<HashMap<Gid, Vec<String>>>>;

/// Keeps `names` up to date from `ros_discovery_info`, where each ROS 2 participant announces
/// its nodes (the bridge's own left out), with a reader of its own: transient local, so the
/// participants that announced before the bridge came are heard too (ros2-client's status
/// events are not used: they are dropped when their small channel is full).
fn watch_node_names(spawner: &Spawner<'_, '_>, names: NodeNames) -> Result<(), Ros2Error> {
    use rustdds::policy::{Durability, History};
    let qos = rustdds::QosPolicyBuilder::new()
        .durability(Durability::TransientLocal)
        .reliable(rustdds::Duration::ZERO)
        .history(History::KeepLast { depth: 64 })
        .build();
    let participant = &spawner.participant;
    let topic = participant
        .create_topic(
            "ros_discovery_info".into(),
            "rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_".into(),
            &qos,
            rustdds::TopicKind::NoKey,
        )
        .map_err(dds("the ros_discovery_info topic"))?;
    let reader = participant
        .create_subscriber(&qos)
        .map_err(dds("the ros_discovery_info reader"))?
        .create_simple_datareader_no_key::<
            ParticipantEntitiesInfo,
            rustdds::CDRDeserializerAdapter<ParticipantEntitiesInfo>,
        >(&topic, Some(qos))
        .map_err(dds("the ros_discovery_info reader"))?;
    let own = Gid::from(participant.guid());
    spawner
        .executor
        .spawn(async move {
            let mut samples = std::pin::pin!(reader.as_async_stream());
            while let Some(sample) = samples.next().await {
                let Ok(sample) = sample else { continue };
                let info = sample.into_value();
                if info.gid() == own {
                    continue;
                }
                let nodes = info
                    .nodes()
                    .iter()
                    .map(|n| n.fully_qualified_name())
                    .collect();
                lock(&names).insert(info.gid(), nodes);
            }
        })
        .detach();
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where the DDS thread notes what it discovered.
struct Noted<'n> {
    graph: &'n Mutex<Ros2Graph>,
    node_names: &'n NodeNames,
}

/// Takes the bridge's commands and notes the graph, until `stopped`.
async fn serve(
    spawner: &Spawner<'_, '_>,
    commands: &mut mpsc::Receiver<DdsCommand>,
    noted: Noted<'_>,
    stopped: futures::channel::oneshot::Receiver<()>,
) {
    let mut stopped = stopped.fuse();
    let mut open = true;
    // The routes added while running, by ROS 2 topic: dropping one's task drops its reader or
    // writer.
    let mut added: HashMap<String, smol::Task<()>> = HashMap::new();
    loop {
        let mut names: Vec<String> = lock(noted.node_names).values().flatten().cloned().collect();
        names.sort();
        names.dedup();
        let seen = Ros2Graph::discovered(&spawner.participant, names);
        *lock(noted.graph) = seen;
        let mut tick = FutureExt::fuse(smol::Timer::after(GRAPH_REFRESH));
        // Once the bridge has no more routes to add (no on-demand routes), only the graph.
        let listening = open;
        let commands = &mut *commands;
        let next = async move {
            if listening {
                commands.recv().await
            } else {
                std::future::pending().await
            }
        };
        let mut command = std::pin::pin!(next.fuse());
        let command = futures::select! {
            _ = stopped => return,
            _ = tick => None,
            command = command => Some(command),
        };
        match command {
            Some(Some(DdsCommand::Topic(route, end, done))) => {
                let started = topics::start_topic(spawner, &route, end)
                    .map(|task| drop(added.insert(route.ros2_topic.clone(), task)));
                let _ = done.send(started);
            }
            Some(Some(DdsCommand::Drop(topic))) => drop(added.remove(&topic)),
            Some(None) => open = false,
            None => {}
        }
    }
}
