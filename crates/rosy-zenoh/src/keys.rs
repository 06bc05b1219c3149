//! Zenoh key expressions for what a bridge carries, and back: the one place their layout is
//! decided (the README documents it for plain zenoh programs).
//!
//! - a topic's messages: `rosy/<domain>/<topic>`;
//! - a service's calls (a queryable): `rosy/<domain>/@service/<service>`;
//! - a bridge's announcement of its site (and its liveliness token): `rosy/<domain>/@bridge/<id>`.
//!
//! A topic or service name becomes key chunks by its `/`: a chunk zenoh would not take as it is
//! (an empty one, from a leading, trailing or doubled `/`; one holding `*`, `$`, `?`, `#` or `%`;
//! one starting with `@`) has those bytes written `%XX`, and an empty chunk is `%`. So
//! `camera/image` is `rosy/default/camera/image` and `/camera/image` is
//! `rosy/default/%/camera/image`. `@` chunks are zenoh's verbatim chunks: `rosy/<domain>/**`
//! matches every topic and none of the bridges' own keys. Nothing here does I/O.

/// The first chunk of every key a bridge uses.
pub const ROOT: &str = "rosy";

/// A chunk of a name as zenoh takes it, appended to `out`.
fn escape_chunk(chunk: &str, out: &mut String) {
    if chunk.is_empty() {
        out.push('%');
        return;
    }
    for (i, c) in chunk.char_indices() {
        let special = matches!(c, '*' | '$' | '?' | '#' | '%') || (i == 0 && c == '@');
        if special {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
}

/// A name (topic or service) as key chunks.
pub fn escape_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, chunk) in name.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        escape_chunk(chunk, &mut out);
    }
    out
}

/// The name key chunks stand for, or why they stand for none.
pub fn unescape_name(chunks: &str) -> Result<String, String> {
    let mut out: Vec<u8> = Vec::with_capacity(chunks.len());
    for (i, chunk) in chunks.split('/').enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        if chunk == "%" {
            continue;
        }
        let bytes = chunk.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            if bytes[at] == b'%' {
                let hex = chunk
                    .get(at + 1..at + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        format!("{chunk:?} holds a '%' not followed by two hex digits")
                    })?;
                out.push(hex);
                at += 3;
            } else {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    let name = String::from_utf8(out).map_err(|_| "the name is not UTF-8".to_string())?;
    rosy::names::check_name("topic", &name)?;
    Ok(name)
}

/// The key of `topic`'s messages in `domain`.
pub fn topic_key(domain: &str, topic: &str) -> String {
    format!("{ROOT}/{domain}/{}", escape_name(topic))
}

/// The topic a message key of `domain` names, or why it names none.
pub fn topic_of(domain: &str, key: &str) -> Result<String, String> {
    let prefix = format!("{ROOT}/{domain}/");
    let rest = key
        .strip_prefix(&prefix)
        .ok_or_else(|| format!("the key {key:?} is not under {prefix:?}"))?;
    unescape_name(rest)
}

/// The key of `service`'s queryable in `domain`.
pub fn service_key(domain: &str, service: &str) -> String {
    format!("{ROOT}/{domain}/@service/{}", escape_name(service))
}

/// The key of the bridge `id`'s announcements in `domain`.
pub fn bridge_key(domain: &str, id: &str) -> String {
    format!("{ROOT}/{domain}/@bridge/{}", escape_name(id))
}

/// The key every bridge of `domain` announces itself under.
pub fn bridges_key(domain: &str) -> String {
    format!("{ROOT}/{domain}/@bridge/*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_their_own_keys() {
        assert_eq!(topic_key("default", "chatter"), "rosy/default/chatter");
        assert_eq!(topic_key("lab", "camera/image"), "rosy/lab/camera/image");
        assert_eq!(service_key("lab", "add"), "rosy/lab/@service/add");
    }

    #[test]
    fn names_zenoh_would_refuse_are_escaped_and_come_back() {
        for name in [
            "/camera/image",
            "a//b",
            "trailing/",
            "stars*/$x?#y",
            "@odd/100%",
            "caméra/ü",
        ] {
            let key = topic_key("d", name);
            let parsed: zenoh::key_expr::KeyExpr = key
                .clone()
                .try_into()
                .unwrap_or_else(|e| panic!("{name:?} became {key:?}, which zenoh refuses: {e}"));
            assert_eq!(parsed.as_str(), key, "{name:?} is canonical");
            assert_eq!(topic_of("d", &key).unwrap(), name);
        }
        assert_eq!(topic_key("d", "/camera/image"), "rosy/d/%/camera/image");
    }

    #[test]
    fn keys_that_name_no_topic_say_why() {
        assert!(
            topic_of("d", "rosy/other/x")
                .unwrap_err()
                .contains("not under")
        );
        assert!(topic_of("d", "rosy/d/bad%zz").unwrap_err().contains("hex"));
        assert!(topic_of("d", "rosy/d/%FF").unwrap_err().contains("UTF-8"));
        assert!(topic_of("d", "rosy/d/%0A").unwrap_err().contains("control"));
    }
}
