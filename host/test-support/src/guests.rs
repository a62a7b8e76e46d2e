//! The guest components of `guests/`, built once per test binary (cargo serialises concurrent
//! builds on its own lock).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::repo::{repo_root, run_script};

/// Builds every guest (once) and returns the directory holding the `.wasm` files.
pub fn guests_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        run_script("build-guests", &["--quiet"]);
        repo_root().join("guests/target/wasm32-wasip2/release")
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
