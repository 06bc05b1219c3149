//! Buffers Python reads and writes in place: [`ReceivedBuffer`] (a received message's bytes,
//! read-only) and [`Loan`] (a message to fill, then send).
//!
//! **Lifetime rule.** A received buffer holds what it views: from a same-host publisher that is
//! the shared-memory chunk the publisher wrote, which stays *held* (the publisher will not
//! reuse it) for as long as the buffer, or any memoryview or numpy array made from it, lives. So
//! its bytes never change under the reader, and keeping many frames alive makes the publisher
//! allocate more chunks (up to its pool's limit, then it sends by copy). Drop received frames
//! you are done with.
//!
//! A loan's memory belongs to the publisher until `send()`; `send()` refuses while a view of it
//! (a memoryview, a numpy array from `numpy.frombuffer`) is still alive, because after sending
//! the readers own those bytes: drop or `release()` the views first.

use bytes::Bytes;
use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;
use std::ffi::{c_int, c_void};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Byte strings at least this long are received as memoryviews over the message, and sent
/// without an intermediate copy. Shared memory hands messages up to 64 KiB over as copies
/// anyway, so smaller views would save nothing.
pub const VIEW_MIN: usize = 64 * 1024;

/// Fills `view` for `len` bytes at `buf`, owned by `owner`.
///
/// # Safety
/// `view` must be the non-null `Py_buffer` CPython passed to `__getbuffer__`, and `buf` must stay
/// valid for `len` bytes (writable when `readonly` is false) for as long as `owner` lives.
unsafe fn fill_view(
    view: *mut ffi::Py_buffer,
    flags: c_int,
    buf: *mut u8,
    len: usize,
    readonly: bool,
    owner: Bound<'_, PyAny>,
) -> PyResult<()> {
    if view.is_null() {
        return Err(PyBufferError::new_err("no Py_buffer to fill"));
    }
    if readonly && (flags & ffi::PyBUF_WRITABLE) == ffi::PyBUF_WRITABLE {
        return Err(PyBufferError::new_err(
            "a received message is read-only: copy it (bytearray(buf), numpy.array(buf)) to \
             change it",
        ));
    }
    // SAFETY: `view` is non-null and CPython's to fill (caller's contract); the pointers stored
    // in it (buf, format, shape, strides) live as long as the view: `buf` per the caller's
    // contract (owner is kept in view.obj), format is a static C string, shape and strides
    // point into the view itself.
    unsafe {
        (*view).obj = owner.into_ptr();
        (*view).buf = buf as *mut c_void;
        (*view).len = len as isize;
        (*view).readonly = readonly as c_int;
        (*view).itemsize = 1;
        (*view).format = if (flags & ffi::PyBUF_FORMAT) == ffi::PyBUF_FORMAT {
            c"B".as_ptr() as *mut _
        } else {
            std::ptr::null_mut()
        };
        (*view).ndim = 1;
        (*view).shape = if (flags & ffi::PyBUF_ND) == ffi::PyBUF_ND {
            &mut (*view).len
        } else {
            std::ptr::null_mut()
        };
        (*view).strides = if (flags & ffi::PyBUF_STRIDES) == ffi::PyBUF_STRIDES {
            &mut (*view).itemsize
        } else {
            std::ptr::null_mut()
        };
        (*view).suboffsets = std::ptr::null_mut();
        (*view).internal = std::ptr::null_mut();
    }
    Ok(())
}

/// The bytes of a received message (or a part of it), read in place. Python code sees it
/// through a `memoryview`; it lives, and holds the message's memory, as long as any view does.
#[pyclass(frozen, module = "rosy._rosy")]
pub struct ReceivedBuffer {
    bytes: Bytes,
}

impl ReceivedBuffer {
    pub fn new(bytes: Bytes) -> Self {
        ReceivedBuffer { bytes }
    }
}

#[pymethods]
impl ReceivedBuffer {
    /// # Safety
    /// Called by CPython with a `Py_buffer` to fill.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let (ptr, len) = {
            let bytes = &slf.get().bytes;
            (bytes.as_ptr() as *mut u8, bytes.len())
        };
        // SAFETY: `bytes` is immutable and lives as long as `slf`, which the view keeps in
        // view.obj; the view is read-only.
        unsafe { fill_view(view, flags, ptr, len, true, slf.into_any()) }
    }

    fn __len__(&self) -> usize {
        self.bytes.len()
    }
}

/// A message buffer loaned by `Node.loan(topic, size)`: fill it in place through the buffer
/// protocol (`memoryview(loan)`, `numpy.frombuffer(loan, dtype)`), then `await loan.send()`.
/// When same-host nodes listen it is shared memory they read where it was written.
#[pyclass(frozen, module = "rosy._rosy")]
pub struct Loan {
    loan: Mutex<Option<rosy::node::Loan>>,
    exports: AtomicUsize,
    len: usize,
}

impl Loan {
    pub fn new(loan: rosy::node::Loan) -> Self {
        let len = loan.len();
        Loan {
            loan: Mutex::new(Some(loan)),
            exports: AtomicUsize::new(0),
            len,
        }
    }

    /// Takes the loan out to send it, refusing while views of it are alive.
    pub fn take(&self) -> PyResult<rosy::node::Loan> {
        if self.exports.load(Ordering::Acquire) > 0 {
            return Err(PyBufferError::new_err(
                "this loan is still viewed (a memoryview or numpy array made from it is alive): \
                 del it or call memoryview.release() before send(), since the readers own the \
                 bytes once sent",
            ));
        }
        self.loan
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| PyBufferError::new_err("this loan was already sent"))
    }
}

#[pymethods]
impl Loan {
    /// # Safety
    /// Called by CPython with a `Py_buffer` to fill.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let this = slf.get();
        let ptr = {
            let mut loan = this.loan.lock().unwrap_or_else(|e| e.into_inner());
            match loan.as_mut() {
                Some(loan) => loan.as_mut_ptr(),
                None => {
                    return Err(PyBufferError::new_err(
                        "this loan was sent: its memory belongs to the readers now",
                    ));
                }
            }
        };
        this.exports.fetch_add(1, Ordering::AcqRel);
        // SAFETY: the loan's memory (a shared-memory chunk or a heap buffer) does not move and
        // stays allocated while the loan is in `self.loan`; `take` refuses to move it out (to
        // send) while `exports` counts a live view, and the view keeps `slf` alive.
        let filled =
            unsafe { fill_view(view, flags, ptr, this.len, false, slf.clone().into_any()) };
        if filled.is_err() {
            this.exports.fetch_sub(1, Ordering::AcqRel);
        }
        filled
    }

    /// # Safety
    /// Called by CPython when a view made by `__getbuffer__` is released.
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        self.exports.fetch_sub(1, Ordering::AcqRel);
    }

    fn __len__(&self) -> usize {
        self.len
    }

    /// Sends the filled buffer on its topic; returns how many nodes it went to.
    fn send<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let loan = self.take()?;
        let large = loan.len() >= VIEW_MIN;
        crate::awaitable::resolve(
            py,
            async move { loan.send().await.map_err(crate::errors::to_py) },
            large,
        )
    }

    /// Whether the buffer is shared memory that same-host readers read in place.
    #[getter]
    fn in_shared_memory(&self) -> bool {
        self.loan
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|l| l.in_shared_memory())
    }
}
