//! `robodev run`, `robodev plugins list` and `robodev plugin call --config`: the controller
//! on real configs, with built-in backends, a real Wasm component and a real subprocess plugin.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{code, json_out, robodev, stderr};

fn repo() -> PathBuf {
    crate::repo_root()
}

/// The bundled example config, run as the README runs it, but with its state in `state`.
fn example(dirs: &Path, state: &Path, args: &[&str]) -> std::process::Output {
    // The example refers to the review_rules component and the notify_plugin example binary.
    crate::guests::guest("review_rules");
    let notify = crate::plugins::rust_plugin().with_file_name("notify_plugin");
    assert!(notify.exists(), "{} is missing", notify.display());
    let config = repo().join("examples/robodev-config.yaml");
    let mut all = args.to_vec();
    let config = config.display().to_string();
    let state = state.display().to_string();
    all.extend(["--config", &config, "--state-dir", &state]);
    Command::new(env!("CARGO_BIN_EXE_robodev"))
        .args(&all)
        .env("ROBODEV_CACHE_DIR", dirs.join("cache"))
        .env_remove("RUST_LOG")
        .env_remove("ROBODEV_STATE_DIR")
        .output()
        .unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_example_processes_every_ticket_once_through_builtin_wasm_and_subprocess_plugins() {
    let dirs = tempfile::tempdir().unwrap();
    let state = dirs.path().join("state");
    let out = example(dirs.path(), &state, &["run", "--once"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}\n{}", stderr(&out));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0], "robodev: 4 ticket(s) polled, 4 task run(s) processed, 0 already handled",
        "{text}"
    );
    let line = |id: &str| -> String {
        lines
            .iter()
            .find(|l| l.trim_start().starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no line for {id} in:\n{text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        line("RD-1"),
        "RD-1 Succeeded Fix the off-by-one in pagination branch robodev/RD-1: Fixed the page end bound and clamped it to the item count"
    );
    // The Wasm review gate found the hard-coded password.
    assert!(
        line("RD-2")
            .starts_with("RD-2 Failed Add the staging database settings review gate failed:"),
        "{}",
        line("RD-2")
    );
    assert_eq!(
        line("RD-3"),
        "RD-3 Failed Rewrite the billing service in Haskell guard rail: task type \"rewrite\" is not in allowed_task_types"
    );
    assert_eq!(
        line("RD-4"),
        "RD-4 Failed Document the release process the agent reported failure: The wiki page with the release steps does not exist"
    );
    assert!(
        !text.contains("RD-5"),
        "RD-5 lacks the robodev label: {text}"
    );
    let log = stderr(&out);
    // Progress is in the log, including the subprocess plugin's own lines under its name.
    assert!(log.contains("polled local: 4 ready ticket(s)"), "{log}");
    assert!(log.contains("notify_complete"), "{log}");

    // The subprocess channel (confined: it logs each notification on its stderr, which robodev
    // logs under its name) saw every start and completion.
    let notes: Vec<&str> = log
        .lines()
        .filter(|l| l.ends_with(r#"plugin="console" module="console""#))
        .filter_map(|l| Some(l.split_once(" INFO ")?.1.rsplit_once(" plugin=")?.0))
        .collect();
    let events: Vec<serde_json::Value> = notes
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let notes = notes.join("\n");
    let count = |event: &str| events.iter().filter(|e| e["event"] == event).count();
    assert_eq!(count("notify_complete"), 4, "{notes}");
    // RD-3 was stopped by a guard rail before it started.
    assert_eq!(count("notify_start"), 3, "{notes}");
    // Each channel was told each run's real outcome and why, not the agent's verdict (RD-2's
    // agent succeeded; its run failed at the review gate).
    let told = |id: &str| -> (bool, String) {
        let e = events
            .iter()
            .find(|e| e["event"] == "notify_complete" && e["ticket"] == id)
            .unwrap_or_else(|| panic!("no notify_complete for {id}: {notes}"));
        (
            e["success"].as_bool().unwrap(),
            e["summary"].as_str().unwrap().to_owned(),
        )
    };
    let rd1 = told("RD-1");
    assert!(rd1.0, "{rd1:?}");
    assert_eq!(
        rd1.1,
        "Fixed the page end bound and clamped it to the item count"
    );
    let rd2 = told("RD-2");
    assert!(!rd2.0, "{rd2:?}");
    assert!(rd2.1.starts_with("review gate failed:"), "{rd2:?}");
    assert_eq!(
        told("RD-3"),
        (
            false,
            "guard rail: task type \"rewrite\" is not in allowed_task_types".to_owned()
        )
    );
    assert_eq!(
        told("RD-4"),
        (
            false,
            "the agent reported failure: The wiki page with the release steps does not exist"
                .to_owned()
        )
    );
    // The built-in log channel says the same in robodev's log.
    for expected in [
        "ticket RD-1 (Fix the off-by-one in pagination) succeeded: Fixed the page end bound",
        "ticket RD-2 (Add the staging database settings) failed: review gate failed:",
        "ticket RD-3 (Rewrite the billing service in Haskell) failed: guard rail:",
        "ticket RD-4 (Document the release process) failed: the agent reported failure:",
    ] {
        assert!(log.contains(expected), "{expected:?} not in:\n{log}");
    }
    assert!(
        !log.contains("ticket RD-2 (Add the staging database settings) succeeded"),
        "{log}"
    );

    // A second run finds nothing left to do.
    let again = example(dirs.path(), &state, &["run", "--once"]);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert_eq!(
        stdout(&again).trim(),
        "robodev: nothing to do (0 ready ticket(s) polled, 0 already handled, no unfinished runs)"
    );
}

#[test]
fn plugins_list_shows_every_runtime_with_health_and_the_task_runs() {
    let dirs = tempfile::tempdir().unwrap();
    let state = dirs.path().join("state");
    let out = example(dirs.path(), &state, &["plugins", "list", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    let find = |name: &str| crate::plugin_row(&v, name);
    let gate = find("review-gate");
    assert_eq!(gate["runtime"], "wasm");
    assert_eq!(gate["interface"], "review");
    assert_eq!(gate["health"], "serving");
    assert!(gate["digest"].as_str().unwrap().starts_with("sha256:"));
    let console = find("console");
    assert_eq!(console["runtime"], "subprocess");
    assert_eq!(console["pluginName"], "console");
    assert_eq!(console["health"], "serving");
    for builtin in ["local", "log", "env"] {
        assert_eq!(find(builtin)["runtime"], "builtin", "{builtin}");
    }
    assert_eq!(v["taskRuns"], serde_json::json!([]));

    let table = example(dirs.path(), &state, &["plugins", "list"]);
    let text = stdout(&table);
    assert!(text.starts_with("NAME "), "{text}");
    assert!(text.contains("task runs: none yet"), "{text}");
}

#[test]
fn plugin_call_reaches_a_configured_plugin() {
    let dirs = tempfile::tempdir().unwrap();
    let state = dirs.path().join("state");
    let input = r#"{"taskRunId":"t1","diff":"--- a/x.py\n+++ b/x.py\n@@ -0,0 +1 @@\n+api_key = \"abc\"\n"}"#;
    let out = example(
        dirs.path(),
        &state,
        &[
            "plugin",
            "call",
            "ReviewDiff",
            "--plugin",
            "review-gate",
            "--input",
            input,
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    assert_eq!(v["gateResult"]["passed"], false, "{v}");
    assert_eq!(
        v["gateResult"]["securityFindings"][0]["ruleId"],
        "hardcoded-credential"
    );

    let out = example(
        dirs.path(),
        &state,
        &["plugin", "call", "notify", "--plugin", "nope"],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("no plugin or selected built-in backend named \"nope\""),
        "{}",
        stderr(&out)
    );
}

/// A config for the failure tests: local tickets, the given agent, state in `dir`.
fn write_config(dir: &Path, tickets: &str, agent: &str, extra: &str) -> PathBuf {
    std::fs::write(dir.join("tickets.yaml"), tickets).unwrap();
    let agent_path = dir.join("agent.sh");
    std::fs::write(&agent_path, agent).unwrap();
    let mut perms = std::fs::metadata(&agent_path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&agent_path, perms).unwrap();
    let config = dir.join("robodev-config.yaml");
    std::fs::write(
        &config,
        format!(
            "state_dir: state\n\
             ticketing: {{ backend: local, config: {{ file: tickets.yaml }} }}\n\
             notifications: {{ channels: [ {{ backend: log, config: {{ file: state/notes.jsonl }} }} ] }}\n\
             engines: {{ default: local, local: {{ command: [./agent.sh], env: {{ RUNS_LOG: {} }} }} }}\n\
             {extra}",
            dir.join("runs.log").display()
        ),
    )
    .unwrap();
    config
}

const TICKETS: &str = "\
- { id: FAST-1, title: quick one }
- { id: SLOW-2, title: slow one }
- { id: DONE-3, title: finishes then lingers }
";

/// Records every start (ticket and pid) in $RUNS_LOG; SLOW-2 never finishes; DONE-3 writes
/// its result, then lingers so robodev is still waiting for it when killed.
const AGENT: &str = r#"#!/bin/sh
echo "$ROBODEV_TICKET_ID $$" >> "$RUNS_LOG"
case "$ROBODEV_TICKET_ID" in
FAST-1) echo '{"success": true, "summary": "fast"}' > "$ROBODEV_RESULT_FILE" ;;
SLOW-2) sleep 60 ;;
DONE-3) echo '{"success": true, "summary": "done before the crash"}' > "$ROBODEV_RESULT_FILE"; sleep 60 ;;
esac
"#;

/// Replaces `from` (which must be there) by `to` in the config file `config`.
fn edit_config(config: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(config).unwrap();
    assert!(text.contains(from), "{from:?} is not in:\n{text}");
    std::fs::write(config, text.replace(from, to)).unwrap();
}

/// Records every start (ticket and pid) in $RUNS_LOG and succeeds.
const OK_AGENT: &str = "#!/bin/sh\necho \"$ROBODEV_TICKET_ID $$\" >> \"$RUNS_LOG\"\necho '{\"success\": true, \"summary\": \"ok\"}' > \"$ROBODEV_RESULT_FILE\"\n";

fn starts(dir: &Path) -> Vec<(String, u32)> {
    std::fs::read_to_string(dir.join("runs.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (id, pid) = l.split_once(' ').unwrap();
            (id.to_owned(), pid.parse().unwrap())
        })
        .collect()
}

/// `robodev run --config CONFIG` as the daemon tests start it: compile cache under `dir`,
/// robodev's default log level, stdout dropped, stderr piped (for [`Log`]).
pub(crate) fn robodev_run(config: &Path, dir: &Path) -> Command {
    let mut command =
        crate::robodev_command(dir, &["run", "--config", &config.display().to_string()]);
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    command
}

/// Starts `command` ([`robodev_run`]): the process, killed when dropped, and its log.
pub(crate) fn start(command: &mut Command) -> (Running, Log) {
    let mut child = command.spawn().unwrap();
    let log = Log::of(&mut child);
    (Running(child), log)
}

#[test]
fn killing_robodev_mid_run_loses_no_ticket_and_runs_none_twice() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        TICKETS,
        AGENT,
        "guardrails: { max_concurrent_jobs: 3 }\n",
    );
    let config = config.display().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_robodev"))
        .args(["run", "--once", "--config", &config])
        .env("ROBODEV_CACHE_DIR", dir.path().join("cache"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until every agent has started, FAST-1 is recorded as done, and DONE-3 wrote its
    // result; then SIGKILL robodev while SLOW-2 and DONE-3 still run.
    let done_result = dir.path().join("state/workspaces/tr-DONE-3/result.json");
    let fast_run = dir.path().join("state/runs/local--FAST-1.json");
    let started = Instant::now();
    loop {
        let fast_settled = std::fs::read_to_string(&fast_run)
            .map(|t| t.contains("\"complete_notified\": true"))
            .unwrap_or(false);
        if starts(dir.path()).len() == 3 && done_result.exists() && fast_settled {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "agents did not start: {:?}",
            starts(dir.path())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The agents die with robodev (parent-death signal on their process group leader).
    for (id, pid) in starts(dir.path()) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while crate::plugins::alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            !crate::plugins::alive(pid),
            "agent of {id} outlived robodev"
        );
    }

    let out = robodev(dir.path(), &["run", "--once", "--config", &config]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}\n{}", stderr(&out));
    // No agent started again.
    let ids: Vec<String> = starts(dir.path()).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    for id in ["FAST-1", "SLOW-2", "DONE-3"] {
        assert_eq!(
            ids.iter().filter(|i| *i == id).count(),
            1,
            "{id} ran twice: {ids:?}"
        );
    }
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let lines: Vec<String> = text.lines().map(norm).collect();
    assert!(
        lines.contains(&"SLOW-2 Failed slow one interrupted: robodev stopped while the agent was running (attempt 1) and the agent left no result".to_owned()),
        "{text}"
    );
    assert!(
        lines.contains(&"DONE-3 Succeeded finishes then lingers done before the crash".to_owned()),
        "{text}"
    );
    assert!(
        !text.contains("FAST-1"),
        "FAST-1 was settled before the kill: {text}"
    );

    // Every ticket ended exactly once in the ticketing backend and the channel.
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("state/ticketing-local/state.json")).unwrap(),
    )
    .unwrap();
    let notes = std::fs::read_to_string(dir.path().join("state/notes.jsonl")).unwrap();
    for (id, status) in [
        ("FAST-1", "complete"),
        ("SLOW-2", "failed"),
        ("DONE-3", "complete"),
    ] {
        assert!(
            state.to_string().contains(&format!("\"{id}\"")),
            "{id} missing from {state}"
        );
        let completes = notes
            .lines()
            .filter(|l| l.contains("notify_complete") && l.contains(id))
            .count();
        assert_eq!(completes, 1, "{id}: {notes}");
        let _ = status;
    }

    // And a third run has nothing to do.
    let out = robodev(dir.path(), &["run", "--once", "--config", &config]);
    assert!(
        stdout(&out).starts_with("robodev: nothing to do"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_critical_plugin_that_is_refused_stops_robodev_without_running_it() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("executed");
    let plugin = dir.path().join("robodev-plugin-jira");
    std::fs::write(&plugin, format!("#!/bin/sh\ntouch {}\n", marker.display())).unwrap();
    let mut perms = std::fs::metadata(&plugin).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&plugin, perms).unwrap();
    let plugins = format!(
        "plugins:\n  - {{ name: jira, type: ticketing, interface_version: 2, command: {} }}\n",
        plugin.display()
    );
    // Not critical: a warning, and robodev runs on its other backends.
    let config = write_config(dir.path(), TICKETS, "#!/bin/sh\nexit 1\n", &plugins);
    let config = config.display().to_string();
    let out = robodev(dir.path(), &["run", "--once", "--config", &config]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "plugin did not load: refused to load plugin \"jira\": it declares ticketing interface version 2"
        ),
        "{}",
        stderr(&out)
    );
    assert!(!marker.exists(), "the plugin binary was executed");
    let listed = robodev(
        dir.path(),
        &["plugins", "list", "--json", "--config", &config],
    );
    assert_eq!(code(&listed), 4, "{}", stderr(&listed));
    let v = json_out(&listed);
    let jira = crate::plugin_row(&v, "jira");
    assert_eq!(jira["health"], "refused");
    assert_eq!(jira["error"]["declared"], 2);
    assert_eq!(jira["error"]["expected"], 1);

    // Critical: robodev exits 4 saying why.
    let critical = format!("{plugins}plugin_health: {{ critical_plugins: [jira] }}\n");
    let config = write_config(dir.path(), TICKETS, "#!/bin/sh\nexit 1\n", &critical);
    let out = robodev(
        dir.path(),
        &["run", "--once", "--config", &config.display().to_string()],
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "error: critical plugin \"jira\" did not load: refused to load plugin \"jira\": it declares ticketing interface version 2, but robodev implements ticketing version 1"
        ),
        "{}",
        stderr(&out)
    );
    assert!(!marker.exists(), "the plugin binary was executed");
}

#[test]
fn a_components_granted_secrets_resolve_through_the_configured_secrets_backend() {
    let dir = tempfile::tempdir().unwrap();
    let chaos = crate::guests::guest("chaos").display().to_string();
    let vault = crate::guests::guest("secrets_config").display().to_string();
    // The secrets backend is itself a plugin (a Wasm component serving secrets from its config).
    let config = dir.path().join("robodev-config.yaml");
    std::fs::write(
        &config,
        format!(
            "state_dir: state\n\
             plugins:\n\
             \x20 - {{ name: chaos, type: notifications, interface_version: 1, component: {chaos},\n\
             \x20     secrets: {{ token: app-token, missing: no-such-key }} }}\n\
             \x20 - {{ name: vault, type: secrets, interface_version: 1, component: {vault},\n\
             \x20     config: {{ secret.app-token: s3cret }} }}\n\
             secrets: {{ backend: vault }}\n\
             ticketing: {{ backend: local, config: {{ file: tickets.yaml }} }}\n\
             notifications: {{ channels: [ {{ backend: chaos }} ] }}\n\
             engines: {{ default: local, local: {{ command: [./agent.sh] }} }}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("tickets.yaml"), "[]").unwrap();
    let config = config.display().to_string();
    let call = |message: &str| {
        robodev(
            dir.path(),
            &[
                "plugin",
                "call",
                "notify",
                "--config",
                &config,
                "--plugin",
                "chaos",
                "--input",
                &format!(r#"{{"message":"secret:{message}"}}"#),
            ],
        )
    };
    let out = call("token");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Granted, but the backend has no such secret: the guest's not-found, a domain error.
    let out = call("missing");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("not_found"), "{}", stderr(&out));
    // Not granted at all.
    let out = call("app-token");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("permission_denied"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn pre_start_approval_waits_for_a_human_decision() {
    let dir = tempfile::tempdir().unwrap();
    let approvals = crate::guests::guest("approval_kv").display().to_string();
    let extra = format!(
        "plugins:\n\
         \x20 - {{ name: approvals, type: approval, interface_version: 1, component: {approvals}, kv: true }}\n\
         approval: {{ backend: approvals }}\n\
         guardrails: {{ require_approval_before_start: true }}\n"
    );
    let config = write_config(
        dir.path(),
        "- { id: A-1, title: approve me }\n- { id: A-2, title: reject me }\n",
        OK_AGENT,
        &extra,
    );
    let config = config.display().to_string();
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let out = robodev(dir.path(), &["run", "--once", "--config", &config]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = norm(&stdout(&out));
    assert!(
        text.contains("A-1 NeedsHuman approve me waiting for approval (tr-A-1-1)"),
        "{text}"
    );
    assert!(
        starts(dir.path()).is_empty(),
        "an agent ran before approval"
    );

    let out = robodev(dir.path(), &["task", "approve", "A-1", "--config", &config]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = robodev(
        dir.path(),
        &[
            "task", "reject", "A-2", "--note", "not now", "--config", &config,
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Deciding twice is an error naming the state.
    let out = robodev(dir.path(), &["task", "approve", "A-2", "--config", &config]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out).trim(),
        "error: the task run of ticket \"A-2\" is Failed, not waiting for approval"
    );

    let out = robodev(dir.path(), &["run", "--once", "--config", &config]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = norm(&stdout(&out));
    assert!(text.contains("A-1 Succeeded approve me ok"), "{text}");
    assert!(text.contains("A-2 Failed reject me rejected by"), "{text}");
    assert!(text.contains(": not now"), "{text}");
    let ids: Vec<String> = starts(dir.path()).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, vec!["A-1".to_owned()]);
}

#[test]
fn the_version_a_plugin_reports_itself_must_agree_with_the_declared_one() {
    let dir = tempfile::tempdir().unwrap();
    let scm_v1 = crate::guests::guest("scm_v1").display().to_string();
    let python = crate::plugins::python_plugin().display().to_string();
    // Each declares a version robodev serves, so the pre-spawn check passes; but the component
    // exports scm version 1 (served too, but not what its config declares) and the Python
    // plugin's Handshake answers ticketing version 2 (not served at all). Declared as what
    // it is, the old SCM plugin loads and lists its own major.
    let extra = format!(
        "plugins:\n\
         \x20 - {{ name: old-scm, type: scm, interface_version: 2, component: {scm_v1} }}\n\
         \x20 - {{ name: py, type: ticketing, interface_version: 1, command: {python},\n\
         \x20     env: {{ ROBODEV_TEST_INTERFACE_VERSION: \"2\" }} }}\n\
         \x20 - {{ name: old-scm-1, type: scm, interface_version: 1, component: {scm_v1} }}\n\
         scm: {{ backend: old-scm }}\n"
    );
    let config = write_config(dir.path(), TICKETS, "#!/bin/sh\nexit 1\n", &extra);
    let out = robodev(
        dir.path(),
        &[
            "plugins",
            "list",
            "--json",
            "--config",
            &config.display().to_string(),
        ],
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let v = json_out(&out);
    let find = |name: &str| crate::plugin_row(&v, name);
    let scm = find("old-scm");
    assert_eq!(scm["health"], "refused");
    assert_eq!(
        scm["error"]["message"],
        "refused to load plugin \"old-scm\": its config declares scm interface version 2, but the plugin implements version 1"
    );
    let old = find("old-scm-1");
    assert_eq!(old["health"], "serving", "{old}");
    assert_eq!(old["interfaceVersion"], 1);
    let py = find("py");
    assert_eq!(py["health"], "refused");
    assert_eq!(
        py["error"]["message"],
        "refused to load plugin \"py\": it declares ticketing interface version 2, but robodev implements ticketing version 1"
    );
    assert_eq!(find("local")["health"], "serving");
}

#[test]
fn run_keeps_polling_picks_up_new_tickets_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "- { id: L-1, title: first }\n",
        OK_AGENT,
        "poll_interval: 200ms\n",
    );
    let child = Command::new(env!("CARGO_BIN_EXE_robodev"))
        .args(["run", "--config", &config.display().to_string()])
        .env("ROBODEV_CACHE_DIR", dir.path().join("cache"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let settled = |id: &str| {
        std::fs::read_to_string(dir.path().join(format!("state/runs/local--{id}.json")))
            .map(|t| t.contains("\"complete_notified\": true"))
            .unwrap_or(false)
    };
    let wait_for = |id: &str| {
        let started = Instant::now();
        while !settled(id) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{id} never finished"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("L-1");
    // A ticket added while robodev runs is picked up by a later poll.
    std::fs::write(
        dir.path().join("tickets.yaml"),
        "- { id: L-1, title: first }\n- { id: L-2, title: second }\n",
    )
    .unwrap();
    wait_for("L-2");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ids: Vec<String> = starts(dir.path()).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, vec!["L-1".to_owned(), "L-2".to_owned()]);
}

/// A state directory that cannot take a run record for a while (full, or here: `runs` is a
/// file) pauses robodev, which says why and polls again, backing off; it neither exits nor
/// starts a ticket it cannot record, and carries on once the directory is usable. A ticket id
/// far longer than a file name can be (a tracker's ids are not robodev's to bound) is stored.
#[test]
fn a_state_directory_that_cannot_be_written_pauses_robodev_and_long_ids_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let long_id = format!("LONG-{}", "x".repeat(300));
    let config = write_config(
        dir.path(),
        &format!("- {{ id: P-1, title: first }}\n- {{ id: {long_id}, title: long }}\n"),
        OK_AGENT,
        "poll_interval: 100ms\n",
    );
    std::fs::create_dir(dir.path().join("state")).unwrap();
    std::fs::write(dir.path().join("state/runs"), "not a directory").unwrap();
    let (mut child, mut log) = start(&mut robodev_run(&config, dir.path()));
    let first = log.wait_for("next poll in 1 s", Duration::from_secs(60));
    assert!(first.contains("state/runs"), "{first}");
    log.wait_for("next poll in 2 s", Duration::from_secs(60));
    assert!(child.0.try_wait().unwrap().is_none(), "robodev exited");
    assert!(
        starts(dir.path()).is_empty(),
        "an agent ran without a record"
    );
    std::fs::remove_file(dir.path().join("state/runs")).unwrap();
    let started = Instant::now();
    let runs = dir.path().join("state/runs");
    let settled = || {
        std::fs::read_dir(&runs)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| {
                        std::fs::read_to_string(e.path())
                            .is_ok_and(|t| t.contains("\"complete_notified\": true"))
                    })
                    .count()
            })
            .unwrap_or(0)
    };
    while settled() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the tickets never finished after the state directory was usable again"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut ids: Vec<String> = starts(dir.path()).into_iter().map(|(id, _)| id).collect();
    ids.sort();
    assert_eq!(ids, vec![long_id, "P-1".to_owned()]);
    let killed = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.0.wait().unwrap().code(), Some(0));
}

/// A channel that crashes while being told a run's end is asked again once it is back (a
/// transient failure), and hears the outcome once.
#[test]
fn a_channel_that_crashes_mid_notice_is_told_again_once_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let console = crate::plugins::rust_plugin().with_file_name("notify_plugin");
    let out = d.join("out");
    std::fs::create_dir(&out).unwrap();
    let config = write_config(
        d,
        "- { id: N-1, title: told }\n",
        OK_AGENT,
        &format!(
            "plugins:\n\
             \x20 - {{ name: console, type: notifications, interface_version: 1, command: {}, \
             env: {{ ROBODEV_NOTIFY_FILE: {notes}, ROBODEV_NOTIFY_CRASH_ONCE: {marker} }}, \
             sandbox: {{ write: [{out}] }} }}\n\
             plugin_health: {{ max_plugin_restarts: 3, restart_backoff: [1] }}\n",
            console.display(),
            notes = out.join("notes.jsonl").display(),
            marker = out.join("crashed").display(),
            out = out.display(),
        ),
    );
    edit_config(
        &config,
        "channels: [ { backend: log, config: { file: state/notes.jsonl } } ]",
        "channels: [ { backend: console } ]",
    );
    let run = crate::robodev(
        d,
        &["run", "--once", "--config", &config.display().to_string()],
    );
    let log = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{log}");
    assert!(
        out.join("crashed").exists(),
        "the plugin never crashed:\n{log}"
    );
    assert!(
        log.contains("NotifyComplete failed") && log.contains("trying again in 1 s"),
        "{log}"
    );
    let notes = std::fs::read_to_string(out.join("notes.jsonl")).unwrap();
    let completes: Vec<&str> = notes
        .lines()
        .filter(|l| l.contains("notify_complete"))
        .collect();
    assert_eq!(completes.len(), 1, "{notes}");
    assert!(completes[0].contains("\"success\":true"), "{notes}");
}

/// A tracker that refuses a run's outcome for good (the ticket is gone: NOT_FOUND) is not asked
/// again at every pass: the refusal is logged once and kept in the run's record.
#[test]
fn an_outcome_the_tracker_refuses_for_good_is_not_asked_again() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let echo = crate::plugins::rust_plugin().with_file_name("echo_plugin");
    let config = write_config(
        d,
        "[]\n",
        OK_AGENT,
        &format!(
            "plugins:\n\
             \x20 - {{ name: echo, type: ticketing, interface_version: 1, command: {}, \
             env: {{ ROBODEV_TEST_INTERFACE: ticketing }} }}\n\
             guardrails: {{ allowed_repos: [\"git.example.com/acme/*\"] }}\n",
            echo.display()
        ),
    );
    edit_config(
        &config,
        "ticketing: { backend: local, config: { file: tickets.yaml } }",
        "ticketing: { backend: echo, labels: [missing-ticket], max_results: 1 }",
    );
    let config = config.display().to_string();
    let once = || crate::robodev(d, &["run", "--once", "--config", &config]);
    let first = once();
    let log = stderr(&first);
    assert_eq!(first.status.code(), Some(0), "{log}");
    assert_eq!(
        log.matches("echo refused the outcome; not asked again")
            .count(),
        1,
        "{log}"
    );
    let record = std::fs::read_to_string(d.join("state/runs/echo--missing.json")).unwrap();
    assert!(
        record.contains("\"report_refused\"") && record.contains("no ticket missing"),
        "{record}"
    );
    let second = once();
    let log = stderr(&second);
    assert_eq!(second.status.code(), Some(0), "{log}");
    assert!(!log.contains("refused the outcome"), "{log}");
    assert!(!log.contains("cannot report the outcome"), "{log}");
}

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn a_failed_attempt_is_retried_when_allowed_and_a_slow_agent_times_out() {
    let dir = tempfile::tempdir().unwrap();
    // FLAKY-1 fails its first attempt and succeeds on the second; SLOW-2 outlives its deadline.
    let agent = r#"#!/bin/sh
echo "$ROBODEV_TICKET_ID $$" >> "$RUNS_LOG"
case "$ROBODEV_TICKET_ID" in
FLAKY-1)
  if [ "$(grep -c FLAKY-1 "$RUNS_LOG")" = 1 ]; then echo "first try fails" >&2; exit 3; fi
  echo '{"success": true, "summary": "second try"}' > "$ROBODEV_RESULT_FILE" ;;
SLOW-2) exec sleep 30 ;;
esac
"#;
    let config = write_config(
        dir.path(),
        "- { id: FLAKY-1, title: flaky }\n- { id: SLOW-2, title: slow }\n",
        agent,
        "guardrails: { max_retries: 1 }\n",
    );
    // The deadline comes from the engine's timeout_seconds.
    edit_config(
        &config,
        "command: [./agent.sh]",
        "command: [./agent.sh], timeout_seconds: 1",
    );
    let config = config.display().to_string();
    let out = robodev(dir.path(), &["run", "--once", "--config", &config]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = norm(&stdout(&out));
    assert!(
        text.contains("FLAKY-1 Succeeded flaky second try"),
        "{text}"
    );
    assert!(
        text.contains(
            "SLOW-2 TimedOut slow the agent ran past its deadline of 1 s and was stopped"
        ),
        "{text}"
    );
    let ids: Vec<String> = starts(dir.path()).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids.iter().filter(|i| *i == "FLAKY-1").count(), 2, "{ids:?}");
    // A timed-out run is final: not retried.
    assert_eq!(ids.iter().filter(|i| *i == "SLOW-2").count(), 1, "{ids:?}");
    let listed = robodev(dir.path(), &["task", "list", "--json", "--config", &config]);
    let runs = json_out(&listed);
    let flaky = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ticket"]["id"] == "FLAKY-1")
        .unwrap();
    assert_eq!(flaky["attempts"], 2);
    let states: Vec<&str> = flaky["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["Queued", "Running", "Retrying", "Running", "Succeeded"],
        "{flaky}"
    );
    let note = flaky["history"][2]["note"].as_str().unwrap();
    assert!(
        note.starts_with("attempt 1 failed: the agent exited with code 3 and it wrote no result.json; last output: first try fails"),
        "{note}"
    );
}

#[test]
fn max_concurrent_jobs_bounds_how_many_agents_run_at_once() {
    // Each agent takes a lock directory: with one slot no two overlap, so all succeed.
    let exclusive = r#"#!/bin/sh
echo "$ROBODEV_TICKET_ID $$" >> "$RUNS_LOG"
mkdir "$RUNS_LOG.lock" || { echo '{"success": false, "summary": "overlapped"}' > "$ROBODEV_RESULT_FILE"; exit 0; }
sleep 0.2
rmdir "$RUNS_LOG.lock"
echo '{"success": true, "summary": "alone"}' > "$ROBODEV_RESULT_FILE"
"#;
    // Each agent waits to see the other one: only possible when both run at once.
    let rendezvous = r#"#!/bin/sh
echo "$ROBODEV_TICKET_ID $$" >> "$RUNS_LOG"
touch "$RUNS_LOG.$ROBODEV_TICKET_ID"
other=C-1; [ "$ROBODEV_TICKET_ID" = C-1 ] && other=C-2
i=0
while [ ! -e "$RUNS_LOG.$other" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
[ -e "$RUNS_LOG.$other" ] && ok=true || ok=false
echo "{\"success\": $ok, \"summary\": \"met $other: $ok\"}" > "$ROBODEV_RESULT_FILE"
"#;
    for (slots, agent, expect) in [(1, exclusive, "alone"), (2, rendezvous, "met")] {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(
            dir.path(),
            "- { id: C-1, title: one }\n- { id: C-2, title: two }\n- { id: C-3, title: three }\n",
            agent,
            &format!("guardrails: {{ max_concurrent_jobs: {slots} }}\n"),
        );
        let out = robodev(
            dir.path(),
            &["run", "--once", "--config", &config.display().to_string()],
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let text = norm(&stdout(&out));
        for id in ["C-1", "C-2"] {
            assert!(
                text.contains(&format!("{id} Succeeded")) && text.contains(expect),
                "slots {slots}: {text}"
            );
        }
    }
}

#[test]
fn the_agent_sees_its_spec_environment_not_robodevs() {
    let dir = tempfile::tempdir().unwrap();
    let agent = "#!/bin/sh\necho \"{\\\"success\\\": true, \\\"summary\\\": \\\"leak=${ROBODEV_TEST_LEAK:-none} runs=${RUNS_LOG:+set} path=${PATH:+set}\\\"}\" > \"$ROBODEV_RESULT_FILE\"\n";
    let config = write_config(dir.path(), "- { id: E-1, title: env }\n", agent, "");
    let out = Command::new(env!("CARGO_BIN_EXE_robodev"))
        .args(["run", "--once", "--config", &config.display().to_string()])
        .env("ROBODEV_CACHE_DIR", dir.path().join("cache"))
        .env("ROBODEV_TEST_LEAK", "robodev's secret")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        norm(&stdout(&out)).contains("E-1 Succeeded env leak=none runs=set path=set"),
        "{}",
        stdout(&out)
    );
}

/// A raw HTTP/1.1 request; the status line and the body.
fn http(addr: &str, request: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.lines().next().unwrap_or_default().to_owned();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// `robodev run` on a config with no tickets and the admin API on a free loopback port, its
/// token `t0ken` in a secrets file; stderr piped.
fn run_with_admin(dir: &Path) -> std::process::Child {
    let config = write_config(
        dir,
        "[]\n",
        "#!/bin/sh\nexit 1\n",
        "poll_interval: 200ms\n\
         secrets: { backend: file, config: { file: secrets.yaml } }\n\
         admin: { listen: \"127.0.0.1:0\", token_secret: admin-token }\n",
    );
    std::fs::write(dir.join("secrets.yaml"), "admin-token: t0ken\n").unwrap();
    robodev_run(&config, dir).spawn().unwrap()
}

#[test]
fn the_admin_api_of_a_running_controller_needs_its_token() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = run_with_admin(dir.path());
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("robodev ended before its admin API started")
            .unwrap();
        if let Some(rest) = line.split("admin API on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining robodev's log so it never blocks on a full pipe.
    let drain = std::thread::spawn(move || lines.count());
    let get = |path: &str, auth: &str| {
        http(
            &addr,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"),
        )
    };
    let (status, _) = get("/api/v1/plugins", "");
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    let (status, _) = get("/api/v1/plugins", "Authorization: Bearer wrong\r\n");
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    let (status, body) = get("/api/v1/plugins", "Authorization: Bearer t0ken\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert!(body.contains("\"ticketing\""), "{body}");
    // The loop's polls are counted.
    let started = Instant::now();
    loop {
        let (_, metrics) = get("/metrics", "");
        if metrics.contains("robodev_plugin_calls_total{plugin=\"local\",interface=\"ticketing\",runtime=\"builtin\",method=\"poll-ready-tickets\",outcome=\"ok\"}") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{metrics}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    drain.join().unwrap();
}

#[test]
fn a_running_controller_reloads_plugins_on_request_and_when_their_config_changes() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let gate = crate::guests::guest("review_rules").display().to_string();
    let extra = |threshold: u32| {
        format!(
            "poll_interval: 200ms\n\
             secrets: {{ backend: file, config: {{ file: secrets.yaml }} }}\n\
             admin: {{ listen: \"127.0.0.1:0\", token_secret: admin-token }}\n\
             plugins:\n\
             \x20 - {{ name: gate, type: review, interface_version: 1, component: {gate}, config: {{ threshold: {threshold} }} }}\n\
             review: {{ backend: gate }}\n"
        )
    };
    std::fs::write(dir.path().join("secrets.yaml"), "admin-token: t0ken\n").unwrap();
    let config = write_config(dir.path(), "[]\n", "#!/bin/sh\nexit 1\n", &extra(70));
    let mut child = robodev_run(&config, dir.path()).spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr_pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr_pipe)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let wait_for = |needle: &str| -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no log line with {needle:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    };
    let line = wait_for("admin API on http://");
    let addr = line
        .split("admin API on http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    // The admin API is up before the plugins have loaded (a plugin still loading answers
    // 503); the controller starts polling once the ones it uses, the gate among them, have.
    wait_for("robodev: polling");
    let post = |path: &str| {
        http(
            &addr,
            &format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0ken\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            ),
        )
    };
    let (status, body) = post("/api/v1/plugins/gate/rollback");
    assert_eq!(status, "HTTP/1.1 409 Conflict", "{body}");
    assert!(body.contains("no previous version"), "{body}");
    let (status, body) = post("/api/v1/plugins/gate/reload");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert!(
        body.contains("\"from\"") && body.contains("review-rules"),
        "{body}"
    );
    let (status, body) = post("/api/v1/plugins/gate/rollback");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");

    // Editing the plugin's entry reloads it by itself.
    std::fs::write(
        &config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("threshold: 70", "threshold: 80"),
    )
    .unwrap();
    wait_for("change detected: reloaded");
    // A broken edit is reported and changes nothing.
    std::fs::write(&config, "ticketing: [\n").unwrap();
    wait_for("plugins keep serving as they are");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    reader.join().unwrap();
}

/// robodev's stderr, line by line, on a channel (so the pipe never fills), and the address of
/// its admin API once it says where.
pub(crate) struct Log {
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Log {
    pub(crate) fn of(child: &mut std::process::Child) -> Log {
        use std::io::BufRead;
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        let pipe = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Log {
            lines,
            seen: Vec::new(),
            reader: Some(reader),
        }
    }

    /// The first line (from now) containing `needle`, waiting up to `within`.
    pub(crate) fn wait_for(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "no log line with {needle:?} within {within:?}; the log:\n{}",
                    self.seen.join("\n")
                )
            });
            self.seen.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// Every line, once robodev has ended.
    fn rest(mut self) -> Vec<String> {
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.seen.extend(self.lines.try_iter());
        self.seen
    }
}

/// A robodev that is killed if the test fails before it ends.
pub(crate) struct Running(pub(crate) std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The admin API's `HOST:PORT` from robodev's "admin API on http://..." line.
pub(crate) fn admin_addr(log: &mut Log) -> String {
    let line = log.wait_for("admin API on http://", Duration::from_secs(60));
    line.split("admin API on http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn get(addr: &str, path: &str, token: Option<&str>) -> (String, String) {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"),
    )
}

#[test]
fn wrong_admin_tokens_are_logged_without_the_token_then_counted_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = run_with_admin(dir.path());
    let mut log = Log::of(&mut child);
    let mut child = Running(child);
    let addr = admin_addr(&mut log);
    let guess = "Guessed-Token-0123456789";
    let statuses: Vec<String> = (0..15)
        .map(|_| get(&addr, "/api/v1/plugins", Some(guess)).0)
        .collect();
    let expected: Vec<&str> = std::iter::repeat_n("HTTP/1.1 401 Unauthorized", 10)
        .chain(std::iter::repeat_n("HTTP/1.1 429 Too Many Requests", 5))
        .collect();
    assert_eq!(statuses, expected);
    let (status, _) = get(&addr, "/metrics", None);
    assert_eq!(status, "HTTP/1.1 200 OK");

    // Stopping logs what was counted since.
    let killed = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.0.wait().unwrap().code(), Some(0));
    let lines = log.rest();
    let text = lines.join("\n");
    assert!(!text.contains(guess), "the token is in the log:\n{text}");
    let one_by_one: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("had a wrong bearer token"))
        .collect();
    assert_eq!(one_by_one.len(), 1, "{text}");
    assert!(one_by_one[0].contains("from 127.0.0.1"), "{text}");
    assert!(
        text.contains("10 wrong bearer tokens from 127.0.0.1 within 60 s: its /api/v1/ requests are refused (429)"),
        "{text}"
    );
    assert!(
        text.contains(
            "9 more wrong bearer token(s) from 127.0.0.1 and 5 request(s) from it refused (429)"
        ),
        "{text}"
    );
}

/// An OCI registry on 127.0.0.1 that answers every request with a manifest's headers at once
/// and then its body one byte a second (a registry behind a congested link). Counts requests.
fn slow_registry() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let counted = counted.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let headers = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 4096\r\n\r\n{";
                if stream.write_all(headers.as_bytes()).is_err() {
                    return;
                }
                // Until robodev hangs up.
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                    if stream.write_all(b" ").is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, requests)
}

#[test]
fn the_admin_api_and_fast_plugins_do_not_wait_for_a_plugin_from_a_slow_registry() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let (port, requests) = slow_registry();
    let gate = crate::guests::guest("review_rules").display().to_string();
    let slow = format!("oci://127.0.0.1:{port}/robodev/slow-notify:1.0.0");
    let config = write_config(
        dir.path(),
        "[]\n",
        "#!/bin/sh\nexit 1\n",
        &format!(
            "poll_interval: 200ms\n\
             secrets: {{ backend: file, config: {{ file: secrets.yaml }} }}\n\
             admin: {{ listen: \"127.0.0.1:0\", token_secret: admin-token }}\n\
             plugins:\n\
             \x20 - {{ name: gate, type: review, interface_version: 1, component: {gate} }}\n\
             \x20 - {{ name: slow, type: notifications, interface_version: 1, component: \"{slow}\" }}\n\
             review: {{ backend: gate }}\n"
        ),
    );
    // The controller notifies through the slow plugin too, so it waits for it.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("channels: [ {", "channels: [ { backend: slow }, {");
    std::fs::write(&config, text).unwrap();
    std::fs::write(dir.path().join("secrets.yaml"), "admin-token: t0ken\n").unwrap();
    let (mut child, mut log) = start(
        robodev_run(&config, dir.path()).env("ROBODEV_OCI_CACHE_DIR", dir.path().join("oci")),
    );
    // Before, the admin API started only once every plugin had loaded: with a manifest
    // arriving at one byte a second, not for over an hour.
    let addr = admin_addr(&mut log);
    log.wait_for(
        "waiting for plugin \"slow\" (notifications) to load before the controller starts",
        Duration::from_secs(60),
    );
    let started = Instant::now();
    let list = loop {
        let (status, body) = get(&addr, "/api/v1/plugins", Some("t0ken"));
        assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
        let list: serde_json::Value = serde_json::from_str(&body).unwrap();
        if crate::plugin_row(&list, "gate")["health"] == "serving" {
            break list;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the fast plugin never loaded: {list}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        requests.load(Ordering::SeqCst) >= 1,
        "the slow registry was asked"
    );
    let slow_row = crate::plugin_row(&list, "slow");
    assert_eq!(slow_row["health"], "loading", "{list}");
    assert_eq!(slow_row["source"], slow.as_str());
    assert_eq!(crate::plugin_row(&list, "gate")["runtime"], "wasm");
    assert_eq!(crate::plugin_row(&list, "local")["health"], "serving");
    let (status, metrics) = get(&addr, "/metrics", None);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        metrics.contains(r#"robodev_plugin_up{plugin="gate",interface="review",runtime="wasm"} 1"#),
        "{metrics}"
    );
    // A plugin still loading cannot be switched or reloaded yet.
    let (status, body) = http(
        &addr,
        "POST /api/v1/plugins/slow/toggle HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0ken\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable", "{body}");

    // robodev has not started polling: it waits for its notification channel.
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.0.try_wait().unwrap().is_none(), "robodev ended");
    // SIGTERM while it waits: a clean stop (the admin API closed, loads stopped), exit 0.
    let killed = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    let lines = log.rest();
    assert!(
        !lines.iter().any(|l| l.contains("polling local")),
        "{}",
        lines.join("\n")
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("stopped by a signal before the controller started")),
        "{}",
        lines.join("\n")
    );
}
