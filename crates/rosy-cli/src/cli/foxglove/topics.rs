//! Mesh topics as Foxglove channels: every topic of the mesh (or those named) is advertised as
//! a JSON channel while some node publishes or listens to it, re-advertised when its codec or
//! type changes, withdrawn when it goes; the bridge subscribes to a topic only while a client
//! watches it, and converts each message to JSON (`rosy::msgs::JsonForm`) on its way out.
//!
//! A slow client never slows the mesh: the bridge's subscription drops its oldest messages when
//! conversion falls behind (counted in [`Stats::lost`]), and the SDK drops a client's oldest
//! queued messages when its socket falls behind. Topics whose messages cannot become JSON (raw
//! bytes, custom codecs, rkyv of an unknown type) are not advertised.

use foxglove::{Context, PartialMetadata, RawChannel, Schema};
use rosy::codec::CodecId;
use rosy::msgs::JsonForm;
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
    channel: Arc<RawChannel>,
    codec: CodecId,
    type_name: String,
    form: JsonForm,
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
            let Some(form) = JsonForm::new(codec, &type_name) else {
                if self.skipped.insert(name.clone()) {
                    tracing::info!(
                        "not advertising {name:?}: its {codec} messages ({type_name}) cannot \
                         be shown as JSON"
                    );
                }
                continue;
            };
            let schema = form
                .schema()
                .map(|s| Schema::new(s.name, s.encoding, s.data));
            let built = self
                .context
                .channel_builder(name.clone())
                .message_encoding("json")
                .schema(schema)
                .build_raw();
            match built {
                Ok(channel) => {
                    tracing::debug!("advertising {name:?} ({codec}, {type_name})");
                    self.skipped.remove(&name);
                    self.advertised.insert(
                        name,
                        Advertised {
                            channel,
                            codec,
                            type_name,
                            form,
                        },
                    );
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
            a.channel.close();
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
            a.channel.clone(),
            a.form.clone(),
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

/// Feeds `channel` with the messages of `subscriber`, as JSON, until stopped.
async fn forward(
    mut subscriber: rosy::Subscriber<serde_json::Value>,
    channel: Arc<RawChannel>,
    form: JsonForm,
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
        // A 6 MB image takes milliseconds to convert: off the async workers' hands.
        let json = tokio::task::block_in_place(|| form.convert(message.codec, &message.payload));
        match json {
            Ok(json) => {
                channel.log_with_meta(&json, PartialMetadata::with_log_time(at));
                stats.forwarded.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                stats.undecodable.fetch_add(1, Ordering::Relaxed);
                if !std::mem::replace(&mut warned, true) {
                    tracing::warn!(
                        "{}: {e} (further ones counted, not logged)",
                        channel.topic()
                    );
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
        // A publisher of RawImage appears: re-advertised with Foxglove's schema.
        topics.sync(&topology(vec![
            node("viewer", false, &[("camera", Listen, MsgPack, "()")]),
            node("camera", false, &[("camera", Publish, Rkyv, image)]),
        ]));
        assert_eq!(
            schema_of(&context, "camera").as_deref(),
            Some("foxglove.RawImage")
        );
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
