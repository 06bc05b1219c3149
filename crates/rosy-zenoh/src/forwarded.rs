//! [`Forwarded`]: the codec of payloads a bridge passes on as they came (any rosy codec, a
//! custom one included): it names the codec on the topic and on each message, and never
//! encodes or decodes anything itself.

use crate::stamp::CodecName;
use rosy::codec::{Codec, CodecError};
use rosy::codec_id::CodecId;
use serde::{Serialize, de::DeserializeOwned};

#[derive(Clone, Debug)]
pub struct Forwarded(pub CodecName);

impl Codec for Forwarded {
    fn id(&self) -> CodecId {
        self.0.id
    }

    fn name(&self) -> &str {
        &self.0.name
    }

    fn encode<T: Serialize + ?Sized>(&self, _: &T, _: &mut Vec<u8>) -> Result<(), CodecError> {
        Err(CodecError::Encode {
            codec: "forwarded",
            reason: "a bridge passes payloads on as they came; it encodes none".into(),
        })
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        Err(CodecError::Decode {
            codec: "forwarded",
            len: bytes.len(),
            reason: "a bridge passes payloads on as they came; it decodes none".into(),
        })
    }
}
