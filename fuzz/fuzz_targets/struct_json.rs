#![no_main]
//! cargo fuzz target `struct_json`: see robodev-fuzz's TARGETS (host/fuzz/src/lib.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| robodev_fuzz::run("struct_json", data));
