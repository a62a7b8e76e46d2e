//! Confined subprocess plugins: a hostile plugin in Rust and one in Python try every escape
//! (robodev's environment, its config and another plugin's key-value store, robodev's
//! `/proc/PID/environ` and that of its PID namespace's init, a fork of robodev; a write outside their directory, signalling robodev, a TCP connection
//! and a UDP socket without network, a fork bomb, a memory bomb): each is blocked, and robodev
//! and an honest plugin beside them keep serving.
//!
//! These need what the sandbox uses (Landlock, unprivileged user namespaces, Linux 6.14+ for
//! the process cap); on a machine without them the test fails saying which is missing rather
//! than passing on a sandbox that was never there.

use std::path::{Path, PathBuf};

use robodev_core::AnyBackend;
use robodev_grpc::{Features, SubprocessConfig, SubprocessPlugin};

use crate::support;

/// robodev's own files the hostile plugin is told to read, and where it is told to write.
struct Targets {
    _dir: tempfile::TempDir,
    state: PathBuf,
    config: PathBuf,
    kv: PathBuf,
    outside: PathBuf,
    listener: std::net::TcpListener,
}

fn targets() -> Targets {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(state.join("kv")).unwrap();
    let config = dir.path().join("robodev-config.yaml");
    std::fs::write(&config, "secrets: { JIRA_TOKEN: jira-api-token }\n").unwrap();
    let kv = state.join("kv/other-plugin.json");
    std::fs::write(&kv, "{\"token\": \"other plugin's\"}").unwrap();
    Targets {
        outside: dir.path().join("outside.txt"),
        listener: std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        state,
        config,
        kv,
        _dir: dir,
    }
}

fn hostile_config(name: &str, binary: &Path, t: &Targets) -> SubprocessConfig {
    let features = Features::get();
    assert!(
        features.landlock_abi >= 1 && features.user_namespaces && features.pid_max_per_namespace,
        "this machine lacks what the sandbox tests check: {features:?}"
    );
    // A variable robodev (this test process) has and never passes on: cargo sets it.
    assert!(std::env::var("CARGO_MANIFEST_DIR").is_ok());
    let mut config = support::config(name, binary);
    // A fork bomb up to the cap and a memory bomb up to the limit take a few seconds.
    config.call_timeout = std::time::Duration::from_secs(120);
    config.sandbox.protected = vec![t.state.clone(), t.config.clone()];
    let env = [
        ("HOSTILE_SECRET_VAR", "CARGO_MANIFEST_DIR".to_owned()),
        ("HOSTILE_ROBODEV_PID", std::process::id().to_string()),
        (
            "HOSTILE_READ",
            format!("{}:{}", t.config.display(), t.kv.display()),
        ),
        ("HOSTILE_WRITE", t.outside.display().to_string()),
        (
            "HOSTILE_CONNECT",
            t.listener.local_addr().unwrap().to_string(),
        ),
    ];
    config
        .env
        .extend(env.into_iter().map(|(k, v)| (k.to_owned(), v)));
    config
}

/// Polls the hostile plugin and checks every attempt was blocked (the bombs too, when `bombs`).
async fn nothing_escapes(plugin: &SubprocessPlugin, t: &Targets, bombs: bool) {
    let attempts = poll(plugin).await;
    let names: Vec<&str> = attempts.iter().map(|a| a.id.as_str()).collect();
    for expected in ["environment", "signal robodev", "udp socket"] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert_eq!(attempts.len(), if bombs { 11 } else { 9 }, "{names:?}");
    for attempt in &attempts {
        assert!(
            attempt.title.starts_with("blocked: "),
            "{}: {}",
            attempt.id,
            attempt.title
        );
    }
    // The process cap stopped the fork bomb below it; the memory cap the memory bomb.
    for bomb in ["fork bomb", "memory bomb"].iter().filter(|_| bombs) {
        let title = &attempts.iter().find(|a| a.id == *bomb).unwrap().title;
        assert!(title.contains("refused after"), "{bomb}: {title}");
    }
    assert!(
        !t.outside.exists(),
        "the plugin wrote outside its directory"
    );
    // robodev's config and the other plugin's store are untouched and the plugin still serves.
    assert!(
        std::fs::read_to_string(&t.kv)
            .unwrap()
            .contains("other plugin's")
    );
    assert!(!poll(plugin).await.is_empty());
}

/// An honest plugin started beside the hostile one keeps answering.
async fn honest_keeps_serving(honest: &SubprocessPlugin) {
    let tickets = poll(honest).await;
    assert!(!tickets.is_empty());
}

fn hostile_rust_plugin() -> PathBuf {
    support::rust_plugin().with_file_name("hostile_plugin")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_rust_plugin_escapes_nothing() {
    let t = targets();
    let honest = SubprocessPlugin::launch(support::config("honest", &support::rust_plugin()))
        .await
        .unwrap();
    let plugin = SubprocessPlugin::launch(hostile_config("hostile", &hostile_rust_plugin(), &t))
        .await
        .unwrap();
    let confinement = plugin.confinement().unwrap();
    assert!(
        confinement.confined && confinement.gaps.is_empty(),
        "{confinement:?}"
    );
    assert_eq!(confinement.namespaces, ["user", "pid", "mount", "net"]);
    assert!(!confinement.env.iter().any(|v| v == "CARGO_MANIFEST_DIR"));
    nothing_escapes(&plugin, &t, true).await;
    honest_keeps_serving(&honest).await;
    plugin.shutdown().await;
    honest.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_python_plugin_escapes_nothing() {
    let t = targets();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("hostile_plugin.py");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile_plugin.py"),
        &script,
    )
    .unwrap();
    let launcher = robodev_test_support::plugins::python_sdk_plugin(&script, dir.path());
    let mut config = hostile_config("hostile-python", &launcher, &t);
    config.auto_mtls = false;
    let honest = SubprocessPlugin::launch(support::config("honest", &support::go_plugin()))
        .await
        .unwrap();

    // The escapes without the bombs: each blocked.
    let mut quiet = config.clone();
    quiet.env.push(("HOSTILE_SKIP_BOMBS".into(), "1".into()));
    let plugin = SubprocessPlugin::launch(quiet).await.unwrap();
    nothing_escapes(&plugin, &t, false).await;
    plugin.shutdown().await;

    // With the bombs: grpcio's own threads starve while the fork bomb holds every process
    // slot of the plugin's namespace, so the plugin may abort itself (a typed crash, then a
    // restart) rather than answer; either way nothing escapes and the rest keeps serving.
    let plugin = SubprocessPlugin::launch(config).await.unwrap();
    let AnyBackend::Ticketing(ticketing) = plugin.backend() else {
        panic!()
    };
    match ticketing.poll_ready_tickets(Default::default()).await {
        Ok(response) => {
            for attempt in &response.tickets {
                assert!(attempt.title.starts_with("blocked: "), "{attempt:?}");
            }
        }
        Err(e) => {
            let e = e.to_string();
            assert!(
                e.contains("crashed") && e.contains("Resource temporarily unavailable"),
                "{e}"
            );
            assert!(
                support::eventually(std::time::Duration::from_secs(20), || plugin.restarts()
                    == 1
                    && plugin.health() == robodev_grpc::Health::Serving)
                .await,
                "{:?}",
                plugin.health()
            );
        }
    }
    assert!(!t.outside.exists());
    honest_keeps_serving(&honest).await;
    plugin.shutdown().await;
    honest.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_covering_robodev_state_is_refused_before_anything_runs() {
    let t = targets();
    let mut config = hostile_config("greedy", &hostile_rust_plugin(), &t);
    config
        .sandbox
        .read
        .push(t.state.parent().unwrap().to_owned());
    let err = support::launch_err(config).await.to_string();
    assert!(
        err.contains("the sandbox would let the plugin read")
            && err.contains("which contains robodev's"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfined_plugins_inherit_robodev_environment_as_go_plugin_does() {
    let t = targets();
    let mut config = hostile_config("open", &hostile_rust_plugin(), &t);
    config.sandbox = robodev_grpc::Sandbox::disabled();
    config.env.push(("HOSTILE_SKIP_BOMBS".into(), "1".into()));
    let plugin = SubprocessPlugin::launch(config).await.unwrap();
    let attempts = poll(&plugin).await;
    // The escapes the sandbox blocks succeed without it: the tests above are not vacuous.
    let escaped: Vec<&str> = attempts
        .iter()
        .filter(|a| a.title.starts_with("ESCAPED"))
        .map(|a| a.id.as_str())
        .collect();
    for expected in ["environment", "signal robodev", "udp socket"] {
        assert!(escaped.contains(&expected), "{expected} not in {escaped:?}");
    }
    assert!(t.outside.exists());
    assert_eq!(
        plugin.confinement().unwrap().summary(),
        "none (sandbox: false)"
    );
    plugin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_landlock_or_namespaces_the_gaps_are_said_and_the_rest_still_holds() {
    let t = targets();
    let mut config = hostile_config("old-kernel", &hostile_rust_plugin(), &t);
    config.env.push(("HOSTILE_SKIP_BOMBS".into(), "1".into()));
    // As on a kernel without Landlock, in a container that forbids user namespaces.
    config.sandbox.features = Some(Features {
        landlock_abi: 0,
        user_namespaces: false,
        pid_max_per_namespace: false,
    });
    let plugin = SubprocessPlugin::launch(config).await.unwrap();
    let confinement = plugin.confinement().unwrap();
    assert_eq!(confinement.landlock_abi, None);
    assert!(confinement.namespaces.is_empty());
    let gaps = confinement.gaps.join("\n");
    for gap in [
        "no PID, mount or network namespace",
        "processes: the cap of 512 cannot be enforced here",
        "filesystem: this kernel has no Landlock",
        "network: only the seccomp filter refuses IP sockets",
    ] {
        assert!(gaps.contains(gap), "{gap} not in {gaps}");
    }
    assert!(
        confinement.summary().contains("4 gaps"),
        "{}",
        confinement.summary()
    );
    let attempts = poll(&plugin).await;
    let outcome = |id: &str| {
        attempts
            .iter()
            .find(|a| a.id.starts_with(id))
            .map(|a| a.title.clone())
            .unwrap()
    };
    // The environment, the network filter and no_new_privs do not need the kernel's newer
    // features: still blocked. What only Landlock stops is open: the gaps above say so.
    for (attempt, expected) in [
        ("environment", "blocked"),
        ("connect", "blocked"),
        ("udp socket", "blocked"),
        ("write", "ESCAPED"),
    ] {
        let got = outcome(attempt);
        assert!(got.starts_with(expected), "{attempt}: {got}");
    }
    plugin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relative_command_and_arguments_keep_their_meaning() {
    // Tests run in the crate's directory: the plugin named relative to it.
    let relative = std::path::Path::new("../../target/debug/examples/ticketing_plugin");
    assert!(relative.exists(), "{}", relative.display());
    let plugin = SubprocessPlugin::launch(support::config("relative", relative))
        .await
        .unwrap();
    assert!(plugin.confinement().unwrap().confined);
    plugin.shutdown().await;
}

/// The tickets `plugin` (a ticketing plugin) answers a poll with.
async fn poll(plugin: &SubprocessPlugin) -> Vec<robodev_core::Ticket> {
    let AnyBackend::Ticketing(ticketing) = plugin.backend() else {
        panic!("not a ticketing plugin")
    };
    ticketing
        .poll_ready_tickets(Default::default())
        .await
        .unwrap()
        .tickets
}
