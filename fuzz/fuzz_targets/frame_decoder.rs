//! cargo-fuzz target: see `rosy::fuzzing::frame_decoder`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rosy::fuzzing::frame_decoder(data));
