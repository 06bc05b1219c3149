//! cargo-fuzz target: see `rosy::fuzzing::registry_entry`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rosy::fuzzing::registry_entry(data));
