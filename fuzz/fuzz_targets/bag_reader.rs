//! cargo-fuzz target: see `rosy::fuzzing::bag_reader`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rosy::fuzzing::bag_reader(data));
