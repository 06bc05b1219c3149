//! Topic handles: [`Publisher`] sends typed messages on one topic, [`Subscriber`] receives them.
//!
//! Both are cheap to create and announce themselves to the mesh (a subscriber makes this node a
//! listener of its topic; dropping the last one withdraws it).

use super::mesh::publish::{Outbound, Publishing};
use super::mesh::{BoxFuture, Mesh, PublishedTopic};
use super::queue::{Received, SubQueue};
use crate::codec::{BuiltinCodec, Codec, CodecId};
use crate::error::Result;
use crate::qos::{Durability, Qos};
use crate::topology::{TopicInfo, TopicRole};
use bytes::Bytes;
use serde::{Serialize, de::DeserializeOwned};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

pub(crate) fn topic_info<T: ?Sized, C: Codec>(name: &str, role: TopicRole, codec: &C) -> TopicInfo {
    TopicInfo {
        name: name.to_string(),
        role,
        codec: codec.id(),
        codec_name: codec.name().to_string(),
        type_name: std::any::type_name::<T>().to_string(),
        qos: crate::qos::Qos::default(),
    }
}

/// Sends messages of type `T` on one topic, encoded with `C`.
///
/// Made by [`Node::publisher`](crate::Node::publisher) (the node's codec) and its `_with`
/// forms. Sending encodes once, whatever the number of listeners.
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> rosy::Result<()> {
/// # let domain = format!("doc-{}", std::process::id());
/// # let node = |name: &str| {
/// #     rosy::Node::builder(name)
/// #         .domain_id(domain.as_str())
/// #         .interfaces(Some(vec!["lo".into()]))
/// #         .mdns(false)
/// #         .build()
/// # };
/// use std::time::Duration;
/// let (camera, detector) = (node("camera").await?, node("detector").await?);
/// let mut boxes = detector.subscriber::<(u32, String)>("boxes").await?;
///
/// let publisher = camera.publisher::<(u32, String)>("boxes").await?;
/// camera.wait_for_listener("boxes", Duration::from_secs(10)).await?;
/// let delivered_to = publisher.send(&(7, "person".to_string())).await?;
/// assert_eq!(delivered_to, 1);
/// assert_eq!(boxes.recv().await, Some((7, "person".to_string())));
/// # Ok(()) }
/// ```
pub struct Publisher<T: ?Sized, C: Codec = BuiltinCodec> {
    mesh: Arc<Mesh>,
    topic: Arc<PublishedTopic>,
    codec: C,
    qos: Qos,
    _type: PhantomData<fn(&T)>,
}

impl<T: ?Sized, C: Codec> Publisher<T, C> {
    pub(crate) fn new(mesh: Arc<Mesh>, topic: &str, codec: C) -> Self {
        Self::with_qos(mesh, topic, codec, Qos::default())
    }

    /// A publisher with `qos`: a transient-local one keeps its last `qos.depth()` messages for
    /// subscribers that join later.
    pub(crate) fn with_qos(mesh: Arc<Mesh>, topic: &str, codec: C, qos: Qos) -> Self {
        Self::with_type_name(mesh, topic, codec, qos, std::any::type_name::<T>())
    }

    /// A publisher announced as carrying `type_name` (a bridge's foreign type) rather than
    /// `T`'s Rust name.
    pub(crate) fn with_type_name(
        mesh: Arc<Mesh>,
        topic: &str,
        codec: C,
        qos: Qos,
        type_name: &str,
    ) -> Self {
        if qos.durability == Durability::TransientLocal {
            mesh.latch(topic, qos.depth());
        }
        let mut info = topic_info::<T, C>(topic, TopicRole::Publish, &codec);
        info.qos = qos;
        info.type_name = type_name.to_string();
        mesh.add_topic_role(info);
        Publisher {
            mesh,
            topic: Arc::new(PublishedTopic::new(topic)),
            codec,
            qos,
            _type: PhantomData,
        }
    }
}

impl<T: Serialize + ?Sized, C: Codec> Publisher<T, C> {
    /// The topic this publisher sends on.
    pub fn topic(&self) -> &str {
        &self.topic.name
    }

    /// Encodes `message` once and sends it to the topic's listeners. Returns how many nodes it
    /// was handed to (0 when nobody listens: topics are fire and forget). The message is
    /// encoded at the call and sent when the returned future is awaited.
    pub fn send(&self, message: &T) -> Publishing {
        let mut bytes = Vec::new();
        match self.codec.encode(message, &mut bytes) {
            Ok(()) => self
                .mesh
                .publish_on(&self.topic, self.codec.id(), Outbound::Heap(bytes)),
            Err(e) => Publishing::failed(e.into()),
        }
    }

    /// Sends bytes already encoded with this publisher's codec.
    pub fn send_encoded(&self, payload: Bytes) -> Publishing {
        self.mesh
            .publish_on(&self.topic, self.codec.id(), Outbound::Bytes(payload))
    }

    /// Whether any node listens to this topic now.
    pub fn has_listeners(&self) -> bool {
        self.mesh.has_listeners(&self.topic.name)
    }

    /// A buffer of `len` bytes to fill with an encoded message, then [`Loan::send`]. When
    /// same-host nodes listen, the buffer is shared memory they read in place: written once,
    /// never copied (a camera driver writes its frame straight into it).
    pub fn loan(&self, len: usize) -> Loan {
        Loan {
            mesh: self.mesh.clone(),
            topic: self.topic.clone(),
            codec: self.codec.id(),
            buffer: self.mesh.loan(&self.topic.name, len),
        }
    }
}

/// A value that can be written as an rkyv archive straight into a buffer (shared memory) or a
/// vector: what [`Publisher::send_archived`] needs of its type. Implemented for every type rkyv
/// serializes; named so that code generic over archived messages (bridges) can ask for it.
pub trait Archivable:
    for<'a, 'b> rkyv::Serialize<
        rkyv::api::high::HighSerializer<
            rkyv::ser::writer::Buffer<'b>,
            rkyv::ser::allocator::ArenaHandle<'a>,
            rkyv::rancor::Error,
        >,
    > + for<'a> rkyv::Serialize<
        rkyv::api::high::HighSerializer<
            rkyv::util::AlignedVec,
            rkyv::ser::allocator::ArenaHandle<'a>,
            rkyv::rancor::Error,
        >,
    >
{
}

impl<T> Archivable for T where
    T: for<'a, 'b> rkyv::Serialize<
            rkyv::api::high::HighSerializer<
                rkyv::ser::writer::Buffer<'b>,
                rkyv::ser::allocator::ArenaHandle<'a>,
                rkyv::rancor::Error,
            >,
        > + for<'a> rkyv::Serialize<
            rkyv::api::high::HighSerializer<
                rkyv::util::AlignedVec,
                rkyv::ser::allocator::ArenaHandle<'a>,
                rkyv::rancor::Error,
            >,
        >
{
}

impl<T: Archivable, C: Codec> Publisher<T, C> {
    /// Sends `value` as an rkyv archive, serialized straight into shared memory when same-host
    /// nodes listen (`max_len` bounds its size). Receivers read it in place with
    /// [`Subscriber::recv_archived`].
    pub async fn send_archived(&self, value: &T, max_len: usize) -> Result<usize> {
        let mut loan = Loan {
            mesh: self.mesh.clone(),
            topic: self.topic.clone(),
            codec: CodecId::Rkyv,
            buffer: self.mesh.loan(&self.topic.name, max_len),
        };
        if loan.buffer.in_shared_memory() {
            let written =
                rkyv::api::high::to_bytes_in::<rkyv::ser::writer::Buffer<'_>, rkyv::rancor::Error>(
                    value,
                    rkyv::ser::writer::Buffer::from(loan.buffer.as_mut_slice()),
                )
                .map_err(|e| crate::codec::CodecError::Encode {
                    codec: "rkyv",
                    reason: e.to_string(),
                })?
                .len();
            loan.buffer.truncate(written);
            return loan.send().await;
        }
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(value).map_err(|e| {
            crate::codec::CodecError::Encode {
                codec: "rkyv",
                reason: e.to_string(),
            }
        })?;
        self.mesh
            .publish_on(
                &self.topic,
                CodecId::Rkyv,
                Outbound::Bytes(Bytes::copy_from_slice(&bytes)),
            )
            .await
    }
}

/// A message buffer from [`Publisher::loan`]: fill it, then send it.
///
/// To a same-host listener the buffer is shared memory it reads in place: a frame written into
/// a loan is never copied on its way.
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> rosy::Result<()> {
/// # let domain = format!("doc-{}", std::process::id());
/// # let node = |name: &str| {
/// #     rosy::Node::builder(name)
/// #         .domain_id(domain.as_str())
/// #         .interfaces(Some(vec!["lo".into()]))
/// #         .mdns(false)
/// #         .build()
/// # };
/// use rosy::codec::Raw;
/// use std::time::Duration;
/// let (camera, viewer) = (node("camera").await?, node("viewer").await?);
/// let mut frames = viewer.subscriber_with::<Vec<u8>, _>("frames", Raw).await?;
///
/// let publisher = camera.publisher_with::<[u8], _>("frames", Raw).await?;
/// camera.wait_for_listener("frames", Duration::from_secs(10)).await?;
/// let mut loan = publisher.loan(640 * 480);
/// loan.fill(128); // a grey mono8 frame, written in place
/// loan.send().await?;
/// let frame = frames.recv().await.expect("a frame");
/// assert_eq!((frame.len(), frame[0]), (640 * 480, 128));
/// # Ok(()) }
/// ```
pub struct Loan {
    mesh: Arc<Mesh>,
    topic: Arc<PublishedTopic>,
    codec: CodecId,
    buffer: Outbound,
}

impl Loan {
    /// Sends the buffer to the topic's listeners. Returns how many nodes it went to.
    pub fn send(self) -> Publishing {
        self.mesh.publish_on(&self.topic, self.codec, self.buffer)
    }

    /// Shortens the message to `len` bytes.
    pub fn truncate(&mut self, len: usize) {
        self.buffer.truncate(len);
    }

    /// Whether the buffer is shared memory (zero copy to same-host listeners).
    pub fn in_shared_memory(&self) -> bool {
        self.buffer.in_shared_memory()
    }
}

impl std::ops::Deref for Loan {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.buffer.as_slice()
    }
}

impl std::ops::DerefMut for Loan {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut_slice()
    }
}

impl<T: ?Sized, C: Codec> Drop for Publisher<T, C> {
    fn drop(&mut self) {
        self.mesh
            .remove_topic_role(&self.topic.name, TopicRole::Publish, self.qos);
    }
}

/// Receives messages of type `T` from one topic, in the order each sender sent them.
///
/// Made by [`Node::subscriber`](crate::Node::subscriber); the node listens to the topic while
/// the subscriber lives. Read with [`Subscriber::recv`], or as a `futures` `Stream`.
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> rosy::Result<()> {
/// # let domain = format!("doc-{}", std::process::id());
/// # let node = |name: &str| {
/// #     rosy::Node::builder(name)
/// #         .domain_id(domain.as_str())
/// #         .interfaces(Some(vec!["lo".into()]))
/// #         .mdns(false)
/// #         .build()
/// # };
/// use std::time::Duration;
/// let (imu, logger) = (node("imu").await?, node("logger").await?);
/// let mut samples = logger.subscriber::<[f64; 3]>("imu/accel").await?;
///
/// imu.wait_for_listener("imu/accel", Duration::from_secs(10)).await?;
/// for z in [9.79, 9.81, 9.80] {
///     imu.send("imu/accel", &[0.0, 0.0, z]).await?;
/// }
/// let mut got = Vec::new();
/// while got.len() < 3 {
///     got.push(samples.recv().await.expect("a sample")[2]);
/// }
/// assert_eq!(got, [9.79, 9.81, 9.80]); // in the order sent
/// assert_eq!(samples.lost(), 0);
/// # Ok(()) }
/// ```
///
/// A message in a codec other than `C` is decoded with its own codec when that is a built-in
/// one (so `rosy topic send` in JSON reaches a msgpack subscriber); a message that cannot be
/// decoded is logged, counted in [`Subscriber::decode_errors`] and skipped.
pub struct Subscriber<T, C: Codec = BuiltinCodec> {
    mesh: Arc<Mesh>,
    queue: Arc<SubQueue>,
    codec: C,
    decode_errors: AtomicU64,
    next: Option<BoxFuture<Option<Received>>>,
    _type: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned, C: Codec> Subscriber<T, C> {
    pub(crate) fn new(mesh: Arc<Mesh>, topic: &str, codec: C) -> Self {
        Self::with_qos(mesh, topic, codec, Qos::default())
    }

    /// A subscriber with `qos`: `keep_last(n)` holds at most n unread messages (older ones are
    /// dropped and counted in [`Subscriber::lost`]); transient-local receives, first, the last
    /// messages its publishers sent before it came.
    pub(crate) fn with_qos(mesh: Arc<Mesh>, topic: &str, codec: C, qos: Qos) -> Self {
        let mut info = topic_info::<T, C>(topic, TopicRole::Listen, &codec);
        info.qos = qos;
        let queue = mesh.subscribe(info);
        Subscriber {
            mesh,
            queue,
            codec,
            decode_errors: AtomicU64::new(0),
            next: None,
            _type: PhantomData,
        }
    }

    /// The topic this subscriber listens to.
    pub fn topic(&self) -> &str {
        &self.queue.topic
    }

    /// The next message; `None` once the node is closed.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            let message = self.queue.pop().await?;
            if let Some(value) = self.decode(message) {
                return Some(value);
            }
        }
    }

    /// The next message as received, still encoded. From same-host publishers its bytes are
    /// the shared memory the publisher wrote (no copy).
    pub async fn recv_encoded(&mut self) -> Option<Received> {
        self.queue.pop().await
    }

    /// The next message still encoded if one is queued now, without waiting: `Ok(None)` when
    /// none is, `Err(Error::Closed)` once the node is closed and the queue drained. Lets a
    /// caller drain a burst in one go (the Python binding hands batches to its event loop).
    pub fn try_recv_encoded(&mut self) -> Result<Option<Received>> {
        match self.queue.try_pop() {
            Some(message) => Ok(Some(message)),
            None if self.queue.is_closed() => Err(crate::error::Error::Closed),
            None => Ok(None),
        }
    }

    /// The next rkyv message, to read in place with [`Archive::access`]. Messages in other
    /// codecs are skipped (and counted in `decode_errors`).
    pub async fn recv_archived(&mut self) -> Option<Archive> {
        loop {
            let message = self.queue.pop().await?;
            if message.codec == CodecId::Rkyv {
                return Some(Archive::new(message.payload));
            }
            self.decode_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Messages dropped because this subscriber fell behind (the oldest go first).
    pub fn lost(&self) -> u64 {
        self.queue.lost()
    }

    /// Messages skipped because they could not be decoded as `T`.
    pub fn decode_errors(&self) -> u64 {
        self.decode_errors.load(Ordering::Relaxed)
    }

    fn decode(&self, message: Received) -> Option<T> {
        let result = if message.codec == self.codec.id() && message.codec != CodecId::Custom {
            self.codec.decode(&message.payload)
        } else if let Some(codec) = BuiltinCodec::from_id(message.codec) {
            codec.decode(&message.payload)
        } else if message.codec == CodecId::Custom && self.codec.id() == CodecId::Custom {
            self.codec.decode(&message.payload)
        } else {
            self.decode_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "skipping a {} message on {:?}: this subscriber decodes {}",
                message.codec,
                self.queue.topic,
                self.codec.name()
            );
            return None;
        };
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.decode_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "skipping a message on {:?} that is not a {}: {e}",
                    self.queue.topic,
                    std::any::type_name::<T>()
                );
                None
            }
        }
    }
}

impl<T, C: Codec> Drop for Subscriber<T, C> {
    fn drop(&mut self) {
        self.mesh.unsubscribe(&self.queue);
    }
}

impl<T: DeserializeOwned, C: Codec + Unpin> futures_core::Stream for Subscriber<T, C> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // Subscriber holds no self-references (its pending future is boxed), so it is Unpin.
        let this = self.get_mut();
        loop {
            let next = this.next.get_or_insert_with(|| {
                let queue = this.queue.clone();
                Box::pin(async move { queue.pop().await })
            });
            let message = match next.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(m) => m,
            };
            this.next = None;
            let Some(message) = message else {
                return Poll::Ready(None);
            };
            if let Some(value) = this.decode(message) {
                return Poll::Ready(Some(value));
            }
        }
    }
}

/// An rkyv archive as received: in shared memory when it came from a same-host publisher.
pub struct Archive {
    bytes: Bytes,
    /// A 16-byte aligned copy, made only when the received bytes are not aligned (TCP).
    aligned: Option<rkyv::util::AlignedVec<16>>,
}

impl Archive {
    /// The archive in `bytes` (a received rkyv payload), copied once to align it when it is
    /// not 16-byte aligned.
    pub fn new(bytes: Bytes) -> Self {
        let aligned = (bytes.as_ptr() as usize % 16 != 0).then(|| {
            let mut v = rkyv::util::AlignedVec::<16>::with_capacity(bytes.len());
            v.extend_from_slice(&bytes);
            v
        });
        Archive { bytes, aligned }
    }

    /// The archive's bytes (16-byte aligned).
    pub fn bytes(&self) -> &[u8] {
        match &self.aligned {
            Some(v) => v,
            None => &self.bytes,
        }
    }

    /// Whether the archive is read where the publisher wrote it (no copy was made).
    pub fn in_place(&self) -> bool {
        self.aligned.is_none()
    }

    /// The archived value, validated first (a malformed archive is an error, never UB).
    pub fn access<A>(&self) -> Result<&A, crate::codec::CodecError>
    where
        A: rkyv::Portable
            + for<'a> rkyv::bytecheck::CheckBytes<
                rkyv::api::high::HighValidator<'a, rkyv::rancor::Error>,
            >,
    {
        rkyv::access::<A, rkyv::rancor::Error>(self.bytes()).map_err(|e| {
            crate::codec::CodecError::Decode {
                codec: "rkyv",
                len: self.bytes.len(),
                reason: e.to_string(),
            }
        })
    }

    /// The archived value without validation.
    ///
    /// # Safety
    /// The bytes must be a valid archive of `A` (a trusted publisher of this very type).
    pub unsafe fn access_unchecked<A: rkyv::Portable>(&self) -> &A {
        // SAFETY: the caller vouches that the bytes are a valid archive of A; they are 16-byte
        // aligned (see `new`) and live as long as self.
        unsafe { rkyv::access_unchecked::<A>(self.bytes()) }
    }
}

/// A subscription whose messages go to a handler as they come, on the thread that takes them
/// in ([`Node::on_message`](crate::Node::on_message)). The node listens while it lives.
pub struct InlineSubscription {
    mesh: Arc<Mesh>,
    queue: Arc<SubQueue>,
}

impl InlineSubscription {
    pub(crate) fn new(
        mesh: Arc<Mesh>,
        topic: &str,
        qos: Qos,
        handler: crate::node::queue::Inline,
    ) -> Self {
        let mut info =
            topic_info::<[u8], crate::codec::Raw>(topic, TopicRole::Listen, &crate::codec::Raw);
        info.qos = qos;
        let queue = mesh.subscribe_with(info, Some(handler));
        InlineSubscription { mesh, queue }
    }

    /// The topic it listens to.
    pub fn topic(&self) -> &str {
        &self.queue.topic
    }
}

impl Drop for InlineSubscription {
    fn drop(&mut self) {
        self.mesh.unsubscribe(&self.queue);
    }
}
