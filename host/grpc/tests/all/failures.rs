//! Every way a plugin can fail to start, each a typed error with a message that says what
//! happened.

use std::time::Duration;

use robodev_core::{Error, Failure, HandshakeProblem, Interface, Outcome, Refusal};

use crate::support::{self, alive, eventually, launch_err, script};

#[tokio::test]
async fn missing_binary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("robodev-plugin-nowhere");
    let err = launch_err(support::config("jira", &path)).await;
    assert!(matches!(err, Error::Load { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot load plugin \"jira\": plugin binary {} does not exist",
            path.display()
        )
    );
    let err = launch_err(support::config(
        "jira",
        "robodev-plugin-not-in-path".as_ref(),
    ))
    .await;
    assert!(err.to_string().contains("was not found in PATH"), "{err}");
}

#[tokio::test]
async fn binary_not_executable() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugin");
    std::fs::write(&path, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = launch_err(support::config("jira", &path)).await;
    assert!(matches!(err, Error::Load { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("is not executable (mode 644); chmod +x it"),
        "{err}"
    );
    // Executable bit set, but not a program this machine runs.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, [0u8, 1, 2, 3, 4, 5, 6, 7]).unwrap();
    std::fs::set_permissions(&junk, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = launch_err(support::config("jira", &junk)).await;
    assert!(err.to_string().contains("exec format error"), "{err}");
}

#[tokio::test]
async fn exit_before_handshake_reports_code_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "plugin",
        "echo 'starting' >&2\necho 'config missing: JIRA_URL' >&2\nexit 7",
    );
    let err = launch_err(support::config("jira", &path)).await;
    match &err {
        Error::Failed {
            failure: Failure::Crashed { detail },
            ..
        } => {
            assert!(
                detail.starts_with("exited with code 7 before its handshake"),
                "{detail}"
            );
            assert!(
                detail.ends_with("last stderr lines: starting | config missing: JIRA_URL"),
                "{detail}"
            );
        }
        other => panic!("expected a crash, got {other:?}"),
    }
    assert_eq!(err.outcome(), Outcome::Failed);

    let path = script(dir.path(), "killed", "kill -9 $$");
    let err = launch_err(support::config("jira", &path)).await;
    assert!(
        err.to_string()
            .contains("was killed by signal 9 (SIGKILL) before its handshake"),
        "{err}"
    );
}

#[tokio::test]
async fn stdout_noise_before_handshake_is_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = support::rust_plugin();
    let path = script(
        dir.path(),
        "noisy",
        &format!(
            "echo 'Loading config from /etc/jira.yaml'\nexec {}",
            plugin.display()
        ),
    );
    let err = launch_err(support::config("jira", &path)).await;
    assert_eq!(
        err,
        Error::Refused {
            plugin: "jira".into(),
            refusal: Refusal::Handshake(HandshakeProblem::StdoutNoise {
                line: "Loading config from /etc/jira.yaml".into()
            })
        }
    );
    assert!(
        err.to_string().contains(
            "printed \"Loading config from /etc/jira.yaml\" on stdout before its handshake line"
        ),
        "{err}"
    );
    assert_eq!(err.outcome(), Outcome::Refused);
}

#[tokio::test]
async fn protocol_problems_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("1|1|unix|/tmp/x.sock|netrpc", HandshakeProblem::NetRpc),
        (
            "2|1|unix|/tmp/x.sock|grpc|",
            HandshakeProblem::CoreVersion { found: "2".into() },
        ),
        (
            "1|2|unix|/tmp/x.sock|grpc|",
            HandshakeProblem::AppVersion {
                found: "2".into(),
                offered: 1,
            },
        ),
    ];
    for (i, (line, expected)) in cases.into_iter().enumerate() {
        let pid_file = dir.path().join(format!("pid{i}"));
        let path = script(
            dir.path(),
            &format!("p{i}"),
            &format!(
                "echo $$ > {}\necho '{line}'\nexec sleep 30",
                pid_file.display()
            ),
        );
        let err = launch_err(support::unconfined(support::config("jira", &path))).await;
        assert_eq!(
            err,
            Error::Refused {
                plugin: "jira".into(),
                refusal: Refusal::Handshake(expected)
            },
            "{line}"
        );
        // The refused process does not linger.
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            eventually(Duration::from_secs(5), || !alive(pid)).await,
            "{line}: process {pid} still runs"
        );
    }
    let messages = [
        "speaks go-plugin's net/rpc protocol",
        "incompatible core API version",
        "incompatible API version",
    ];
    for (i, message) in messages.into_iter().enumerate() {
        let problem = [
            HandshakeProblem::NetRpc,
            HandshakeProblem::CoreVersion { found: "2".into() },
            HandshakeProblem::AppVersion {
                found: "2".into(),
                offered: 1,
            },
        ][i]
            .clone();
        assert!(problem.to_string().contains(message), "{problem}");
    }
}

#[tokio::test]
async fn start_timeout_kills_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let path = script(
        dir.path(),
        "slow",
        &format!("echo $$ > {}\nexec sleep 30", pid_file.display()),
    );
    let mut config = support::unconfined(support::config("jira", &path));
    config.start_timeout = Duration::from_millis(300);
    let err = launch_err(config).await;
    assert_eq!(
        err,
        Error::Failed {
            plugin: "jira".into(),
            interface: Interface::Ticketing,
            failure: Failure::StartTimeout {
                limit: Duration::from_millis(300)
            }
        }
    );
    assert_eq!(
        err.to_string(),
        "ticketing plugin \"jira\" printed no handshake line within its start timeout of 300 ms"
    );
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || !alive(pid)).await);
}

#[tokio::test]
async fn interface_version_mismatch_is_refused() {
    // Unconfined: the plugin writes its process id, checked from outside.
    let mut config = support::unconfined(support::config("py", &support::python_plugin()));
    config
        .env
        .push(("ROBODEV_TEST_INTERFACE_VERSION".into(), "2".into()));
    let pid_file = tempfile::NamedTempFile::new().unwrap();
    config.env.push((
        "ROBODEV_TEST_PID_FILE".into(),
        pid_file.path().display().to_string(),
    ));
    let err = launch_err(config).await;
    assert_eq!(
        err,
        Error::Refused {
            plugin: "py".into(),
            refusal: Refusal::VersionMismatch {
                interface: Interface::Ticketing,
                declared: 2,
                expected: 1
            }
        }
    );
    let pid: u32 = std::fs::read_to_string(pid_file.path())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || !alive(pid)).await);
}

#[tokio::test]
async fn plugin_of_another_interface_is_refused() {
    let mut config = support::config("scm", &support::rust_plugin());
    config.interface = Some(Interface::Scm);
    let err = launch_err(config).await;
    assert_eq!(
        err.to_string(),
        "refused to load plugin \"scm\": does not serve robodev.v1.SCMBackend (its Handshake RPC is unimplemented)"
    );
}
