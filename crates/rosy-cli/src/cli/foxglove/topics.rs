//! Mesh topics as Foxglove channels: every topic of the mesh (or those named) is advertised
//! while some node publishes or listens to it, re-advertised when its codec or type changes,
//! withdrawn when it goes; the bridge subscribes to a topic only while a client watches it.
//!
//! A topic of a `rosy::msgs` type with a Foxglove schema (RawImage, CompressedImage,
//! PointCloud, FrameTransform, Log) gets a protobuf channel of the SDK's own message type:
//! each message is converted (`protobuf.rs`, pixels as bytes) and encoded once by the SDK for
//! every client. Any other topic (Scalar, other serde values) is a JSON channel, each message
//! converted to JSON (`rosy::msgs::JsonForm`).
//!
//! A slow client never slows the mesh: the bridge's subscription drops its oldest messages when
//! conversion falls behind (counted in [`Stats::lost`]), and the SDK drops a client's oldest
//! queued messages when its socket falls behind. Topics whose messages the bridge cannot read
//! (raw bytes, custom codecs, rkyv of an unknown type) are not advertised.

use super::protobuf::{self, FromRosy};
use foxglove::messages as fg;
use foxglove::{Channel, Context, PartialMetadata, RawChannel, Schema};
use rosy::codec::CodecId;
use rosy::msgs::{JsonForm, KnownType, MsgError};
use rosy::node::Received;
use rosy::topology::{TopicRole, Topology};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What went through the bridge.
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages sent to Foxglove channels.
    pub forwarded: AtomicU64,
    /// Messages the bridge's subscriptions dropped because conversion fell behind.
    pub lost: AtomicU64,
    /// Messages that did not decode as their topic's announced type.
    pub undecodable: AtomicU64,
}

/// One advertised channel and what its messages are.
struct Advertised {
    outlet: Outlet,
    codec: CodecId,
    type_name: String,
}

/// A topic's Foxglove channel, and how its messages become what the channel carries.
#[derive(Clone)]
enum Outlet {
    /// JSON, converted by rosy.
    Json {
        channel: Arc<RawChannel>,
        form: JsonForm,
    },
    RawImage(Arc<Channel<fg::RawImage>>),
    CompressedImage(Arc<Channel<fg::CompressedImage>>),
    PointCloud(Arc<Channel<fg::PointCloud>>),
    FrameTransform(Arc<Channel<fg::FrameTransform>>),
    Log(Arc<Channel<fg::Log>>),
}

/// Converts one message to `T` and logs it on `channel` (the SDK encodes it once).
fn log_protobuf<T: FromRosy>(
    channel: &Channel<T>,
    message: &Received,
    at: u64,
) -> Result<(), MsgError> {
    let value = protobuf::convert::<T>(message.codec, &message.payload)?;
    channel.log_with_meta(&value, PartialMetadata::with_log_time(at));
    Ok(())
}

impl Outlet {
    /// The channel for `name`, whose messages are announced in `codec` as `type_name`: a
    /// protobuf channel of the SDK's type for a known type with a Foxglove schema, JSON for
    /// others; `Ok(None)` when its messages cannot be shown (raw bytes, custom codecs, rkyv of
    /// an unknown type).
    fn open(
        context: &Arc<Context>,
        name: &str,
        codec: CodecId,
        type_name: &str,
    ) -> Result<Option<Outlet>, foxglove::FoxgloveError> {
        let builder = || context.channel_builder(name.to_string());
        let decodable = matches!(codec, CodecId::MsgPack | CodecId::Json | CodecId::Rkyv);
        let known = KnownType::from_type_name(type_name).filter(|_| decodable);
        let outlet = match known {
            Some(KnownType::RawImage) => Outlet::RawImage(Arc::new(builder().build())),
            Some(KnownType::CompressedImage) => {
                Outlet::CompressedImage(Arc::new(builder().build()))
            }
            Some(KnownType::PointCloud) => Outlet::PointCloud(Arc::new(builder().build())),
            Some(KnownType::FrameTransform) => Outlet::FrameTransform(Arc::new(builder().build())),
            Some(KnownType::Log) => Outlet::Log(Arc::new(builder().build())),
            // Scalar (no Foxglove schema) and other types: JSON.
            _ => {
                let Some(form) = JsonForm::new(codec, type_name) else {
                    return Ok(None);
                };
                let schema = form
                    .schema()
                    .map(|s| Schema::new(s.name, s.encoding, s.data));
                let channel = builder()
                    .message_encoding("json")
                    .schema(schema)
                    .build_raw()?;
                Outlet::Json { channel, form }
            }
        };
        Ok(Some(outlet))
    }

    fn topic(&self) -> &str {
        match self {
            Outlet::Json { channel, .. } => channel.topic(),
            Outlet::RawImage(c) => c.topic(),
            Outlet::CompressedImage(c) => c.topic(),
            Outlet::PointCloud(c) => c.topic(),
            Outlet::FrameTransform(c) => c.topic(),
            Outlet::Log(c) => c.topic(),
        }
    }

    fn close(&self) {
        match self {
            Outlet::Json { channel, .. } => channel.close(),
            Outlet::RawImage(c) => c.close(),
            Outlet::CompressedImage(c) => c.close(),
            Outlet::PointCloud(c) => c.close(),
            Outlet::FrameTransform(c) => c.close(),
            Outlet::Log(c) => c.close(),
        }
    }

    /// Converts `message` and logs it, stamped `at` (ns since the epoch).
    fn send(&self, message: &Received, at: u64) -> Result<(), MsgError> {
        match self {
            Outlet::Json { channel, form } => {
                let json = form.convert(message.codec, &message.payload)?;
                channel.log_with_meta(&json, PartialMetadata::with_log_time(at));
                Ok(())
            }
            Outlet::RawImage(c) => log_protobuf(c, message, at),
            Outlet::CompressedImage(c) => log_protobuf(c, message, at),
            Outlet::PointCloud(c) => log_protobuf(c, message, at),
            Outlet::FrameTransform(c) => log_protobuf(c, message, at),
            Outlet::Log(c) => log_protobuf(c, message, at),
        }
    }
}

/// A running subscription feeding one channel.
struct Forwarder {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// The channels of the bridge, and the subscriptions behind the watched ones.
pub struct Topics {
    context: Arc<Context>,
    /// Only these topics (all when empty).
    only: BTreeSet<String>,
    advertised: BTreeMap<String, Advertised>,
    /// Topics not advertised, each logged once.
    skipped: BTreeSet<String>,
    /// How many client subscriptions each topic has.
    watchers: HashMap<String, usize>,
    forwarders: HashMap<String, Forwarder>,
    pub stats: Arc<Stats>,
}

/// The codec and Rust type a topic's messages are announced with: a publisher's when there is
/// one, else a listener's.
fn announced(topology: &Topology) -> BTreeMap<String, (CodecId, String)> {
    let mut topics: BTreeMap<String, (bool, CodecId, String)> = BTreeMap::new();
    for node in topology.nodes().filter(|n| !n.tool) {
        for t in node
            .topics
            .iter()
            .filter(|t| !rosy::node::is_internal_topic(&t.name))
        {
            let publishes = t.role == TopicRole::Publish;
            match topics.get(&t.name) {
                Some((true, _, _)) => {}
                Some((false, _, _)) if !publishes => {}
                _ => {
                    topics.insert(t.name.clone(), (publishes, t.codec, t.type_name.clone()));
                }
            }
        }
    }
    topics
        .into_iter()
        .map(|(name, (_, codec, ty))| (name, (codec, ty)))
        .collect()
}

impl Topics {
    pub fn new(context: Arc<Context>, only: Vec<String>) -> Topics {
        Topics {
            context,
            only: only.into_iter().collect(),
            advertised: BTreeMap::new(),
            skipped: BTreeSet::new(),
            watchers: HashMap::new(),
            forwarders: HashMap::new(),
            stats: Arc::new(Stats::default()),
        }
    }

    /// Advertises what appeared in `topology`, withdraws what went, re-advertises what changed.
    pub fn sync(&mut self, topology: &Topology) {
        let mut wanted = announced(topology);
        if !self.only.is_empty() {
            wanted.retain(|name, _| self.only.contains(name));
        }
        let gone: Vec<String> = self
            .advertised
            .iter()
            .filter(|(name, a)| {
                wanted
                    .get(*name)
                    .is_none_or(|(codec, ty)| (*codec, ty.as_str()) != (a.codec, &a.type_name))
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            self.withdraw(&name);
        }
        for (name, (codec, type_name)) in wanted {
            if self.advertised.contains_key(&name) {
                continue;
            }
            match Outlet::open(&self.context, &name, codec, &type_name) {
                Ok(Some(outlet)) => {
                    tracing::debug!("advertising {name:?} ({codec}, {type_name})");
                    self.skipped.remove(&name);
                    self.advertised.insert(
                        name,
                        Advertised {
                            outlet,
                            codec,
                            type_name,
                        },
                    );
                }
                Ok(None) => {
                    if self.skipped.insert(name.clone()) {
                        tracing::info!(
                            "not advertising {name:?}: its {codec} messages ({type_name}) \
                             cannot be shown in Foxglove"
                        );
                    }
                }
                Err(e) => tracing::warn!("cannot advertise {name:?} to Foxglove: {e}"),
            }
        }
    }

    fn withdraw(&mut self, name: &str) {
        self.stop_forwarding(name);
        self.watchers.remove(name);
        if let Some(a) = self.advertised.remove(name) {
            tracing::debug!("withdrawing {name:?}");
            a.outlet.close();
        }
    }

    /// A client subscribed to `topic`: the first one starts the bridge's subscription.
    pub async fn watch(&mut self, node: &rosy::Node, topic: &str) {
        let count = self.watchers.entry(topic.to_string()).or_default();
        *count += 1;
        if self.forwarders.contains_key(topic) {
            return;
        }
        let Some(a) = self.advertised.get(topic) else {
            return;
        };
        let subscriber = match node.subscriber::<serde_json::Value>(topic).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot subscribe to {topic:?}: {e}");
                return;
            }
        };
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(forward(
            subscriber,
            a.outlet.clone(),
            self.stats.clone(),
            stopped,
        ));
        self.forwarders
            .insert(topic.to_string(), Forwarder { stop, task });
    }

    /// A client unsubscribed from `topic` (or left): the last one stops the subscription.
    pub fn unwatch(&mut self, topic: &str) {
        let Some(count) = self.watchers.get_mut(topic) else {
            return;
        };
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.watchers.remove(topic);
            self.stop_forwarding(topic);
        }
    }

    fn stop_forwarding(&mut self, topic: &str) {
        if let Some(f) = self.forwarders.remove(topic) {
            let _ = f.stop.send(());
            drop(f.task);
        }
    }

    /// Stops every subscription and withdraws every channel.
    pub async fn close(&mut self) {
        // Forwarders first, waited for, so none logs on a closed channel.
        for (_, f) in self.forwarders.drain() {
            let _ = f.stop.send(());
            let _ = f.task.await;
        }
        let names: Vec<String> = self.advertised.keys().cloned().collect();
        for name in names {
            self.withdraw(&name);
        }
    }
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Feeds `outlet` with the messages of `subscriber` until stopped.
async fn forward(
    mut subscriber: rosy::Subscriber<serde_json::Value>,
    outlet: Outlet,
    stats: Arc<Stats>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut lost = 0;
    let mut warned = false;
    loop {
        let message = tokio::select! {
            m = subscriber.recv_encoded() => m,
            _ = &mut stop => None,
        };
        let Some(message) = message else { break };
        let at = now_ns();
        // A 6 MB image takes a millisecond or more to convert and encode: off the async
        // workers' hands.
        let sent = tokio::task::block_in_place(|| outlet.send(&message, at));
        match sent {
            Ok(()) => {
                stats.forwarded.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                stats.undecodable.fetch_add(1, Ordering::Relaxed);
                if !std::mem::replace(&mut warned, true) {
                    tracing::warn!("{}: {e} (further ones counted, not logged)", outlet.topic());
                }
            }
        }
        let now_lost = subscriber.lost();
        stats.lost.fetch_add(now_lost - lost, Ordering::Relaxed);
        lost = now_lost;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosy::msgs::KnownType;
    use rosy::topology::{NodeInfo, TopicInfo};

    fn node(id: &str, tool: bool, topics: &[(&str, TopicRole, CodecId, &str)]) -> NodeInfo {
        NodeInfo {
            id: id.into(),
            name: id.into(),
            domain: "d".into(),
            host_id: "h".into(),
            hostname: "host".into(),
            pid: 1,
            endpoints: vec![],
            transports: vec!["tcp".into()],
            topics: topics
                .iter()
                .map(|(name, role, codec, ty)| TopicInfo {
                    name: name.to_string(),
                    role: *role,
                    codec: *codec,
                    codec_name: codec.name().into(),
                    type_name: ty.to_string(),
                    qos: Default::default(),
                })
                .collect(),
            services: vec![],
            version: 1,
            tool,
            shm_topics: vec![],
            shm_reading: vec![],
            shm_problems: vec![],
            denied: vec![],
        }
    }

    fn topology(nodes: Vec<NodeInfo>) -> Topology {
        let mut t = Topology::default();
        for n in nodes {
            t.upsert(n);
        }
        t
    }

    fn schema_of(context: &Context, topic: &str) -> Option<String> {
        context
            .get_channel_by_topic(topic)
            .map(|c| c.schema().map(|s| s.name.clone()).unwrap_or_default())
    }

    #[test]
    fn channels_follow_the_mesh_preferring_what_publishers_announce() {
        use CodecId::*;
        use TopicRole::*;
        let context = Context::new();
        let mut topics = Topics::new(context.clone(), vec![]);
        let image = KnownType::RawImage.rust_type_name();
        // A listener alone: advertised with its type; a tool's topic and raw bytes are not.
        topics.sync(&topology(vec![
            node("viewer", false, &[("camera", Listen, MsgPack, "()")]),
            node("echo", true, &[("tools-only", Listen, MsgPack, "")]),
            node("blob", false, &[("bytes", Publish, Raw, "")]),
        ]));
        assert_eq!(schema_of(&context, "camera").as_deref(), Some("()"));
        assert_eq!(
            context
                .get_channel_by_topic("camera")
                .unwrap()
                .message_encoding(),
            "json"
        );
        assert!(context.get_channel_by_topic("tools-only").is_none());
        assert!(context.get_channel_by_topic("bytes").is_none());
        // A publisher of RawImage appears: re-advertised as the SDK's protobuf RawImage.
        // Scalar has no Foxglove schema: JSON with rosy's.
        let scalar = KnownType::Scalar.rust_type_name();
        topics.sync(&topology(vec![
            node("viewer", false, &[("camera", Listen, MsgPack, "()")]),
            node("camera", false, &[("camera", Publish, Rkyv, image)]),
            node("meter", false, &[("level", Publish, MsgPack, scalar)]),
        ]));
        let camera = context.get_channel_by_topic("camera").unwrap();
        assert_eq!(camera.message_encoding(), "protobuf");
        let schema = camera.schema().unwrap();
        assert_eq!(
            (schema.name.as_str(), schema.encoding.as_str()),
            ("foxglove.RawImage", "protobuf")
        );
        assert!(!schema.data.is_empty());
        let level = context.get_channel_by_topic("level").unwrap();
        assert_eq!(level.message_encoding(), "json");
        assert_eq!(schema_of(&context, "level").as_deref(), Some("rosy.Scalar"));
        // Everyone gone: withdrawn.
        topics.sync(&topology(vec![]));
        assert!(context.get_channel_by_topic("camera").is_none());
        // Named topics only.
        let mut only = Topics::new(context.clone(), vec!["a".into()]);
        only.sync(&topology(vec![node(
            "n",
            false,
            &[("a", Publish, Json, ""), ("b", Publish, Json, "")],
        )]));
        assert_eq!(schema_of(&context, "a").as_deref(), Some(""));
        assert!(context.get_channel_by_topic("b").is_none());
    }
}
