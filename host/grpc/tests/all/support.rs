//! Finds or builds the plugin binaries the tests launch, and small process helpers.

#![allow(dead_code, reason = "not every test module uses every helper")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use robodev_core::Interface;
use robodev_grpc::{RestartPolicy, SubprocessConfig};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("scripts/build-go-plugins").exists())
        .expect("the crate lives inside the robodev repository")
        .to_owned()
}

fn build_once(cell: &'static OnceLock<()>, script: &str) {
    cell.get_or_init(|| {
        let status = Command::new("bash")
            .arg(repo().join("scripts").join(script))
            .arg("--quiet")
            .status()
            .unwrap_or_else(|e| panic!("cannot run scripts/{script}: {e}"));
        assert!(status.success(), "scripts/{script} failed");
    });
}

/// The Rust example plugin (`cargo test` builds examples before running tests).
pub fn rust_plugin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/all-HASH -> target/debug/examples/ticketing_plugin
    let path = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples/ticketing_plugin");
    assert!(
        path.exists(),
        "{} is missing: run `cargo test --workspace` or `cargo build -p robodev-grpc --examples`",
        path.display()
    );
    path
}

/// The Go plugin built with hashicorp/go-plugin.
pub fn go_plugin() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    build_once(&BUILT, "build-go-plugins");
    repo().join("target/interop/go/robodev-plugin-go-ticketing")
}

/// The Go host built with hashicorp/go-plugin.
pub fn go_host() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    build_once(&BUILT, "build-go-plugins");
    repo().join("target/interop/go/robodev-go-host")
}

/// The Python grpcio plugin's launcher.
pub fn python_plugin() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    build_once(&BUILT, "build-python-plugins");
    repo().join("target/interop/python/robodev-plugin-python-ticketing")
}

/// A ticketing plugin config with short timeouts and fast restarts for tests.
pub fn config(name: &str, command: &Path) -> SubprocessConfig {
    let mut config = SubprocessConfig::new(name, command);
    config.interface = Some(Interface::Ticketing);
    config.start_timeout = Duration::from_secs(20);
    config.call_timeout = Duration::from_secs(10);
    config.restart = RestartPolicy {
        max_restarts: 2,
        backoff: vec![Duration::from_millis(50)],
    };
    config
}

/// Whether process `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z'),
        Err(_) => false,
    }
}

/// Waits up to `limit` for `check` to hold.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

/// Writes an executable shell script into `dir`.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The error of launching `config`, which must fail.
pub async fn launch_err(config: SubprocessConfig) -> robodev_core::Error {
    match robodev_grpc::SubprocessPlugin::launch(config).await {
        Ok(p) => {
            p.shutdown().await;
            panic!("the plugin started");
        }
        Err(e) => e,
    }
}
