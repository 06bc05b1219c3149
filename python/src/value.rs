//! Python values ↔ msgpack, and the shape of a message's arguments on the wire.
//!
//! **Arguments on the wire** (every codec; msgpack is done here, in Rust): `send(topic, *args,
//! **kwargs)` and `call(service, *args, **kwargs)` travel as
//! - `{"args": [...], "kwargs": {...}}` when there are keyword arguments (Rust reads it as
//!   `rosy::codec::ArgsKwargs`);
//! - the value itself for exactly one positional argument that is not a list, tuple or a map
//!   shaped like the above (Rust reads `send(t, "hi")` as a `String`);
//! - an array of the arguments otherwise (Rust reads `send(t, "a", "b")` as a tuple).
//!
//! Receiving undoes it: such a map gives `(args, kwargs)`, an array gives its items as the
//! positional arguments, anything else is one positional argument. A service's answer is one
//! value, encoded as it is.
//!
//! **Bytes**: `bytes`, `bytearray`, `memoryview` and any object with the buffer protocol (a
//! numpy array: its bytes, not its dtype) are msgpack `bin`; numpy scalars are the numbers they
//! hold. A received `bin` of
//! [`VIEW_MIN`] bytes or more is a read-only `memoryview` over the received message itself (in
//! shared memory when it came from a same-host node), smaller ones are `bytes`.
//!
//! Encoding copies a large buffer only once: [`Encoded`] keeps buffers of [`VIEW_MIN`] bytes or
//! more as references beside the encoded head, and they are copied straight into the message
//! (a shared-memory chunk when same-host nodes listen).

use crate::buffer::{ReceivedBuffer, VIEW_MIN};
use bytes::Bytes;
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple,
};

/// How deep lists and maps may nest in a received message (a malformed or hostile message
/// must not overflow the stack).
const MAX_DEPTH: usize = 256;

/// A message encoded as msgpack, its large byte strings still in the objects that hold them.
pub struct Encoded {
    /// The msgpack bytes, with the large byte strings left out.
    pub head: Vec<u8>,
    /// Each left-out byte string: where it goes in `head`, and the buffer holding it.
    pub pieces: Vec<(usize, PyBuffer<u8>)>,
}

impl Encoded {
    /// The whole message's length.
    pub fn len(&self) -> usize {
        self.head.len()
            + self
                .pieces
                .iter()
                .map(|(_, b)| b.len_bytes())
                .sum::<usize>()
    }

    /// Writes the whole message into `out`, which is exactly [`Encoded::len`] bytes long.
    /// Needs no interpreter lock: the buffers are held.
    pub fn write_into(&self, out: &mut [u8]) {
        let mut from = 0;
        let mut at = 0;
        for (position, buffer) in &self.pieces {
            let part = &self.head[from..*position];
            out[at..at + part.len()].copy_from_slice(part);
            at += part.len();
            let len = buffer.len_bytes();
            // SAFETY: the buffer is C-contiguous (checked when it was taken) and held by the
            // PyBuffer for as long as `self` lives, so `len` bytes at its pointer are readable.
            let bytes = unsafe { std::slice::from_raw_parts(buffer.buf_ptr() as *const u8, len) };
            out[at..at + len].copy_from_slice(bytes);
            at += len;
            from = *position;
        }
        let rest = &self.head[from..];
        out[at..at + rest.len()].copy_from_slice(rest);
    }

    /// The whole message as one byte vector (small messages; tests).
    pub fn into_vec(self) -> Vec<u8> {
        if self.pieces.is_empty() {
            return self.head;
        }
        let mut out = vec![0; self.len()];
        self.write_into(&mut out);
        out
    }
}

/// Encodes a message's arguments in the wire shape described in the module doc.
pub fn encode_args(
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Encoded> {
    let mut encoder = Encoder::default();
    match kwargs.filter(|k| !k.is_empty()) {
        Some(kwargs) => {
            rmp::encode::write_map_len(&mut encoder.head, 2).expect("Vec write");
            rmp::encode::write_str(&mut encoder.head, "args").expect("Vec write");
            rmp::encode::write_array_len(&mut encoder.head, args.len() as u32).expect("Vec write");
            for arg in args.iter() {
                encoder.value(&arg, 0)?;
            }
            rmp::encode::write_str(&mut encoder.head, "kwargs").expect("Vec write");
            encoder.value(kwargs.as_any(), 0)?;
        }
        None if args.len() == 1 && !needs_wrapping(&args.get_item(0)?)? => {
            encoder.value(&args.get_item(0)?, 0)?;
        }
        None => {
            rmp::encode::write_array_len(&mut encoder.head, args.len() as u32).expect("Vec write");
            for arg in args.iter() {
                encoder.value(&arg, 0)?;
            }
        }
    }
    Ok(encoder.finish())
}

/// Encodes one value (a service's answer).
pub fn encode_value(value: &Bound<'_, PyAny>) -> PyResult<Encoded> {
    let mut encoder = Encoder::default();
    encoder.value(value, 0)?;
    Ok(encoder.finish())
}

/// Whether a lone positional argument must travel inside an array to be read back as one.
pub fn needs_wrapping(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        return Ok(true);
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        return Ok(dict.len() == 2 && dict.contains("args")? && dict.contains("kwargs")?);
    }
    Ok(false)
}

#[derive(Default)]
struct Encoder {
    head: Vec<u8>,
    pieces: Vec<(usize, PyBuffer<u8>)>,
}

impl Encoder {
    fn finish(self) -> Encoded {
        Encoded {
            head: self.head,
            pieces: self.pieces,
        }
    }

    fn value(&mut self, value: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
        if depth > MAX_DEPTH {
            return Err(PyValueError::new_err(format!(
                "cannot encode as msgpack: nested deeper than {MAX_DEPTH} levels"
            )));
        }
        let out = &mut self.head;
        if value.is_none() {
            rmp::encode::write_nil(out).expect("Vec write");
        } else if let Ok(b) = value.cast_exact::<PyBool>() {
            rmp::encode::write_bool(out, b.is_true()).expect("Vec write");
        } else if let Ok(s) = value.cast::<PyString>() {
            rmp::encode::write_str(out, s.to_str()?).expect("Vec write");
        } else if value.is_instance_of::<PyInt>() {
            if let Ok(i) = value.extract::<i64>() {
                rmp::encode::write_sint(out, i).expect("Vec write");
            } else if let Ok(u) = value.extract::<u64>() {
                rmp::encode::write_uint(out, u).expect("Vec write");
            } else {
                return Err(PyOverflowError::new_err(
                    "cannot encode as msgpack: an integer outside the 64-bit range",
                ));
            }
        } else if let Ok(f) = value.cast::<PyFloat>() {
            rmp::encode::write_f64(out, f.value()).expect("Vec write");
        } else if let Ok(b) = value.cast::<PyBytes>() {
            self.bytes(value, b.as_bytes().len(), Some(b.as_bytes()))?;
        } else if let Ok(list) = value.cast::<PyList>() {
            rmp::encode::write_array_len(out, list.len() as u32).expect("Vec write");
            for item in list.iter() {
                self.value(&item, depth + 1)?;
            }
        } else if let Ok(tuple) = value.cast::<PyTuple>() {
            rmp::encode::write_array_len(out, tuple.len() as u32).expect("Vec write");
            for item in tuple.iter() {
                self.value(&item, depth + 1)?;
            }
        } else if let Ok(dict) = value.cast::<PyDict>() {
            rmp::encode::write_map_len(out, dict.len() as u32).expect("Vec write");
            for (k, v) in dict.iter() {
                self.value(&k, depth + 1)?;
                self.value(&v, depth + 1)?;
            }
        } else if let Some(scalar) = numpy_scalar(value)? {
            self.value(&scalar, depth + 1)?;
        } else if value.is_instance_of::<PyByteArray>()
            || value.is_instance_of::<PyMemoryView>()
            || PyBuffer::<u8>::get(value).is_ok()
            // Any other buffer (a numpy array of float32: its bytes).
            || PyMemoryView::from(value).is_ok()
        {
            self.bytes(value, 0, None)?;
        } else {
            return Err(PyTypeError::new_err(format!(
                "cannot encode a {} as msgpack (it carries None, bool, int, float, str, bytes and \
                 buffers, list, tuple and dict): convert it, or build the node with \
                 data_codec=\"pickle\"",
                value.get_type().name()?
            )));
        }
        Ok(())
    }

    /// A byte string: copied into the head when small, else kept as a piece.
    fn bytes(
        &mut self,
        value: &Bound<'_, PyAny>,
        len: usize,
        small: Option<&[u8]>,
    ) -> PyResult<()> {
        if let Some(bytes) = small.filter(|_| len < VIEW_MIN) {
            rmp::encode::write_bin(&mut self.head, bytes).expect("Vec write");
            return Ok(());
        }
        let buffer = contiguous_bytes(value)?;
        let len = buffer.len_bytes();
        rmp::encode::write_bin_len(&mut self.head, len as u32).expect("Vec write");
        if len < VIEW_MIN {
            // SAFETY: C-contiguous (checked by contiguous_bytes), held by `buffer` here.
            let bytes = unsafe { std::slice::from_raw_parts(buffer.buf_ptr() as *const u8, len) };
            self.head.extend_from_slice(bytes);
        } else {
            self.pieces.push((self.head.len(), buffer));
        }
        Ok(())
    }
}

/// A numpy scalar (`numpy.int64(3)`, `numpy.float32(0.5)`, 0-dimensional) as the Python value
/// it holds; numpy arrays of any other shape travel as their bytes.
fn numpy_scalar<'py>(value: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    if !value.hasattr("item")? || !value.hasattr("ndim")? {
        return Ok(None);
    }
    if value.getattr("ndim")?.extract::<usize>().ok() != Some(0) {
        return Ok(None);
    }
    let item = value.call_method0("item")?;
    // A 0-d array of an object we cannot encode would recurse forever.
    if item.is(value) {
        return Ok(None);
    }
    Ok(Some(item))
}

/// A C-contiguous byte view of any object with the buffer protocol.
pub fn contiguous_bytes(value: &Bound<'_, PyAny>) -> PyResult<PyBuffer<u8>> {
    // Any item format is fine: a numpy array of float32 travels as its bytes.
    let buffer = match PyBuffer::<u8>::get(value) {
        Ok(b) => b,
        Err(_) => {
            let view = PyMemoryView::from(value)?;
            let cast = view.call_method1("cast", ("B",))?;
            PyBuffer::<u8>::get(&cast)?
        }
    };
    if !buffer.is_c_contiguous() {
        return Err(PyValueError::new_err(
            "cannot send a non-contiguous buffer: make it contiguous first (numpy: \
             np.ascontiguousarray)",
        ));
    }
    Ok(buffer)
}

/// Decodes a message's arguments: `(args tuple, kwargs dict or None)`.
pub fn decode_args<'py>(py: Python<'py>, payload: &Bytes) -> PyResult<Bound<'py, PyTuple>> {
    let mut decoder = Decoder { py, payload, at: 0 };
    let result = match decoder.peek()? {
        0x90..=0x9f | 0xdc | 0xdd => {
            let len = decoder.array_len()?;
            let mut items = Vec::with_capacity(len.min(1024));
            for _ in 0..len {
                items.push(decoder.value(1)?);
            }
            (PyTuple::new(py, items)?, py.None().into_bound(py))
        }
        _ => {
            let value = decoder.value(0)?;
            match args_kwargs(&value)? {
                Some(pair) => pair,
                None => (PyTuple::new(py, [value])?, py.None().into_bound(py)),
            }
        }
    };
    decoder.end()?;
    PyTuple::new(py, [result.0.into_any(), result.1])
}

/// `{"args": [...], "kwargs": {...}}` as `(args, kwargs)`, `None` for any other value.
fn args_kwargs<'py>(
    value: &Bound<'py, PyAny>,
) -> PyResult<Option<(Bound<'py, PyTuple>, Bound<'py, PyAny>)>> {
    let Ok(dict) = value.cast::<PyDict>() else {
        return Ok(None);
    };
    if dict.len() != 2 {
        return Ok(None);
    }
    let (Some(args), Some(kwargs)) = (dict.get_item("args")?, dict.get_item("kwargs")?) else {
        return Ok(None);
    };
    let (Ok(args), true) = (args.cast::<PyList>(), kwargs.is_instance_of::<PyDict>()) else {
        return Ok(None);
    };
    Ok(Some((args.to_tuple(), kwargs)))
}

/// Decodes one msgpack value (a service's answer).
pub fn decode_value<'py>(py: Python<'py>, payload: &Bytes) -> PyResult<Bound<'py, PyAny>> {
    let mut decoder = Decoder { py, payload, at: 0 };
    let value = decoder.value(0)?;
    decoder.end()?;
    Ok(value)
}

/// A payload's bytes for Python: a memoryview over it when large, else a copy as `bytes`.
pub fn bytes_object<'py>(py: Python<'py>, bytes: Bytes) -> PyResult<Bound<'py, PyAny>> {
    if bytes.len() >= VIEW_MIN {
        let holder = Bound::new(py, ReceivedBuffer::new(bytes))?;
        Ok(PyMemoryView::from(holder.as_any())?.into_any())
    } else {
        Ok(PyBytes::new(py, &bytes).into_any())
    }
}

struct Decoder<'a, 'py> {
    py: Python<'py>,
    payload: &'a Bytes,
    at: usize,
}

fn malformed(what: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("malformed msgpack message: {what}"))
}

impl<'py> Decoder<'_, 'py> {
    fn peek(&self) -> PyResult<u8> {
        self.payload
            .get(self.at)
            .copied()
            .ok_or_else(|| malformed("it ends early"))
    }

    fn take(&mut self, n: usize) -> PyResult<&[u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.payload.len())
            .ok_or_else(|| malformed(format!("a field of {n} bytes runs past its end")))?;
        let bytes = &self.payload[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn be<const N: usize>(&mut self) -> PyResult<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn end(&self) -> PyResult<()> {
        if self.at == self.payload.len() {
            Ok(())
        } else {
            Err(malformed(format!(
                "{} bytes left after the value",
                self.payload.len() - self.at
            )))
        }
    }

    fn array_len(&mut self) -> PyResult<usize> {
        let marker = self.take(1)?[0];
        Ok(match marker {
            0x90..=0x9f => (marker & 0x0f) as usize,
            0xdc => u16::from_be_bytes(self.be()?) as usize,
            0xdd => u32::from_be_bytes(self.be()?) as usize,
            _ => return Err(malformed("expected an array")),
        })
    }

    fn str(&mut self, len: usize) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        let bytes = self.take(len)?;
        let s = std::str::from_utf8(bytes).map_err(|e| malformed(format!("a string: {e}")))?;
        Ok(PyString::new(py, s).into_any())
    }

    fn bin(&mut self, len: usize) -> PyResult<Bound<'py, PyAny>> {
        let start = self.at;
        self.take(len)?;
        if len >= VIEW_MIN {
            bytes_object(self.py, self.payload.slice(start..start + len))
        } else {
            Ok(PyBytes::new(self.py, &self.payload[start..start + len]).into_any())
        }
    }

    fn array(&mut self, len: usize, depth: usize) -> PyResult<Bound<'py, PyAny>> {
        let list = PyList::empty(self.py);
        for _ in 0..len {
            list.append(self.value(depth + 1)?)?;
        }
        Ok(list.into_any())
    }

    fn map(&mut self, len: usize, depth: usize) -> PyResult<Bound<'py, PyAny>> {
        let dict = PyDict::new(self.py);
        for _ in 0..len {
            let key = self.value(depth + 1)?;
            let value = self.value(depth + 1)?;
            dict.set_item(key, value)?;
        }
        Ok(dict.into_any())
    }

    fn value(&mut self, depth: usize) -> PyResult<Bound<'py, PyAny>> {
        if depth > MAX_DEPTH {
            return Err(malformed(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let py = self.py;
        let marker = self.take(1)?[0];
        Ok(match marker {
            0x00..=0x7f => (marker as i64).into_pyobject(py)?.into_any(),
            0xe0..=0xff => (marker as i8 as i64).into_pyobject(py)?.into_any(),
            0x80..=0x8f => self.map((marker & 0x0f) as usize, depth)?,
            0x90..=0x9f => self.array((marker & 0x0f) as usize, depth)?,
            0xa0..=0xbf => self.str((marker & 0x1f) as usize)?,
            0xc0 => py.None().into_bound(py),
            0xc2 => PyBool::new(py, false).to_owned().into_any(),
            0xc3 => PyBool::new(py, true).to_owned().into_any(),
            0xc4 => {
                let len = self.take(1)?[0] as usize;
                self.bin(len)?
            }
            0xc5 => {
                let len = u16::from_be_bytes(self.be()?) as usize;
                self.bin(len)?
            }
            0xc6 => {
                let len = u32::from_be_bytes(self.be()?) as usize;
                self.bin(len)?
            }
            0xca => (f32::from_be_bytes(self.be()?) as f64)
                .into_pyobject(py)?
                .into_any(),
            0xcb => f64::from_be_bytes(self.be()?).into_pyobject(py)?.into_any(),
            0xcc => (self.take(1)?[0] as u64).into_pyobject(py)?.into_any(),
            0xcd => (u16::from_be_bytes(self.be()?) as u64)
                .into_pyobject(py)?
                .into_any(),
            0xce => (u32::from_be_bytes(self.be()?) as u64)
                .into_pyobject(py)?
                .into_any(),
            0xcf => u64::from_be_bytes(self.be()?).into_pyobject(py)?.into_any(),
            0xd0 => (self.take(1)?[0] as i8 as i64)
                .into_pyobject(py)?
                .into_any(),
            0xd1 => (i16::from_be_bytes(self.be()?) as i64)
                .into_pyobject(py)?
                .into_any(),
            0xd2 => (i32::from_be_bytes(self.be()?) as i64)
                .into_pyobject(py)?
                .into_any(),
            0xd3 => i64::from_be_bytes(self.be()?).into_pyobject(py)?.into_any(),
            0xd9 => {
                let len = self.take(1)?[0] as usize;
                self.str(len)?
            }
            0xda => {
                let len = u16::from_be_bytes(self.be()?) as usize;
                self.str(len)?
            }
            0xdb => {
                let len = u32::from_be_bytes(self.be()?) as usize;
                self.str(len)?
            }
            0xdc => {
                let len = u16::from_be_bytes(self.be()?) as usize;
                self.array(len, depth)?
            }
            0xdd => {
                let len = u32::from_be_bytes(self.be()?) as usize;
                self.array(len, depth)?
            }
            0xde => {
                let len = u16::from_be_bytes(self.be()?) as usize;
                self.map(len, depth)?
            }
            0xdf => {
                let len = u32::from_be_bytes(self.be()?) as usize;
                self.map(len, depth)?
            }
            0xd4..=0xd8 | 0xc7..=0xc9 => {
                return Err(malformed(
                    "a msgpack extension type (the Python package reads none)",
                ));
            }
            0xc1 => return Err(malformed("the reserved byte 0xc1")),
        })
    }
}
