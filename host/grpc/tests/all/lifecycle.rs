//! A running plugin's life: deadlines, crashes during calls, restarts with backoff, giving
//! up, and shutdown.

use std::time::Duration;

use robodev_core::ticketing::{AddCommentRequest, MarkInProgressRequest};
use robodev_core::{AnyBackend, Error, Failure};
use robodev_grpc::{Health, SubprocessPlugin};

use crate::support::{self, alive, eventually};

fn ticketing(plugin: &SubprocessPlugin) -> std::sync::Arc<dyn robodev_core::ticketing::Backend> {
    match plugin.backend() {
        AnyBackend::Ticketing(b) => b,
        other => panic!("{other:?}"),
    }
}

fn comment(text: &str) -> AddCommentRequest {
    AddCommentRequest {
        ticket_id: "T-1".into(),
        comment: text.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_stops_answering_hits_the_call_deadline() {
    let mut config = support::config("sleepy", &support::rust_plugin());
    config.call_timeout = Duration::from_millis(300);
    let plugin = SubprocessPlugin::launch(config).await.unwrap();
    let backend = ticketing(&plugin);
    let err = backend
        .add_comment(comment("chaos:sleep"))
        .await
        .unwrap_err();
    assert_eq!(
        err.failure(),
        Some(&Failure::DeadlineExceeded {
            limit: Duration::from_millis(300)
        })
    );
    // The plugin itself is fine: the next call works.
    backend
        .mark_in_progress(MarkInProgressRequest {
            ticket_id: "T-1".into(),
        })
        .await
        .unwrap();
    plugin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_a_call_is_typed_and_the_plugin_restarts() {
    let plugin = SubprocessPlugin::launch(support::config("crashy", &support::rust_plugin()))
        .await
        .unwrap();
    let backend = ticketing(&plugin);
    let first_pid = plugin.pid().unwrap();
    let err = backend
        .add_comment(comment("chaos:exit"))
        .await
        .unwrap_err();
    match &err {
        Error::Failed {
            failure: Failure::Crashed { detail },
            ..
        } => {
            assert!(
                detail.starts_with("exited with code 3 during AddComment"),
                "{detail}"
            );
            assert!(
                detail.contains("chaos: exiting with code 3 in the middle of AddComment"),
                "{detail}"
            );
        }
        other => panic!("expected a crash, got {other:?}"),
    }
    // Restarted in the background (backoff 50 ms in tests).
    assert!(
        eventually(Duration::from_secs(20), || plugin.health()
            == Health::Serving
            && plugin.pid() != Some(first_pid))
        .await,
        "not restarted: {:?}",
        plugin.health()
    );
    assert_eq!(plugin.restarts(), 1);
    assert!(!alive(first_pid));
    backend
        .mark_in_progress(MarkInProgressRequest {
            ticket_id: "T-2".into(),
        })
        .await
        .unwrap();

    // A death by signal is reported as such.
    let err = backend
        .add_comment(comment("chaos:abort"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("was killed by signal 6 (SIGABRT) during AddComment"),
        "{err}"
    );
    plugin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_max_restarts_the_plugin_is_permanently_unhealthy() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken");
    let mut config = support::config("fragile", &support::rust_plugin());
    config.env.push((
        "ROBODEV_TEST_FAIL_START_FILE".into(),
        broken.display().to_string(),
    ));
    let plugin = SubprocessPlugin::launch(config).await.unwrap();
    let backend = ticketing(&plugin);
    // From now on every start fails.
    std::fs::write(&broken, "").unwrap();
    let _ = backend
        .add_comment(comment("chaos:exit"))
        .await
        .unwrap_err();
    let unhealthy = eventually(Duration::from_secs(20), || {
        matches!(plugin.health(), Health::Unhealthy { .. })
    })
    .await;
    assert!(unhealthy, "{:?}", plugin.health());
    let Health::Unhealthy { reason } = plugin.health() else {
        unreachable!()
    };
    assert!(reason.starts_with("crashed after 2 restarts"), "{reason}");
    assert!(
        reason.contains("exited with code 7 before its handshake"),
        "{reason}"
    );
    assert!(reason.contains("cannot start"), "{reason}");
    assert_eq!(plugin.restarts(), 2);
    let err = backend
        .mark_in_progress(MarkInProgressRequest {
            ticket_id: "T-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.label(), "unavailable");
    assert!(err.to_string().contains("permanently unhealthy"), "{err}");
    // It stays that way.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(matches!(plugin.health(), Health::Unhealthy { .. }));
    plugin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_during_a_restart_fail_fast_with_the_reason() {
    let mut config = support::config("slowstart", &support::rust_plugin());
    config.restart.backoff = vec![Duration::from_secs(3)];
    let plugin = SubprocessPlugin::launch(config).await.unwrap();
    let backend = ticketing(&plugin);
    let _ = backend
        .add_comment(comment("chaos:exit"))
        .await
        .unwrap_err();
    assert!(
        eventually(Duration::from_secs(2), || matches!(
            plugin.health(),
            Health::Restarting {
                attempt: 1,
                max: 2,
                ..
            }
        ))
        .await
    );
    let started = std::time::Instant::now();
    let err = backend
        .mark_in_progress(MarkInProgressRequest {
            ticket_id: "T-1".into(),
        })
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        err.to_string()
            .contains("it is restarting (restart 1 of 2)"),
        "{err}"
    );
    plugin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_handle_kills_the_process() {
    let plugin = SubprocessPlugin::launch(support::config("dropped", &support::rust_plugin()))
        .await
        .unwrap();
    let pid = plugin.pid().unwrap();
    drop(plugin);
    assert!(eventually(Duration::from_secs(5), || !alive(pid)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_go_plugin_leaves_no_socket_behind() {
    // go-plugin 1.0.1 ignores PLUGIN_UNIX_SOCKET_DIR and puts its socket in $TMPDIR, v1.7.0 in
    // the directory robodev gives it; either way robodev removes it when the process dies
    // without doing so itself.
    for version in support::GoPlugin::ALL {
        let plugin =
            SubprocessPlugin::launch(support::config("go", &support::go_plugin_of(version)))
                .await
                .unwrap();
        let (address, _) = plugin.endpoint().unwrap();
        let socket = std::path::PathBuf::from(address.strip_prefix("unix ").unwrap());
        assert!(socket.exists());
        let pid = plugin.pid().unwrap();
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(
            eventually(Duration::from_secs(5), || !socket.exists()).await,
            "go-plugin {}: {} left behind",
            version.version(),
            socket.display()
        );
        plugin.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_graceful_first_then_sigkill_after_the_grace() {
    // A plugin that exits on Shutdown is gone quickly...
    let plugin = SubprocessPlugin::launch(support::config("polite", &support::rust_plugin()))
        .await
        .unwrap();
    let pid = plugin.pid().unwrap();
    let started = std::time::Instant::now();
    plugin.shutdown().await;
    assert!(
        started.elapsed() < robodev_grpc::SHUTDOWN_GRACE,
        "{:?}",
        started.elapsed()
    );
    assert!(eventually(Duration::from_secs(2), || !alive(pid)).await);

    // ...one that answers Shutdown and keeps running is SIGKILLed after the grace period.
    let mut config = support::config("stubborn", &support::python_plugin());
    config
        .env
        .push(("ROBODEV_TEST_IGNORE_SHUTDOWN".into(), "1".into()));
    let plugin = SubprocessPlugin::launch(config).await.unwrap();
    let pid = plugin.pid().unwrap();
    let started = std::time::Instant::now();
    plugin.shutdown().await;
    let took = started.elapsed();
    assert!(took >= robodev_grpc::SHUTDOWN_GRACE, "{took:?}");
    assert!(took < robodev_grpc::SHUTDOWN_GRACE * 3, "{took:?}");
    assert!(eventually(Duration::from_secs(2), || !alive(pid)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_mismatch_on_restart_is_final_and_never_retried() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("upgraded");
    // The binary is replaced under robodev's feet by one implementing interface version 2.
    let wrapper = support::script(
        dir.path(),
        "plugin",
        &format!(
            "if [ -f {flag} ]; then export ROBODEV_TEST_INTERFACE_VERSION=2; fi\nexec {python}",
            flag = flag.display(),
            python = support::python_plugin().display()
        ),
    );
    let mut config = support::config("upgraded", &wrapper);
    config.restart.max_restarts = 3;
    // The wrapper runs the Python plugin, whose interpreter the sandbox cannot see from here.
    config
        .sandbox
        .read
        .push(robodev_test_support::plugins::python_base_prefix());
    let plugin = SubprocessPlugin::launch(config).await.unwrap();
    std::fs::write(&flag, "").unwrap();
    let pid = plugin.pid().unwrap();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(20), || matches!(
            plugin.health(),
            Health::Unhealthy { .. }
        ))
        .await,
        "{:?}",
        plugin.health()
    );
    let Health::Unhealthy { reason } = plugin.health() else {
        unreachable!()
    };
    assert!(
        reason.contains("refused on restart")
            && reason.contains("it declares ticketing interface version 2, but robodev implements ticketing version 1"),
        "{reason}"
    );
    // One restart attempt, refused, and no more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(plugin.restarts(), 1);
    plugin.shutdown().await;
}

/// A plugin without go-plugin's `GRPCController.Shutdown` (a hand-written grpcio server) is
/// sent SIGTERM as soon as it answers UNIMPLEMENTED, instead of sitting out the grace period
/// before a SIGKILL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_without_shutdown_gets_sigterm_not_the_grace_period() {
    const BARE: &str = r#"
import os, signal, tempfile, time
from concurrent import futures
import grpc
from robodev_plugin_sdk.proto import common_pb2, health_pb2, health_pb2_grpc, ticketing_pb2_grpc

def on_term(signum, frame):
    with open(os.environ["MARKER"], "w") as f:
        f.write("SIGTERM")
    os._exit(0)

signal.signal(signal.SIGTERM, on_term)

class Ticketing(ticketing_pb2_grpc.TicketingBackendServicer):
    def Handshake(self, request, context):
        return common_pb2.HandshakeResponse(interface_version=1, plugin_name="bare", plugin_version="1.0.0")

class Health(health_pb2_grpc.HealthServicer):
    def Check(self, request, context):
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)

server = grpc.server(futures.ThreadPoolExecutor(4))
ticketing_pb2_grpc.add_TicketingBackendServicer_to_server(Ticketing(), server)
health_pb2_grpc.add_HealthServicer_to_server(Health(), server)
path = os.path.join(tempfile.mkdtemp(dir=os.environ.get("PLUGIN_UNIX_SOCKET_DIR")), "plugin.sock")
server.add_insecure_port("unix:" + path)
server.start()
print("1|1|unix|%s|grpc|" % path, flush=True)
while True:
    time.sleep(0.2)
"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bare.py"), BARE).unwrap();
    let launcher =
        robodev_test_support::plugins::python_sdk_plugin(&dir.path().join("bare.py"), dir.path());
    let marker = dir.path().join("got-sigterm");
    let mut config = support::config("bare", &launcher);
    config.auto_mtls = false;
    config
        .env
        .push(("MARKER".into(), marker.display().to_string()));
    // The marker is written where the sandbox allows it; the SIGTERM reaches the plugin
    // through its keeper and its PID namespace's init.
    config.sandbox.write.push(dir.path().to_owned());
    let plugin = SubprocessPlugin::launch(config).await.unwrap();
    let pid = plugin.pid().unwrap();
    plugin.shutdown().await;
    assert!(eventually(Duration::from_secs(2), || !alive(pid)).await);
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap_or_default(),
        "SIGTERM",
        "the plugin was not sent SIGTERM"
    );
}
