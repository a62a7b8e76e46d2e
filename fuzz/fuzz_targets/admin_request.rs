#![no_main]
//! cargo fuzz target `admin_request`: see robodev-fuzz's TARGETS (host/fuzz/src/lib.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| robodev_fuzz::run("admin_request", data));
