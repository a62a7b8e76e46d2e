#![no_main]
//! cargo fuzz target `plugin_settings`: see robodev-fuzz's TARGETS (host/fuzz/src/lib.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| robodev_fuzz::run("plugin_settings", data));
