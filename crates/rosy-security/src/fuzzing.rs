//! Fuzz targets of what secure mode reads from outside: a peer's certificate (the name, domain,
//! serial and key read from it) and an ACL file. Each must answer with a value or an error,
//! never a panic or a hang. `fuzz/` runs them under cargo-fuzz; `tests` below runs them on
//! stable Rust from a fixed seed in every `cargo test` (with `rosy::fuzzing::run`).
//!
//! Not part of the API: compiled only with the `fuzzing` feature and in the crate's tests.

/// The certificate reader, on a certificate's bytes.
pub fn certificate_names(data: &[u8]) {
    if let Ok(identity) = crate::identity::identity_of(data) {
        assert!(!identity.domain.is_empty() && !identity.name.is_empty());
    }
}

/// The ACL parser, on a file's bytes; what parses is asked a decision.
pub fn acl_loader(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(acl) = crate::acl::Acl::parse(text, "acl.yaml") {
        let _ = acl.explain("camera", rosy::security::Verb::Publish, "cmd/vel");
        let _ = acl.is_revoked("0a");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_certificate_names() {
        let dir = std::env::temp_dir().join(format!("rosy-sec-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let domain = crate::provision::create_domain(&dir, "fuzz").unwrap();
        let mut seeds = Vec::new();
        for (i, name) in ["camera", "*", "rosy-*"].iter().enumerate() {
            let out = dir.join(format!("id{i}"));
            crate::provision::issue(&domain, name, &out).unwrap();
            let creds = crate::credentials::Credentials::load(&out).unwrap();
            seeds.push(creds.cert.to_vec());
            seeds.push(creds.ca.to_vec());
        }
        std::fs::remove_dir_all(&dir).unwrap();
        rosy::fuzzing::run(certificate_names, seeds, 3_000, 0x5eed_ce27);
    }

    #[test]
    fn fuzz_acl_loader() {
        let seeds = vec![
            crate::acl::TEMPLATE.as_bytes().to_vec(),
            b"version: 2\nidentities: {a: [\"x*\"], b: [y]}\nallow: [{who: [a], publish: [\"**/get_*\"]}]\ndeny: [{who: [b], call: [\"a/*\"]}]\nrevoked_serials: [\"0A:FF\"]\n".to_vec(),
        ];
        rosy::fuzzing::run(acl_loader, seeds, 3_000, 0xac1_f00d);
    }
}
