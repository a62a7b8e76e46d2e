#![no_main]
//! cargo fuzz target `proto_message`: see robodev-fuzz's TARGETS (host/fuzz/src/lib.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| robodev_fuzz::run("proto_message", data));
