//! Finds or builds the plugin binaries the tests launch (robodev-test-support's), plugin
//! configs, and small process helpers.

#![allow(dead_code, reason = "not every test module uses every helper")]

use std::path::Path;
use std::time::Duration;

use robodev_core::Interface;
use robodev_grpc::{RestartPolicy, SubprocessConfig};
pub use robodev_test_support::plugins::{
    GoPlugin, alive, go_host_of, go_plugin, go_plugin_of, python_plugin, rust_plugin, script,
    ts_plugin,
};

/// A ticketing plugin config with short timeouts and fast restarts for tests.
pub fn config(name: &str, command: &Path) -> SubprocessConfig {
    let mut config = SubprocessConfig::new(name, command);
    config.interface = Some(Interface::Ticketing);
    // Wrapper scripts in temporary directories exec the built plugins.
    config
        .sandbox
        .read
        .push(robodev_test_support::repo::repo_root().join("target"));
    config.start_timeout = Duration::from_secs(20);
    config.call_timeout = Duration::from_secs(10);
    config.restart = RestartPolicy {
        max_restarts: 2,
        backoff: vec![Duration::from_millis(50)],
    };
    config
}

/// `config` without a sandbox: for scripts that report their process id (`echo $$`), which
/// means nothing outside the PID namespace of a confined plugin.
pub fn unconfined(mut config: SubprocessConfig) -> SubprocessConfig {
    config.sandbox = robodev_grpc::Sandbox::disabled();
    config
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
