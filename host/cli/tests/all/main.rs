//! Integration tests of the `robodev` binary: what a user sees (stdout, stderr, exit codes)
//! when calling real guest components.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on the first unexpected value"
)]

#[path = "../../../wasm/tests/all/support.rs"]
mod support;

/// Finds and builds the subprocess plugins (Rust, Python, Go) of robodev-grpc's tests.
#[path = "../../../grpc/tests/all/support.rs"]
mod grpc_support;

/// A forward proxy recording what goes through it (robodev-oci's tests use it too).
#[path = "../../../oci/tests/all/forward_proxy.rs"]
mod forward_proxy;

mod call;
mod config_check;
mod inspect;
mod oci;
mod run;
mod signatures;
mod subprocess;

use std::path::Path;
use std::process::{Command, Output};

/// Runs `robodev` with `args`, a private cache and data directory, and returns its output.
pub fn robodev(dirs: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_robodev"))
        .args(args)
        .env("ROBODEV_CACHE_DIR", dirs.join("cache"))
        .env("ROBODEV_OCI_CACHE_DIR", dirs.join("oci"))
        .env("ROBODEV_DATA_DIR", dirs.join("data"))
        .env_remove("RUST_LOG")
        .output()
        .expect("run robodev")
}

/// The guest's path as a string argument.
pub fn guest(name: &str) -> String {
    support::guest(name).display().to_string()
}

/// stdout parsed as JSON.
pub fn json_out(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The exit code, with stderr in the message if the process was killed.
pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or_else(|| {
        panic!(
            "killed by a signal; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The row of plugin `name` in the JSON of `plugins list --json` (or the admin API).
pub fn plugin_row(list: &serde_json::Value, name: &str) -> serde_json::Value {
    list["plugins"]
        .as_array()
        .and_then(|rows| rows.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no plugin {name} in {list}"))
        .clone()
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
