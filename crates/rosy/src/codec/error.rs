//! [`CodecError`]: why a value could not be encoded or decoded, naming the codec.

/// A value could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// A value could not be turned into bytes.
    #[error("cannot encode as {codec}: {reason}")]
    Encode {
        /// The codec's name (`msgpack`, `json`, `raw`, `rkyv` or a custom codec's own).
        codec: &'static str,
        /// What went wrong, as the codec says it.
        reason: String,
    },
    /// A payload could not be read as the value asked for.
    #[error("cannot decode {codec} payload of {len} bytes: {reason}")]
    Decode {
        /// The codec's name (`msgpack`, `json`, `raw`, `rkyv` or a custom codec's own).
        codec: &'static str,
        /// The payload's size in bytes.
        len: usize,
        /// What went wrong, as the codec says it.
        reason: String,
    },
}
