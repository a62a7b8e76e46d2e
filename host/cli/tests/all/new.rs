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
        }
    }
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
