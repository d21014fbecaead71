#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bridge::fuzzing::sanitize(data));
