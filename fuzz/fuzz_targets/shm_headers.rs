//! cargo-fuzz target: see `rosy::fuzzing::shm_headers` (writes one file in /dev/shm per run).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let name = format!("rosy.fuzz.{:016x}.{:016x}", std::process::id(), 1);
    rosy::fuzzing::shm_headers(&name, data)
});
