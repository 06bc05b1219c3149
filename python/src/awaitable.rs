//! Rust futures as Python awaitables, without a thread hop when they are done at once.
//!
//! [`resolve`] polls a future once on the calling thread (inside the tokio runtime's context):
//! most sends into shared memory or a connection's outbox finish right there, and Python gets a
//! [`Ready`] awaitable that yields its value without waking any thread. A future that must wait
//! (a full outbox, a service call, a subscriber with nothing queued) goes to the tokio runtime
//! through `pyo3_async_runtimes`, which resolves an asyncio future on the caller's event loop
//! when it completes; cancelling that asyncio future drops the Rust future.

use pyo3::BoundObject;
use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use std::future::Future;
use std::task::{Context, Poll, Waker};

/// The tokio runtime every node of this process runs on (2 worker threads on 2 cores; they
/// sleep when there is nothing to do).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// An awaitable whose value is already known: `await` returns it without suspending.
#[pyclass(module = "rosy._rosy")]
pub struct Ready {
    value: Option<Py<PyAny>>,
}

#[pymethods]
impl Ready {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<()> {
        let value = self.value.take().unwrap_or_else(|| py.None());
        Err(PyStopIteration::new_err((value,)))
    }

    /// Lets `asyncio.ensure_future`/`create_task` accept it like a coroutine.
    fn send(&mut self, py: Python<'_>, _value: Py<PyAny>) -> PyResult<()> {
        self.__next__(py)
    }

    fn close(&mut self) {
        self.value = None;
    }
}

/// An awaitable of `future`'s output: [`Ready`] when one poll finishes it, else an asyncio
/// future completed from the tokio runtime. `detach` releases the interpreter lock during that
/// first poll (worth it when it copies megabytes).
pub fn resolve<'py, F, T>(py: Python<'py>, future: F, detach: bool) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let mut future = Box::pin(future);
    let poll_once = |future: &mut std::pin::Pin<Box<F>>| {
        let _runtime = runtime().enter();
        let mut cx = Context::from_waker(Waker::noop());
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        }
    };
    let first = if detach {
        py.detach(|| poll_once(&mut future))
    } else {
        poll_once(&mut future)
    };
    match first {
        Some(output) => ready(py, output?),
        // Polled once with a no-op waker: the runtime polls it again with its own, and every
        // future registers the waker it is polled with.
        None => pyo3_async_runtimes::tokio::future_into_py(py, future),
    }
}

/// A [`Ready`] awaitable of `value`.
pub fn ready<'py, T: IntoPyObject<'py>>(py: Python<'py>, value: T) -> PyResult<Bound<'py, PyAny>> {
    let value = value
        .into_pyobject(py)
        .map_err(Into::into)?
        .into_any()
        .unbind();
    Ok(Bound::new(py, Ready { value: Some(value) })?.into_any())
}
