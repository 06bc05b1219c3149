//! The DDS side of topic routes: a RustDDS reader or writer of CDR bytes per route (made on
//! the DDS thread, with the route's QoS), and the tasks that pass samples between it and the
//! rosy side. Never touches the rosy node or decodes a sample.

use super::{Spawner, dds, ros2_name};
use crate::bad::BadSamples;
use crate::cdr::{Cdr, CdrBytes};
use crate::error::Ros2Error;
use crate::routes::TopicRoute;
use futures::StreamExt;
use ros2_client::{
    QosProfile,
    qos::{Durability, History, WhenFull},
};
use rustdds::no_key::{DataWriter, SimpleDataReader};
use rustdds::{GUID, RTPSEntity};
use tokio::sync::mpsc;

/// The ROS 2 end of one route.
pub(crate) enum RosEnd {
    /// Reads the ROS 2 topic and hands its samples to the rosy side.
    Reader(mpsc::Sender<Cdr>),
    /// Takes samples from the rosy side and writes them to the ROS 2 topic.
    Writer(mpsc::Receiver<Cdr>),
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

/// Makes the reader or writer of `route` and starts its task; dropping the task drops the
/// reader or writer, which leaves the ROS 2 graph.
pub(super) fn start_topic(
    spawner: &Spawner<'_, '_>,
    route: &TopicRoute,
    end: RosEnd,
) -> Result<smol::Task<()>, Ros2Error> {
    // A writer offers reliable whatever the route asks: it then matches every ROS 2 reader,
    // reliable or best effort (a best-effort writer and rclpy's default reliable reader do not
    // match). A reader asks for what the route says.
    let mut qos = route.qos;
    if matches!(end, RosEnd::Writer(_)) {
        qos.reliability = rosy::qos::Reliability::Reliable;
    }
    let route_qos = topic_qos(&qos);
    let topic = spawner
        .node
        .create_topic(
            &ros2_name(&route.ros2_topic)?,
            route.ros2_type.dds_type(),
            &route_qos,
        )
        .map_err(dds(format!("topic {}", route.ros2_topic)))?;
    let what = format!("{:?} of {}", route.direction, route.ros2_topic);
    let dds_qos = rustdds::QosPolicies::from(&route_qos);
    let participant = &spawner.participant;
    match end {
        RosEnd::Reader(tx) => {
            let reader = participant
                .create_subscriber(&dds_qos)
                .map_err(dds(what.clone()))?
                .create_simple_datareader_no_key::<Cdr, CdrBytes>(&topic, Some(dds_qos))
                .map_err(dds(what))?;
            let bad = BadSamples::new(&route.ros2_topic, &route.ros2_type);
            Ok(spawn_reader(spawner, reader, tx, bad, participant.guid()))
        }
        RosEnd::Writer(rx) => {
            let writer = participant
                .create_publisher(&dds_qos)
                .map_err(dds(what.clone()))?
                .create_datawriter_no_key::<Cdr, CdrBytes>(&topic, Some(dds_qos))
                .map_err(dds(what))?;
            Ok(spawn_writer(spawner, writer, rx, route.ros2_topic.clone()))
        }
    }
}

/// Reads a ROS 2 topic on the DDS thread and hands each sample's bytes to the rosy side (which
/// decodes them); a sample in an encoding other than plain CDR is skipped ([`BadSamples`]).
fn spawn_reader(
    spawner: &Spawner<'_, '_>,
    reader: SimpleDataReader<Cdr, CdrBytes>,
    to_rosy: mpsc::Sender<Cdr>,
    mut bad: BadSamples,
    own: GUID,
) -> smol::Task<()> {
    spawner.executor.spawn(async move {
        let mut stream = std::pin::pin!(reader.as_async_stream());
        while let Some(next) = stream.next().await {
            match next {
                // The bridge's own writer of the same topic (a route each way): not passed
                // back.
                Ok(sample) if sample.writer_guid.prefix == own.prefix => {}
                Ok(sample) => {
                    if to_rosy.send(sample.into_value()).await.is_err() {
                        break;
                    }
                }
                Err(e) => bad.skip(&e),
            }
        }
    })
}

/// Writes to a ROS 2 topic, on the DDS thread, the samples the rosy side encoded (once,
/// whatever the number of ROS 2 subscribers).
fn spawn_writer(
    spawner: &Spawner<'_, '_>,
    writer: DataWriter<Cdr, CdrBytes>,
    mut from_rosy: mpsc::Receiver<Cdr>,
    topic: String,
) -> smol::Task<()> {
    spawner.executor.spawn(async move {
        while let Some(sample) = from_rosy.recv().await {
            if let Err(e) = writer.async_write(sample, None).await {
                tracing::warn!("ROS 2 {topic}: not written: {e}");
            }
        }
    })
}
