//! Plugins that lie in their handshake or misbehave on their output: robodev deletes nothing
//! of anyone's, talks to no process but the plugin it started, never downgrades AutoMTLS on the
//! plugin's word, and keeps draining and bounding whatever the plugin writes.

use std::time::Duration;

use robodev_core::{AnyBackend, Error, Failure, HandshakeProblem, Outcome, Refusal};
use robodev_grpc::SubprocessPlugin;

use crate::support::{self, alive, eventually, launch_err, script};

fn refusal(err: &Error) -> &HandshakeProblem {
    match err {
        Error::Refused {
            refusal: Refusal::Handshake(problem),
            ..
        } => problem,
        other => panic!("not a handshake refusal: {other:?}"),
    }
}

/// Waits for the pid the script wrote to `pid_file` to be gone.
async fn gone(pid_file: &std::path::Path) {
    let pid: u32 = std::fs::read_to_string(pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || !alive(pid)).await,
        "process {pid} still runs"
    );
    // The reaper cleans up right after it sees the exit.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_handshake_naming_a_regular_file_never_deletes_it() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("robodev-config.yaml");
    std::fs::write(&victim, "precious: true\n").unwrap();
    for (name, tail) in [("quits", "exit 0"), ("stays", "exec sleep 30")] {
        let pid_file = dir.path().join(format!("{name}.pid"));
        let path = script(
            dir.path(),
            name,
            &format!(
                "echo $$ > {}\necho '1|1|unix|{}|grpc|'\n{tail}",
                pid_file.display(),
                victim.display()
            ),
        );
        let err = launch_err(support::unconfined(support::config("jira", &path))).await;
        assert_eq!(
            refusal(&err),
            &HandshakeProblem::NotASocket {
                path: victim.display().to_string(),
                found: "a regular file".into()
            },
            "{name}"
        );
        assert!(
            err.to_string()
                .contains("but that is a regular file, not a socket"),
            "{err}"
        );
        assert_eq!(err.outcome(), Outcome::Refused);
        gone(&pid_file).await;
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "precious: true\n",
            "{name}: the file the handshake named was touched"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_naming_another_plugins_socket_is_refused() {
    // A real plugin, serving; a hostile one names its socket.
    let mut config = support::config("honest", &support::rust_plugin());
    config.auto_mtls = false;
    let honest = SubprocessPlugin::launch(config).await.unwrap();
    let (address, _) = honest.endpoint().unwrap();
    let socket = address.strip_prefix("unix ").unwrap().to_owned();
    let honest_pid = honest.pid().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("hostile.pid");
    let path = script(
        dir.path(),
        "hostile",
        &format!(
            "echo $$ > {}\necho '1|1|unix|{socket}|grpc|'\nexec sleep 30",
            pid_file.display()
        ),
    );
    let mut config = support::unconfined(support::config("hostile", &path));
    config.auto_mtls = false;
    let err = launch_err(config).await;
    match refusal(&err) {
        HandshakeProblem::ForeignSocket { address, owner, .. } => {
            assert_eq!(address, &format!("unix {socket}"));
            // The honest plugin's process: in the process group robodev started it in
            // (confined, it runs under a keeper, whose pid robodev knows).
            let owner_pid: i32 = owner
                .strip_prefix("process ")
                .and_then(|rest| rest.split(' ').next())
                .and_then(|pid| pid.parse().ok())
                .unwrap_or_else(|| panic!("{owner}"));
            let group = nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(owner_pid))).unwrap();
            assert_eq!(group.as_raw() as u32, honest_pid, "{owner}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("not by the plugin (process"),
        "{err}"
    );
    gone(&pid_file).await;
    // The honest plugin is untouched: its socket is there and it still answers.
    assert!(
        std::path::Path::new(&socket).exists(),
        "{socket} was removed"
    );
    let AnyBackend::Ticketing(ticketing) = honest.backend() else {
        panic!()
    };
    let polled = ticketing
        .poll_ready_tickets(Default::default())
        .await
        .unwrap();
    assert!(!polled.tickets.is_empty());
    assert!(alive(honest_pid));
    honest.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_of_another_process_is_neither_used_nor_removed() {
    let dir = tempfile::tempdir().unwrap();
    // This test process listens; the plugin names the socket and exits.
    let socket = dir.path().join("someone-else.sock");
    let _listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let pid_file = dir.path().join("hostile.pid");
    let path = script(
        dir.path(),
        "hostile",
        &format!(
            "echo $$ > {}\necho '1|1|unix|{}|grpc|'\nexit 0",
            pid_file.display(),
            socket.display()
        ),
    );
    let mut config = support::unconfined(support::config("hostile", &path));
    config.auto_mtls = false;
    let err = launch_err(config).await;
    match refusal(&err) {
        HandshakeProblem::ForeignSocket { owner, .. } => assert!(
            owner.starts_with(&format!("process {} ", std::process::id())),
            "{owner}"
        ),
        other => panic!("{other:?}"),
    }
    gone(&pid_file).await;
    assert!(socket.exists(), "another process's socket was removed");
}

#[tokio::test]
async fn an_unreachable_address_says_cannot_connect() {
    let dir = tempfile::tempdir().unwrap();
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = unused.local_addr().unwrap().port();
    drop(unused);
    let missing = dir.path().join("missing.sock");
    for (i, (network, address, shown)) in [
        ("unix", missing.display().to_string(), "unix socket"),
        ("tcp", format!("127.0.0.1:{port}"), "tcp"),
    ]
    .into_iter()
    .enumerate()
    {
        let path = script(
            dir.path(),
            &format!("p{i}"),
            &format!("echo '1|1|{network}|{address}|grpc|'\nexec sleep 30"),
        );
        let mut config = support::config("jira", &path);
        config.auto_mtls = false;
        let err = launch_err(config).await;
        match &err {
            Error::Failed {
                failure: Failure::Transport { detail, .. },
                ..
            } => assert!(
                detail.starts_with(&format!(
                    "cannot connect to the plugin at {shown} {address}"
                )),
                "{detail}"
            ),
            other => panic!("{network}: {other:?}"),
        }
        assert!(!err.to_string().contains("does not serve"), "{err}");
    }
    // Another host is not dialled at all.
    let path = script(
        dir.path(),
        "remote",
        "echo '1|1|tcp|192.0.2.1:80|grpc|'\nexec sleep 30",
    );
    let err = launch_err(support::config("jira", &path)).await;
    assert!(
        matches!(refusal(&err), HandshakeProblem::Malformed { reason, .. } if reason.contains("not a loopback address")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_drops_automtls_is_refused_unless_the_config_allows_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    // The real plugin, started without the host's certificate: it answers in plaintext.
    let path = script(
        dir.path(),
        "downgrade",
        &format!(
            "unset PLUGIN_CLIENT_CERT\nexec {}",
            support::rust_plugin().display()
        ),
    );
    let err = launch_err(support::config("jira", &path)).await;
    assert_eq!(refusal(&err), &HandshakeProblem::AutoMtlsDropped);
    assert!(err.to_string().contains("set `auto_mtls: false`"), "{err}");
    assert_eq!(err.outcome(), Outcome::Refused);

    let mut config = support::config("jira", &path);
    config.auto_mtls = false;
    let plugin = SubprocessPlugin::launch(config).await.unwrap();
    assert!(!plugin.endpoint().unwrap().1);
    plugin.shutdown().await;
}

/// One invalid UTF-8 byte on stderr: the real Go go-plugin plugin keeps running and serving
/// (before, robodev stopped reading, and the plugin died of SIGPIPE on its next log line).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_utf8_byte_on_stderr_does_not_stop_the_draining() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "go-wrapped",
        &format!(
            "printf 'bad \\377 byte\\n' >&2\nexec {}",
            support::go_plugin().display()
        ),
    );
    let mut config = support::config("go", &path);
    config.auto_mtls = false;
    let plugin = SubprocessPlugin::launch(config).await.unwrap();
    let pid = plugin.pid().unwrap();
    let AnyBackend::Ticketing(ticketing) = plugin.backend() else {
        panic!()
    };
    // Each poll logs a line on the plugin's stderr.
    for _ in 0..5 {
        ticketing
            .poll_ready_tickets(Default::default())
            .await
            .unwrap();
    }
    assert!(alive(pid));
    assert_eq!(plugin.restarts(), 0);
    plugin.shutdown().await;

    // What came after the bad byte is still read, and the bad byte shows as U+FFFD.
    let path = script(
        dir.path(),
        "crash",
        "printf 'bad \\377 byte\\n' >&2\necho 'config missing' >&2\nexit 3",
    );
    let err = launch_err(support::config("jira", &path)).await;
    assert!(
        err.to_string()
            .contains("last stderr lines: bad \u{fffd} byte | config missing"),
        "{err}"
    );
}

/// 30 MB on stderr without a newline: the line is cut, later lines still arrive, and the
/// error that quotes the output stays short.
#[tokio::test]
async fn an_endless_stderr_line_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "flood",
        "head -c 30000000 /dev/zero | tr '\\000' x >&2\necho >&2\necho after >&2\nexit 3",
    );
    let err = launch_err(support::config("jira", &path)).await;
    let message = err.to_string();
    assert!(message.len() < 4096, "{} bytes", message.len());
    assert!(message.contains("last stderr lines: xxxx"), "{message}");
    assert!(message.ends_with("… | after"), "{message}");
}
