#![no_main]
//! cargo fuzz target `auth_challenge`: see robodev-fuzz's TARGETS (host/fuzz/src/lib.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| robodev_fuzz::run("auth_challenge", data));
