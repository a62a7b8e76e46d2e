//! `robodev plugin inspect`.

use crate::{code, guest, json_out, robodev, stderr};

#[test]
fn inspect_reports_interface_version_identity_and_capabilities() {
    let dir = tempfile::tempdir().unwrap();
    let out = robodev(
        dir.path(),
        &["plugin", "inspect", &guest("scm_kv"), "--json"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    assert_eq!(v["interface"], "scm");
    assert_eq!(v["interfaceVersion"], 2);
    assert_eq!(v["export"], "robodev:scm/backend@2.0.0");
    assert_eq!(v["name"], "scm-kv");
    assert_eq!(v["runtime"], "wasm");
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(v["size"].as_u64().unwrap() > 1000);
    assert_eq!(v["load"], "compiled");
    let caps: Vec<&str> = v["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(caps.contains(&"kv"), "{caps:?}");
    // Second run: from the compile cache.
    let again = json_out(&robodev(
        dir.path(),
        &["plugin", "inspect", &guest("scm_kv"), "--json"],
    ));
    assert_eq!(again["load"], "cached");
    assert_eq!(again["digest"], v["digest"]);

    let text = robodev(dir.path(), &["plugin", "inspect", &guest("notify_webhook")]);
    assert_eq!(code(&text), 0);
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.contains("notifications (interface version 1)"),
        "{text}"
    );
    assert!(text.contains("wasi:http/outgoing-handler"), "{text}");
}

#[test]
fn inspect_refuses_like_call() {
    let dir = tempfile::tempdir().unwrap();
    let out = robodev(
        dir.path(),
        &["plugin", "inspect", &guest("future_major"), "--json"],
    );
    assert_eq!(code(&out), 4);
    assert_eq!(json_out(&out)["error"]["outcome"], "refused");
    // An older major the host serves inspects as such.
    let out = robodev(
        dir.path(),
        &["plugin", "inspect", &guest("scm_v1"), "--json"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    assert_eq!(v["interface"], "scm");
    assert_eq!(v["interfaceVersion"], 1);
}

/// A component whose export names are right but one function's type is not (built from an
/// edited copy of the WIT): refused at load, exit 4, naming the function and the contract's
/// type; never called (before, the first call failed as a trap, exit 3).
#[test]
fn a_wrong_export_signature_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let bad = guest("bad_signature");
    for args in [
        vec!["plugin", "inspect", bad.as_str(), "--json"],
        vec![
            "plugin",
            "call",
            bad.as_str(),
            "notify",
            "--input",
            "{}",
            "--json",
        ],
    ] {
        let out = robodev(dir.path(), &args);
        assert_eq!(code(&out), 4, "{}", stderr(&out));
        let v = json_out(&out);
        assert_eq!(v["error"]["outcome"], "refused", "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(
                "function `notify` of its export robodev:notifications/channel@1.0.0 has the wrong type: it is func(message: u32, ticket: option<record {"
            ),
            "{message}"
        );
        assert!(
            message.ends_with(
                "robodev expects func(message: string, ticket: option<ticket>) -> result<_, plugin-error>"
            ),
            "{message}"
        );
    }
}

/// A file named `*.wasm` that is not WebAssembly is refused as such and never executed.
#[test]
fn a_wasm_file_that_is_not_wasm_is_never_executed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("executed");
    let fake = dir.path().join("plugin.wasm");
    std::fs::write(&fake, format!("#!/bin/sh\ntouch {}\n", marker.display())).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let fake = fake.display().to_string();
    for args in [
        vec!["plugin", "inspect", fake.as_str()],
        vec!["plugin", "call", fake.as_str(), "notify", "--input", "{}"],
    ] {
        let out = robodev(dir.path(), &args);
        assert_eq!(code(&out), 4, "{}", stderr(&out));
        assert!(
            stderr(&out).contains(
                "not a WebAssembly component: the file does not start with the WebAssembly magic number"
            ),
            "{}",
            stderr(&out)
        );
        assert!(!marker.exists(), "{args:?} executed the file");
    }
}

/// Component files have a size limit (default 256 MiB, `--max-component-mb`, a plugin's
/// `limits.component_mb`), checked before the file is read.
#[test]
fn a_component_over_the_size_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    // A real component padded past 1 MiB (a custom section's worth of bytes after it would
    // be parsed; a file over the limit is refused whatever it holds).
    let mut bytes = std::fs::read(guest("review_rules")).unwrap();
    bytes.resize(1024 * 1024 + 1, 0);
    let big = dir.path().join("big.wasm");
    std::fs::write(&big, &bytes).unwrap();
    let big = big.display().to_string();
    let out = robodev(
        dir.path(),
        &[
            "plugin",
            "inspect",
            &big,
            "--max-component-mb",
            "1",
            "--json",
        ],
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let message = json_out(&out)["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("the component is 1048577 bytes, over the limit of 1048576 bytes"),
        "{message}"
    );
    // Under the limit the size check passes (what follows is the component's own problem).
    let out = robodev(
        dir.path(),
        &[
            "plugin",
            "inspect",
            &guest("review_rules"),
            "--max-component-mb",
            "1",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // The same limit from a robodev-config.yaml plugin entry.
    let config = dir.path().join("robodev-config.yaml");
    std::fs::write(
        &config,
        format!(
            "plugins:\n  - {{ name: gate, type: review, interface_version: 1, component: {big}, limits: {{ component_mb: 1 }} }}\n\
             ticketing: {{ backend: local, config: {{ file: tickets.yaml }} }}\n\
             review: {{ backend: gate }}\n\
             engines: {{ default: local, local: {{ command: [./agent.sh] }} }}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("tickets.yaml"), "tickets: []\n").unwrap();
    let config = config.display().to_string();
    let out = robodev(
        dir.path(),
        &["plugins", "list", "--config", &config, "--json"],
    );
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(text.contains("over the limit of 1048576 bytes"), "{text}");
}

/// Loading a large component says so first (compiling one takes seconds): a plain line when
/// stderr is not a terminal, nothing with --json.
#[test]
fn a_large_component_is_announced_before_it_compiles() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(guest("review_rules")).unwrap();
    bytes.resize(4 * 1024 * 1024 + 7, 0);
    let big = dir.path().join("big.wasm");
    std::fs::write(&big, &bytes).unwrap();
    let big = big.display().to_string();
    let out = robodev(dir.path(), &["plugin", "inspect", &big]);
    assert!(
        stderr(&out).contains(&format!(
            "loading {big} (4.2 MB; compiling takes a while unless it is cached)"
        )),
        "{}",
        stderr(&out)
    );
    let out = robodev(dir.path(), &["plugin", "inspect", &big, "--json"]);
    assert!(
        !stderr(&out).contains("compiling takes a while"),
        "{}",
        stderr(&out)
    );
}
