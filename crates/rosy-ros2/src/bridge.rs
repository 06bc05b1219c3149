//! [`Bridge`]: topics crossing between a rosy node and a ROS 2 graph. One DDS participant per
//! bridge, on a thread of its own (ros2-client's futures run on a small executor there), joined
//! to the node's tokio tasks by bounded channels: a slow side makes the other wait, within the
//! channel's room, rather than grow memory. This file wires the two sides (`rosy_side`, `dds`)
//! together and starts and stops them.
//!
//! Nothing here decodes a rosy message it does not bridge, or touches shared memory or sockets
//! itself: the node does on one side, RustDDS on the other.

use crate::auto::run_auto;
use crate::cdr::Cdr;
use crate::convert::{start_from_ros2, start_to_ros2};
use crate::crossing::{Call, ROUTE_ROOM};
use crate::dds::{DdsStart, RosEnd, RosService, run_dds};
use crate::error::Ros2Error;
use crate::graph::{GRAPH_SERVICE_PREFIX, Ros2Graph};
use crate::rosy_side::{call_rosy, provide_on_rosy};
use crate::routes::{BridgeConfig, Direction};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// A running bridge. It stops when dropped (or [`Bridge::stop`]): its ROS 2 participant leaves
/// the graph, its rosy publishers and subscribers go.
pub struct Bridge {
    stop: Option<futures::channel::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    graph: Arc<Mutex<Ros2Graph>>,
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
            let (tx, rx) = mpsc::channel::<Cdr>(ROUTE_ROOM);
            match route.direction {
                Direction::FromRos2 => {
                    tasks.push(tokio::spawn(start_from_ros2(node, route, rx).await?));
                    ros_side.push((route.clone(), RosEnd::Reader(tx)));
                }
                Direction::ToRos2 => {
                    tasks.push(tokio::spawn(start_to_ros2(node, route, tx).await?));
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
        let routed: HashSet<String> = config.topics.iter().map(|t| t.ros2_topic.clone()).collect();
        let auto = config.auto.clone();
        let (stop, stopped) = futures::channel::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = futures::channel::oneshot::channel::<Result<(), Ros2Error>>();
        let (commands_tx, commands) = mpsc::channel(ROUTE_ROOM);
        let graph = Arc::new(Mutex::new(Ros2Graph::default()));
        let start = DdsStart {
            config,
            routes: ros_side,
            services: ros_services,
            commands,
            graph: graph.clone(),
            stopped,
            ready: ready_tx,
        };
        let thread = std::thread::Builder::new()
            .name("rosy-ros2".into())
            .spawn(move || run_dds(start))
            .map_err(|e| Ros2Error::Config(format!("cannot start the DDS thread: {e}")))?;
        let ready = match tokio::time::timeout(Duration::from_secs(30), ready_rx).await {
            Ok(Ok(ready)) => ready,
            Ok(Err(_)) => Err(Ros2Error::Config(
                "the DDS thread ended while starting".into(),
            )),
            Err(_) => Err(Ros2Error::Config(
                "the DDS participant did not start within 30 s".into(),
            )),
        };
        // Tools (`rosy topic list`, `rosy node list`) ask each bridge for the graph it sees.
        let seen = graph.clone();
        node.add_service(
            &format!("{GRAPH_SERVICE_PREFIX}{}", node.id()),
            move |(): ()| {
                let graph = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
                async move { Ok(graph) }
            },
        )
        .await?;
        if !auto.is_empty() {
            tasks.push(tokio::spawn(run_auto(
                node.clone(),
                auto,
                routed,
                graph.clone(),
                commands_tx,
            )));
        }
        let bridge = Bridge {
            stop: Some(stop),
            thread: Some(thread),
            tasks,
            graph,
        };
        ready.map(|()| bridge)
    }

    /// The ROS 2 graph the bridge sees now: the publishers and subscribers of ROS 2 topics
    /// that DDS discovery found (its own left out), refreshed twice a second.
    pub fn ros2_graph(&self) -> Ros2Graph {
        self.graph.lock().unwrap_or_else(|e| e.into_inner()).clone()
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
