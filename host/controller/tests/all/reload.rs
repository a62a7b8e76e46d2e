//! Hot reload under load: callers keep calling through the registry's handles while plugins
//! (a Wasm component and a go-plugin subprocess) are swapped 20 times each; no call fails.
//! A failed reload keeps the old version serving; rollback returns to the replaced one.

#![expect(
    clippy::unwrap_used,
    reason = "tests fail loudly on the first unexpected value"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use robodev_controller::config::Config;
use robodev_controller::daemon::ConfigFile;
use robodev_core::notifications::NotifyRequest;
use robodev_core::review::ReviewDiffRequest;
use robodev_core::{AnyBackend, Interface};
use robodev_registry::reload::Reloader;
use robodev_registry::{LoadOptions, Registry};

use crate::support;

/// The Rust go-plugin notification plugin (robodev-grpc's example, built by `cargo test`).
fn notify_plugin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples/notify_plugin");
    assert!(
        path.exists(),
        "{} is missing: run `cargo test --workspace`",
        path.display()
    );
    path
}

fn request() -> ReviewDiffRequest {
    ReviewDiffRequest {
        task_run_id: "t".into(),
        diff: "--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+fine\n".into(),
        ..Default::default()
    }
}

fn write_config(dir: &Path, threshold: u32) -> PathBuf {
    let path = dir.join("robodev-config.yaml");
    std::fs::write(
        &path,
        format!(
            "state_dir: state\n\
             plugins:\n\
             \x20 - {{ name: gate, type: review, interface_version: 1, component: gate.wasm, config: {{ threshold: {threshold} }} }}\n\
             \x20 - {{ name: console, type: notifications, interface_version: 1, command: {}, args: [\"--v{threshold}\"] }}\n\
             ticketing: {{ backend: local, config: {{ file: tickets.yaml }} }}\n\
             review: {{ backend: gate }}\n\
             notifications: {{ channels: [ {{ backend: console }} ] }}\n\
             engines: {{ default: local, local: {{ command: [./agent.sh] }} }}\n",
            notify_plugin().display()
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plugins_swap_under_load_without_a_failed_call_and_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(support::guest("review_rules"), d.join("gate.wasm")).unwrap();
    std::fs::write(d.join("tickets.yaml"), "[]").unwrap();
    let path = write_config(d, 70);
    let config = Config::load(&path).unwrap();
    let options = LoadOptions::no_compile_cache();
    let registry = Arc::new(Registry::load(&config.host(), options).await.unwrap());
    let reloader = Reloader::new(registry.clone(), Arc::new(ConfigFile::new(path.clone())));
    // The handles a controller holds, taken once before any swap.
    let AnyBackend::Review(gate) = registry
        .get(Interface::Review, "gate")
        .unwrap()
        .backend
        .clone()
    else {
        panic!("a review backend")
    };
    let AnyBackend::Notifications(console) = registry
        .get(Interface::Notifications, "console")
        .unwrap()
        .backend
        .clone()
    else {
        panic!("a notifications backend")
    };

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut callers = Vec::new();
    for i in 0..4 {
        let (gate, console) = (gate.clone(), console.clone());
        let (stop, calls, failures) = (stop.clone(), calls.clone(), failures.clone());
        callers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let result = if i % 2 == 0 {
                    gate.review_diff(ReviewDiffRequest {
                        task_run_id: format!("t{i}"),
                        diff: "--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+fine\n".into(),
                        ..Default::default()
                    })
                    .await
                    .map(|_| ())
                } else {
                    console
                        .notify(NotifyRequest {
                            message: format!("caller {i}"),
                            ticket: None,
                        })
                        .await
                        .map(|_| ())
                };
                calls.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = result {
                    failures.lock().unwrap().push(e.to_string());
                }
            }
        }));
    }

    for swap in 0..20u32 {
        // Each swap changes both plugins' config entries, so each is a new version.
        write_config(d, 71 + swap);
        for (interface, name) in [
            (Interface::Review, "gate"),
            (Interface::Notifications, "console"),
        ] {
            let swapped = reloader.reload(Some(interface), name).await.unwrap();
            assert_eq!(swapped.plugin, name);
        }
    }
    let during = calls.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await.unwrap();
    }
    assert!(during > 40, "only {during} calls ran during the swaps");
    assert_eq!(*failures.lock().unwrap(), Vec::<String>::new());

    // The last version answers (threshold 90 after 20 swaps).
    let answer = gate
        .review_diff(ReviewDiffRequest {
            task_run_id: "last".into(),
            diff: "--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+fine\n".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let summary = answer.gate_result.unwrap().summary;
    assert!(summary.contains("threshold 90"), "{summary}");

    // A broken new version is refused and the running one keeps serving.
    std::fs::write(d.join("gate.wasm"), b"not a component").unwrap();
    let err = reloader.reload(None, "gate").await.unwrap_err();
    assert!(
        err.to_string().contains("refused to load plugin \"gate\""),
        "{err}"
    );
    assert!(gate.review_diff(request()).await.is_ok());

    // Rollback returns to the version the last reload replaced (threshold 89), and back.
    registry.rollback(Interface::Review, "gate").await.unwrap();
    let summary = gate
        .review_diff(request())
        .await
        .unwrap()
        .gate_result
        .unwrap()
        .summary;
    assert!(summary.contains("threshold 89"), "{summary}");
    registry.rollback(Interface::Review, "gate").await.unwrap();
    registry.shutdown().await;
}
