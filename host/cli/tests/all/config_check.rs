//! `robodev config check`: the summary of a valid file, the one-line error of an invalid one,
//! and a plugin refused before anything of it runs.

use std::path::{Path, PathBuf};

use crate::{code, json_out, robodev, stderr};

/// Writes `text` as `dir/robodev-config.yaml`.
fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("robodev-config.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `robodev config check --config PATH` plus `extra` arguments.
fn check(dir: &Path, path: &Path, extra: &[&str]) -> std::process::Output {
    let path = path.display().to_string();
    let mut args = vec!["config", "check", "--config", path.as_str()];
    args.extend_from_slice(extra);
    robodev(dir, &args)
}

#[test]
fn a_valid_config_prints_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "\
plugins:
  - name: jira
    type: ticketing
    interface_version: 1
    command: ./bin/robodev-plugin-jira
  - name: slack
    type: notifications
    interface_version: 1
    component: plugins/slack.wasm
ticketing: { backend: jira }
notifications:
  channels:
    - backend: log
    - backend: slack
review: { backend: rules }
engines: { local: { command: [agent, --print] } }
",
    );
    let out = check(dir.path(), &path, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let d = dir.path().display();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "\
{d}/robodev-config.yaml: ok
  plugins:        2 (1 component, 1 subprocess)
  ticketing:      jira (plugin)
  notifications:  log (built-in), slack (plugin)
  secrets:        env (built-in)
  engine:         local (built-in)
  review:         rules (built-in)
  state_dir:      {d}/.robodev
"
        )
    );

    let out = check(dir.path(), &path, &["--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["plugins"][1]["name"], "slack");
    assert_eq!(v["plugins"][1]["runtime"], "component");
    assert_eq!(v["ticketing"]["backend"], "jira");
    assert_eq!(v["engine"]["config"]["command"][1], "--print");
}

#[test]
fn an_invalid_config_prints_one_error_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "\
plugins:
  - name: jira
    type: ticketing
    interface_version: one
    command: jira
tiketing: { backend: jira }
",
    );
    let out = check(dir.path(), &path, &[]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        format!(
            "error: {}:4: plugins[0].interface_version: expected an integer, found \"one\"\n",
            path.display()
        )
    );
    assert!(out.stdout.is_empty());

    std::fs::write(&path, "tiketing: { backend: local }\n").unwrap();
    let out = check(dir.path(), &path, &["--json"]);
    assert_eq!(code(&out), 2);
    let v = json_out(&out);
    assert_eq!(v["ok"], false);
    let e = &v["errors"][0];
    assert_eq!(e["key"], "tiketing");
    assert_eq!(e["line"], 1);
    assert_eq!(e["suggestion"], "ticketing");
    assert_eq!(
        e["message"],
        format!(
            "{}:1: tiketing: unknown key \"tiketing\" (did you mean \"ticketing\"?)",
            path.display()
        )
    );

    // ROBODEV_CONFIG names the file when --config does not.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_robodev"))
        .args(["config", "check"])
        .env("ROBODEV_CONFIG", dir.path().join("missing.yaml"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        format!(
            "error: {}: cannot read the config file: No such file or directory (os error 2)\n",
            dir.path().join("missing.yaml").display()
        )
    );
}

#[cfg(unix)]
#[test]
fn a_version_mismatch_is_refused_before_the_plugin_runs() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("executed");
    let plugin = dir.path().join("robodev-plugin-jira");
    std::fs::write(
        &plugin,
        format!("#!/bin/sh\ntouch '{}'\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = write_config(
        dir.path(),
        "\
plugins:
  - name: jira
    type: ticketing
    interface_version: 2
    command: ./robodev-plugin-jira
ticketing: { backend: jira }
engines: { local: { command: [agent] } }
",
    );
    let out = check(dir.path(), &path, &[]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "error: refused to load plugin \"jira\": it declares ticketing interface version 2, but robodev implements ticketing version 1\n"
    );
    assert!(out.stdout.is_empty());
    assert!(!marker.exists(), "config check ran the plugin");

    let out = check(dir.path(), &path, &["--json"]);
    assert_eq!(code(&out), 4);
    let e = &json_out(&out)["errors"][0];
    assert_eq!(e["outcome"], "refused");
    assert_eq!(e["plugin"], "jira");
    assert_eq!(
        (e["declared"].as_u64(), e["expected"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(!marker.exists(), "config check ran the plugin");
}

/// Durations are read as Go's `time.ParseDuration` reads them, as RoboDev's Go config does.
#[test]
fn go_durations_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let engines = "engines: { default: local, local: { command: [./agent.sh] } }\n";
    let path = write_config(
        dir.path(),
        &format!(
            "poll_interval: 1m30s\nticketing: {{ backend: local, config: {{ file: t.yaml }} }}\n{engines}"
        ),
    );
    let out = check(dir.path(), &path, &["--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let path = write_config(
        dir.path(),
        &format!(
            "poll_interval: 1m30x\nticketing: {{ backend: local, config: {{ file: t.yaml }} }}\n{engines}"
        ),
    );
    let out = check(dir.path(), &path, &[]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("robodev-config.yaml:1: poll_interval: expected a duration"),
        "{}",
        stderr(&out)
    );
}

/// Shell completions and the man page come from the same clap definition as `--help`.
#[test]
fn completions_and_the_man_page_cover_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = robodev(dir.path(), &["completions", "bash"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("complete -F _robodev"), "{script}");
    for word in ["inspect", "pull", "approve", "--config"] {
        assert!(
            script.contains(word),
            "{word} missing from the bash completions"
        );
    }
    let out = robodev(dir.path(), &["completions", "nushell"]);
    assert_eq!(code(&out), 2, "an unknown shell is a usage error");
    let out = robodev(dir.path(), &["man"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH robodev 1"), "{page}");
    for command in ["robodev\\-run", "robodev\\-plugin", "robodev\\-config"] {
        assert!(page.contains(command), "{command} missing from:\n{page}");
    }
}
