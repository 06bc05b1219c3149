//! cargo-fuzz target: see `rosy_security::fuzzing::certificate_names`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rosy_security::fuzzing::certificate_names(data));
