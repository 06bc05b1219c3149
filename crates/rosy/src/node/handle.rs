//! [`Node`]: the handle of a running node, and everything a node does through it: topics,
//! services, the view of the mesh, closing. Built by `builder`; the work is the mesh's.

use super::mesh::Mesh;
use super::preference::TransportPreference;
use super::queue::Received;
use super::service::Client;
use super::topic::{InlineSubscription, Publisher, Subscriber};
use crate::balance::Strategy;
use crate::codec::{BuiltinCodec, Codec};
use crate::discovery::Discovery;
use crate::error::{Error, Result, ServiceError};
use crate::topology::{NodeInfo, ServiceInfo, TopicRole, Topology};
use crate::transport::tcp::secure::Verb;
use bytes::Bytes;
use serde::{Serialize, de::DeserializeOwned};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct NodeInner {
    mesh: Arc<Mesh>,
    discovery: Mutex<Option<Discovery>>,
    codec: BuiltinCodec,
    call_timeout: Duration,
    transport: TransportPreference,
    listeners: Mutex<HashMap<String, Vec<tokio::task::JoinHandle<()>>>>,
}

impl NodeInner {
    fn close(&self) {
        self.mesh.close();
        if let Some(mut d) = self
            .discovery
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            d.close();
        }
        for (_, tasks) in self
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
        {
            for t in tasks {
                t.abort();
            }
        }
    }
}

impl Drop for NodeInner {
    fn drop(&mut self) {
        self.close();
    }
}

/// A running node. Cheap to clone; the node closes when [`Node::close`] is called or the last
/// clone is dropped.
///
/// Build one with [`Node::builder`] (or [`build_node`] with every setting from the
/// environment). Nodes of one domain find each other by themselves, on one host or across a
/// LAN; a node's code never names a transport.
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> rosy::Result<()> {
/// # let domain = format!("doc-{}", std::process::id());
/// use std::time::Duration;
/// let node = |name: &str| {
///     rosy::Node::builder(name)
///         .domain_id(domain.as_str())
///         .interfaces(Some(vec!["lo".into()])) // stay on this machine
///         .mdns(false) // same-host peers meet through the host registry
///         .build()
/// };
/// let (listener, sender) = (node("listener").await?, node("sender").await?);
///
/// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
/// listener
///     .listen("some-topic", move |topic, msg: String| {
///         let tx = tx.clone();
///         async move {
///             let _ = tx.send(format!("{msg} on {topic}"));
///         }
///     })
///     .await?;
/// sender.wait_for_listener("some-topic", Duration::from_secs(10)).await?;
/// sender.send("some-topic", &"hello world").await?;
/// assert_eq!(rx.recv().await.as_deref(), Some("hello world on some-topic"));
///
/// assert!(sender.topology().nodes().any(|peer| peer.name == "listener"));
/// sender.close().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.name())
            .field("id", &self.id())
            .field("domain", &self.domain_id())
            .finish()
    }
}

impl Node {
    pub(super) fn from_parts(
        mesh: Arc<Mesh>,
        discovery: Discovery,
        codec: BuiltinCodec,
        call_timeout: Duration,
        transport: TransportPreference,
    ) -> Self {
        Node {
            inner: Arc::new(NodeInner {
                mesh,
                discovery: Mutex::new(Some(discovery)),
                codec,
                call_timeout,
                transport,
                listeners: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub(super) fn mesh(&self) -> &Arc<Mesh> {
        &self.inner.mesh
    }

    /// The node's name, as given to the builder (nodes of one name share work round-robin).
    pub fn name(&self) -> String {
        self.mesh().own_info().name
    }

    /// The node's id: random, unique in the mesh, fresh at each start.
    pub fn id(&self) -> String {
        self.mesh().own_id().to_string()
    }

    /// The domain the node belongs to.
    pub fn domain_id(&self) -> &str {
        self.mesh().domain()
    }

    /// The transport preference this node was built with.
    pub fn transport(&self) -> TransportPreference {
        self.inner.transport
    }

    /// This node's own info, as its peers see it.
    pub fn info(&self) -> NodeInfo {
        self.mesh().own_info()
    }

    /// The peers this node is connected to, with what they listen to and provide.
    pub fn topology(&self) -> Topology {
        self.mesh().topology()
    }

    /// Resolves when the topology changes next (a peer comes, goes or changes its topics).
    /// A change between reading [`Node::topology`] and calling this is not seen: to wait for a
    /// condition, use [`Node::wait_for_topology`].
    pub async fn topology_changed(&self) {
        let mut changes = self.mesh().changes();
        let _ = changes.changed().await;
    }

    /// Waits up to `timeout` until `ready` holds of the topology, checking it after every
    /// change (none is missed between a check and the wait); `true` if it came to hold.
    pub async fn wait_for_topology(
        &self,
        timeout: Duration,
        ready: impl Fn(&Topology) -> bool,
    ) -> bool {
        let mut changes = self.mesh().changes();
        tokio::time::timeout(timeout, async {
            loop {
                changes.borrow_and_update();
                if ready(&self.topology()) {
                    return;
                }
                if changes.changed().await.is_err() {
                    // The node is gone: nothing will change any more.
                    std::future::pending::<()>().await;
                }
            }
        })
        .await
        .is_ok()
    }

    /// Topic messages this node handed to peers so far, as (through shared memory, by TCP):
    /// one per message and recipient node.
    pub fn sent_by_transport(&self) -> (u64, u64) {
        let mesh = self.mesh();
        (
            mesh.sent_shm.load(std::sync::atomic::Ordering::Relaxed),
            mesh.sent_tcp.load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Whether this node's links are secured (`off`, `permissive` or `enforce`).
    pub fn security_mode(&self) -> crate::security::SecurityMode {
        self.mesh().config.guard.mode
    }

    /// Topic messages from peers refused by the domain's ACL (secure mode): a peer that may
    /// not publish what it sent. Each refused flow is also logged once.
    pub fn denied(&self) -> u64 {
        self.mesh().denied_count()
    }

    /// Topic messages dropped because a peer did not take them within the send timeout.
    pub fn dropped(&self) -> u64 {
        self.mesh()
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    // ----- topics ------------------------------------------------------------------------------

    /// Sends `message` on `topic` with the node's codec. Returns how many nodes it went to.
    pub async fn send<T: Serialize + ?Sized>(&self, topic: &str, message: &T) -> Result<usize> {
        check("topic", topic)?;
        self.mesh().check_own(Verb::Publish, topic)?;
        let codec = self.inner.codec;
        self.mesh().note_sender(super::topic::topic_info::<T, _>(
            topic,
            TopicRole::Publish,
            &codec,
        ));
        let mut bytes = Vec::new();
        codec.encode(message, &mut bytes)?;
        self.mesh()
            .publish(topic, codec.id(), Bytes::from(bytes))
            .await
    }

    /// Sends a payload already encoded with `codec` (tools replaying recordings use this).
    pub async fn send_encoded(
        &self,
        topic: &str,
        codec: crate::codec::CodecId,
        payload: Bytes,
    ) -> Result<usize> {
        check("topic", topic)?;
        self.mesh().check_own(Verb::Publish, topic)?;
        self.mesh().publish(topic, codec, payload).await
    }

    /// A typed publisher on `topic` with the node's codec.
    pub async fn publisher<T: Serialize + ?Sized>(&self, topic: &str) -> Result<Publisher<T>> {
        self.publisher_with(topic, self.inner.codec).await
    }

    /// A typed publisher on `topic` with a codec of your choice.
    pub async fn publisher_with<T: Serialize + ?Sized, C: Codec>(
        &self,
        topic: &str,
        codec: C,
    ) -> Result<Publisher<T, C>> {
        check("topic", topic)?;
        self.mesh().check_own(Verb::Publish, topic)?;
        Ok(Publisher::new(self.mesh().clone(), topic, codec))
    }

    /// A typed publisher on `topic` with the node's codec and quality of service `qos`
    /// (see [`crate::qos`]).
    ///
    /// ```no_run
    /// # async fn demo(node: rosy::Node) -> rosy::Result<()> {
    /// use rosy::qos::Qos;
    /// // A map sent once: subscribers that start later still receive it.
    /// let map = node.publisher_with_qos::<Vec<u8>>("map", Qos::latched()).await?;
    /// map.send(&vec![0u8; 1024]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn publisher_with_qos<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        qos: crate::qos::Qos,
    ) -> Result<Publisher<T>> {
        self.publisher_with_codec_qos(topic, self.inner.codec, qos)
            .await
    }

    /// A typed publisher with a codec of your choice and quality of service `qos`.
    pub async fn publisher_with_codec_qos<T: Serialize + ?Sized, C: Codec>(
        &self,
        topic: &str,
        codec: C,
        qos: crate::qos::Qos,
    ) -> Result<Publisher<T, C>> {
        check("topic", topic)?;
        self.mesh().check_own(Verb::Publish, topic)?;
        Ok(Publisher::with_qos(self.mesh().clone(), topic, codec, qos))
    }

    /// A publisher of rkyv archives of `T` on `topic` (see [`Publisher::send_archived`]): large
    /// values are serialized straight into shared memory and read in place by same-host nodes.
    pub async fn archive_publisher<T>(
        &self,
        topic: &str,
    ) -> Result<Publisher<T, crate::codec::Rkyv>> {
        check("topic", topic)?;
        self.mesh().check_own(Verb::Publish, topic)?;
        Ok(Publisher::new(
            self.mesh().clone(),
            topic,
            crate::codec::Rkyv,
        ))
    }

    /// A publisher of rkyv archives of `T` on `topic` with quality of service `qos` (a
    /// transient-local one keeps its last `qos.depth()` archives for late subscribers).
    pub async fn archive_publisher_with_qos<T>(
        &self,
        topic: &str,
        qos: crate::qos::Qos,
    ) -> Result<Publisher<T, crate::codec::Rkyv>> {
        check("topic", topic)?;
        self.mesh().check_own(Verb::Publish, topic)?;
        Ok(Publisher::with_qos(
            self.mesh().clone(),
            topic,
            crate::codec::Rkyv,
            qos,
        ))
    }

    /// A publisher of payloads encoded elsewhere in `codec` (send them with
    /// [`Publisher::send_encoded`]), announced as carrying `type_name`: a bridge passing on
    /// another system's messages uses it, so `rosy topic info` names what the topic carries
    /// (`sensor_msgs/msg/Temperature`) rather than a Rust type.
    ///
    /// `codec` is only announced and stamped on each message, never asked to encode: a bridge
    /// carrying rkyv archives or a custom codec's payloads passes a codec of its own whose
    /// [`Codec::id`] and [`Codec::name`] say what they are.
    pub async fn encoded_publisher<C: Codec>(
        &self,
        topic: &str,
        codec: C,
        type_name: &str,
        qos: crate::qos::Qos,
    ) -> Result<Publisher<[u8], C>> {
        check("topic", topic)?;
        self.mesh().check_own(Verb::Publish, topic)?;
        Ok(Publisher::with_type_name(
            self.mesh().clone(),
            topic,
            codec,
            qos,
            type_name,
        ))
    }

    /// A typed subscriber to `topic`: this node listens from now on, until it is dropped.
    pub async fn subscriber<T: DeserializeOwned>(&self, topic: &str) -> Result<Subscriber<T>> {
        self.subscriber_with(topic, self.inner.codec).await
    }

    /// A typed subscriber decoding with a codec of your choice.
    pub async fn subscriber_with<T: DeserializeOwned, C: Codec>(
        &self,
        topic: &str,
        codec: C,
    ) -> Result<Subscriber<T, C>> {
        check("topic", topic)?;
        if self.mesh().is_closed() {
            return Err(Error::Closed);
        }
        self.mesh().check_own(Verb::Subscribe, topic)?;
        Ok(Subscriber::new(self.mesh().clone(), topic, codec))
    }

    /// A typed subscriber to `topic` with quality of service `qos` (see [`crate::qos`]).
    ///
    /// ```no_run
    /// # async fn demo(node: rosy::Node) -> rosy::Result<()> {
    /// use rosy::qos::Qos;
    /// // Gets the map its publisher sent before this subscriber existed.
    /// let mut map = node.subscriber_with_qos::<Vec<u8>>("map", Qos::latched()).await?;
    /// let latest = map.recv().await;
    /// # Ok(()) }
    /// ```
    pub async fn subscriber_with_qos<T: DeserializeOwned>(
        &self,
        topic: &str,
        qos: crate::qos::Qos,
    ) -> Result<Subscriber<T>> {
        self.subscriber_with_codec_qos(topic, self.inner.codec, qos)
            .await
    }

    /// A typed subscriber with a codec of your choice and quality of service `qos`.
    pub async fn subscriber_with_codec_qos<T: DeserializeOwned, C: Codec>(
        &self,
        topic: &str,
        codec: C,
        qos: crate::qos::Qos,
    ) -> Result<Subscriber<T, C>> {
        check("topic", topic)?;
        if self.mesh().is_closed() {
            return Err(Error::Closed);
        }
        self.mesh().check_own(Verb::Subscribe, topic)?;
        Ok(Subscriber::with_qos(self.mesh().clone(), topic, codec, qos))
    }

    /// Runs `handler` for every message on `topic`, still encoded, on the thread that takes it
    /// in: the node's shared-memory reader thread, or the task reading a TCP link. No queue and
    /// no task stand between them, so a message to a sleeping process wakes it once (a
    /// subscriber's `recv` costs a second wake-up: the reader's, then the task's). The node
    /// listens while the returned [`InlineSubscription`] lives.
    ///
    /// The handler must be quick and must not block: while it runs, the node takes no other
    /// message from that transport. It runs outside the node's locks, so it may hand work to a
    /// runtime (`tokio::runtime::Handle::spawn`: the shared-memory reader is a thread of the
    /// node's own, not the runtime's) or another thread, publish included. Transient-local QoS
    /// is refused (history for late joiners goes through a queue).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> rosy::Result<()> {
    /// # let domain = format!("doc-inline-{}", std::process::id());
    /// # let node = |name: &str| {
    /// #     rosy::Node::builder(name)
    /// #         .domain_id(domain.as_str())
    /// #         .interfaces(Some(vec!["lo".into()]))
    /// #         .mdns(false)
    /// #         .build()
    /// # };
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let (lidar, counter) = (node("lidar").await?, node("counter").await?);
    /// let bytes = Arc::new(AtomicUsize::new(0));
    /// let seen = bytes.clone();
    /// let _counting = counter
    ///     .on_message("scan", rosy::qos::Qos::default(), move |m| {
    ///         seen.fetch_add(m.payload.len(), Ordering::Relaxed);
    ///     })
    ///     .await?;
    /// lidar.wait_for_listener("scan", Duration::from_secs(10)).await?;
    /// let scans = lidar.publisher_with::<[u8], _>("scan", rosy::codec::Raw).await?;
    /// scans.send(&[7u8; 100]).await?;
    /// tokio::time::timeout(Duration::from_secs(10), async {
    ///     while bytes.load(Ordering::Relaxed) < 100 {
    ///         tokio::time::sleep(Duration::from_millis(5)).await;
    ///     }
    /// })
    /// .await
    /// .expect("the handler saw the scan");
    /// # Ok(()) }
    /// ```
    pub async fn on_message<F>(
        &self,
        topic: &str,
        qos: crate::qos::Qos,
        handler: F,
    ) -> Result<InlineSubscription>
    where
        F: Fn(&Received) + Send + Sync + 'static,
    {
        check("topic", topic)?;
        if self.mesh().is_closed() {
            return Err(Error::Closed);
        }
        if qos.durability == crate::qos::Durability::TransientLocal {
            return Err(Error::Invalid {
                what: "QoS",
                reason: "an inline handler cannot be transient-local: history for late \
                         joiners goes through a queue (use a subscriber)"
                    .into(),
            });
        }
        self.mesh().check_own(Verb::Subscribe, topic)?;
        Ok(InlineSubscription::new(
            self.mesh().clone(),
            topic,
            qos,
            Arc::new(handler),
        ))
    }

    /// Calls `callback(topic, message)` for every message on `topic`, one at a time, in order,
    /// until [`Node::stop_listening`] or the node closes.
    pub async fn listen<T, F, Fut>(&self, topic: &str, callback: F) -> Result<()>
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(String, T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut subscriber = self.subscriber::<T>(topic).await?;
        let name = topic.to_string();
        let task = tokio::spawn(async move {
            while let Some(message) = subscriber.recv().await {
                callback(name.clone(), message).await;
            }
        });
        self.inner
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(topic.to_string())
            .or_default()
            .push(task);
        Ok(())
    }

    /// Stops every listener and subscriber of this node on `topic`.
    pub async fn stop_listening(&self, topic: &str) {
        let tasks = self
            .inner
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(topic)
            .unwrap_or_default();
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
        self.mesh().unsubscribe_all(topic);
    }

    /// Sets how same-name listeners of `topic` share its messages (overrides the node's default).
    pub fn set_topic_load_balancing(&self, topic: &str, strategy: Strategy) {
        self.mesh().set_topic_strategy(topic, strategy);
    }

    /// Whether any node of the mesh (this one included) listens to `topic`.
    pub fn topic_has_listeners(&self, topic: &str) -> bool {
        self.mesh().has_listeners(topic)
    }

    /// Waits until some node listens to `topic`, at most `timeout`.
    pub async fn wait_for_listener(&self, topic: &str, timeout: Duration) -> Result<()> {
        self.wait_until(timeout, |mesh| mesh.has_listeners(topic))
            .await
            .map_err(|waited| Error::NoListener {
                topic: topic.to_string(),
                domain: self.domain_id().to_string(),
                waited,
            })
    }

    /// Waits until `count` nodes (this one included) listen to `topic` and can be sent to, at
    /// most `timeout`: for a sender whose first message must reach every receiver it expects.
    pub async fn wait_for_listeners(
        &self,
        topic: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<()> {
        self.wait_until(timeout, |mesh| mesh.listener_count(topic) >= count)
            .await
            .map_err(|waited| Error::FewListeners {
                topic: topic.to_string(),
                domain: self.domain_id().to_string(),
                wanted: count,
                found: self.mesh().listener_count(topic),
                waited,
            })
    }

    // ----- services ----------------------------------------------------------------------------

    /// Hosts service `name`: `handler(request)` answers each call. Its error's text travels
    /// back to the caller.
    pub async fn add_service<Req, Resp, F, Fut>(&self, name: &str, handler: F) -> Result<()>
    where
        Req: DeserializeOwned + Send + 'static,
        Resp: Serialize + Send + 'static,
        F: Fn(Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<Resp, ServiceError>> + Send + 'static,
    {
        self.add_service_with(name, self.inner.codec, handler).await
    }

    /// Hosts a service whose requests and responses use a codec of your choice.
    pub async fn add_service_with<Req, Resp, C, F, Fut>(
        &self,
        name: &str,
        codec: C,
        handler: F,
    ) -> Result<()>
    where
        Req: DeserializeOwned + Send + 'static,
        Resp: Serialize + Send + 'static,
        C: Codec,
        F: Fn(Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<Resp, ServiceError>> + Send + 'static,
    {
        self.may_provide(name)?;
        let info = super::service::service_info::<Req, Resp, C>(name, &codec);
        self.mesh()
            .add_service(info, super::service::erase(codec, handler), false);
        Ok(())
    }

    /// Hosts service `name` with a handler that answers at once (no `await`): it runs on the
    /// thread that takes a same-host request in (the node's shared-memory reader thread), not
    /// in a task, so a sleeping provider is woken once a call instead of twice. Keep it short:
    /// while it runs, that thread reads no other message. Calls by TCP and from this node run
    /// it as [`Node::add_service`] does.
    ///
    /// ```
    /// # async fn demo(node: rosy::Node) -> rosy::Result<()> {
    /// node.add_service_inline("multiply", |(a, b): (i64, i64)| {
    ///     a.checked_mul(b).ok_or_else(|| rosy::ServiceError::msg("overflow"))
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn add_service_inline<Req, Resp, F>(&self, name: &str, handler: F) -> Result<()>
    where
        Req: DeserializeOwned + Send + 'static,
        Resp: Serialize + Send + 'static,
        F: Fn(Req) -> std::result::Result<Resp, ServiceError> + Send + Sync + 'static,
    {
        self.may_provide(name)?;
        let codec = self.inner.codec;
        let info = super::service::service_info::<Req, Resp, _>(name, &codec);
        let handler = move |request: Req| std::future::ready(handler(request));
        self.mesh()
            .add_service(info, super::service::erase(codec, handler), true);
        Ok(())
    }

    /// Hosts a service whose handler takes each request as received (its codec and bytes) and
    /// returns its answer already encoded, for bindings that encode messages themselves (the
    /// Python package). `info` is what the mesh is told: its codec and codec name (a custom
    /// codec's own, such as `pickle`) and the type names tools show. The handler's error text
    /// reaches the caller as [`Error::Handler`].
    pub async fn add_service_encoded<F, Fut>(&self, info: ServiceInfo, handler: F) -> Result<()>
    where
        F: Fn(Received) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<Received, ServiceError>> + Send + 'static,
    {
        self.may_provide(&info.name)?;
        let handler = Arc::new(handler);
        let erased: super::mesh::ErasedHandler = Arc::new(move |codec, payload| {
            let handler = handler.clone();
            Box::pin(async move {
                handler(Received { codec, payload })
                    .await
                    .map(|answer| (answer.codec, answer.payload))
                    .map_err(|e| (crate::transport::tcp::frame::ResponseError::Handler, e.0))
            })
        });
        self.mesh().add_service(info, erased, false);
        Ok(())
    }

    /// [`Node::add_service_encoded`] with a handler that answers at once, run as
    /// [`Node::add_service_inline`] runs its handler.
    pub async fn add_service_encoded_inline<F>(&self, info: ServiceInfo, handler: F) -> Result<()>
    where
        F: Fn(Received) -> std::result::Result<Received, ServiceError> + Send + Sync + 'static,
    {
        self.may_provide(&info.name)?;
        let handler = Arc::new(handler);
        let erased: super::mesh::ErasedHandler = Arc::new(move |codec, payload| {
            let answer = handler(Received { codec, payload })
                .map(|answer| (answer.codec, answer.payload))
                .map_err(|e| (crate::transport::tcp::frame::ResponseError::Handler, e.0));
            Box::pin(std::future::ready(answer))
        });
        self.mesh().add_service(info, erased, true);
        Ok(())
    }

    /// Whether this node may host service `name` now: a valid name, the node open, the
    /// domain's ACL allowing it.
    fn may_provide(&self, name: &str) -> Result<()> {
        check("service", name)?;
        if self.mesh().is_closed() {
            return Err(Error::Closed);
        }
        self.mesh().check_own(Verb::Provide, name)
    }

    /// Stops hosting `name`. Returns whether it was hosted.
    pub async fn remove_service(&self, name: &str) -> bool {
        self.mesh().remove_service(name)
    }

    /// Calls `service` with the node's codec and default timeout.
    pub async fn call<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &self,
        service: &str,
        request: &Req,
    ) -> Result<Resp> {
        self.call_timeout(service, request, self.inner.call_timeout)
            .await
    }

    /// Calls `service`, waiting at most `timeout` for the answer.
    pub async fn call_timeout<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &self,
        service: &str,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp> {
        check("service", service)?;
        Client::new(self.mesh().clone(), service, self.inner.codec, timeout)
            .call(request)
            .await
    }

    /// Calls `service` with a payload already encoded in `codec`, returning the raw answer.
    pub async fn call_encoded(
        &self,
        service: &str,
        codec: crate::codec::CodecId,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Received> {
        check("service", service)?;
        let (codec, payload) = self
            .mesh()
            .request(service, codec, payload, timeout)
            .await?;
        Ok(Received { codec, payload })
    }

    /// A typed client of `service` with the node's codec and default timeout.
    pub fn client<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &self,
        service: &str,
    ) -> Client<Req, Resp> {
        Client::new(
            self.mesh().clone(),
            service,
            self.inner.codec,
            self.inner.call_timeout,
        )
    }

    /// A typed client of `service` with a codec of your choice.
    pub fn client_with<Req: Serialize + ?Sized, Resp: DeserializeOwned, C: Codec>(
        &self,
        service: &str,
        codec: C,
    ) -> Client<Req, Resp, C> {
        Client::new(self.mesh().clone(), service, codec, self.inner.call_timeout)
    }

    /// Whether any node of the mesh (this one included) hosts `service`.
    pub fn service_has_providers(&self, service: &str) -> bool {
        self.mesh().has_providers(service)
    }

    /// Peers discovery reports whose connection is not up (yet): a node frozen or overloaded
    /// before it finished the handshake stays here.
    pub fn unconnected_peers(&self) -> usize {
        self.mesh().unconnected_peers()
    }

    /// Waits until some node hosts `service`, at most `timeout`.
    pub async fn wait_for_service_provider(&self, service: &str, timeout: Duration) -> Result<()> {
        self.wait_until(timeout, |mesh| mesh.has_providers(service))
            .await
            .map_err(|_| Error::NoProvider {
                service: service.to_string(),
                domain: self.domain_id().to_string(),
            })
    }

    /// Waits until the mesh looks fully known: every discovered peer is connected and nothing
    /// changed for `quiet`; at most `max`. Tools call it before listing the mesh, so they answer
    /// as soon as they can instead of sleeping a fixed time.
    pub async fn settle(&self, quiet: Duration, max: Duration) {
        let deadline = tokio::time::Instant::now() + max;
        let mut changes = self.mesh().changes();
        loop {
            changes.borrow_and_update();
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match tokio::time::timeout(quiet.min(left), changes.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => return,
                Err(_) if self.mesh().unconnected_peers() == 0 => return,
                Err(_) => {
                    // Someone is discovered but not connected yet: wait a little more.
                    let _ = tokio::time::timeout(
                        Duration::from_millis(50).min(left),
                        changes.changed(),
                    )
                    .await;
                }
            }
        }
    }

    // ----- life --------------------------------------------------------------------------------

    async fn wait_until(
        &self,
        timeout: Duration,
        ready: impl Fn(&Mesh) -> bool,
    ) -> std::result::Result<(), Duration> {
        let start = Instant::now();
        let mut changes = self.mesh().changes();
        loop {
            changes.borrow_and_update();
            if ready(self.mesh()) {
                return Ok(());
            }
            if self.mesh().is_closed() {
                return Err(start.elapsed());
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() || tokio::time::timeout(left, changes.changed()).await.is_err() {
                return if ready(self.mesh()) {
                    Ok(())
                } else {
                    Err(timeout)
                };
            }
        }
    }

    /// Withdraws the node from discovery and closes its connections and subscriptions, after
    /// writing out what is already queued for its peers (waiting at most one second).
    /// Dropping the last clone closes the node too, without that wait.
    pub async fn close(&self) {
        self.mesh().finish_links().await;
        let inner = self.inner.clone();
        // Discovery's goodbye blocks briefly (mDNS unregister); keep it off the runtime threads.
        let _ = tokio::task::spawn_blocking(move || inner.close()).await;
    }

    /// Runs until Ctrl-C or SIGTERM, then closes the node.
    pub async fn forever(&self) {
        let stop = super::shutdown_signal();
        tokio::select! {
            _ = stop => {}
            _ = self.mesh().wait_closed() => {}
        }
        self.close().await;
    }
}

fn check(what: &'static str, name: &str) -> Result<()> {
    crate::names::check_name(what, name).map_err(|reason| Error::Invalid {
        what: match what {
            "topic" => "topic name",
            "service" => "service name",
            _ => "name",
        },
        reason,
    })
}
