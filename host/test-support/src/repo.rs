//! The repository checkout and its `scripts/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root: the nearest ancestor of this crate holding `scripts/build-guests`.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("scripts/build-guests").exists())
        .expect("robodev-test-support lives inside the robodev repository")
        .to_owned()
}

/// Runs `scripts/{script}` with `args`, asserting that it succeeded.
pub fn run_script(script: &str, args: &[&str]) {
    let status = Command::new("bash")
        .arg(repo_root().join("scripts").join(script))
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("cannot run scripts/{script}: {e}"));
    assert!(status.success(), "scripts/{script} failed: {status}");
}

/// Runs `scripts/{script} --quiet` once per `cell` (once per test binary for a `static`).
pub fn run_script_once(cell: &'static OnceLock<()>, script: &str) {
    cell.get_or_init(|| run_script(script, &["--quiet"]));
}
