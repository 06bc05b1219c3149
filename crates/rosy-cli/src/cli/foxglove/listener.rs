//! What Foxglove clients do, as the bridge hears it: the SDK calls [`ClientEvents`] from its
//! connection tasks, and it turns each call into a message for the bridge's loop (subscribe,
//! unsubscribe) or for the client-publish task (a message to send on the mesh).
//!
//! It never blocks the SDK and never touches the mesh itself: a client publishing faster than
//! the mesh takes its messages loses them, counted in `client_dropped`.

use bytes::Bytes;
use foxglove::websocket::{ChannelView, Client, ClientChannel, ServerListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// A client started or stopped watching a topic.
#[derive(Debug, PartialEq, Eq)]
pub enum Watch {
    Subscribe(String),
    Unsubscribe(String),
}

/// A message a client published, for the mesh.
#[derive(Debug)]
pub struct ClientMessage {
    pub topic: String,
    pub encoding: String,
    pub payload: Bytes,
}

/// Messages from clients waiting to go to the mesh, at most (beyond: dropped and counted).
pub const CLIENT_QUEUE: usize = 1024;

/// The SDK's listener: forwards clients' actions to the bridge.
pub struct ClientEvents {
    watch: mpsc::UnboundedSender<Watch>,
    publish: mpsc::Sender<ClientMessage>,
    pub client_dropped: Arc<AtomicU64>,
}

impl ClientEvents {
    pub fn new() -> (
        ClientEvents,
        mpsc::UnboundedReceiver<Watch>,
        mpsc::Receiver<ClientMessage>,
    ) {
        let (watch, watch_rx) = mpsc::unbounded_channel();
        let (publish, publish_rx) = mpsc::channel(CLIENT_QUEUE);
        let events = ClientEvents {
            watch,
            publish,
            client_dropped: Arc::new(AtomicU64::new(0)),
        };
        (events, watch_rx, publish_rx)
    }
}

impl ServerListener for ClientEvents {
    fn on_subscribe(&self, _client: Client, channel: ChannelView) {
        let _ = self
            .watch
            .send(Watch::Subscribe(channel.topic().to_string()));
    }

    fn on_unsubscribe(&self, _client: Client, channel: ChannelView) {
        let _ = self
            .watch
            .send(Watch::Unsubscribe(channel.topic().to_string()));
    }

    fn on_message_data(&self, _client: Client, channel: &ClientChannel, payload: &[u8]) {
        let message = ClientMessage {
            topic: channel.topic.clone(),
            encoding: channel.encoding.clone(),
            payload: Bytes::copy_from_slice(payload),
        };
        if self.publish.try_send(message).is_err() {
            self.client_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
