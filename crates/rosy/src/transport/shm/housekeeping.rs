//! The names of rosy's files in /dev/shm, what they hold, and the removal of stale ones (left by
//! crashed publishers). Reads directory entries and file metadata; never maps a segment's ring.

use super::{file, layout};
use std::time::Duration;

/// The prefix of every rosy segment name (under /dev/shm).
pub const PREFIX: &str = "rosy.";

/// A segment name for `topic` published by node `node_id` in `domain`: `rosy.<domain>.<first
/// 16 hex of the node id>.<64-bit hash of the topic>`.
pub fn segment_name(domain: &str, node_id: &str, topic: &str) -> String {
    // FNV-1a: stable across builds and processes (unlike std's RandomState).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in topic.as_bytes() {
        hash ^= *b as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let node: String = node_id.chars().take(16).collect();
    format!("{PREFIX}{domain}.{node}.{hash:016x}")
}

/// Bytes of /dev/shm held by rosy's files whose names start with `prefix` (memory actually
/// allocated, not file sizes).
fn bytes_with_prefix(prefix: &str, also: impl Fn(&str) -> bool) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(dir) = std::fs::read_dir("/dev/shm") else {
        return 0;
    };
    dir.flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(prefix) && also(&name)
        })
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.blocks() * 512)
        .sum()
}

/// Bytes of /dev/shm a node's segment of `topic` holds now: its ring and its chunk files
/// (0 when it has none, or it is on another host).
pub fn segment_bytes(domain: &str, node_id: &str, topic: &str) -> u64 {
    let name = segment_name(domain, node_id, topic);
    let chunks = format!("{name}.c");
    bytes_with_prefix(&name, |n| n == name || n.starts_with(&chunks))
}

/// Bytes of /dev/shm all of a node's files hold now: segments, chunk files, doorbell.
pub fn node_bytes(domain: &str, node_id: &str) -> u64 {
    let node: String = node_id.chars().take(16).collect();
    bytes_with_prefix(&format!("{PREFIX}{domain}.{node}."), |_| true)
}

/// What a file name in /dev/shm is, if rosy made it: `rosy.<domain>.<16 hex>.<16 hex>` (a
/// segment), that followed by `.c<chunk>.<generation>` (a chunk file), or
/// `rosy.<domain>.<16 hex>.bell` (a doorbell), `<domain>` a valid [`DomainId`]. Returns the
/// domain; `None` for every other name, which rosy never removes.
///
/// [`DomainId`]: crate::domain::DomainId
pub fn rosy_file_domain(name: &str) -> Option<&str> {
    let hex16 = |s: &str| s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let number = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    let rest = name.strip_prefix(PREFIX)?;
    let (domain, rest) = rest.split_once('.')?;
    if !crate::domain::DomainId::is_valid(domain) {
        return None;
    }
    let parts: Vec<&str> = rest.split('.').collect();
    let ours = match parts.as_slice() {
        [node, "bell"] => hex16(node),
        [node, topic] => hex16(node) && hex16(topic),
        [node, topic, chunk, generation] => {
            hex16(node)
                && hex16(topic)
                && chunk.strip_prefix('c').is_some_and(number)
                && number(generation)
        }
        _ => false,
    };
    ours.then_some(domain)
}

/// Removes rosy files in /dev/shm (of `domain`, or all) whose owner process is dead or that
/// closed: segments, chunk files and doorbells; and files named as rosy's that hold none of
/// these, once older than 10 s (a creator killed before its file was ready). Returns the names
/// removed. A name that is not one rosy makes ([`rosy_file_domain`]) is never touched, and an
/// invalid `domain` is refused.
pub fn remove_stale_segments(domain: Option<&str>) -> std::io::Result<Vec<String>> {
    if let Some(d) = domain {
        crate::domain::DomainId::new(d)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    }
    let mut removed = Vec::new();
    let dir = match std::fs::read_dir("/dev/shm") {
        Ok(dir) => dir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e),
    };
    for entry in dir.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        match rosy_file_domain(&name) {
            Some(d) if domain.is_none_or(|want| want == d) => {}
            _ => continue,
        }
        // A regular file only (shm_open makes nothing else); never follow a planted link.
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let known = [layout::MAGIC, layout::CHUNK_MAGIC, layout::BELL_MAGIC];
        let stale = match file::peek_owner(&name) {
            Some(owner) if known.contains(&owner.magic) => !owner.alive(),
            // Not ready (a creator may be between O_EXCL and `ready`) or not rosy's layout:
            // leave young files alone.
            _ => entry
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(10))
                .unwrap_or(false),
        };
        if stale && file::unlink(&name) {
            removed.push(name);
        }
    }
    Ok(removed)
}
