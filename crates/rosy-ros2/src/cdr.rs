//! ROS 2 samples as CDR bytes: [`Cdr`], the byte adapter RustDDS readers and writers of the
//! bridge use (so a sample crosses the DDS thread without being decoded there), and the
//! encoding and decoding of known types. Nothing here starts a reader or writer.

use bytes::Bytes;
use rustdds::RepresentationIdentifier;
use rustdds::no_key::{Decode, DefaultDecoder, DeserializerAdapter, SerializerAdapter};
use serde::{Serialize, de::DeserializeOwned};

/// One ROS 2 sample as it travelled: CDR bytes, without the 4-byte encapsulation header, and
/// their byte order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cdr {
    /// Whether the sample is big-endian CDR (Fast DDS and Cyclone DDS on the usual hosts
    /// write little-endian).
    pub big_endian: bool,
    /// The CDR payload.
    pub bytes: Bytes,
}

/// The encapsulation header of little-endian plain CDR (`CDR_LE`, options 0).
const CDR_LE_HEADER: [u8; 4] = [0, 1, 0, 0];
/// The encapsulation header of big-endian plain CDR (`CDR_BE`).
const CDR_BE_HEADER: [u8; 4] = [0, 0, 0, 0];

impl Cdr {
    /// The sample as ROS 2 serializes a message (`rclpy.serialization.serialize_message`, a
    /// bag's `cdr` record): the encapsulation header, then the payload.
    pub fn to_serialized(&self) -> Vec<u8> {
        let header = if self.big_endian {
            CDR_BE_HEADER
        } else {
            CDR_LE_HEADER
        };
        let mut out = Vec::with_capacity(4 + self.bytes.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.bytes);
        out
    }

    /// A sample from ROS 2's serialized form (header, then payload); `None` when the header is
    /// not plain CDR.
    pub fn from_serialized(serialized: &[u8]) -> Option<Cdr> {
        let (header, payload) = serialized.split_first_chunk::<4>()?;
        let big_endian = match *header {
            CDR_LE_HEADER => false,
            CDR_BE_HEADER => true,
            _ => return None,
        };
        Some(Cdr {
            big_endian,
            bytes: Bytes::copy_from_slice(payload),
        })
    }

    /// Decodes the sample as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, cdr_encoding::Error> {
        let (value, _) = if self.big_endian {
            cdr_encoding::from_bytes::<T, byteorder::BigEndian>(&self.bytes)?
        } else {
            cdr_encoding::from_bytes::<T, byteorder::LittleEndian>(&self.bytes)?
        };
        Ok(value)
    }

    /// Encodes `value` as a little-endian sample.
    pub fn encode<T: Serialize>(value: &T) -> Result<Cdr, cdr_encoding::Error> {
        let bytes = cdr_encoding::to_vec::<T, byteorder::LittleEndian>(value)?;
        Ok(Cdr {
            big_endian: false,
            bytes: Bytes::from(bytes),
        })
    }
}

/// The adapter that makes a RustDDS reader hand over each sample's bytes, and a writer send
/// them as they are.
pub(crate) struct CdrBytes;

/// A sample in an encoding other than plain CDR (XCDR2, parameter lists).
#[derive(Debug, thiserror::Error)]
#[error("a sample in encoding {0:?}, not plain CDR")]
pub(crate) struct NotPlainCdr(RepresentationIdentifier);

impl DeserializerAdapter<Cdr> for CdrBytes {
    type Error = NotPlainCdr;
    type Decoded = Cdr;

    fn supported_encodings() -> &'static [RepresentationIdentifier] {
        &[
            RepresentationIdentifier::CDR_LE,
            RepresentationIdentifier::CDR_BE,
        ]
    }

    fn transform_decoded(decoded: Cdr) -> Cdr {
        decoded
    }
}

impl DefaultDecoder<Cdr> for CdrBytes {
    type Decoder = CdrBytes;
    const DECODER: CdrBytes = CdrBytes;
}

impl Clone for CdrBytes {
    fn clone(&self) -> Self {
        CdrBytes
    }
}

impl<'de> Decode<'de, Cdr> for CdrBytes {
    type Error = NotPlainCdr;

    fn decode_bytes(
        self,
        input_bytes: &'de [u8],
        encoding: RepresentationIdentifier,
    ) -> Result<Cdr, NotPlainCdr> {
        let big_endian = match encoding {
            RepresentationIdentifier::CDR_LE => false,
            RepresentationIdentifier::CDR_BE => true,
            other => return Err(NotPlainCdr(other)),
        };
        Ok(Cdr {
            big_endian,
            bytes: Bytes::copy_from_slice(input_bytes),
        })
    }
}

impl SerializerAdapter<Cdr> for CdrBytes {
    type Error = std::convert::Infallible;

    fn output_encoding() -> RepresentationIdentifier {
        RepresentationIdentifier::CDR_LE
    }

    fn to_bytes(value: &Cdr) -> Result<Bytes, Self::Error> {
        Ok(value.bytes.clone())
    }
}

/// The CDR body of a service request or response whose type rosy has no form for, carried as
/// it is through ros2-client's typed servers and clients: written as its bytes one by one (a
/// CDR tuple of octets has no length and no padding), read as every byte left.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RawBody(pub Vec<u8>);

impl serde::Serialize for RawBody {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for byte in &self.0 {
            tuple.serialize_element(byte)?;
        }
        tuple.end()
    }
}

impl<'de> serde::Deserialize<'de> for RawBody {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<RawBody, D::Error> {
        struct Rest;
        impl<'de> serde::de::Visitor<'de> for Rest {
            type Value = RawBody;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("the bytes of a CDR body")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawBody, A::Error> {
                let mut bytes = Vec::new();
                // The CDR reader has no "rest of the input": read octets until it runs out.
                while let Ok(Some(byte)) = seq.next_element::<u8>() {
                    bytes.push(byte);
                }
                Ok(RawBody(bytes))
            }
        }
        deserializer.deserialize_tuple(usize::MAX, Rest)
    }
}

impl ros2_client::Message for RawBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialized_form_round_trips_and_refuses_other_headers() {
        let cdr = Cdr::encode(&(7u32, "hi".to_string())).unwrap();
        let serialized = cdr.to_serialized();
        assert_eq!(&serialized[..4], &CDR_LE_HEADER);
        assert_eq!(Cdr::from_serialized(&serialized), Some(cdr.clone()));
        assert_eq!(
            cdr.decode::<(u32, String)>().unwrap(),
            (7, "hi".to_string())
        );
        // XCDR2 little-endian (0x0007): not plain CDR.
        assert_eq!(Cdr::from_serialized(&[0, 7, 0, 0, 1, 2]), None);
        assert_eq!(Cdr::from_serialized(&[0, 1]), None);
    }

    #[test]
    fn a_raw_body_crosses_cdr_unchanged() {
        // A body with padding inside (u8, then a u32 aligned to 4): the bytes as they are.
        let body = Cdr::encode(&(7u8, 0x0102_0304u32, "x".to_string())).unwrap();
        let raw: RawBody = body.decode().unwrap();
        assert_eq!(raw.0, body.bytes.as_ref());
        assert_eq!(Cdr::encode(&raw).unwrap().bytes, body.bytes);
        let empty: RawBody = Cdr::encode(&()).unwrap().decode().unwrap();
        assert!(empty.0.is_empty());
    }

    #[test]
    fn big_endian_samples_decode() {
        let cdr = Cdr {
            big_endian: true,
            bytes: Bytes::from_static(&[0, 0, 0, 5]),
        };
        assert_eq!(cdr.decode::<u32>().unwrap(), 5);
    }
}
