//! Shared by the integration tests of several crates: builds the guest components from
//! `guests/` once per test binary (cargo serialises concurrent builds on its own lock) and
//! finds them.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root: the nearest ancestor of the crate holding `scripts/build-guests`.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("scripts/build-guests").exists())
        .expect("the crate lives inside the robodev repository")
        .to_owned()
}

/// Builds every guest (once) and returns the directory holding the `.wasm` files.
pub fn guests_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let repo = repo();
        let status = Command::new("bash")
            .arg(repo.join("scripts/build-guests"))
            .arg("--quiet")
            .status()
            .expect("run scripts/build-guests");
        assert!(status.success(), "building the guest components failed");
        repo.join("guests/target/wasm32-wasip2/release")
    })
}

/// The path of guest `name` (crate name with underscores, e.g. `ticketing_kv`).
pub fn guest(name: &str) -> PathBuf {
    let path = guests_dir().join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "guest component {} was not built",
        path.display()
    );
    path
}
