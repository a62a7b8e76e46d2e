//! Components built by other toolchains (Python, JavaScript) load and serve like Rust ones.
//!
//! The guests are built from source by `scripts/build-foreign-guests` (componentize-py for
//! `guests/python/notify`, ComponentizeJS for `guests/js/review`), once per test binary; the
//! script skips the build when its inputs are unchanged. They are loaded through the same
//! runtime and core traits as the Rust guests. These components are large (12–18 MB: a whole
//! interpreter) and import more of WASI than they use, which the host must accept.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use robodev_core::{AnyBackend, Error, ErrorCode, Interface, Ticket, notifications, review};
use robodev_wasm::kv::KvStore;
use robodev_wasm::{Grants, LoadPath, PluginOptions, Runtime, RuntimeConfig, WasmPlugin};

use crate::{load, options, runtime, support};

/// Builds the foreign guests (once) and returns the directory holding their `.wasm` files.
fn foreign_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let repo = support::repo();
        let status = Command::new("bash")
            .arg(repo.join("scripts/build-foreign-guests"))
            .status()
            .expect("run scripts/build-foreign-guests");
        assert!(
            status.success(),
            "building the Python/JavaScript guest components failed"
        );
        repo.join("guests/target/foreign")
    })
}

/// Loads foreign guest `file` (e.g. `py_notify.wasm`) with `options`, reporting the exact host
/// error if it does not load.
async fn load_foreign(runtime: &Runtime, file: &str, options: PluginOptions) -> WasmPlugin {
    let path = foreign_dir().join(file);
    assert!(path.exists(), "{} was not built", path.display());
    let started = Instant::now();
    let plugin = runtime
        .load(&path, options)
        .await
        .unwrap_or_else(|e| panic!("loading {file}: {e}\n{e:?}"));
    eprintln!(
        "{file}: {} bytes loaded ({:?}) in {:.1?}",
        plugin.size(),
        plugin.load_path().0,
        started.elapsed()
    );
    plugin
}

/// The code of a domain error; anything else fails the test.
fn domain(err: Error) -> (ErrorCode, String) {
    match err {
        Error::Plugin { error, .. } => (error.code, error.message),
        other => panic!("expected a domain error, got {other}\n{other:?}"),
    }
}

/// Every import of the Rust example guests of the same interfaces.
async fn rust_guest_imports() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for (guest, interface) in [
        ("notify_webhook", Interface::Notifications),
        ("review_rules", Interface::Review),
    ] {
        let plugin = load(guest, options(guest, interface, Grants::default())).await;
        all.extend(plugin.component_info().imports.iter().cloned());
    }
    all
}

/// `wasi:cli/environment@0.2.9` -> `wasi:cli/environment`.
fn unversioned(name: &str) -> &str {
    name.split_once('@').map_or(name, |(n, _)| n)
}

/// Asserts that `plugin` imports the robodev host interfaces `host_imports` and the WASI
/// interfaces `wasi_imports`, which no Rust example guest imports: the host linked more of WASI
/// than the robodev worlds declare, and the component loaded all the same.
async fn assert_imports_beyond_rust(
    plugin: &WasmPlugin,
    host_imports: &[&str],
    wasi_imports: &[&str],
) {
    let imports: BTreeSet<&str> = plugin
        .component_info()
        .imports
        .iter()
        .map(|i| unversioned(i))
        .collect();
    let rust = rust_guest_imports().await;
    let rust: BTreeSet<&str> = rust.iter().map(|i| unversioned(i)).collect();
    let extra: Vec<&str> = imports
        .iter()
        .copied()
        .filter(|i| i.starts_with("wasi:") && !rust.contains(i))
        .collect();
    eprintln!(
        "{}: {} imports; the Rust guests import {rust:?}; WASI beyond those: {extra:?}",
        plugin.name(),
        imports.len()
    );
    for want in host_imports {
        assert!(imports.contains(want), "{want} missing from {imports:?}");
    }
    for want in wasi_imports {
        assert!(
            extra.contains(want),
            "{want} is not an extra WASI import: {extra:?}"
        );
    }
}

fn ticket(id: &str) -> Ticket {
    Ticket {
        id: id.into(),
        title: "a ticket".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn python_notify_plugin_loads_and_serves_through_the_trait() {
    // A runtime with a compile cache, so that the 18 MB component is compiled once (the
    // slow part: a whole CPython) for the two plugins made of it below.
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.path().to_owned()),
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let grants = Grants {
        kv_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let plugin = load_foreign(
        &rt,
        "py_notify.wasm",
        options("py-notify", Interface::Notifications, grants),
    )
    .await;
    assert_eq!(plugin.load_path().0, LoadPath::Compiled);
    assert_eq!(plugin.plugin_info().name, "py-notify");
    assert_eq!(plugin.plugin_info().version, "0.1.0");
    let info = plugin.component_info();
    assert_eq!(info.interface, Interface::Notifications);
    assert_eq!(info.interface_version, 1);
    assert_eq!(info.export, "robodev:notifications/channel@1.0.0");
    assert_imports_beyond_rust(
        &plugin,
        &["robodev:host/log", "robodev:host/kv", "robodev:types/types"],
        &[
            "wasi:sockets/tcp",
            "wasi:filesystem/preopens",
            "wasi:random/random",
        ],
    )
    .await;

    let AnyBackend::Notifications(n) = plugin.backend() else {
        panic!("not a notifications backend")
    };
    assert_eq!(n.handshake().await.unwrap().name, "py-notify");
    n.notify(notifications::NotifyRequest {
        message: "hello from the host".into(),
        ticket: Some(ticket("PY-1")),
    })
    .await
    .expect("notify");
    n.notify(notifications::NotifyRequest {
        message: "again, no ticket".into(),
        ticket: None,
    })
    .await
    .expect("notify without a ticket");

    let (code, message) = domain(
        n.notify(notifications::NotifyRequest {
            message: "fail".into(),
            ticket: None,
        })
        .await
        .unwrap_err(),
    );
    assert_eq!(code, ErrorCode::Unavailable);
    assert_eq!(message, "python says no");

    n.notify_start(notifications::NotifyStartRequest {
        ticket: Some(ticket("PY-1")),
        task_run_id: "run-1".into(),
        engine: "claude-code".into(),
    })
    .await
    .expect("notify-start");
    n.notify_complete(notifications::NotifyCompleteRequest {
        ticket: None,
        task_run_id: "run-1".into(),
        result: Some(robodev_core::TaskResult {
            success: true,
            summary: "done".into(),
            ..Default::default()
        }),
    })
    .await
    .expect("notify-complete");

    // Two successful notifies counted in the plugin's kv store ("fail" did not count).
    let store = KvStore::open(dir.path(), "py-notify").unwrap();
    assert_eq!(store.get("count").await.as_deref(), Some(&b"2"[..]));
    // Nothing of the first plugin left (a live one would share its compile from memory):
    // the next load reads the compile cache.
    drop((n, plugin));

    // Without the kv grant the guest sees `kv-error::denied`, which py-notify ignores.
    let bare = load_foreign(
        &rt,
        "py_notify.wasm",
        options("py-bare", Interface::Notifications, Grants::default()),
    )
    .await;
    assert_eq!(bare.load_path().0, LoadPath::Cached);
    assert_eq!(bare.plugin_info().name, "py-notify");
    let AnyBackend::Notifications(n) = bare.backend() else {
        panic!("not a notifications backend")
    };
    n.notify(notifications::NotifyRequest {
        message: "no kv granted".into(),
        ticket: None,
    })
    .await
    .expect("a denied kv is not an error for py-notify");
}

#[tokio::test]
async fn js_review_plugin_loads_and_scores_a_diff() {
    let plugin = load_foreign(
        &runtime(),
        "js_review.wasm",
        options("js-review", Interface::Review, Grants::default()),
    )
    .await;
    assert_eq!(plugin.plugin_info().name, "js-review");
    assert_eq!(plugin.plugin_info().version, "0.1.0");
    let info = plugin.component_info();
    assert_eq!(info.interface, Interface::Review);
    assert_eq!(info.export, "robodev:review/backend@1.0.0");
    assert_imports_beyond_rust(
        &plugin,
        &["robodev:host/log", "robodev:types/types"],
        &[
            "wasi:filesystem/preopens",
            "wasi:clocks/wall-clock",
            "wasi:random/random",
        ],
    )
    .await;

    let AnyBackend::Review(r) = plugin.backend() else {
        panic!("not a review backend")
    };
    let diff = "\
diff --git a/src/app.js b/src/app.js
--- a/src/app.js
+++ b/src/app.js
@@ -1,3 +1,6 @@
 const a = 1;
-// TODO: removed lines do not count
+// TODO: first
+const b = 2;
 const c = 3;
+// TODO: second
+const d = 4;
";
    let out = r
        .review_diff(review::ReviewDiffRequest {
            task_run_id: "run-42".into(),
            ticket: Some(ticket("JS-1")),
            diff: diff.into(),
            branch_name: "robodev/js-1".into(),
            repo_url: "https://git.example/acme/app".into(),
            ..Default::default()
        })
        .await
        .expect("review-diff");
    assert_eq!(out.review_id, "js-run-42");
    let gate = out.gate_result.expect("a synchronous verdict");
    assert_eq!(gate.score, 80);
    assert!(gate.passed);
    assert!(gate.security_findings.is_empty());
    let lines: Vec<(&str, i32, review::Severity)> = gate
        .comments
        .iter()
        .map(|c| (c.file_path.as_str(), c.line, c.severity))
        .collect();
    assert_eq!(
        lines,
        [
            ("src/app.js", 2, review::Severity::Info),
            ("src/app.js", 5, review::Severity::Info)
        ]
    );

    let many = "+++ b/x.js\n@@ -0,0 +1,4 @@\n+TODO\n+TODO\n+TODO\n+TODO\n";
    let gate = r
        .review_diff(review::ReviewDiffRequest {
            task_run_id: "run-43".into(),
            diff: many.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .gate_result
        .unwrap();
    assert_eq!((gate.score, gate.passed), (60, false));

    let (code, message) = domain(
        r.get_gate_result(review::GetGateResultRequest {
            review_id: "js-run-42".into(),
        })
        .await
        .unwrap_err(),
    );
    assert_eq!(code, ErrorCode::NotFound);
    assert!(message.contains("js-run-42"), "{message}");
    let (code, _) = domain(
        r.review_diff(review::ReviewDiffRequest::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, ErrorCode::InvalidArgument);
}
