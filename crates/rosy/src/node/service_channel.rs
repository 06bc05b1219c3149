//! Service calls between nodes of one host, carried as two internal topics so they use shared
//! memory like any topic: requests on [`REQUESTS`] to the provider, answers on [`RESPONSES`]
//! back to the caller. Names starting with `@rosy/` are rosy's own and hidden from tools.
//!
//! ```text
//! request:  [id u64][caller id length u8][caller id][service length u16][service][payload]
//! response: [id u64][status u8: 0 ok, else a ResponseError][payload, or the error text]
//! ```
//! Every length is checked against the message; a malformed one is skipped, never trusted.

use crate::codec::CodecId;
use crate::transport::tcp::frame::ResponseError;
use bytes::{BufMut, Bytes, BytesMut};

pub(crate) const REQUESTS: &str = "@rosy/requests";
pub(crate) const RESPONSES: &str = "@rosy/responses";

/// Whether a topic is one of rosy's internal ones.
pub fn is_internal(topic: &str) -> bool {
    topic.starts_with("@rosy/")
}

pub(crate) struct Request {
    pub id: u64,
    pub caller: String,
    pub service: String,
    pub payload: Bytes,
}

pub(crate) fn request(id: u64, caller: &str, service: &str, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(11 + caller.len() + service.len() + payload.len());
    out.put_u64_le(id);
    out.put_u8(caller.len() as u8);
    out.put_slice(caller.as_bytes());
    out.put_u16_le(service.len() as u16);
    out.put_slice(service.as_bytes());
    out.put_slice(payload);
    out.freeze()
}

pub(crate) fn parse_request(bytes: &Bytes) -> Option<Request> {
    let id = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let caller_len = *bytes.get(8)? as usize;
    let caller = std::str::from_utf8(bytes.get(9..9 + caller_len)?)
        .ok()?
        .to_string();
    let at = 9 + caller_len;
    let service_len = u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?) as usize;
    let service = std::str::from_utf8(bytes.get(at + 2..at + 2 + service_len)?)
        .ok()?
        .to_string();
    Some(Request {
        id,
        caller,
        service,
        payload: bytes.slice(at + 2 + service_len..),
    })
}

pub(crate) fn response(
    id: u64,
    answer: Result<(CodecId, Bytes), (ResponseError, String)>,
) -> (CodecId, Bytes) {
    let mut out = BytesMut::new();
    out.put_u64_le(id);
    let codec = match answer {
        Ok((codec, payload)) => {
            out.put_u8(0);
            out.put_slice(&payload);
            codec
        }
        Err((kind, text)) => {
            out.put_u8(kind as u8);
            out.put_slice(text.as_bytes());
            CodecId::Raw
        }
    };
    (codec, out.freeze())
}

/// (id, None for success or the error kind, payload or error text)
pub(crate) fn parse_response(bytes: &Bytes) -> Option<(u64, Option<ResponseError>, Bytes)> {
    let id = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let status = *bytes.get(8)?;
    let kind = match status {
        0 => None,
        k => Some(ResponseError::from_byte(k).unwrap_or(ResponseError::Handler)),
    };
    Some((id, kind, bytes.slice(9..)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses_round_trip_and_truncations_are_refused() {
        let bytes = request(7, "abc", "multiply", b"\x92\x02\x02");
        let r = parse_request(&bytes).unwrap();
        assert_eq!(
            (r.id, r.caller.as_str(), r.service.as_str(), &r.payload[..]),
            (7, "abc", "multiply", &b"\x92\x02\x02"[..])
        );
        for cut in 0..14 {
            assert!(parse_request(&bytes.slice(..cut)).is_none(), "cut at {cut}");
        }
        let (_, ok) = response(7, Ok((CodecId::MsgPack, Bytes::from_static(b"\x04"))));
        assert_eq!(
            parse_response(&ok).unwrap(),
            (7, None, Bytes::from_static(b"\x04"))
        );
        let (codec, err) = response(8, Err((ResponseError::Handler, "boom".into())));
        assert_eq!(codec, CodecId::Raw);
        assert_eq!(
            parse_response(&err).unwrap(),
            (8, Some(ResponseError::Handler), Bytes::from_static(b"boom"))
        );
        assert!(parse_response(&ok.slice(..5)).is_none());
        assert!(is_internal(REQUESTS) && !is_internal("camera"));
    }
}
