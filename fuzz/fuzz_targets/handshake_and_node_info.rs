//! cargo-fuzz target: see `rosy::fuzzing::handshake_and_node_info`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rosy::fuzzing::handshake_and_node_info(data));
