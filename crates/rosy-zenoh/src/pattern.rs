//! Allow-lists of names: what a bridge lets leave its site and come into it. A pattern is a
//! name in which `*` stands for any run of characters within one `/`-separated part and `**`
//! for any run at all, `/` included: `camera/*` allows `camera/front` but not
//! `camera/front/raw`, `camera/**` allows both, `**` allows everything. An empty list allows
//! nothing. Nothing here does I/O.

use serde::{Deserialize, Serialize};

/// Whether `name` matches `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    match_bytes(pattern.as_bytes(), name.as_bytes())
}

fn match_bytes(pattern: &[u8], name: &[u8]) -> bool {
    match pattern {
        [] => name.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=name.len()).any(|skip| match_bytes(rest, &name[skip..])),
        [b'*', rest @ ..] => {
            let within = name.iter().position(|&b| b == b'/').unwrap_or(name.len());
            (0..=within).any(|skip| match_bytes(rest, &name[skip..]))
        }
        [p, rest @ ..] => name.first() == Some(p) && match_bytes(rest, &name[1..]),
    }
}

/// An allow-list: names matching any of its patterns are allowed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AllowList(pub Vec<String>);

impl AllowList {
    /// Everything.
    pub fn everything() -> Self {
        AllowList(vec!["**".into()])
    }

    /// Whether `name` is allowed.
    pub fn allows(&self, name: &str) -> bool {
        self.0.iter().any(|p| matches(p, name))
    }

    /// Whether it allows nothing at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<S: Into<String>> FromIterator<S> for AllowList {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        AllowList(iter.into_iter().map(Into::into).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_stay_within_a_part_and_double_stars_do_not() {
        assert!(matches("camera/*", "camera/front"));
        assert!(!matches("camera/*", "camera/front/raw"));
        assert!(matches("camera/**", "camera/front/raw"));
        assert!(matches("**", "/a/b"));
        assert!(matches("*/image", "front/image"));
        assert!(!matches("*/image", "a/front/image"));
        assert!(matches("cam*_raw", "camera_raw"));
        assert!(!matches("chatter", "chatter2"));
        assert!(matches("chatter", "chatter"));
        assert!(matches("**/image", "/robot/camera/image"));
    }

    #[test]
    fn an_empty_list_allows_nothing() {
        assert!(!AllowList::default().allows("x"));
        assert!(AllowList::everything().allows("any/thing"));
        let list: AllowList = ["status", "camera/*"].into_iter().collect();
        assert!(list.allows("camera/left") && list.allows("status") && !list.allows("cmd_vel"));
    }
}
