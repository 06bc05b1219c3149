//! The type-erased shapes the mesh keeps callbacks in: a boxed future, and a service handler
//! (encoded request in, encoded response or error out).

use crate::codec::CodecId;
use crate::transport::tcp::frame::ResponseError;
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// A service handler with its types erased: encoded request in, encoded response out.
pub(crate) type ErasedHandler = Arc<
    dyn Fn(CodecId, Bytes) -> BoxFuture<Result<(CodecId, Bytes), (ResponseError, String)>>
        + Send
        + Sync,
>;
