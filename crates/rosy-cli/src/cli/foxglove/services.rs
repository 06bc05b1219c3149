//! Mesh services as Foxglove services: each service some node provides is advertised while it
//! is provided; a client's call (a JSON request) is made on the mesh with `Node::call_encoded`
//! and the answer returned as JSON, or the mesh's error as the call's error.
//!
//! It never blocks the SDK: each call runs in its own task, bounded by the call timeout.

use foxglove::WebSocketServerHandle;
use foxglove::websocket::service::{Request, Service, ServiceSchema};
use rosy::codec::CodecId;
use rosy::msgs::JsonForm;
use rosy::topology::Topology;
use std::collections::BTreeSet;
use std::time::Duration;

/// The services advertised to clients.
pub struct Services {
    advertised: BTreeSet<String>,
    timeout: Duration,
}

impl Services {
    pub fn new(timeout: Duration) -> Services {
        Services {
            advertised: BTreeSet::new(),
            timeout,
        }
    }

    /// Advertises services that appeared in `topology`, withdraws those that went.
    pub fn sync(&mut self, topology: &Topology, server: &WebSocketServerHandle, node: &rosy::Node) {
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        let mut types = std::collections::BTreeMap::new();
        for n in topology.nodes().filter(|n| !n.tool) {
            for s in &n.services {
                wanted.insert(s.name.clone());
                types.insert(s.name.clone(), s.request_type.clone());
            }
        }
        let gone: Vec<String> = self.advertised.difference(&wanted).cloned().collect();
        if !gone.is_empty() {
            server.remove_services(&gone);
            for name in gone {
                self.advertised.remove(&name);
            }
        }
        for name in wanted {
            if self.advertised.contains(&name) {
                continue;
            }
            let schema_name = types
                .get(&name)
                .filter(|t| !t.is_empty())
                .cloned()
                .unwrap_or_else(|| name.clone());
            let service = call_on_mesh(&name, &schema_name, node.clone(), self.timeout);
            match server.add_services([service]) {
                Ok(()) => {
                    self.advertised.insert(name);
                }
                Err(e) => tracing::warn!("cannot advertise service {name:?} to Foxglove: {e}"),
            }
        }
    }
}

/// A Foxglove service whose calls go to the mesh's `name`.
fn call_on_mesh(name: &str, schema_name: &str, node: rosy::Node, timeout: Duration) -> Service {
    let service = name.to_string();
    Service::builder(name, ServiceSchema::new(schema_name)).async_handler_fn(
        move |request: Request| {
            let (node, service) = (node.clone(), service.clone());
            async move { call(&node, &service, request, timeout).await }
        },
    )
}

/// Makes one call; the answer as JSON bytes, or the error's text.
async fn call(
    node: &rosy::Node,
    service: &str,
    request: Request,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    if request.encoding() != "json" {
        return Err(format!(
            "rosy services take JSON requests from Foxglove, not {}",
            request.encoding()
        ));
    }
    let payload = request.into_payload();
    let answer = node
        .call_encoded(service, CodecId::Json, payload, timeout)
        .await
        .map_err(|e| e.to_string())?;
    match JsonForm::new(answer.codec, "") {
        Some(form) => form
            .convert(answer.codec, &answer.payload)
            .map_err(|e| e.to_string()),
        None => Err(format!(
            "{service} answered in codec {}, which cannot be shown as JSON",
            answer.codec
        )),
    }
}
