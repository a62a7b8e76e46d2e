//! The cosign v3 binary scripts/build-cosign builds (target/tools/bin/cosign), or the one
//! `ROBODEV_COSIGN` names. When it is absent a test says so on stderr and passes, unless
//! `ROBODEV_REQUIRE_COSIGN=1` (scripts/test sets it): building cosign takes minutes and
//! gigabytes, so the default suite does not.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::repo::repo_root;

/// The cosign binary, or `None` (having said why) when the test should pass without it; with
/// `ROBODEV_REQUIRE_COSIGN=1` its absence fails the test.
pub fn cosign() -> Option<PathBuf> {
    let path = std::env::var_os("ROBODEV_COSIGN").map_or_else(
        || repo_root().join("target/tools/bin/cosign"),
        PathBuf::from,
    );
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var("ROBODEV_REQUIRE_COSIGN").as_deref() != Ok("1"),
        "ROBODEV_REQUIRE_COSIGN=1 but there is no cosign at {} (run scripts/build-cosign)",
        path.display()
    );
    eprintln!(
        "skipped: no cosign at {} (run scripts/build-cosign to test against cosign v3)",
        path.display()
    );
    None
}

/// Runs cosign in `dir` with an empty key password, a private TUF cache and no docker config
/// (nothing is fetched from Sigstore's public infrastructure that matters offline, and the
/// machine's registry credentials are not read); its output, echoed to stderr for failures.
pub fn run(cosign: &Path, dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(cosign)
        .args(args)
        .current_dir(dir)
        .env("COSIGN_PASSWORD", "")
        .env("TUF_ROOT", dir.join("tuf"))
        .env("DOCKER_CONFIG", dir.join("docker"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    eprintln!(
        "cosign {}: {}\n{}{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `cosign generate-key-pair` (`cosign.key`, `cosign.pub`) and a signing config with no
/// services, `offline.json` (how cosign v3 signs offline: `--tlog-upload=false` is refused with
/// a signing config), in `dir`.
pub fn setup(cosign: &Path, dir: &Path) {
    assert!(run(cosign, dir, &["generate-key-pair"]).status.success());
    assert!(
        run(
            cosign,
            dir,
            &["signing-config", "create", "--out", "offline.json"]
        )
        .status
        .success()
    );
}
