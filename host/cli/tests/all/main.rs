//! Integration tests of the `robodev` binary: what a user sees (stdout, stderr, exit codes)
//! when calling real guest components.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on the first unexpected value"
)]

mod admin_api;
mod cache;
mod call;
mod config_check;
mod inspect;
mod kit;
mod kube;
mod new;
mod oci;
mod oci_tls;
mod run;
mod seeds;
mod signatures;
mod subprocess;

use std::path::Path;
use std::process::{Command, Output};

/// The guest components, the subprocess plugins (Rust, Python, Go) and the repository root,
/// as every crate's tests find them.
pub use robodev_test_support::repo::repo_root;
pub use robodev_test_support::{guests, plugins};

/// Runs `robodev` with `args`, a private cache and data directory, and returns its output.
pub fn robodev(dirs: &Path, args: &[&str]) -> Output {
    robodev_command(dirs, args).output().expect("run robodev")
}

/// `robodev` with `args`, its cache and data directories under `dirs`, and no `RUST_LOG`.
pub fn robodev_command(dirs: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_robodev"));
    command
        .args(args)
        .env("ROBODEV_CACHE_DIR", dirs.join("cache"))
        .env("ROBODEV_OCI_CACHE_DIR", dirs.join("oci"))
        .env("ROBODEV_DATA_DIR", dirs.join("data"))
        .env_remove("RUST_LOG");
    command
}

/// The guest's path as a string argument.
pub fn guest(name: &str) -> String {
    guests::guest(name).display().to_string()
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
