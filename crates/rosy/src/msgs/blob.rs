//! [`Blob`]: the bytes of an image or a point cloud, compact in every codec.
//!
//! Serde asks the format whether it is human-readable: msgpack (and rkyv) get raw bytes, JSON
//! gets a base64 string, which is what Foxglove's JSON schemas (`contentEncoding: base64`)
//! expect. Reading JSON accepts base64 or an array of numbers. Nothing else lives here.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Bytes that travel as bytes in msgpack and as base64 in JSON.
#[derive(Clone, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Blob(pub Vec<u8>);

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl From<Vec<u8>> for Blob {
    fn from(v: Vec<u8>) -> Blob {
        Blob(v)
    }
}

impl std::ops::Deref for Blob {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for Blob {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl ArchivedBlob {
    /// The archived bytes, in place.
    pub fn as_slice(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl serde::Serialize for Blob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            // Written straight into the output: no 8 MB string for a 6 MB image.
            s.collect_str(&base64::display::Base64Display::new(&self.0, &STANDARD))
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> serde::Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Blob, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes, a base64 string or an array of bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Blob, E> {
                STANDARD
                    .decode(v)
                    .map(Blob)
                    .map_err(|e| E::custom(format!("not base64: {e}")))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Blob, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(Blob(out))
            }
        }
        if d.is_human_readable() {
            d.deserialize_any(Visit)
        } else {
            d.deserialize_bytes(Visit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_in_msgpack_base64_in_json() {
        let blob = Blob(vec![0, 1, 2, 255]);
        let json = serde_json::to_string(&blob).unwrap();
        assert_eq!(json, "\"AAEC/w==\"");
        assert_eq!(serde_json::from_str::<Blob>(&json).unwrap(), blob);
        assert_eq!(serde_json::from_str::<Blob>("[0,1,2,255]").unwrap(), blob);
        let packed = rmp_serde::to_vec(&blob).unwrap();
        // msgpack bin8: marker, length, the bytes themselves.
        assert_eq!(packed, vec![0xc4, 4, 0, 1, 2, 255]);
        assert_eq!(rmp_serde::from_slice::<Blob>(&packed).unwrap(), blob);
        assert!(serde_json::from_str::<Blob>("\"not base64!\"").is_err());
    }
}
