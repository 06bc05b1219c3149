//! rosy's errors as Python exceptions: the exception types the package raises, and how each
//! `rosy::Error` maps to one. Nothing else lives here.

use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;

pyo3::create_exception!(
    rosy,
    RosyError,
    PyException,
    "An error of the rosy mesh (the node is closed, a message is too large, ...)."
);
pyo3::create_exception!(
    rosy,
    NoProviderError,
    PyValueError,
    "No node of the domain provides the service called (a ValueError, as in the original rosy)."
);
pyo3::create_exception!(
    rosy,
    ServiceResponseError,
    RosyError,
    "The service's provider raised: the message is its error's text (repr of the exception)."
);
pyo3::create_exception!(
    rosy,
    TimeoutError,
    pyo3::exceptions::PyTimeoutError,
    "A call got no answer in time, or a wait for a listener or provider ran out."
);

/// rosy's errors as Python exceptions: a missing provider is a `ValueError` as in the original
/// rosy, a remote handler's failure a `ServiceResponseError` carrying its text.
pub fn to_py(error: rosy::Error) -> PyErr {
    match error {
        // The original's words: `No node hosting service='multiply'`.
        rosy::Error::NoProvider { service, domain } => NoProviderError::new_err(format!(
            "No node hosting service='{service}' (domain {domain:?})"
        )),
        rosy::Error::Handler { message, .. } => ServiceResponseError::new_err(message),
        e @ (rosy::Error::Timeout { .. }
        | rosy::Error::NoListener { .. }
        | rosy::Error::FewListeners { .. }) => TimeoutError::new_err(e.to_string()),
        e @ rosy::Error::Invalid { .. } => PyValueError::new_err(e.to_string()),
        e => RosyError::new_err(e.to_string()),
    }
}
