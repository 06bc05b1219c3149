//! The node as Python sees it (`rosy._rosy.Node`), under the `rosy.Node` wrapper of
//! `rosy/__init__.py`: topics, services, loans and subscriptions over one `rosy::Node`.
//!
//! Messages are encoded by whoever knows the codec: msgpack here in Rust (`send`, `call`, and
//! decoding in [`Subscription::recv_batch`]), JSON, pickle and users' codecs in Python, which
//! hands this module bytes (`send_encoded`, `call_encoded`). Every topic and service announces
//! its codec: `msgpack`, `json`, or the custom codec's own name (`pickle`: tools show its
//! payloads as bytes).

use crate::awaitable::{ready, resolve, runtime};
use crate::buffer::Loan;
use crate::buffer::VIEW_MIN;
use crate::errors::{RosyError, TimeoutError, to_py};
use crate::value;
use bytes::Bytes;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use rosy::codec::{Codec, CodecError, CodecId};
use rosy::node::{Publisher, Received, Subscriber};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How many queued messages one `recv_batch` hands over at most.
const BATCH: usize = 256;

/// A batch stops growing past this many payload bytes: each large message held by a batch holds
/// a shared-memory chunk of its publisher until the whole batch is processed, and a publisher
/// has few (4 in flight, up to 64 MiB while readers hold them).
const BATCH_BYTES: usize = 256 * 1024;

/// The message type Python topics and services announce: any Python value, encoded by the
/// node's codec. Never decoded by serde (the binding decodes itself); it exists so that typed
/// handles name it.
pub struct PythonValue;

impl serde::Serialize for PythonValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

impl<'de> serde::Deserialize<'de> for PythonValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| PythonValue)
    }
}

/// A codec as the mesh is told of it: id and name. Python encodes and decodes; this only names.
#[derive(Clone)]
pub struct CodecTag {
    id: CodecId,
    name: Arc<str>,
}

impl Codec for CodecTag {
    fn id(&self) -> CodecId {
        self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn encode<T: serde::Serialize + ?Sized>(
        &self,
        _: &T,
        _: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        Err(CodecError::Encode {
            codec: "python",
            reason: "Python messages are encoded by the Python package".into(),
        })
    }
    fn decode<T: serde::de::DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        Err(CodecError::Decode {
            codec: "python",
            len: bytes.len(),
            reason: "Python messages are decoded by the Python package".into(),
        })
    }
}

type PyPublisher = Arc<Publisher<PythonValue, CodecTag>>;

fn codec_from_byte(byte: u8) -> PyResult<CodecId> {
    CodecId::from_byte(byte).ok_or_else(|| PyValueError::new_err(format!("no codec has id {byte}")))
}

/// One running node.
#[pyclass(frozen, module = "rosy._rosy")]
pub struct Node {
    node: rosy::Node,
    codec: CodecTag,
    call_timeout: Duration,
    publishers: Mutex<HashMap<String, PyPublisher>>,
    raw_publishers: Mutex<HashMap<String, PyPublisher>>,
}

impl Node {
    fn publisher_in(
        &self,
        table: &Mutex<HashMap<String, PyPublisher>>,
        topic: &str,
        codec: &CodecTag,
    ) -> PyResult<PyPublisher> {
        let mut table = table.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = table.get(topic) {
            return Ok(p.clone());
        }
        let publisher = runtime()
            .block_on(
                self.node
                    .publisher_with::<PythonValue, CodecTag>(topic, codec.clone()),
            )
            .map_err(to_py)?;
        let publisher = Arc::new(publisher);
        table.insert(topic.to_string(), publisher.clone());
        Ok(publisher)
    }

    fn publisher(&self, topic: &str) -> PyResult<PyPublisher> {
        self.publisher_in(&self.publishers, topic, &self.codec)
    }
}

/// Sends `encoded` with `publisher`: small messages as they are, large ones copied once into a
/// loan (shared memory when same-host nodes listen).
async fn send_encoded(publisher: PyPublisher, encoded: value::Encoded) -> PyResult<usize> {
    if encoded.pieces.is_empty() && encoded.head.len() < VIEW_MIN {
        return publisher
            .send_encoded(Bytes::from(encoded.head))
            .await
            .map_err(to_py);
    }
    let mut loan = publisher.loan(encoded.len());
    encoded.write_into(&mut loan);
    // Let go of the Python buffers before waiting (dropping them takes the interpreter lock).
    drop(encoded);
    loan.send().await.map_err(to_py)
}

#[pymethods]
impl Node {
    #[getter]
    fn name(&self) -> String {
        self.node.name()
    }

    #[getter]
    fn id(&self) -> String {
        self.node.id()
    }

    #[getter]
    fn domain_id(&self) -> String {
        self.node.domain_id().to_string()
    }

    /// The codec's wire id (`rosy.CODEC_*`).
    #[getter]
    fn codec_id(&self) -> u8 {
        self.codec.id.to_byte()
    }

    /// `send(topic, *args, **kwargs)` with msgpack: encoded here, no Python in between.
    #[pyo3(signature = (topic, *args, **kwargs))]
    fn send<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if self.codec.id != CodecId::MsgPack {
            return Err(PyTypeError::new_err(
                "this node's codec is not msgpack: the rosy.Node wrapper encodes with it",
            ));
        }
        let encoded = value::encode_args(args, kwargs)?;
        let large = encoded.len() >= VIEW_MIN;
        let publisher = self.publisher(topic)?;
        resolve(py, send_encoded(publisher, encoded), large)
    }

    /// Sends a payload already encoded with this node's codec (json, pickle, a user's).
    fn send_encoded<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        payload: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let buffer = value::contiguous_bytes(payload)?;
        let large = buffer.len_bytes() >= VIEW_MIN;
        let encoded = value::Encoded {
            head: Vec::new(),
            pieces: vec![(0, buffer)],
        };
        let publisher = self.publisher(topic)?;
        resolve(py, send_encoded(publisher, encoded), large)
    }

    /// A buffer of `size` bytes to fill in place and send on `topic` as raw bytes (codec
    /// `raw`): Python listeners get it as one positional argument, Rust ones as bytes.
    fn loan(&self, topic: &str, size: usize) -> PyResult<Loan> {
        let raw = CodecTag {
            id: CodecId::Raw,
            name: "raw".into(),
        };
        let publisher = self.publisher_in(&self.raw_publishers, topic, &raw)?;
        Ok(Loan::new(publisher.loan(size)))
    }

    /// Listens to `topic` from now on; read messages with `Subscription.recv_batch`.
    fn subscribe(&self, topic: &str) -> PyResult<Subscription> {
        let subscriber = runtime()
            .block_on(
                self.node
                    .subscriber_with::<PythonValue, CodecTag>(topic, self.codec.clone()),
            )
            .map_err(to_py)?;
        Ok(Subscription {
            slot: Arc::new(Mutex::new(Slot {
                subscriber: Some(subscriber),
                closed: false,
                lost: 0,
            })),
            closing: Arc::new(tokio::sync::Notify::new()),
        })
    }

    fn topic_has_listeners(&self, topic: &str) -> bool {
        self.node.topic_has_listeners(topic)
    }

    fn service_has_providers(&self, service: &str) -> bool {
        self.node.service_has_providers(service)
    }

    /// Waits until some node listens to `topic`; `TimeoutError` after `timeout` seconds.
    #[pyo3(signature = (topic, timeout=None))]
    fn wait_for_listener<'py>(
        &self,
        py: Python<'py>,
        topic: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let node = self.node.clone();
        let timeout = seconds(timeout)?;
        resolve(
            py,
            async move { node.wait_for_listener(&topic, timeout).await.map_err(to_py) },
            false,
        )
    }

    /// Waits until some node provides `service`; `TimeoutError` after `timeout` seconds.
    #[pyo3(signature = (service, timeout=None))]
    fn wait_for_service_provider<'py>(
        &self,
        py: Python<'py>,
        service: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let node = self.node.clone();
        let timeout = seconds(timeout)?;
        resolve(
            py,
            async move {
                node.wait_for_service_provider(&service, timeout)
                    .await
                    .map_err(|e| match e {
                        rosy::Error::NoProvider { service, .. } => TimeoutError::new_err(format!(
                            "no node provides service {service:?} (waited {timeout:?})"
                        )),
                        e => to_py(e),
                    })
            },
            false,
        )
    }

    /// Calls `service` with msgpack: `call(service, *args, **kwargs)`, answer decoded.
    #[pyo3(signature = (service, timeout, *args, **kwargs))]
    fn call<'py>(
        &self,
        py: Python<'py>,
        service: String,
        timeout: Option<f64>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let payload = Bytes::from(value::encode_args(args, kwargs)?.into_vec());
        self.call_with(py, service, CodecId::MsgPack, payload, timeout, true)
    }

    /// Calls `service` with a payload already encoded in codec `codec` (a `CODEC_*` id);
    /// returns `(codec id, payload)` of the answer.
    #[pyo3(signature = (service, codec, payload, timeout=None))]
    fn call_encoded<'py>(
        &self,
        py: Python<'py>,
        service: String,
        codec: u8,
        payload: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let buffer = value::contiguous_bytes(payload)?;
        let bytes = Bytes::from(
            value::Encoded {
                head: Vec::new(),
                pieces: vec![(0, buffer)],
            }
            .into_vec(),
        );
        self.call_with(py, service, codec_from_byte(codec)?, bytes, timeout, false)
    }

    /// Hosts `service`: each request goes to `dispatch(codec id, payload)`, a coroutine function
    /// on the current event loop answering `(ok, codec id, payload or error text)`.
    fn add_service(&self, py: Python<'_>, service: String, dispatch: Py<PyAny>) -> PyResult<()> {
        let locals = pyo3_async_runtimes::tokio::get_current_locals(py)?;
        let dispatch = Arc::new(dispatch);
        let locals = Arc::new(locals);
        let info = rosy::topology::ServiceInfo {
            name: service,
            codec: self.codec.id,
            codec_name: self.codec.name.to_string(),
            request_type: "python".into(),
            response_type: "python".into(),
        };
        let node = self.node.clone();
        runtime()
            .block_on(node.add_service_encoded(info, move |request: Received| {
                let dispatch = dispatch.clone();
                let locals = locals.clone();
                async move { serve(&dispatch, &locals, request).await }
            }))
            .map_err(to_py)
    }

    fn remove_service<'py>(&self, py: Python<'py>, service: String) -> PyResult<Bound<'py, PyAny>> {
        let node = self.node.clone();
        resolve(
            py,
            async move { Ok(node.remove_service(&service).await) },
            false,
        )
    }

    /// Closes the node, blocking: queued messages are written out first (at most 1 s).
    ///
    /// `rosy.Node.stop` runs it on an executor thread rather than awaiting a runtime future:
    /// a runtime thread that completes an asyncio future wakes the event loop through Python,
    /// and if that future is the program's last, the interpreter may already be exiting while
    /// that thread is still inside Python, which aborts the process.
    fn close_blocking(&self, py: Python<'_>) {
        let node = self.node.clone();
        py.detach(|| runtime().block_on(node.close()));
    }

    /// Topic messages this node dropped because a peer did not take them in time.
    fn dropped(&self) -> u64 {
        self.node.dropped()
    }

    /// Messages sent so far as (through shared memory, by TCP), one per recipient node.
    fn sent_by_transport(&self) -> (u64, u64) {
        self.node.sent_by_transport()
    }

    fn __repr__(&self) -> String {
        format!(
            "<rosy node {:?} in domain {:?}>",
            self.node.name(),
            self.node.domain_id()
        )
    }
}

impl Node {
    fn call_with<'py>(
        &self,
        py: Python<'py>,
        service: String,
        codec: CodecId,
        payload: Bytes,
        timeout: Option<f64>,
        decode: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let node = self.node.clone();
        let timeout = match timeout {
            Some(_) => seconds(timeout)?,
            None => self.call_timeout,
        };
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let answer = node
                .call_encoded(&service, codec, payload, timeout)
                .await
                .map_err(to_py)?;
            Ok(Answer { answer, decode })
        })
    }
}

/// A service's answer, decoded when it is msgpack and `decode` is asked.
struct Answer {
    answer: Received,
    decode: bool,
}

impl<'py> IntoPyObject<'py> for Answer {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let Received { codec, payload } = self.answer;
        if self.decode {
            return match codec {
                CodecId::MsgPack => value::decode_value(py, &payload),
                CodecId::Raw => value::bytes_object(py, payload),
                other => Err(RosyError::new_err(format!(
                    "the service answered in {other}, not msgpack"
                ))),
            };
        }
        let payload = value::bytes_object(py, payload)?;
        Ok(PyTuple::new(py, [codec.to_byte().into_pyobject(py)?.into_any(), payload])?.into_any())
    }
}

/// Runs one request through the Python dispatcher on its event loop.
async fn serve(
    dispatch: &Py<PyAny>,
    locals: &pyo3_async_runtimes::TaskLocals,
    request: Received,
) -> Result<Received, rosy::ServiceError> {
    let python_failed =
        |e: PyErr| rosy::ServiceError::msg(format!("the Python provider failed: {e}"));
    let future = Python::attach(|py| -> PyResult<_> {
        let payload = value::bytes_object(py, request.payload)?;
        let coroutine = dispatch.call1(py, (request.codec.to_byte(), payload))?;
        pyo3_async_runtimes::into_future_with_locals(locals, coroutine.into_bound(py))
    })
    .map_err(python_failed)?;
    let outcome = future.await.map_err(python_failed)?;
    Python::attach(|py| {
        let (ok, codec, payload): (bool, u8, Bound<'_, PyAny>) =
            outcome.extract(py).map_err(python_failed)?;
        if !ok {
            let text: String = payload.extract().map_err(python_failed)?;
            return Err(rosy::ServiceError(text));
        }
        let buffer = value::contiguous_bytes(&payload).map_err(python_failed)?;
        let bytes = value::Encoded {
            head: Vec::new(),
            pieces: vec![(0, buffer)],
        }
        .into_vec();
        Ok(Received {
            codec: codec_from_byte(codec).map_err(python_failed)?,
            payload: Bytes::from(bytes),
        })
    })
}

fn seconds(timeout: Option<f64>) -> PyResult<Duration> {
    match timeout {
        // The original waits forever: a year is forever enough.
        None => Ok(Duration::from_secs(365 * 24 * 3600)),
        Some(s) => Duration::try_from_secs_f64(s)
            .map_err(|_| PyValueError::new_err(format!("timeout must be seconds >= 0, not {s}"))),
    }
}

struct Slot {
    subscriber: Option<Subscriber<PythonValue, CodecTag>>,
    closed: bool,
    /// The subscriber's loss count when it was last in the slot.
    lost: u64,
}

/// One topic's subscription, read in batches by the listener task of `rosy.Node.listen`.
///
/// `close` ends a pending `recv_batch` by resolving it with `None` rather than by cancelling
/// it: a cancelled Rust future would still reach into Python from a runtime thread later,
/// possibly while the interpreter exits.
#[pyclass(frozen, module = "rosy._rosy")]
pub struct Subscription {
    slot: Arc<Mutex<Slot>>,
    closing: Arc<tokio::sync::Notify>,
}

/// Messages handed to Python at once; decoded into `(args, kwargs)` pairs when msgpack or raw,
/// `(codec id, payload)` otherwise (decoded by the Python codec).
struct Batch(Vec<Received>);

impl<'py> IntoPyObject<'py> for Batch {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mut items = Vec::with_capacity(self.0.len());
        for Received { codec, payload } in self.0 {
            match codec {
                CodecId::MsgPack => match value::decode_args(py, &payload) {
                    Ok(pair) => items.push(pair.into_any()),
                    Err(e) => tracing::warn!("skipping a message: {e}"),
                },
                CodecId::Raw => {
                    let args = PyTuple::new(py, [value::bytes_object(py, payload)?])?;
                    items.push(
                        PyTuple::new(py, [args.into_any(), py.None().into_bound(py)])?.into_any(),
                    );
                }
                other => {
                    let payload = value::bytes_object(py, payload)?;
                    let id = other.to_byte().into_pyobject(py)?.into_any();
                    items.push(PyTuple::new(py, [id, payload])?.into_any());
                }
            }
        }
        Ok(pyo3::types::PyList::new(py, items)?.into_any())
    }
}

fn drain(subscriber: &mut Subscriber<PythonValue, CodecTag>, batch: &mut Vec<Received>) -> bool {
    let mut bytes: usize = batch.iter().map(|m| m.payload.len()).sum();
    while batch.len() < BATCH && bytes < BATCH_BYTES {
        match subscriber.try_recv_encoded() {
            Ok(Some(m)) => {
                bytes += m.payload.len();
                batch.push(m);
            }
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
    true
}

#[pymethods]
impl Subscription {
    /// The messages queued now (at most 256), or, when none is, an awaitable of the next ones;
    /// `None` once the subscription or the node is closed.
    fn recv_batch<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        let Some(subscriber) = slot.subscriber.as_mut() else {
            return ready(py, py.None());
        };
        let mut batch = Vec::new();
        let open = drain(subscriber, &mut batch);
        if !batch.is_empty() {
            return ready(py, Batch(batch));
        }
        if !open {
            return ready(py, py.None());
        }
        let mut subscriber = slot.subscriber.take().expect("checked above");
        drop(slot);
        let slot = self.slot.clone();
        let closing = self.closing.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let first = tokio::select! {
                first = subscriber.recv_encoded() => first,
                _ = closing.notified() => None,
            };
            let batch = first.map(|m| {
                let mut batch = vec![m];
                drain(&mut subscriber, &mut batch);
                Batch(batch)
            });
            let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
            slot.lost = subscriber.lost();
            if !slot.closed {
                slot.subscriber = Some(subscriber);
            }
            Ok(batch)
        })
    }

    /// Messages this subscription lost because it fell behind (as of its last receive).
    fn lost(&self) -> u64 {
        let slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.subscriber.as_ref().map_or(slot.lost, |s| s.lost())
    }

    /// Stops listening (a pending `recv_batch` that is cancelled drops its part too).
    fn close(&self) {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.closed = true;
        slot.subscriber = None;
        // A permit: a recv_batch about to wait sees it too.
        self.closing.notify_one();
    }
}

/// Builds a node (see `rosy.build_node`). `codec` is `msgpack`, `json`, or a custom codec's
/// name; `settle` waits (at most that many seconds) until discovered same-domain peers are
/// connected, so a message sent right after reaches listeners already running.
// One parameter per keyword argument Python passes.
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (name, domain_id=None, codec="msgpack", topic_load_balancing=None, call_timeout=10.0, settle=1.0, shm_pool_chunks=None))]
pub fn build_node<'py>(
    py: Python<'py>,
    name: String,
    domain_id: Option<String>,
    codec: &str,
    topic_load_balancing: Option<&str>,
    call_timeout: f64,
    settle: f64,
    shm_pool_chunks: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let tag = match codec {
        "msgpack" => CodecTag {
            id: CodecId::MsgPack,
            name: "msgpack".into(),
        },
        "json" => CodecTag {
            id: CodecId::Json,
            name: "json".into(),
        },
        "raw" | "rkyv" | "" => {
            return Err(PyValueError::new_err(format!(
                "{codec:?} cannot be a node's codec: use msgpack, json, pickle or a codec object"
            )));
        }
        custom => CodecTag {
            id: CodecId::Custom,
            name: custom.into(),
        },
    };
    let mut builder = rosy::Node::builder(&name);
    if let Some(domain) = domain_id {
        builder = builder.domain_id(domain);
    }
    if tag.id == CodecId::Json {
        builder = builder.codec(rosy::codec::BuiltinCodec::Json);
    }
    if let Some(strategy) = topic_load_balancing {
        let strategy: rosy::Strategy = strategy
            .parse()
            .map_err(|e: String| PyValueError::new_err(format!("topic_load_balancer: {e}")))?;
        builder = builder.load_balancing(strategy);
    }
    let call_timeout = Duration::try_from_secs_f64(call_timeout)
        .map_err(|_| PyValueError::new_err("call_timeout must be seconds >= 0"))?;
    builder = builder.call_timeout(call_timeout);
    if let Some(chunks) = shm_pool_chunks {
        builder = builder.shm_pool_chunks(chunks);
    }
    let settle = Duration::try_from_secs_f64(settle)
        .map_err(|_| PyValueError::new_err("settle must be seconds >= 0"))?;
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        let node = builder.build().await.map_err(to_py)?;
        if !settle.is_zero() {
            node.settle(Duration::from_millis(100).min(settle), settle)
                .await;
        }
        Ok(Node {
            node,
            codec: tag,
            call_timeout,
            publishers: Mutex::new(HashMap::new()),
            raw_publishers: Mutex::new(HashMap::new()),
        })
    })
}
