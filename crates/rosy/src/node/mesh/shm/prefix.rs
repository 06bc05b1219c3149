//! The 64-byte prefix of every message a node writes into shared memory: its codec and the
//! recipients it is for (load balancing picks among same-name listeners per message, and every
//! reader sees every slot): `[count u8][codec u8][6 reserved][7 × u64 recipient id hashes]`,
//! then the payload, which so stays 64-byte aligned for in-place reads.

use crate::codec::CodecId;

/// Bytes before the payload of every shm message.
pub(crate) const PREFIX_LEN: usize = 64;
/// Recipients one message can name.
pub(crate) const MAX_RECIPIENTS: usize = 7;

/// The 64-bit form of a node id used in prefixes: its first 16 hex digits.
pub(crate) fn id_hash(id: &str) -> u64 {
    u64::from_str_radix(id.get(..16).unwrap_or(id), 16).unwrap_or(0)
}

/// Builds a prefix for `codec` and up to [`MAX_RECIPIENTS`] recipients.
pub(crate) fn prefix(codec: CodecId, recipients: &[u64]) -> [u8; PREFIX_LEN] {
    debug_assert!(recipients.len() <= MAX_RECIPIENTS);
    let mut p = [0u8; PREFIX_LEN];
    p[0] = recipients.len() as u8;
    p[1] = codec.to_byte();
    for (i, r) in recipients.iter().enumerate() {
        p[8 + i * 8..16 + i * 8].copy_from_slice(&r.to_le_bytes());
    }
    p
}

/// Reads a prefix: the codec, and whether `me` is among the recipients.
pub(crate) fn parse_prefix(bytes: &[u8], me: u64) -> Option<(CodecId, bool)> {
    if bytes.len() < PREFIX_LEN {
        return None;
    }
    let count = bytes[0] as usize;
    let codec = CodecId::from_byte(bytes[1])?;
    if count > MAX_RECIPIENTS {
        return None;
    }
    let mine = (0..count).any(|i| {
        u64::from_le_bytes(bytes[8 + i * 8..16 + i * 8].try_into().expect("8 bytes")) == me
    });
    Some((codec, mine))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_name_their_recipients() {
        let p = prefix(CodecId::MsgPack, &[1, 2, 3]);
        assert_eq!(parse_prefix(&p, 2), Some((CodecId::MsgPack, true)));
        assert_eq!(parse_prefix(&p, 4), Some((CodecId::MsgPack, false)));
        assert_eq!(parse_prefix(&p[..10], 2), None);
        let mut bad = p;
        bad[0] = 9;
        assert_eq!(parse_prefix(&bad, 2), None);
        assert_eq!(id_hash("00000000000000ffabc"), 255);
    }
}
