//! [`DomainId`]: the one place a domain id is checked.
//!
//! A domain id becomes part of file names: shared-memory files `rosy.<domain>.<node>...` in
//! /dev/shm and the registry directory `/dev/shm/rosy-registry/<domain>/`. So it is 1 to 64
//! ASCII letters, digits, `_` and `-`: no `/`, and no `.`, which rules out `.` and `..` (a
//! registry directory outside its parent) and makes `.` the end of the domain in every file
//! name, so one domain's names are never a prefix of another's (`rosy.a.` and `rosy.a-b.` and
//! `rosy.a_b.` differ at the character after `a`; without `.`, `rosy.a.` could also start
//! `rosy.a.b.`'s names).

/// The longest domain id, in characters (bytes: they are ASCII).
pub const MAX_LEN: usize = 64;

/// The rule, as error messages state it.
const RULE: &str = "a domain id is 1 to 64 ASCII letters, digits, '_' and '-'";

/// A valid domain id: 1 to [`MAX_LEN`] of `A-Z a-z 0-9 _ -`.
///
/// ```
/// use rosy::domain::DomainId;
/// assert_eq!(DomainId::new("lab-1_b").unwrap().as_str(), "lab-1_b");
/// let err = DomainId::new("..").unwrap_err().to_string();
/// assert!(err.contains("\"..\"") && err.contains("'.'"), "{err}");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainId(String);

/// Why a value is not a [`DomainId`]; the message names the value and the rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid domain id {value:?}: {problem} ({RULE})")]
pub struct InvalidDomainId {
    /// The value refused (cut to 80 characters).
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
}

impl InvalidDomainId {
    /// The value, what is wrong and the rule, without the leading "invalid domain id" (for
    /// errors that name the setting themselves).
    pub fn reason(&self) -> String {
        format!("{:?}: {} ({RULE})", self.value, self.problem)
    }
}

impl DomainId {
    /// Checks `value`.
    pub fn new(value: impl Into<String>) -> Result<DomainId, InvalidDomainId> {
        let value = value.into();
        let refuse = |problem: String| InvalidDomainId {
            value: value.chars().take(80).collect(),
            problem,
        };
        if value.is_empty() {
            return Err(refuse("it is empty".into()));
        }
        if let Some(c) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
        {
            return Err(refuse(format!("{c:?} is not allowed")));
        }
        if value.len() > MAX_LEN {
            return Err(refuse(format!("{} characters is too long", value.len())));
        }
        Ok(DomainId(value))
    }

    /// The domain id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `value` is a valid domain id.
    pub fn is_valid(value: &str) -> bool {
        DomainId::new(value).is_ok()
    }
}

impl std::str::FromStr for DomainId {
    type Err = InvalidDomainId;
    fn from_str(s: &str) -> Result<DomainId, InvalidDomainId> {
        DomainId::new(s)
    }
}

impl TryFrom<String> for DomainId {
    type Error = InvalidDomainId;
    fn try_from(s: String) -> Result<DomainId, InvalidDomainId> {
        DomainId::new(s)
    }
}

impl TryFrom<&str> for DomainId {
    type Error = InvalidDomainId;
    fn try_from(s: &str) -> Result<DomainId, InvalidDomainId> {
        DomainId::new(s)
    }
}

impl std::fmt::Display for DomainId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for DomainId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for DomainId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<DomainId> for String {
    fn from(d: DomainId) -> String {
        d.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_digits_underscore_and_dash_are_domain_ids() {
        for ok in ["default", "lab-1", "robot_a", "A", "0", "-", "_", "a-b_c-9"] {
            assert_eq!(DomainId::new(ok).unwrap().as_str(), ok);
        }
        assert!(DomainId::new("x".repeat(MAX_LEN)).is_ok());
    }

    #[test]
    fn dots_slashes_and_other_characters_are_refused_with_the_value_and_the_rule() {
        for (bad, problem) in [
            ("..", "'.' is not allowed"),
            (".", "'.' is not allowed"),
            ("a.b", "'.' is not allowed"),
            ("lab.", "'.' is not allowed"),
            ("a/b", "'/' is not allowed"),
            ("../etc", "'.' is not allowed"),
            ("a b", "' ' is not allowed"),
            ("é", "'é' is not allowed"),
            ("a\0", "'\\0' is not allowed"),
            ("a\n", "'\\n' is not allowed"),
            ("", "it is empty"),
        ] {
            let err = DomainId::new(bad).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(&format!("{bad:?}")) && text.contains(problem),
                "{bad:?}: {text}"
            );
            assert!(text.contains(RULE), "{text}");
            assert!(!DomainId::is_valid(bad));
        }
        let long = "x".repeat(MAX_LEN + 1);
        assert!(
            DomainId::new(long.as_str())
                .unwrap_err()
                .to_string()
                .contains("65 characters is too long")
        );
    }

    #[test]
    fn no_domain_s_file_names_start_with_another_domain_s_prefix() {
        // `rosy.<domain>.` ends at the first '.', which no domain holds.
        let domains = ["a", "a-b", "a_b", "ab", "a-", "b"];
        for d in domains {
            for e in domains.iter().filter(|e| **e != d) {
                let name = format!("rosy.{e}.0123456789abcdef.0123456789abcdef");
                assert!(!name.starts_with(&format!("rosy.{d}.")), "{d} vs {e}");
            }
        }
    }

    #[test]
    fn parses_from_str_and_shows_as_itself() {
        let d: DomainId = "lab".parse().unwrap();
        assert_eq!(d.to_string(), "lab");
        assert_eq!(&*d, "lab");
        assert!("..".parse::<DomainId>().is_err());
        assert!(DomainId::try_from(String::from("lab")).is_ok());
    }
}
