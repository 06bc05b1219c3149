//! Names that travel over the wire: node, topic and service names, and domain ids. The one
//! place their rules are checked, below every layer that reads them off the wire or a command
//! line (transport, discovery, node). Nothing here does I/O.

/// Longest topic, service or node name, in bytes. Every name read off the wire is checked against it.
pub const MAX_NAME_LEN: usize = 1024;

/// Longest domain id, in bytes (see [`crate::domain::DomainId`]).
pub const MAX_DOMAIN_LEN: usize = crate::domain::MAX_LEN;

/// Checks a domain id: 1 to 64 of `A-Z a-z 0-9 _ -` (it becomes part of file and segment
/// names). The rule lives in [`crate::domain::DomainId`]; this is its check alone.
pub fn check_domain(domain: &str) -> Result<(), String> {
    crate::domain::DomainId::new(domain)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Checks a node, topic or service name: 1 to [`MAX_NAME_LEN`] bytes, no control characters.
pub fn check_name(kind: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(format!(
            "{kind} name must be 1 to {MAX_NAME_LEN} bytes, got {} bytes",
            name.len()
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("{kind} name {name:?} holds a control character"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_and_names_are_checked() {
        assert!(check_domain("lab-1_robots").is_ok());
        assert!(check_domain("lab-1.robots_a").is_err());
        assert!(check_domain("..").unwrap_err().contains("'.'"));
        assert!(check_domain("").is_err());
        assert!(check_domain("a/b").unwrap_err().contains("'/'"));
        assert!(check_domain(&"x".repeat(65)).is_err());
        assert!(check_name("topic", "camera/frames").is_ok());
        assert!(check_name("topic", "").is_err());
        assert!(check_name("topic", "a\nb").is_err());
    }
}
