//! `robodev plugin call|inspect` with executables: go-plugin gRPC plugins in Rust, Python and
//! Go, and every start failure as the user sees it (message and exit code). Plus the promise
//! that no plugin process outlives robodev, even when robodev is SIGKILLed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::plugins::{alive, descendants};
use crate::{code, json_out, robodev, stderr};

/// The Rust example plugin of robodev-grpc (built by `cargo test --workspace`).
fn rust_plugin() -> String {
    crate::plugins::rust_plugin().display().to_string()
}

fn go_plugin() -> String {
    crate::plugins::go_plugin().display().to_string()
}

fn python_plugin() -> String {
    crate::plugins::python_plugin().display().to_string()
}

fn script(dir: &Path, name: &str, body: &str) -> String {
    crate::plugins::script(dir, name, body)
        .display()
        .to_string()
}

#[test]
fn go_plugin_poll_prints_proto3_json() {
    let dir = tempfile::tempdir().unwrap();
    // The issue's acceptance command, verbatim apart from the path.
    let out = robodev(
        dir.path(),
        &[
            "plugin",
            "call",
            &go_plugin(),
            "PollReadyTickets",
            "--input",
            "{}",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    let tickets = v["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 3);
    assert_eq!(
        tickets[0],
        json!({
            "id": "T-1",
            "title": "Fix login bug",
            "description": "Users cannot log in with SSO.",
            "ticketType": "bug_fix",
            "labels": ["robodev", "backend"],
            "repoUrl": "https://git.example.com/acme/app.git",
            "externalUrl": "https://tracker.example.com/T-1",
            "raw": {"priority": "high", "points": 3, "nested": {"ok": true}, "tags": ["a", "b"], "none": null}
        })
    );
    assert!(tickets[2].get("raw").is_none());
}

#[test]
fn every_language_answers_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    for (plugin, name) in [
        (rust_plugin(), "rust-ticketing"),
        (python_plugin(), "python-ticketing"),
        (go_plugin(), "go-ticketing"),
    ] {
        for extra in [&[][..], &["--no-mtls", "--type", "ticketing"][..]] {
            let mut args = vec![
                "plugin",
                "call",
                &plugin,
                "poll-ready-tickets",
                "--input",
                r#"{"labels":["robodev"],"maxResults":1}"#,
            ];
            args.extend_from_slice(extra);
            let out = robodev(dir.path(), &args);
            assert_eq!(code(&out), 0, "{name} {extra:?}: {}", stderr(&out));
            let ids: Vec<_> = json_out(&out)["tickets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].clone())
                .collect();
            assert_eq!(ids, [json!("T-1")], "{name}");
        }
        let out = robodev(dir.path(), &["plugin", "call", &plugin, "Handshake"]);
        assert_eq!(code(&out), 0, "{name}: {}", stderr(&out));
        assert_eq!(json_out(&out), json!({"name": name, "version": "1.0.0"}));

        let out = robodev(dir.path(), &["plugin", "inspect", &plugin, "--json"]);
        assert_eq!(code(&out), 0, "{name}: {}", stderr(&out));
        let v = json_out(&out);
        assert_eq!(v["runtime"], "subprocess");
        assert_eq!(v["interface"], "ticketing");
        assert_eq!(v["interfaceVersion"], 1);
        assert_eq!(v["service"], "robodev.v1.TicketingBackend");
        assert_eq!(v["name"], name);
        assert_eq!(v["autoMtls"], true);
        assert!(v["address"].as_str().unwrap().starts_with("unix /"));
    }
}

#[test]
fn text_inspect_of_an_executable() {
    let dir = tempfile::tempdir().unwrap();
    let out = robodev(
        dir.path(),
        &["plugin", "inspect", &rust_plugin(), "--no-mtls"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("runtime:           subprocess (go-plugin gRPC)"),
        "{text}"
    );
    assert!(
        text.contains("interface:         ticketing (interface version 1)"),
        "{text}"
    );
    assert!(
        text.contains("plugin:            rust-ticketing 1.0.0"),
        "{text}"
    );
    assert!(!text.contains("AutoMTLS"), "{text}");
}

#[test]
fn plugin_logs_and_stdout_reach_robodevs_log() {
    let dir = tempfile::tempdir().unwrap();
    let out = robodev(
        dir.path(),
        &[
            "-v",
            "plugin",
            "call",
            &rust_plugin(),
            "PollReadyTickets",
            "--name",
            "tix",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    // The plugin's hclog line, re-logged at INFO under the plugin's configured name.
    let line = err
        .lines()
        .find(|l| l.contains("polled tickets"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("INFO") && line.contains("plugin=\"tix\"") && line.contains("count=3"),
        "{line}"
    );

    // stdout after the handshake goes through go-plugin's stdio stream.
    let out = robodev(
        dir.path(),
        &[
            "-v",
            "plugin",
            "call",
            &rust_plugin(),
            "AddComment",
            "--input",
            r#"{"ticketId":"T-1","comment":"chaos:stdout"}"#,
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("chaos stdout line 0"), "{err}");
}

#[test]
fn each_start_failure_has_its_message_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let missing = d.join("robodev-plugin-missing").display().to_string();
    let crash = script(d, "crash", "echo 'JIRA_URL is not set' >&2\nexit 7");
    let noise = script(
        d,
        "noise",
        &format!("echo 'hello world'\nexec {}", rust_plugin()),
    );
    let netrpc = script(
        d,
        "netrpc",
        "echo '1|1|unix|/tmp/x.sock|netrpc'\nexec sleep 30",
    );
    let core = script(
        d,
        "core",
        "echo '2|1|unix|/tmp/x.sock|grpc|'\nexec sleep 30",
    );
    let app = script(d, "app", "echo '1|5|unix|/tmp/x.sock|grpc|'\nexec sleep 30");
    let slow = script(d, "slow", "exec sleep 30");
    let python = python_plugin();
    let rust = rust_plugin();
    let cases: Vec<(Vec<&str>, i32, String)> = vec![
        (
            vec![&missing],
            2,
            format!("error: cannot load plugin \"robodev-plugin-missing\": plugin binary {missing} does not exist"),
        ),
        (
            vec![&crash],
            3,
            "error: ticketing plugin \"crash\" crashed: exited with code 7 before its handshake; last stderr lines: JIRA_URL is not set".into(),
        ),
        (
            vec![&noise],
            4,
            "error: refused to load plugin \"noise\": printed \"hello world\" on stdout before its handshake line (a go-plugin plugin must print nothing to stdout before the handshake)".into(),
        ),
        (
            vec![&netrpc],
            4,
            "error: refused to load plugin \"netrpc\": speaks go-plugin's net/rpc protocol; robodev hosts gRPC plugins only (serve it with GRPCServer)".into(),
        ),
        (
            vec![&core],
            4,
            "error: refused to load plugin \"core\": handshake has core protocol version \"2\"; this host speaks core version 1 (incompatible core API version)".into(),
        ),
        (
            vec![&app],
            4,
            "error: refused to load plugin \"app\": handshake has app protocol version \"5\"; this host offered 1 (incompatible API version)".into(),
        ),
        (
            vec![&slow, "--start-timeout-ms", "300"],
            3,
            "error: ticketing plugin \"slow\" printed no handshake line within its start timeout of 300 ms".into(),
        ),
        (
            vec![&python, "--env", "ROBODEV_TEST_INTERFACE_VERSION=2", "--type", "ticketing"],
            4,
            "error: refused to load plugin \"robodev-plugin-python-ticketing\": it declares ticketing interface version 2, but robodev implements ticketing version 1".into(),
        ),
        (
            vec![&rust, "--type", "scm"],
            4,
            "error: refused to load plugin \"ticketing_plugin\": does not serve robodev.v1.SCMBackend (its Handshake RPC is unimplemented)".into(),
        ),
    ];
    for (args, expected_code, expected) in cases {
        let mut all = vec!["plugin", "call"];
        all.push(args[0]);
        all.push("Handshake");
        all.extend_from_slice(&args[1..]);
        let out = robodev(d, &all);
        let err = stderr(&out);
        assert_eq!(code(&out), expected_code, "{args:?}: {err}");
        assert!(
            err.lines().any(|l| l == expected),
            "{args:?}: expected the line\n  {expected}\nin stderr:\n{err}"
        );
    }
}

#[test]
fn call_errors_have_their_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let rust = rust_plugin();
    let out = robodev(
        dir.path(),
        &[
            "plugin",
            "call",
            &rust,
            "MarkInProgress",
            "--input",
            r#"{"ticketId":"T-9"}"#,
        ],
    );
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("returned an error: not_found: no ticket T-9"),
        "{}",
        stderr(&out)
    );
    let out = robodev(
        dir.path(),
        &[
            "plugin",
            "call",
            &rust,
            "AddComment",
            "--timeout-ms",
            "300",
            "--input",
            r#"{"ticketId":"T-1","comment":"chaos:sleep"}"#,
        ],
    );
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out)
            .contains("ticketing plugin \"ticketing_plugin\" exceeded its deadline of 300 ms"),
        "{}",
        stderr(&out)
    );
    let out = robodev(
        dir.path(),
        &[
            "plugin",
            "call",
            &rust,
            "AddComment",
            "--input",
            r#"{"ticketId":"T-1","comment":"chaos:exit"}"#,
            "--json",
        ],
    );
    assert_eq!(code(&out), 3);
    let v = json_out(&out);
    assert_eq!(v["error"]["kind"], "crashed");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exited with code 3 during AddComment"),
        "{v}"
    );
}

fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}

/// robodev is SIGKILLed in the middle of a call to each plugin: it cannot shut anything down,
/// yet no process it started is left: not the plugin, not its sandbox's keeper and init (the
/// kernel's parent-death signal kills the keeper, the keeper's death the rest).
#[test]
fn no_plugin_survives_robodev_being_sigkilled() {
    for plugin in [rust_plugin(), python_plugin(), go_plugin()] {
        let mut robodev = Command::new(env!("CARGO_BIN_EXE_robodev"))
            .args([
                "plugin",
                "call",
                &plugin,
                "AddComment",
                "--input",
                r#"{"ticketId":"T-1","comment":"chaos:sleep"}"#,
                "--timeout-ms",
                "600000",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Keeper, init and plugin.
        assert!(
            wait_for(Duration::from_secs(30), || descendants(robodev.id()).len()
                >= 3),
            "{plugin}: the plugin did not start: {:?}",
            descendants(robodev.id())
        );
        // Let the call get in flight.
        std::thread::sleep(Duration::from_millis(1500));
        assert!(
            robodev.try_wait().unwrap().is_none(),
            "{plugin}: robodev ended early"
        );
        let started = descendants(robodev.id());
        robodev.kill().unwrap(); // SIGKILL
        robodev.wait().unwrap();
        assert!(
            wait_for(Duration::from_secs(5), || started
                .iter()
                .all(|p| !alive(*p))),
            "{plugin}: processes {started:?} survived robodev's SIGKILL"
        );
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The plugin behind a wrapper script that does not `exec` it, and a helper process the
/// wrapper starts, unconfined (confined, its PID namespace goes with it): the parent-death
/// signal reaches only the wrapper, so robodev's watchdog must kill the rest of the group when
/// robodev is SIGKILLed. The SIGKILLed robodev leaves its
/// socket directory behind (named after it); the next robodev sweeps it, and nothing else.
#[test]
fn a_wrapped_plugin_and_its_helpers_die_with_robodev_and_leftovers_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let plugin_pid = dir.path().join("plugin.pid");
    let helper_pid = dir.path().join("helper.pid");
    let wrapper_pid = dir.path().join("wrapper.pid");
    let wrapper = script(
        dir.path(),
        "wrapper",
        &format!(
            "echo $$ > {}\nsleep 100000 &\necho $! > {}\n{}\necho wrapper-done >&2",
            wrapper_pid.display(),
            helper_pid.display(),
            rust_plugin()
        ),
    );
    let mut robodev = Command::new(env!("CARGO_BIN_EXE_robodev"))
        .args([
            "plugin",
            "call",
            &wrapper,
            "AddComment",
            "--input",
            r#"{"ticketId":"T-1","comment":"chaos:sleep"}"#,
            "--timeout-ms",
            "600000",
            "--no-sandbox",
        ])
        .env("ROBODEV_TEST_PID_FILE", &plugin_pid)
        .env("TMPDIR", &tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let files = [&wrapper_pid, &helper_pid, &plugin_pid];
    assert!(
        wait_for(Duration::from_secs(30), || files
            .iter()
            .all(|f| read_pid(f).is_some())),
        "the wrapper, its helper and the plugin did not all start"
    );
    let pids: Vec<u32> = files.iter().map(|f| read_pid(f).unwrap()).collect();
    assert!(pids.iter().all(|p| alive(*p)));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(robodev.try_wait().unwrap().is_none(), "robodev ended early");
    let robodev_pid = robodev.id();
    robodev.kill().unwrap(); // SIGKILL
    robodev.wait().unwrap();
    for (what, pid) in ["wrapper", "helper", "plugin"].iter().zip(&pids) {
        assert!(
            wait_for(Duration::from_secs(5), || !alive(*pid)),
            "the {what} (process {pid}) survived robodev's SIGKILL"
        );
    }

    // What the killed robodev left, plus a directory of a live robodev (this test process
    // stands in for it), an older unnamed one and an unrelated one.
    let leftovers = |tmp: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let killed = leftovers(&tmp);
    assert_eq!(killed.len(), 1, "{killed:?}");
    assert!(
        killed[0].starts_with(&format!("robodev-plugin-{robodev_pid}-")),
        "{killed:?}"
    );
    let me = std::process::id();
    let stat = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
    let started = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_owned();
    let live = format!("robodev-plugin-{me}-{started}-abc123");
    for keep in [live.as_str(), "robodev-plugin-Xy12ab", "unrelated"] {
        std::fs::create_dir(tmp.join(keep)).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_robodev"))
        .args(["plugin", "call", &rust_plugin(), "PollReadyTickets"])
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut expected = vec![
        live,
        "robodev-plugin-Xy12ab".to_owned(),
        "unrelated".to_owned(),
    ];
    expected.sort();
    assert_eq!(leftovers(&tmp), expected);
}

/// An SCM plugin built before SCM 2 (it says interface version 1 in its Handshake and lacks
/// the newer RPCs), declared as such, is served: it loads, `plugins list` shows its own major,
/// its methods answer and the v2-only ones are `unimplemented`. Declared as 2, it is refused.
#[test]
fn an_scm_v1_subprocess_plugin_is_served_through_the_current_interface() {
    const OLD_SCM: &str = r#"
from robodev_plugin_sdk import SCMBackend, serve
from robodev_plugin_sdk.proto import scm_pb2

class OldScm(SCMBackend):
    name = "old-scm"
    version = "0.9.0"
    interface_version = 1

    def CreateBranch(self, request, context):
        return scm_pb2.CreateBranchResponse(sha="abc123")

serve(OldScm())
"#;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The plugin apart from robodev's config and state, which its sandbox may not read.
    let plugins = d.join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::write(plugins.join("old_scm.py"), OLD_SCM).unwrap();
    let plugin =
        robodev_test_support::plugins::python_sdk_plugin(&plugins.join("old_scm.py"), &plugins);
    let list = |declared: u32| {
        std::fs::write(
            d.join("robodev-config.yaml"),
            format!(
                "ticketing: {{ backend: local, config: {{ file: tickets.yaml }} }}\n\
                 engines: {{ default: local, local: {{ command: [agent] }} }}\n\
                 plugins:\n\
                 \x20 - {{ name: gitlab, type: scm, interface_version: {declared}, command: {} }}\n\
                 scm: {{ backend: gitlab }}\n",
                plugin.display()
            ),
        )
        .unwrap();
        std::fs::write(d.join("tickets.yaml"), "tickets: []\n").unwrap();
        let out = robodev(
            d,
            &[
                "plugins",
                "list",
                "--json",
                "--config",
                d.join("robodev-config.yaml").to_str().unwrap(),
            ],
        );
        crate::plugin_row(&json_out(&out), "gitlab")
    };
    let row = list(1);
    assert_eq!(row["health"], "serving", "{row}");
    assert_eq!(row["interfaceVersion"], 1);
    let row = list(2);
    assert_eq!(row["health"], "refused", "{row}");
    assert_eq!(
        row["error"]["message"],
        "refused to load plugin \"gitlab\": its config declares scm interface version 2, but the plugin implements version 1"
    );

    let call = |method: &str, input: &str| {
        robodev(
            d,
            &[
                "plugin",
                "call",
                plugin.to_str().unwrap(),
                method,
                "--type",
                "scm",
                "--input",
                input,
            ],
        )
    };
    let out = call("CreateBranch", r#"{"repoUrl": "r", "branchName": "b"}"#);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_out(&out)["sha"], "abc123");
    let out = call("GetDiff", "{}");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("unimplemented"), "{}", stderr(&out));
}

/// `robodev run` with a hostile ticketing plugin (host/grpc/examples/hostile_plugin.rs) as its
/// ticketing backend: every escape it tries on robodev's secrets (the secrets file, robodev's
/// environment, its PID namespace's init, a fork of robodev), its config and its state is
/// blocked and says so in robodev's log, and the run goes on.
#[test]
fn robodev_run_keeps_robodev_secrets_config_and_state_from_a_hostile_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("state/kv")).unwrap();
    std::fs::write(d.join("state/kv/other.json"), "{}").unwrap();
    std::fs::write(d.join("secrets.yaml"), "jira-api-token: s3cret\n").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hostile = crate::plugins::rust_plugin().with_file_name("hostile_plugin");
    let reads = [
        d.join("robodev-config.yaml"),
        d.join("secrets.yaml"),
        d.join("state/kv/other.json"),
    ]
    .map(|p| p.display().to_string())
    .join(":");
    std::fs::write(
        d.join("robodev-config.yaml"),
        format!(
            "state_dir: state\n\
             secrets: {{ backend: file, config: {{ file: secrets.yaml }} }}\n\
             plugins:\n\
             \x20 - name: hostile\n\
             \x20   type: ticketing\n\
             \x20   interface_version: 1\n\
             \x20   command: {}\n\
             \x20   call_timeout: 120s\n\
             \x20   env: {{ HOSTILE_SECRET_VAR: ROBODEV_TEST_SECRET, HOSTILE_READ: \"{reads}\", HOSTILE_WRITE: \"{}\", HOSTILE_CONNECT: \"{}\" }}\n\
             ticketing: {{ backend: hostile }}\n\
             engines: {{ default: local, local: {{ command: [./agent.sh] }} }}\n\
             guardrails: {{ allowed_task_types: [nothing] }}\n",
            hostile.display(),
            d.join("pwned").display(),
            listener.local_addr().unwrap(),
        ),
    )
    .unwrap();
    let out = crate::robodev_command(
        d,
        &[
            "run",
            "--once",
            "--config",
            d.join("robodev-config.yaml").to_str().unwrap(),
        ],
    )
    .env("ROBODEV_TEST_SECRET", "robodev-only")
    .output()
    .unwrap();
    let log = stderr(&out);
    assert_eq!(code(&out), 0, "{log}");
    let attempts: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" INFO hostile: "))
        .collect();
    assert_eq!(attempts.len(), 12, "{log}");
    for attempt in &attempts {
        assert!(attempt.contains(": blocked: "), "{attempt}");
    }
    for what in [
        "secrets.yaml",
        "robodev-config.yaml",
        "other.json",
        "/proc/1/environ",
    ] {
        assert!(
            attempts.iter().any(|a| a.contains(what)),
            "no attempt on {what}: {log}"
        );
    }
    assert!(
        !log.contains("s3cret") && !log.contains("robodev-only"),
        "{log}"
    );
    assert!(!d.join("pwned").exists());
    // Every ticket (one per attempt) was polled and stopped by the guard rail, as configured.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("12 ticket(s) polled"), "{text}");
}
