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
        for (interface, checks) in [("ticketing", 15), ("notifications", 6)] {
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
            assert_eq!(report["skipped"], 0, "{name}: {report:#}");
            assert_eq!(report["passed"], checks, "{name}: {report:#}");
            assert_eq!(report["plugin"], exe.file_stem().unwrap().to_str().unwrap());

            runs_in_robodev(&project, &name, interface, runtime, &exe);
            if runtime == "subprocess" {
                loads_in_the_go_host(&name, interface, &exe);
            }
        }
    }
}

/// The project's plugin in `robodev run --once`: as the ticketing backend (its two example
/// tickets run), or as the only notification channel of a run of the built-in ticketing.
fn runs_in_robodev(project: &Path, name: &str, interface: &str, runtime: &str, exe: &Path) {
    std::fs::write(
        project.join("agent.sh"),
        "#!/bin/sh\nset -eu\necho '{\"success\": true, \"summary\": \"done\"}' >\"$ROBODEV_RESULT_FILE\"\n",
    )
    .unwrap();
    Command::new("chmod")
        .args(["+x", project.join("agent.sh").to_str().unwrap()])
        .status()
        .unwrap();
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
    let out = crate::robodev_command(
        project,
        &["run", "--once", "--config", config.to_str().unwrap()],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 0, "{name}: {text}\n{}", stderr(&out));
    assert!(
        text.contains("EX-1") && text.contains("Succeeded") && !text.contains("Failed"),
        "{name}: {text}\n{}",
        stderr(&out)
    );
    // Every call the run made was answered (a refused NotifyStart, MarkInProgress, ... is a
    // warning).
    assert!(!stderr(&out).contains("WARN"), "{name}: {}", stderr(&out));
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
    let offered = "it offers --runtime subprocess with --lang python, typescript, go or rust, and --runtime wasm with --lang rust, python or typescript, for --type ticketing or notifications";
    for (args, message) in [
        (
            vec!["x", "--type", "scm", "--lang", "go"],
            "has no scm template yet",
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
            "WebAssembly component plugins in Go yet",
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
