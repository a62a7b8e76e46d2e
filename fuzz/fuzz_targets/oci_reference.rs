#![no_main]
//! cargo fuzz target `oci_reference`: see robodev-fuzz's TARGETS (host/fuzz/src/lib.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| robodev_fuzz::run("oci_reference", data));
