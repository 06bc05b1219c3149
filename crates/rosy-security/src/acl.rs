//! The domain's access rules: `acl.yaml`, signed by the domain's CA (`acl.yaml.sig`), saying
//! which nodes may publish, subscribe to, call and provide which names. Default deny; a deny
//! rule beats any allow rule, whatever the order.
//!
//! ```yaml
//! version: 1
//! identities:                 # groups of node names (as their certificates grant them)
//!   planner: [planner]
//!   drivers: ["motor_*"]      # '*' in a node name: any run of characters
//!   tools: ["rosy-*"]
//! allow:
//!   - who: [planner]
//!     publish: [cmd/vel, "cmd/arm/**"]   # '*' is one segment of a topic, '**' any number
//!     subscribe: ["sensors/**"]
//!     call: [motor/enable]
//!   - who: [drivers]
//!     subscribe: ["cmd/**"]
//!     provide: ["motor/*"]
//!   - who: [tools]
//!     subscribe: ["**"]
//! deny:
//!   - who: [tools]
//!     publish: ["cmd/**"]
//! revoked_serials: []         # certificates no node accepts any more
//! ```
//!
//! Parsing is strict: an unknown key, an identity a rule names but the file does not define, or
//! a rule that grants nothing is an error naming it. This module only decides; the node asks it
//! at both ends of every flow (see `rosy::security::Policy`).

use rosy::security::{Policy, Verb, glob_match};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// The ACL file in a credentials or domain directory.
pub const ACL_FILE: &str = "acl.yaml";
/// Its signature (hex of an ECDSA P-256 SHA-256 signature by the domain's CA key).
pub const SIGNATURE_FILE: &str = "acl.yaml.sig";

/// Why an ACL could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AclError {
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not a valid ACL.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, with its place when the YAML parser gives one.
        reason: String,
    },
    /// The signature is missing or does not verify against the domain's CA.
    #[error(
        "{path}: {reason}; an edited ACL must be signed again with `rosy security sign-acl` \
         and copied with its .sig"
    )]
    Signature {
        /// The ACL file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AclFile {
    version: u64,
    #[serde(default)]
    identities: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    allow: Vec<RuleFile>,
    #[serde(default)]
    deny: Vec<RuleFile>,
    #[serde(default)]
    revoked_serials: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    who: Vec<String>,
    #[serde(default)]
    publish: Vec<String>,
    #[serde(default)]
    subscribe: Vec<String>,
    #[serde(default)]
    call: Vec<String>,
    #[serde(default)]
    provide: Vec<String>,
}

/// One allow or deny rule: the identity groups it is for, and its name patterns per verb.
#[derive(Clone, Debug)]
struct Rule {
    who: Vec<String>,
    names: [Vec<String>; 4],
}

fn verb_index(verb: Verb) -> usize {
    match verb {
        Verb::Publish => 0,
        Verb::Subscribe => 1,
        Verb::Call => 2,
        Verb::Provide => 3,
    }
}

/// A loaded ACL.
#[derive(Clone, Debug)]
pub struct Acl {
    /// The file's version (newer files carry higher ones).
    pub version: u64,
    identities: BTreeMap<String, Vec<String>>,
    allow: Vec<Rule>,
    deny: Vec<Rule>,
    revoked: HashSet<String>,
}

/// Why a flow is allowed or denied, for `rosy security check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the flow may happen.
    pub allowed: bool,
    /// Which rule decided, in words.
    pub reason: String,
}

/// Whether topic or service `name` matches `pattern`: segments split at '/', `**` matches any
/// number of segments (none included), `*` one whole segment, and `*` inside a segment any run
/// of characters within it.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let name: Vec<&str> = name.split('/').collect();
    segments_match(&pattern, &name)
}

fn segments_match(pattern: &[&str], name: &[&str]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((&"**", rest)) => (0..=name.len()).any(|skip| segments_match(rest, &name[skip..])),
        Some((first, rest)) => match name.split_first() {
            Some((segment, name_rest)) => {
                glob_match(first, segment) && segments_match(rest, name_rest)
            }
            None => false,
        },
    }
}

impl Acl {
    /// Parses and checks an ACL's text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Acl, AclError> {
        let invalid = |reason: String| AclError::Invalid {
            path: path.to_string(),
            reason,
        };
        let file: AclFile = serde_saphyr::from_str(text).map_err(|e| invalid(e.to_string()))?;
        for (group, names) in &file.identities {
            if names.is_empty() {
                return Err(invalid(format!("identity {group:?} lists no node names")));
            }
        }
        let rules = |rules: Vec<RuleFile>, kind: &str| -> Result<Vec<Rule>, AclError> {
            rules
                .into_iter()
                .enumerate()
                .map(|(i, r)| {
                    let at = format!("{kind} rule {}", i + 1);
                    if r.who.is_empty() {
                        return Err(invalid(format!("{at} names nobody (who: [])")));
                    }
                    for group in &r.who {
                        if !file.identities.contains_key(group) {
                            return Err(invalid(format!(
                                "{at} names identity {group:?}, which `identities` does not \
                                 define"
                            )));
                        }
                    }
                    let names = [r.publish, r.subscribe, r.call, r.provide];
                    if names.iter().all(Vec::is_empty) {
                        return Err(invalid(format!(
                            "{at} grants nothing: give publish, subscribe, call or provide"
                        )));
                    }
                    for pattern in names.iter().flatten() {
                        if pattern.is_empty() || pattern.split('/').any(str::is_empty) {
                            return Err(invalid(format!("{at}: {pattern:?} has an empty segment")));
                        }
                    }
                    Ok(Rule { who: r.who, names })
                })
                .collect()
        };
        Ok(Acl {
            version: file.version,
            allow: rules(file.allow, "allow")?,
            deny: rules(file.deny, "deny")?,
            identities: file.identities,
            revoked: file
                .revoked_serials
                .iter()
                .map(|s| s.to_ascii_lowercase().replace(':', ""))
                .collect(),
        })
    }

    /// Reads `dir/acl.yaml`, checks its signature against the CA certificate `ca_der`, and
    /// parses it. `Ok(None)` when the directory has no ACL.
    pub fn load(dir: &Path, ca_der: &[u8]) -> Result<Option<Acl>, AclError> {
        let path = dir.join(ACL_FILE);
        let shown = path.display().to_string();
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(AclError::Read {
                    path: shown,
                    source,
                });
            }
        };
        let signature =
            std::fs::read_to_string(dir.join(SIGNATURE_FILE)).map_err(|e| AclError::Signature {
                path: shown.clone(),
                reason: format!("no signature beside it ({SIGNATURE_FILE}: {e})"),
            })?;
        verify(ca_der, &text, signature.trim()).map_err(|reason| AclError::Signature {
            path: shown.clone(),
            reason,
        })?;
        let text = String::from_utf8(text).map_err(|_| AclError::Invalid {
            path: shown.clone(),
            reason: "not UTF-8 text".into(),
        })?;
        Acl::parse(&text, &shown).map(Some)
    }

    /// Whether a certificate serial (hex) is revoked.
    pub fn is_revoked(&self, serial: &str) -> bool {
        self.revoked
            .contains(&serial.to_ascii_lowercase().replace(':', ""))
    }

    fn groups_of(&self, who: &str) -> Vec<&str> {
        self.identities
            .iter()
            .filter(|(_, names)| names.iter().any(|n| glob_match(n, who)))
            .map(|(group, _)| group.as_str())
            .collect()
    }

    fn matching(
        rules: &[Rule],
        groups: &[&str],
        verb: Verb,
        name: &str,
    ) -> Option<(usize, String)> {
        rules.iter().enumerate().find_map(|(i, rule)| {
            let applies = rule.who.iter().any(|g| groups.contains(&g.as_str()));
            let pattern = rule.names[verb_index(verb)]
                .iter()
                .find(|p| name_matches(p, name))?;
            applies.then(|| (i + 1, pattern.clone()))
        })
    }

    /// Whether node `who` may `verb` `name`, and which rule says so.
    pub fn explain(&self, who: &str, verb: Verb, name: &str) -> Decision {
        let groups = self.groups_of(who);
        if groups.is_empty() {
            return Decision {
                allowed: false,
                reason: format!("denied: {who:?} is in no identity group"),
            };
        }
        if let Some((i, pattern)) = Self::matching(&self.deny, &groups, verb, name) {
            return Decision {
                allowed: false,
                reason: format!("denied by deny rule {i} ({pattern:?}); deny beats allow"),
            };
        }
        match Self::matching(&self.allow, &groups, verb, name) {
            Some((i, pattern)) => Decision {
                allowed: true,
                reason: format!("allowed by allow rule {i} ({pattern:?})"),
            },
            None => Decision {
                allowed: false,
                reason: format!(
                    "denied: no allow rule for groups {groups:?} matches (default deny)"
                ),
            },
        }
    }
}

impl Policy for Acl {
    fn allows(&self, who: &str, verb: Verb, name: &str) -> bool {
        self.explain(who, verb, name).allowed
    }
}

/// Checks `signature` (hex) of `text` against the CA certificate (an Ed25519 or P-256 key).
pub fn verify(ca_der: &[u8], text: &[u8], signature: &str) -> Result<(), String> {
    use crate::identity::KeyAlgorithm;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ED25519, UnparsedPublicKey};
    use x509_parser::prelude::{FromDer, X509Certificate};
    let signature = unhex(signature).ok_or("the signature is not hex")?;
    let (_, cert) = X509Certificate::from_der(ca_der)
        .map_err(|e| format!("the CA certificate does not parse: {e}"))?;
    let key = cert.public_key();
    let bytes = &key.subject_public_key.data;
    let checked = match KeyAlgorithm::of(key) {
        Some(KeyAlgorithm::Ed25519) => {
            UnparsedPublicKey::new(&ED25519, bytes).verify(text, &signature)
        }
        Some(KeyAlgorithm::P256) => {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, bytes).verify(text, &signature)
        }
        None => return Err("the CA's key is neither Ed25519 nor P-256".into()),
    };
    checked.map_err(|_| "the signature does not verify against the domain's CA".to_string())
}

/// Signs `text` with the CA's key (PKCS#8 PEM, as `create-domain` writes it; Ed25519, or P-256
/// for a domain made before 2026-12-08): hex.
pub fn sign(ca_key_pem: &str, text: &[u8]) -> Result<String, String> {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
    use rustls_pki_types::PrivatePkcs8KeyDer;
    use rustls_pki_types::pem::PemObject;
    let der = PrivatePkcs8KeyDer::from_pem_slice(ca_key_pem.as_bytes())
        .map_err(|_| "the CA key is not a PKCS#8 PEM key".to_string())?;
    let pkcs8 = der.secret_pkcs8_der();
    let signature = if let Ok(key) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8) {
        key.sign(text).as_ref().to_vec()
    } else {
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8)
            .map_err(|e| format!("the CA key is neither an Ed25519 nor a P-256 key: {e}"))?;
        key.sign(&aws_lc_rs::rand::SystemRandom::new(), text)
            .map_err(|e| format!("signing failed: {e}"))?
            .as_ref()
            .to_vec()
    };
    Ok(crate::identity::hex(&signature))
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The ACL `create-domain` writes: every member of the domain may do everything. Edit it, then
/// sign it again.
pub const TEMPLATE: &str = "\
# The domain's access rules (see `rosy security --help`). Default deny; deny beats allow.
# After editing: rosy security sign-acl DOMAIN, then give nodes the new acl.yaml and .sig.
version: 1
identities:
  members: [\"*\"]          # node names, as certificates grant them ('*': any)
allow:
  - who: [members]
    publish: [\"**\"]        # topic and service names: '*' one segment, '**' any number
    subscribe: [\"**\"]
    call: [\"**\"]
    provide: [\"**\"]
deny: []
revoked_serials: []
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_by_segments() {
        assert!(name_matches("**", "a/b/c"));
        assert!(name_matches("cmd/**", "cmd"));
        assert!(name_matches("cmd/**", "cmd/arm/left"));
        assert!(!name_matches("cmd/**", "cmdx/arm"));
        assert!(name_matches("motor/*", "motor/enable"));
        assert!(!name_matches("motor/*", "motor/a/b"));
        assert!(name_matches("**/get_*", "arm/left/get_state"));
        assert!(!name_matches("**/get_*", "arm/left/set_state"));
        assert!(name_matches("cmd/vel", "cmd/vel"));
        assert!(!name_matches("cmd/vel", "cmd/vel2"));
    }

    const ACL: &str = "
version: 3
identities:
  planner: [planner]
  drivers: [\"motor_*\"]
  tools: [\"rosy-*\"]
allow:
  - who: [planner]
    publish: [cmd/vel, \"cmd/arm/**\"]
    call: [motor/enable]
  - who: [drivers]
    subscribe: [\"cmd/**\"]
    provide: [\"motor/*\"]
  - who: [tools]
    subscribe: [\"**\"]
    publish: [\"**\"]
deny:
  - who: [tools]
    publish: [\"cmd/**\"]
revoked_serials: [\"0A:FF\"]
";

    #[test]
    fn exactly_the_allowed_flows_are_allowed_and_deny_beats_allow() {
        let acl = Acl::parse(ACL, "acl.yaml").unwrap();
        assert_eq!(acl.version, 3);
        let yes = |who, verb, name| acl.allows(who, verb, name);
        assert!(yes("planner", Verb::Publish, "cmd/vel"));
        assert!(yes("planner", Verb::Publish, "cmd/arm/left/grip"));
        assert!(!yes("planner", Verb::Subscribe, "cmd/vel"));
        assert!(!yes("planner", Verb::Publish, "cmd/velocity"));
        assert!(yes("planner", Verb::Call, "motor/enable"));
        assert!(!yes("planner", Verb::Provide, "motor/enable"));
        assert!(yes("motor_left", Verb::Subscribe, "cmd/vel"));
        assert!(yes("motor_left", Verb::Provide, "motor/enable"));
        assert!(!yes("motor_left", Verb::Call, "motor/enable"));
        assert!(!yes("camera", Verb::Subscribe, "cmd/vel"));
        assert!(yes("rosy-topic-echo", Verb::Subscribe, "cmd/vel"));
        assert!(yes("rosy-topic-send", Verb::Publish, "status"));
        assert!(!yes("rosy-topic-send", Verb::Publish, "cmd/vel"));
        let why = acl.explain("rosy-topic-send", Verb::Publish, "cmd/vel");
        assert!(why.reason.contains("deny rule 1"), "{}", why.reason);
        let why = acl.explain("camera", Verb::Publish, "x");
        assert!(why.reason.contains("no identity group"), "{}", why.reason);
        assert!(acl.is_revoked("0aff") && acl.is_revoked("0A:FF") && !acl.is_revoked("0b"));
    }

    #[test]
    fn mistakes_are_errors_naming_them() {
        let e = |text: &str| Acl::parse(text, "acl.yaml").unwrap_err().to_string();
        assert!(e("version: 1\nallowed: []\n").contains("allowed"));
        let unknown = e("version: 1\nidentities: {a: [x]}\nallow: [{who: [b], publish: [t]}]\n");
        assert!(
            unknown.contains("\"b\"") && unknown.contains("allow rule 1"),
            "{unknown}"
        );
        let nothing = e("version: 1\nidentities: {a: [x]}\nallow: [{who: [a]}]\n");
        assert!(nothing.contains("grants nothing"), "{nothing}");
        let empty = e("version: 1\nidentities: {a: [x]}\nallow: [{who: [a], call: [\"a//b\"]}]\n");
        assert!(empty.contains("empty segment"), "{empty}");
        let nobody = e("version: 1\nidentities: {a: []}\n");
        assert!(nobody.contains("no node names"), "{nobody}");
    }

    #[test]
    fn the_template_parses_and_lets_members_do_everything() {
        let acl = Acl::parse(TEMPLATE, "acl.yaml").unwrap();
        for verb in [Verb::Publish, Verb::Subscribe, Verb::Call, Verb::Provide] {
            assert!(acl.allows("anyone", verb, "any/name"));
        }
    }
}
