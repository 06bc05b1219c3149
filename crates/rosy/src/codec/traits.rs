//! [`Codec`]: the trait every codec implements, built in or a user's own.

use super::error::CodecError;
use crate::codec_id::CodecId;
use serde::{Serialize, de::DeserializeOwned};

/// Turns serde values into bytes and back.
///
/// Implement it for a codec of your own (return [`CodecId::Custom`] from [`Codec::id`] and a
/// distinctive [`Codec::name`]), then use it with `Node::publisher_with` and friends.
pub trait Codec: Clone + Send + Sync + 'static {
    /// The id carried in each frame.
    fn id(&self) -> CodecId;
    /// The name announced to the mesh (`msgpack`, `json`, or a custom codec's own).
    fn name(&self) -> &str {
        self.id().name()
    }
    /// Appends the encoding of `value` to `out`.
    fn encode<T: Serialize + ?Sized>(&self, value: &T, out: &mut Vec<u8>)
    -> Result<(), CodecError>;
    /// Decodes one value from all of `bytes`.
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError>;
}
