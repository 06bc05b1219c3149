//! cargo-fuzz target: see `rosy_security::fuzzing::acl_loader`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rosy_security::fuzzing::acl_loader(data));
