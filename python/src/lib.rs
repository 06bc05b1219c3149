//! `rosy._rosy`: the Rust core of the Python package `rosy` (see `python/rosy/__init__.py` for
//! the API users call, the original rosy's).
//!
//! - [`node`]: the node, its subscriptions and services;
//! - [`errors`]: rosy's errors as Python exceptions;
//! - [`value`]: Python values ↔ msgpack, and how arguments travel (`args`/`kwargs`);
//! - [`buffer`]: received messages read in place, loans written in place (buffer protocol);
//! - [`awaitable`]: Rust futures as asyncio awaitables, resolved at once when they can be.
//!
//! Every node of the process runs on one tokio runtime, started at the first node; asyncio
//! callbacks run on the caller's event loop.

mod awaitable;
mod buffer;
mod errors;
mod node;
mod value;

use errors::{NoProviderError, RosyError, ServiceResponseError, TimeoutError};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// Encodes `(args, kwargs)` as a msgpack message (see the wire shape in the docs).
#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
fn encode_args(
    py: Python<'_>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let bytes = value::encode_args(args, kwargs)?.into_vec();
    Ok(pyo3::types::PyBytes::new(py, &bytes).into_any().unbind())
}

/// Decodes a msgpack message into `(args, kwargs or None)`.
#[pyfunction]
fn decode_args<'py>(py: Python<'py>, payload: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
    value::decode_args(py, &owned_bytes(payload)?)
}

/// Encodes one value as msgpack (a service's answer).
#[pyfunction]
fn encode_value(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let bytes = value::encode_value(value)?.into_vec();
    Ok(pyo3::types::PyBytes::new(py, &bytes).into_any().unbind())
}

/// Decodes one msgpack value.
#[pyfunction]
fn decode_value<'py>(py: Python<'py>, payload: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    value::decode_value(py, &owned_bytes(payload)?)
}

fn owned_bytes(payload: &Bound<'_, PyAny>) -> PyResult<bytes::Bytes> {
    let buffer = value::contiguous_bytes(payload)?;
    Ok(bytes::Bytes::from(
        value::Encoded {
            head: Vec::new(),
            pieces: vec![(0, buffer)],
        }
        .into_vec(),
    ))
}

#[pymodule]
fn _rosy(m: &Bound<'_, PyModule>) -> PyResult<()> {
    rosy::init_logging(0);
    // Secure mode (ROSY_SECURITY, ROSY_SECURITY_DIR) for every node this module builds.
    rosy_security::install();
    let py = m.py();
    m.add_class::<node::Node>()?;
    m.add_class::<node::Subscription>()?;
    m.add_class::<buffer::Loan>()?;
    m.add_class::<buffer::ReceivedBuffer>()?;
    m.add_class::<awaitable::Ready>()?;
    m.add_function(wrap_pyfunction!(node::build_node, m)?)?;
    m.add_function(wrap_pyfunction!(encode_args, m)?)?;
    m.add_function(wrap_pyfunction!(decode_args, m)?)?;
    m.add_function(wrap_pyfunction!(encode_value, m)?)?;
    m.add_function(wrap_pyfunction!(decode_value, m)?)?;
    m.add("RosyError", py.get_type::<RosyError>())?;
    m.add("NoProviderError", py.get_type::<NoProviderError>())?;
    m.add(
        "ServiceResponseError",
        py.get_type::<ServiceResponseError>(),
    )?;
    m.add("TimeoutError", py.get_type::<TimeoutError>())?;
    m.add("VIEW_MIN", buffer::VIEW_MIN)?;
    for id in [
        rosy::codec::CodecId::Raw,
        rosy::codec::CodecId::MsgPack,
        rosy::codec::CodecId::Json,
        rosy::codec::CodecId::Rkyv,
        rosy::codec::CodecId::Custom,
    ] {
        m.add(
            format!("CODEC_{}", id.name().to_ascii_uppercase()).as_str(),
            id.to_byte(),
        )?;
    }
    Ok(())
}
