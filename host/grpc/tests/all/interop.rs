//! The interop matrix: robodev × {Rust, Python, Go} plugins, with and without AutoMTLS, every
//! one through the same test body; and a Go go-plugin host × the Rust plugin.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use robodev_core::ticketing::{
    AddCommentRequest, MarkCompleteRequest, MarkFailedRequest, MarkInProgressRequest,
    PollReadyTicketsRequest,
};
use robodev_core::{AnyBackend, Error, ErrorCode, Interface, TaskResult};
use robodev_grpc::{Health, SubprocessPlugin};
use serde_json::json;

use crate::support::{self, GoPlugin, alive, eventually};

/// The shared behaviour of `examples/plugins/README.md`, checked through the core trait.
async fn exercise(plugin: &SubprocessPlugin, expected_name: &str) {
    let AnyBackend::Ticketing(backend) = plugin.backend() else {
        panic!("not a ticketing backend");
    };
    let info = backend.handshake().await.unwrap();
    assert_eq!(info.name, expected_name);
    assert_eq!(info.version, "1.0.0");
    assert_eq!(plugin.info(), info);

    let ready = backend
        .poll_ready_tickets(PollReadyTicketsRequest {
            labels: vec!["robodev".into()],
            max_results: 0,
        })
        .await
        .unwrap();
    let ids: Vec<&str> = ready.tickets.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["T-1", "T-2"]);
    let t1 = &ready.tickets[0];
    assert_eq!(t1.title, "Fix login bug");
    assert_eq!(t1.ticket_type, "bug_fix");
    assert_eq!(t1.labels, ["robodev", "backend"]);
    assert_eq!(t1.external_url, "https://tracker.example.com/T-1");
    // google.protobuf.Struct -> JSON: integers stay integers, null and nesting survive.
    assert_eq!(
        serde_json::Value::Object(t1.raw.clone().unwrap()),
        json!({"priority": "high", "points": 3, "nested": {"ok": true}, "tags": ["a", "b"], "none": null})
    );

    let all = backend
        .poll_ready_tickets(PollReadyTicketsRequest::default())
        .await
        .unwrap();
    assert_eq!(all.tickets.len(), 3);
    assert_eq!(all.tickets[2].raw, None, "T-3 has no raw");
    let one = backend
        .poll_ready_tickets(PollReadyTicketsRequest {
            labels: vec!["backend".into()],
            max_results: 1,
        })
        .await
        .unwrap();
    assert_eq!(one.tickets.len(), 1);
    assert_eq!(one.tickets[0].id, "T-1");

    let bulk = backend
        .poll_ready_tickets(PollReadyTicketsRequest {
            labels: vec!["bulk".into()],
            max_results: 0,
        })
        .await
        .unwrap();
    assert_eq!(bulk.tickets.len(), 200);
    assert_eq!(bulk.tickets[199].id, "B-199");
    assert_eq!(bulk.tickets[7].description.len(), 512);
    assert_eq!(bulk.tickets[7].raw.as_ref().unwrap()["index"], json!(7));

    backend
        .mark_in_progress(MarkInProgressRequest {
            ticket_id: "T-1".into(),
        })
        .await
        .unwrap();
    backend
        .mark_complete(MarkCompleteRequest {
            ticket_id: "T-1".into(),
            result: Some(TaskResult {
                success: true,
                summary: "done".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    backend
        .mark_failed(MarkFailedRequest {
            ticket_id: "T-2".into(),
            reason: "tests failed".into(),
        })
        .await
        .unwrap();
    backend
        .add_comment(AddCommentRequest {
            ticket_id: "T-3".into(),
            comment: "**looking**".into(),
        })
        .await
        .unwrap();
    // A gRPC status from the plugin is a domain error with its code and message.
    match backend
        .mark_in_progress(MarkInProgressRequest {
            ticket_id: "nope".into(),
        })
        .await
    {
        Err(Error::Plugin {
            error, interface, ..
        }) => {
            assert_eq!(interface, Interface::Ticketing);
            assert_eq!(error.code, ErrorCode::NotFound);
            assert_eq!(error.message, "no ticket nope");
        }
        other => panic!("expected NOT_FOUND, got {other:?}"),
    }
    plugin.ping().await.unwrap();
}

/// Launches, exercises, shuts down, and checks nothing is left: no process, no socket.
async fn matrix_cell(name: &str, command: &Path, mtls: bool, expected_name: &str) {
    let mut config = support::config(name, command);
    config.auto_mtls = mtls;
    let plugin = SubprocessPlugin::launch(config).await.unwrap();
    assert_eq!(plugin.health(), Health::Serving);
    let (address, tls) = plugin.endpoint().unwrap();
    assert_eq!(tls, mtls, "{name}: AutoMTLS in use?");
    let socket = address
        .strip_prefix("unix ")
        .expect("a unix socket")
        .to_owned();
    assert!(Path::new(&socket).exists());
    let pid = plugin.pid().unwrap();
    assert!(alive(pid));

    exercise(&plugin, expected_name).await;

    plugin.shutdown().await;
    assert_eq!(plugin.health(), Health::Stopped);
    assert!(
        eventually(Duration::from_secs(5), || !alive(pid)).await,
        "{name}: the plugin process {pid} survived shutdown"
    );
    assert!(
        eventually(Duration::from_secs(2), || !Path::new(&socket).exists()).await,
        "{name}: socket {socket} left behind"
    );
    // After shutdown, calls fail with a typed error rather than hanging.
    let AnyBackend::Ticketing(backend) = plugin.backend() else {
        unreachable!()
    };
    let err = backend.handshake().await.unwrap_err();
    assert_eq!(err.label(), "unavailable", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_plugin_plain_and_mtls() {
    let path = support::rust_plugin();
    matrix_cell("rust", &path, false, "rust-ticketing").await;
    matrix_cell("rust", &path, true, "rust-ticketing").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_plugin_plain_and_mtls() {
    let path = support::python_plugin();
    matrix_cell("python", &path, false, "python-ticketing").await;
    matrix_cell("python", &path, true, "python-ticketing").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_plugin_plain_and_mtls() {
    let path = support::ts_plugin();
    matrix_cell("typescript", &path, false, "ts-ticketing").await;
    matrix_cell("typescript", &path, true, "ts-ticketing").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_plugin_plain_and_mtls() {
    // Go's AutoMTLS certificate is ECDSA P-521 / SHA-512: this is the aws-lc-rs path. The same
    // plugin source built with the go-plugin RoboDev uses (v1.7.0) and with v1.0.1.
    for version in GoPlugin::ALL {
        let path = support::go_plugin_of(version);
        let name = format!("go {}", version.version());
        matrix_cell(&name, &path, false, "go-ticketing").await;
        matrix_cell(&name, &path, true, "go-ticketing").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interface_is_found_by_handshake_when_not_configured() {
    for path in [support::rust_plugin(), support::go_plugin()] {
        let mut config = support::config("probe", &path);
        config.interface = None;
        let plugin = SubprocessPlugin::launch(config).await.unwrap();
        assert_eq!(plugin.interface(), Interface::Ticketing);
        assert!(matches!(plugin.backend(), AnyBackend::Ticketing(_)));
        plugin.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_addresses_work() {
    let mut config = support::config("tcp", &support::rust_plugin());
    config
        .env
        .push(("ROBODEV_TEST_NETWORK".into(), "tcp".into()));
    // A sandbox without network refuses the listening socket...
    let err = support::launch_err(config.clone()).await.to_string();
    assert!(
        err.contains("no free TCP port") && err.contains("Permission denied"),
        "{err}"
    );
    // ...which `sandbox.network` grants.
    config.sandbox.network = true;
    let plugin = SubprocessPlugin::launch(config).await.unwrap();
    let (address, tls) = plugin.endpoint().unwrap();
    assert!(address.starts_with("tcp 127.0.0.1:"), "{address}");
    assert!(tls);
    exercise(&plugin, "rust-ticketing").await;
    plugin.shutdown().await;
}

/// The other direction: a Go host built with hashicorp/go-plugin (v1.7.0, as RoboDev's
/// controller, and v1.0.1) launches `plugin` and calls it, with and without AutoMTLS.
fn go_hosts_call(plugin: &Path, expected_name: &str) {
    for (version, mtls) in GoPlugin::ALL
        .into_iter()
        .flat_map(|v| [(v, false), (v, true)])
    {
        let host = support::go_host_of(version);
        let mut command = Command::new(&host);
        if mtls {
            command.arg("-mtls");
        }
        let out = command.arg(plugin).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "go host {} failed (mtls {mtls}): {stderr}",
            version.version()
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["handshake"],
            json!({"interfaceVersion": 1, "pluginName": expected_name, "pluginVersion": "1.0.0"})
        );
        assert_eq!(v["tickets"], json!(["T-1", "T-2"]));
        assert_eq!(v["firstRaw"]["points"], json!(3));
        assert_eq!(v["notFound"], "no ticket nope");
        // The Go host re-logs the plugin's hclog line at its level under its name.
        assert!(
            stderr.contains("[INFO]") && stderr.contains("polled tickets"),
            "{stderr}"
        );
        if mtls {
            assert!(stderr.contains("connected with mTLS"), "{stderr}");
        }
    }
}

/// Robodev's Rust plugins (served by `robodev_grpc::serve`) load in Go hosts.
#[test]
fn go_host_calls_the_rust_plugin() {
    go_hosts_call(&support::rust_plugin(), "rust-ticketing");
}

/// So do plugins written with robodev's Python SDK (`robodev_plugin_sdk.serve`).
#[test]
fn go_host_calls_the_python_sdk_plugin() {
    go_hosts_call(&support::python_plugin(), "python-ticketing");
}

/// And plugins written with robodev's TypeScript SDK (`serve` of `@robodev/plugin-sdk`).
#[test]
fn go_host_calls_the_typescript_sdk_plugin() {
    go_hosts_call(&support::ts_plugin(), "ts-ticketing");
}
