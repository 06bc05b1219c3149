//! Topic handles: [`Publisher`] sends typed messages on one topic, [`Subscriber`] receives them.
//!
//! Both are cheap to create and announce themselves to the mesh (a subscriber makes this node a
//! listener of its topic; dropping the last one withdraws it).

use super::mesh::{BoxFuture, Mesh};
use super::queue::{Received, SubQueue};
use crate::codec::{BuiltinCodec, Codec, CodecId};
use crate::error::Result;
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
    }
}

/// Sends messages of type `T` on one topic, encoded with `C`.
pub struct Publisher<T: ?Sized, C: Codec = BuiltinCodec> {
    mesh: Arc<Mesh>,
    topic: String,
    codec: C,
    _type: PhantomData<fn(&T)>,
}

impl<T: Serialize + ?Sized, C: Codec> Publisher<T, C> {
    pub(crate) fn new(mesh: Arc<Mesh>, topic: &str, codec: C) -> Self {
        mesh.add_topic_role(topic_info::<T, C>(topic, TopicRole::Publish, &codec));
        Publisher {
            mesh,
            topic: topic.to_string(),
            codec,
            _type: PhantomData,
        }
    }

    /// The topic this publisher sends on.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Encodes `message` once and sends it to the topic's listeners. Returns how many nodes it
    /// was handed to (0 when nobody listens: topics are fire and forget).
    pub async fn send(&self, message: &T) -> Result<usize> {
        let mut bytes = Vec::new();
        self.codec.encode(message, &mut bytes)?;
        self.mesh
            .publish(&self.topic, self.codec.id(), Bytes::from(bytes))
            .await
    }

    /// Sends bytes already encoded with this publisher's codec.
    pub async fn send_encoded(&self, payload: Bytes) -> Result<usize> {
        self.mesh
            .publish(&self.topic, self.codec.id(), payload)
            .await
    }

    /// Whether any node listens to this topic now.
    pub fn has_listeners(&self) -> bool {
        self.mesh.has_listeners(&self.topic)
    }
}

impl<T: ?Sized, C: Codec> Drop for Publisher<T, C> {
    fn drop(&mut self) {
        self.mesh.remove_topic_role(&self.topic, TopicRole::Publish);
    }
}

/// Receives messages of type `T` from one topic, in the order each sender sent them.
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
        let queue = mesh.subscribe(topic_info::<T, C>(topic, TopicRole::Listen, &codec));
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

    /// The next message as received, still encoded.
    pub async fn recv_encoded(&mut self) -> Option<Received> {
        self.queue.pop().await
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
