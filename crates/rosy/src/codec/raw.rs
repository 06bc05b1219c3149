//! The raw codec: the payload is the message's own bytes, nothing added.
//!
//! Encodes values that serialize as bytes (`serde_bytes::ByteBuf`, `#[serde(with =
//! "serde_bytes")]`), as a sequence of `u8` (`Vec<u8>`, `[u8; N]`) or as a string; anything else
//! is an error naming what was given. Decodes into the same kinds of types.

use super::error::CodecError;
use super::traits::Codec;
use crate::codec_id::CodecId;
use serde::de::{self, DeserializeOwned, Visitor};
use serde::ser::{self, Impossible, Serialize};
use std::fmt;

/// Raw bytes: the payload is the value's bytes as they are.
#[derive(Clone, Copy, Debug, Default)]
pub struct Raw;

impl Codec for Raw {
    fn id(&self) -> CodecId {
        CodecId::Raw
    }
    fn encode<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        value
            .serialize(BytesSerializer { out })
            .map_err(|e| CodecError::Encode {
                codec: "raw",
                reason: e.0,
            })
    }
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        T::deserialize(BytesDeserializer { bytes }).map_err(|e| CodecError::Decode {
            codec: "raw",
            len: bytes.len(),
            reason: e.0,
        })
    }
}

#[derive(Debug)]
struct RawError(String);

impl fmt::Display for RawError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for RawError {}
impl ser::Error for RawError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        RawError(msg.to_string())
    }
}
impl de::Error for RawError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        RawError(msg.to_string())
    }
}

fn not_bytes<T>(what: &str) -> Result<T, RawError> {
    Err(RawError(format!(
        "the raw codec carries bytes or strings only, not {what}"
    )))
}

struct BytesSerializer<'a> {
    out: &'a mut Vec<u8>,
}

struct ByteSeq<'a> {
    out: &'a mut Vec<u8>,
}

impl ser::SerializeSeq for ByteSeq<'_> {
    type Ok = ();
    type Error = RawError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), RawError> {
        self.out.push(value.serialize(ByteSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<(), RawError> {
        Ok(())
    }
}

impl ser::SerializeTuple for ByteSeq<'_> {
    type Ok = ();
    type Error = RawError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), RawError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), RawError> {
        Ok(())
    }
}

macro_rules! reject {
    ($($method:ident($($arg:ty),*) => $what:expr;)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<Self::Ok, RawError> { not_bytes($what) })*
    };
}

impl<'a> ser::Serializer for BytesSerializer<'a> {
    type Ok = ();
    type Error = RawError;
    type SerializeSeq = ByteSeq<'a>;
    type SerializeTuple = ByteSeq<'a>;
    type SerializeTupleStruct = Impossible<(), RawError>;
    type SerializeTupleVariant = Impossible<(), RawError>;
    type SerializeMap = Impossible<(), RawError>;
    type SerializeStruct = Impossible<(), RawError>;
    type SerializeStructVariant = Impossible<(), RawError>;

    fn serialize_bytes(self, v: &[u8]) -> Result<(), RawError> {
        self.out.extend_from_slice(v);
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), RawError> {
        self.serialize_bytes(v.as_bytes())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<ByteSeq<'a>, RawError> {
        Ok(ByteSeq { out: self.out })
    }
    fn serialize_tuple(self, _len: usize) -> Result<ByteSeq<'a>, RawError> {
        Ok(ByteSeq { out: self.out })
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), RawError> {
        value.serialize(self)
    }
    reject! {
        serialize_bool(bool) => "a bool";
        serialize_i8(i8) => "an integer";
        serialize_i16(i16) => "an integer";
        serialize_i32(i32) => "an integer";
        serialize_i64(i64) => "an integer";
        serialize_u8(u8) => "an integer";
        serialize_u16(u16) => "an integer";
        serialize_u32(u32) => "an integer";
        serialize_u64(u64) => "an integer";
        serialize_f32(f32) => "a float";
        serialize_f64(f64) => "a float";
        serialize_char(char) => "a char";
        serialize_none() => "an option";
        serialize_unit() => "()";
        serialize_unit_struct(&'static str) => "a unit struct";
        serialize_unit_variant(&'static str, u32, &'static str) => "an enum";
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), RawError> {
        not_bytes("an option")
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), RawError> {
        not_bytes("an enum")
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, RawError> {
        not_bytes("a tuple struct")
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, RawError> {
        not_bytes("an enum")
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, RawError> {
        not_bytes("a map")
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, RawError> {
        not_bytes("a struct")
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, RawError> {
        not_bytes("an enum")
    }
}

/// Serializes one element of a byte sequence: only `u8` is accepted.
struct ByteSerializer;

impl ser::Serializer for ByteSerializer {
    type Ok = u8;
    type Error = RawError;
    type SerializeSeq = Impossible<u8, RawError>;
    type SerializeTuple = Impossible<u8, RawError>;
    type SerializeTupleStruct = Impossible<u8, RawError>;
    type SerializeTupleVariant = Impossible<u8, RawError>;
    type SerializeMap = Impossible<u8, RawError>;
    type SerializeStruct = Impossible<u8, RawError>;
    type SerializeStructVariant = Impossible<u8, RawError>;

    fn serialize_u8(self, v: u8) -> Result<u8, RawError> {
        Ok(v)
    }
    reject! {
        serialize_bool(bool) => "a list of bools";
        serialize_i8(i8) => "a list of i8";
        serialize_i16(i16) => "a list of i16";
        serialize_i32(i32) => "a list of i32";
        serialize_i64(i64) => "a list of i64";
        serialize_u16(u16) => "a list of u16";
        serialize_u32(u32) => "a list of u32";
        serialize_u64(u64) => "a list of u64";
        serialize_f32(f32) => "a list of floats";
        serialize_f64(f64) => "a list of floats";
        serialize_char(char) => "a list of chars";
        serialize_str(&str) => "a list of strings";
        serialize_bytes(&[u8]) => "a list of byte strings";
        serialize_none() => "a list of options";
        serialize_unit() => "a list of ()";
        serialize_unit_struct(&'static str) => "a list of structs";
        serialize_unit_variant(&'static str, u32, &'static str) => "a list of enums";
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<u8, RawError> {
        not_bytes("a list of options")
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<u8, RawError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<u8, RawError> {
        not_bytes("a list of enums")
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, RawError> {
        not_bytes("nested lists")
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, RawError> {
        not_bytes("nested tuples")
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, RawError> {
        not_bytes("a list of structs")
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, RawError> {
        not_bytes("a list of enums")
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, RawError> {
        not_bytes("a list of maps")
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, RawError> {
        not_bytes("a list of structs")
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, RawError> {
        not_bytes("a list of enums")
    }
}

struct BytesDeserializer<'de> {
    bytes: &'de [u8],
}

struct ByteSeqAccess<'de> {
    bytes: std::slice::Iter<'de, u8>,
}

impl<'de> de::SeqAccess<'de> for ByteSeqAccess<'de> {
    type Error = RawError;
    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, RawError> {
        match self.bytes.next() {
            Some(&b) => seed
                .deserialize(de::value::U8Deserializer::<RawError>::new(b))
                .map(Some),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.bytes.len())
    }
}

impl<'de> de::Deserializer<'de> for BytesDeserializer<'de> {
    type Error = RawError;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RawError> {
        visitor.visit_borrowed_bytes(self.bytes)
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RawError> {
        match std::str::from_utf8(self.bytes) {
            Ok(s) => visitor.visit_borrowed_str(s),
            Err(e) => Err(RawError(format!("payload is not UTF-8 text: {e}"))),
        }
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RawError> {
        self.deserialize_str(visitor)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RawError> {
        visitor.visit_seq(ByteSeqAccess {
            bytes: self.bytes.iter(),
        })
    }
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, RawError> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, RawError> {
        visitor.visit_newtype_struct(self)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf option unit
        unit_struct tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_keeps_bytes_as_they_are() {
        for value in [vec![], vec![0u8, 1, 2, 255]] {
            let mut out = Vec::new();
            Raw.encode(&value, &mut out).unwrap();
            assert_eq!(out, value);
            assert_eq!(Raw.decode::<Vec<u8>>(&out).unwrap(), value);
            let buf: serde_bytes::ByteBuf = Raw.decode(&out).unwrap();
            assert_eq!(buf.into_vec(), value);
        }
        let mut out = Vec::new();
        Raw.encode(&serde_bytes::Bytes::new(b"abc"), &mut out)
            .unwrap();
        Raw.encode("def", &mut out).unwrap();
        assert_eq!(out, b"abcdef");
        assert_eq!(Raw.decode::<String>(b"text").unwrap(), "text");
    }

    #[test]
    fn raw_refuses_what_is_not_bytes() {
        let err = Raw.encode(&(1u32, 2u32), &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("raw codec"), "{err}");
        assert!(Raw.encode(&vec![1u32], &mut Vec::new()).is_err());
        assert!(Raw.decode::<String>(&[0xff, 0xfe]).is_err());
    }
}
