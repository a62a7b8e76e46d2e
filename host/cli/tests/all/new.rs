//! `robodev plugin new`: every combination it offers makes a project that builds with its one
//! command and passes the conformance kit untouched, recorded cases included; what it does not
//! offer is refused saying what it does.

use std::path::Path;
use std::process::Command;

use crate::{code, robodev, stderr};

/// The environment a build gets: caches under target/ (nothing in $HOME), Go on PATH.
fn build_env(command: &mut Command) {
    let repo = robodev_test_support::repo::repo_root();
    let tools = repo.join("target/tools");
    let path = std::env::var("PATH").unwrap_or_default();
    command
        .env("PATH", format!("/usr/local/go/bin:{path}"))
        .env("GOPATH", tools.join("gopath"))
        .env("GOMODCACHE", tools.join("gopath/pkg/mod"))
        .env("GOCACHE", tools.join("gocache"))
        .env("GOFLAGS", "-modcacherw")
        .env("GOTOOLCHAIN", "local")
        .env("npm_config_cache", tools.join("npm-cache"))
        // Rust projects share one target dir (the SDK and wit-bindgen are built once).
        .env("CARGO_TARGET_DIR", repo.join("target/tools/scaffold-rust"))
        .env("PIP_CACHE_DIR", tools.join("pip-cache"));
}

fn kit(dir: &Path, executable: &Path, cases: &Path, settings: Option<&Path>) -> serde_json::Value {
    let mut args = vec![
        "plugin",
        "test",
        executable.to_str().unwrap(),
        "--cases",
        cases.to_str().unwrap(),
        "--format",
        "json",
    ];
    if let Some(settings) = settings {
        args.extend(["--plugin-config", settings.to_str().unwrap()]);
    }
    let out = robodev(dir, &args);
    assert_eq!(
        code(&out),
        0,
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_offered_project_builds_with_one_command_and_passes_the_kit() {
    // The TypeScript build packs the SDK in the checkout: let the suite's own build of it finish
    // first, so the two never run npm there at once.
    let _ = robodev_test_support::plugins::ts_plugin();
    let sdk = robodev_test_support::repo::repo_root().join("sdk");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (lang, runtime, executable) in [
        ("python", "subprocess", ".venv/bin/{name}"),
        ("typescript", "subprocess", "dist/plugin.js"),
        ("go", "subprocess", "{name}"),
        ("rust", "subprocess", "{name}"),
        ("rust", "wasm", "{name}.wasm"),
        ("python", "wasm", "{name}.wasm"),
        ("typescript", "wasm", "{name}.wasm"),
    ] {
        // (interface, checks passed, checks skipped): SCM's contract leaves its methods to the
        // recorded cases.
        let mut interfaces = vec![("ticketing", 15, 0), ("notifications", 6, 0)];
        if (lang, runtime) == ("rust", "wasm") {
            interfaces.extend([
                ("approval", 7, 0),
                ("secrets", 7, 0),
                ("scm", 6, 7),
                ("review", 5, 0),
                ("engine", 5, 0),
            ]);
        }
        for (interface, checks, skipped) in interfaces {
            let name = format!("acme-{lang}-{runtime}-{interface}");
            let project = d.join(&name);
            let out = robodev(
                d,
                &[
                    "plugin",
                    "new",
                    &name,
                    "--type",
                    interface,
                    "--lang",
                    lang,
                    "--runtime",
                    runtime,
                    "--dir",
                    project.to_str().unwrap(),
                    "--sdk",
                    sdk.to_str().unwrap(),
                ],
            );
            assert_eq!(code(&out), 0, "{}", stderr(&out));
            assert!(project.join("README.md").is_file() && project.join("cases.yaml").is_file());

            let mut build = Command::new(project.join("build.sh"));
            build_env(&mut build);
            let built = build.output().unwrap();
            assert!(
                built.status.success(),
                "{name}: build.sh failed:\n{}\n{}",
                String::from_utf8_lossy(&built.stdout),
                String::from_utf8_lossy(&built.stderr)
            );
            let exe = project.join(executable.replace("{name}", &name));
            // A component's settings (kv granted) are in plugin.yaml.
            let settings = project.join("plugin.yaml");
            let report = kit(
                d,
                &exe,
                &project.join("cases.yaml"),
                settings.is_file().then_some(&*settings),
            );
            assert_eq!(report["failed"], 0, "{name}: {report:#}");
            assert_eq!(report["skipped"], skipped, "{name}: {report:#}");
            assert_eq!(report["passed"], checks, "{name}: {report:#}");
            assert_eq!(report["plugin"], exe.file_stem().unwrap().to_str().unwrap());

            if matches!(interface, "ticketing" | "notifications") {
                runs_in_robodev(&project, &name, interface, runtime, &exe);
            }
            if runtime == "subprocess" {
                loads_in_the_go_host(&name, interface, &exe);
            }
        }
    }
    the_other_interfaces_run_together_in_robodev(d);
}

/// The Rust components of the five other interfaces in one `robodev run --once`: the engine
/// plugin's spec runs the agent, the SCM plugin's diff goes to the review plugin's gate, and
/// the approval and secrets plugins load and handshake with the rest.
fn the_other_interfaces_run_together_in_robodev(d: &Path) {
    let component = |interface: &str| {
        d.join(format!(
            "acme-rust-wasm-{interface}/acme-rust-wasm-{interface}.wasm"
        ))
        .display()
        .to_string()
    };
    let run = d.join("together");
    std::fs::create_dir(&run).unwrap();
    agent(
        &run,
        r#"{\"success\": true, \"summary\": \"done\", \"branchName\": \"robodev/$ROBODEV_TICKET_ID\"}"#,
    );
    std::fs::write(
        run.join("tickets.yaml"),
        "tickets:\n  - { id: EX-1, title: An example, ticket_type: bug_fix, labels: [robodev], repo_url: \"https://git.example/acme/api\" }\n",
    )
    .unwrap();
    let config = run.join("robodev-config.yaml");
    std::fs::write(
        &config,
        format!(
            "state_dir: state\n\
             plugins:\n\
             \x20 - {{ name: approve, type: approval, interface_version: 1, component: {}, kv: true }}\n\
             \x20 - {{ name: vault, type: secrets, interface_version: 1, component: {}, config: {{ secret.example: x }} }}\n\
             \x20 - {{ name: forge, type: scm, interface_version: 2, component: {}, kv: true }}\n\
             \x20 - {{ name: gate, type: review, interface_version: 1, component: {}, kv: true }}\n\
             \x20 - {{ name: agent, type: engine, interface_version: 1, component: {}, config: {{ command: '[\"./agent.sh\"]' }} }}\n\
             ticketing: {{ backend: local, config: {{ file: tickets.yaml }}, labels: [robodev] }}\n\
             secrets: {{ backend: vault }}\n\
             scm: {{ backend: forge }}\n\
             review: {{ backend: gate, min_score: 70 }}\n\
             approval: {{ backend: approve }}\n\
             engines: {{ default: agent }}\n\
             guardrails: {{ allowed_task_types: [bug_fix] }}\n",
            component("approval"),
            component("secrets"),
            component("scm"),
            component("review"),
            component("engine"),
        ),
    )
    .unwrap();
    let (text, log) = run_once(&run, &config, "the five together");
    assert!(text.contains("branch robodev/EX-1"), "{text}\n{log}");
    // The gate reviewed the SCM plugin's diff of the agent's branch.
    assert!(log.contains("0 TODO(s), score 100 (passes at 70)"), "{log}");
}

/// `robodev run --once --config CONFIG` in `dir`, as `what`: it exits 0 having run ticket
/// EX-1 to `Succeeded` (and nothing to `Failed`), and every call it made was answered (a
/// refused NotifyStart, MarkInProgress, ... is a warning). Its stdout and stderr.
fn run_once(dir: &Path, config: &Path, what: &str) -> (String, String) {
    let out = crate::robodev_command(
        dir,
        &["run", "--once", "--config", config.to_str().unwrap()],
    )
    .output()
    .unwrap();
    let (text, log) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr(&out),
    );
    assert_eq!(code(&out), 0, "{what}: {text}\n{log}");
    assert!(
        text.contains("EX-1") && text.contains("Succeeded") && !text.contains("Failed"),
        "{what}: {text}\n{log}"
    );
    assert!(!log.contains("WARN"), "{what}: {log}");
    (text, log)
}

/// `dir/agent.sh`: an agent that writes `result` (shell-quoted JSON) as its result.
fn agent(dir: &Path, result: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("agent.sh");
    std::fs::write(
        &path,
        format!("#!/bin/sh\nset -eu\necho \"{result}\" >\"$ROBODEV_RESULT_FILE\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The project's plugin in `robodev run --once`: as the ticketing backend (its two example
/// tickets run), or as the only notification channel of a run of the built-in ticketing.
fn runs_in_robodev(project: &Path, name: &str, interface: &str, runtime: &str, exe: &Path) {
    agent(project, r#"{\"success\": true, \"summary\": \"done\"}"#);
    let source = if runtime == "wasm" {
        format!(
            "component: {}\n    kv: true\n    config: {{ project: EX }}",
            exe.display()
        )
    } else {
        format!("command: {}", exe.display())
    };
    let selection = if interface == "ticketing" {
        format!("ticketing: {{ backend: {name}, labels: [robodev] }}\n")
    } else {
        std::fs::write(
            project.join("tickets.yaml"),
            "tickets:\n  - { id: EX-1, title: An example, ticket_type: bug_fix, labels: [robodev] }\n",
        )
        .unwrap();
        format!(
            "ticketing: {{ backend: local, config: {{ file: tickets.yaml }}, labels: [robodev] }}\n\
             notifications: {{ channels: [ {{ backend: {name} }} ] }}\n"
        )
    };
    let config = project.join("robodev-config.yaml");
    std::fs::write(
        &config,
        format!(
            "state_dir: state\n\
             plugins:\n\
             \x20 - name: {name}\n\
             \x20   type: {interface}\n\
             \x20   interface_version: 1\n\
             \x20   {source}\n\
             {selection}\
             engines: {{ default: local, local: {{ command: [./agent.sh], timeout_seconds: 60 }} }}\n\
             guardrails: {{ allowed_task_types: [bug_fix, dependency_upgrade] }}\n"
        ),
    )
    .unwrap();
    run_once(project, &config, name);
}

/// A subprocess project's plugin in hashicorp/go-plugin's own client (v1.7.0).
fn loads_in_the_go_host(name: &str, interface: &str, exe: &Path) {
    use robodev_test_support::plugins::{GoPlugin, go_host_of};
    let out = Command::new(go_host_of(GoPlugin::Current))
        .env("ROBODEV_GO_HOST_LOG_LEVEL", "warn")
        .args([
            "-interface",
            interface,
            "-ticket",
            "EX-1",
            "-missing",
            "NOPE-1",
        ])
        .arg(exe)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} in the Go host: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["handshake"]["pluginName"], name, "{v}");
}

#[test]
fn what_it_does_not_offer_is_refused_saying_what_it_does() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sdk = robodev_test_support::repo::repo_root().join("sdk");
    let sdk = sdk.to_str().unwrap();
    let offered = "it offers --type ticketing or notifications with --runtime subprocess and --lang python, typescript, go or rust, or with --runtime wasm and --lang rust, python or typescript; and every --type (approval, secrets, scm, review, engine too) with --lang rust --runtime wasm";
    for (args, message) in [
        (
            vec!["x", "--type", "scm", "--lang", "go"],
            "has no scm subprocess template yet",
        ),
        (
            vec![
                "x",
                "--type",
                "review",
                "--lang",
                "python",
                "--runtime",
                "wasm",
            ],
            "has no review component template in Python yet",
        ),
        (
            vec![
                "x",
                "--type",
                "ticketing",
                "--lang",
                "go",
                "--runtime",
                "wasm",
            ],
            "WebAssembly component plugins in Go yet (they need TinyGo)",
        ),
    ] {
        let mut all = vec!["plugin", "new"];
        all.extend(args);
        all.extend(["--sdk", sdk]);
        let out = robodev(d, &all);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(
            stderr(&out).contains(message) && stderr(&out).contains(offered),
            "{}",
            stderr(&out)
        );
    }
    let out = robodev(
        d,
        &[
            "plugin",
            "new",
            "Bad_Name",
            "--type",
            "ticketing",
            "--lang",
            "go",
            "--sdk",
            sdk,
        ],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("is not a plugin name"),
        "{}",
        stderr(&out)
    );
    std::fs::create_dir(d.join("taken")).unwrap();
    std::fs::write(d.join("taken/file"), "x").unwrap();
    let out = robodev(
        d,
        &[
            "plugin",
            "new",
            "taken",
            "--type",
            "ticketing",
            "--lang",
            "go",
            "--sdk",
            sdk,
            "--dir",
            d.join("taken").to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("exists and is not empty"),
        "{}",
        stderr(&out)
    );
    let out = robodev(
        d,
        &[
            "plugin",
            "new",
            "x",
            "--type",
            "ticketing",
            "--lang",
            "go",
            "--sdk",
            d.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("not robodev's sdk/ directory"),
        "{}",
        stderr(&out)
    );
}
