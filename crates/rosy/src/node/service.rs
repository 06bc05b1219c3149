//! Service handles: [`Client`] calls a service by name; handlers registered with
//! `Node::add_service` answer. Requests carry an id, so answers may come back in any order.

use super::mesh::{ErasedHandler, Mesh};
use crate::codec::{BuiltinCodec, Codec, CodecId};
use crate::error::{Error, Result, ServiceError};
use crate::topology::ServiceInfo;
use crate::transport::tcp::frame::ResponseError;
use bytes::Bytes;
use serde::{Serialize, de::DeserializeOwned};
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn service_info<Req, Resp, C: Codec>(name: &str, codec: &C) -> ServiceInfo {
    ServiceInfo {
        name: name.to_string(),
        codec: codec.id(),
        codec_name: codec.name().to_string(),
        request_type: std::any::type_name::<Req>().to_string(),
        response_type: std::any::type_name::<Resp>().to_string(),
    }
}

/// Wraps a typed handler into one that takes and returns encoded bytes.
pub(crate) fn erase<Req, Resp, C, F, Fut>(codec: C, handler: F) -> ErasedHandler
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
    C: Codec,
    F: Fn(Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<Resp, ServiceError>> + Send + 'static,
{
    let handler = Arc::new(handler);
    Arc::new(move |request_codec: CodecId, payload: Bytes| {
        let codec = codec.clone();
        let handler = handler.clone();
        Box::pin(async move {
            let request: Req = decode_with(&codec, request_codec, &payload).map_err(|e| {
                (
                    ResponseError::CodecMismatch,
                    format!(
                        "request is not a {} in {}: {e}",
                        std::any::type_name::<Req>(),
                        request_codec
                    ),
                )
            })?;
            let response = handler(request)
                .await
                .map_err(|e| (ResponseError::Handler, e.0))?;
            // Answer in the caller's codec when it is a built-in one, so tools get what they sent.
            let mut out = Vec::new();
            let answer_codec = match BuiltinCodec::from_id(request_codec) {
                Some(builtin) if request_codec != codec.id() => {
                    builtin.encode(&response, &mut out).map(|_| request_codec)
                }
                _ => codec.encode(&response, &mut out).map(|_| codec.id()),
            }
            .map_err(|e| {
                (
                    ResponseError::Handler,
                    format!("cannot encode the response: {e}"),
                )
            })?;
            Ok((answer_codec, Bytes::from(out)))
        })
    })
}

/// Decodes with `codec` when the payload is in it, else with the payload's own built-in codec.
pub(crate) fn decode_with<T: DeserializeOwned, C: Codec>(
    codec: &C,
    payload_codec: CodecId,
    payload: &[u8],
) -> std::result::Result<T, String> {
    if payload_codec == codec.id() {
        return codec.decode(payload).map_err(|e| e.to_string());
    }
    match BuiltinCodec::from_id(payload_codec) {
        Some(builtin) => builtin.decode(payload).map_err(|e| e.to_string()),
        None => Err(format!(
            "payload codec {payload_codec} does not match {}",
            codec.name()
        )),
    }
}

/// Calls one service with typed requests and responses.
///
/// Made by [`Node::client`](crate::Node::client); [`Node::call`](crate::Node::call) is the
/// one-off form. A call goes to one provider of the service (round-robin among several) and
/// comes back with its answer or an [`Error`](crate::Error) to match on.
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
/// let (provider, caller) = (node("calculator").await?, node("planner").await?);
/// provider
///     .add_service("multiply", |(a, b): (i64, i64)| async move {
///         a.checked_mul(b).ok_or(rosy::ServiceError::msg("overflow"))
///     })
///     .await?;
///
/// let multiply = caller.client::<(i64, i64), i64>("multiply");
/// caller.wait_for_service_provider("multiply", Duration::from_secs(10)).await?;
/// assert_eq!(multiply.call(&(6, 7)).await?, 42);
/// match multiply.call(&(i64::MAX, 2)).await {
///     Err(rosy::Error::Handler { message, .. }) => assert_eq!(message, "overflow"),
///     other => panic!("expected the handler's error, got {other:?}"),
/// }
/// # Ok(()) }
/// ```
pub struct Client<Req: ?Sized, Resp, C: Codec = BuiltinCodec> {
    mesh: Arc<Mesh>,
    service: String,
    codec: C,
    timeout: Duration,
    _types: PhantomData<fn(&Req) -> Resp>,
}

impl<Req: Serialize + ?Sized, Resp: DeserializeOwned, C: Codec> Client<Req, Resp, C> {
    pub(crate) fn new(mesh: Arc<Mesh>, service: &str, codec: C, timeout: Duration) -> Self {
        Client {
            mesh,
            service: service.to_string(),
            codec,
            timeout,
            _types: PhantomData,
        }
    }

    /// The service this client calls.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Calls the service with the client's timeout.
    pub async fn call(&self, request: &Req) -> Result<Resp> {
        self.call_timeout(request, self.timeout).await
    }

    /// Calls the service, waiting at most `timeout` for the answer.
    pub async fn call_timeout(&self, request: &Req, timeout: Duration) -> Result<Resp> {
        let mut bytes = Vec::new();
        self.codec.encode(request, &mut bytes)?;
        let (codec, payload) = self
            .mesh
            .request(&self.service, self.codec.id(), Bytes::from(bytes), timeout)
            .await?;
        decode_with(&self.codec, codec, &payload).map_err(|detail| Error::CodecMismatch {
            name: self.service.clone(),
            detail: format!(
                "response is not a {}: {detail}",
                std::any::type_name::<Resp>()
            ),
        })
    }

    /// Whether any node hosts this service now.
    pub fn has_providers(&self) -> bool {
        self.mesh.has_providers(&self.service)
    }
}
