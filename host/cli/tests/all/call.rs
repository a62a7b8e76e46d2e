//! `robodev plugin call`: results, domain errors, failures and refusals, each with its exit code.

use serde_json::json;

use crate::{code, guest, json_out, robodev, stderr};

fn example(name: &str) -> String {
    crate::repo_root()
        .join("examples")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn poll_tickets_with_the_example_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = robodev(
        dir.path(),
        &[
            "plugin",
            "call",
            &guest("ticketing_kv"),
            "PollReadyTickets",
            "--plugin-config",
            &example("ticketing-kv.yaml"),
            "--input",
            r#"{"labels":["robodev"],"maxResults":10}"#,
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    let ids: Vec<&str> = v["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["PROJ-1", "PROJ-2"]);
    assert_eq!(v["tickets"][0]["ticketType"], "dependency_upgrade");

    // The kv store persists between invocations: mark one in progress, poll again. The input
    // uses the proto field's original name (`ticket_id`), which proto3 JSON parsers accept as
    // well as the JSON name (`ticketId`).
    let out = robodev(
        dir.path(),
        &[
            "plugin",
            "call",
            &guest("ticketing_kv"),
            "mark-in-progress",
            "--plugin-config",
            &example("ticketing-kv.yaml"),
            "--input",
            r#"{"ticket_id":"PROJ-1"}"#,
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_out(&out), json!({}));

    // `robodev plugin kv` shows what the plugin keeps: the state it just wrote.
    let out = robodev(
        dir.path(),
        &["plugin", "kv", "get", "ticketing_kv", "state/PROJ-1"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "in-progress");
    let out = robodev(
        dir.path(),
        &[
            "plugin",
            "kv",
            "list",
            "ticketing_kv",
            "--prefix",
            "state/",
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        json_out(&out)
            .as_array()
            .unwrap()
            .contains(&json!({ "key": "state/PROJ-1", "size": 11, "value": "in-progress" })),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = robodev(
        dir.path(),
        &["plugin", "kv", "get", "ticketing_kv", "state/NOPE"],
    );
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("has no key \"state/NOPE\""),
        "{}",
        stderr(&out)
    );
    // ROBODEV_STATE_DIR (set in robodev's image) does not stand in the way without --config.
    let out = crate::robodev_command(
        dir.path(),
        &["plugin", "kv", "get", "ticketing_kv", "state/PROJ-1"],
    )
    .env("ROBODEV_STATE_DIR", dir.path())
    .output()
    .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = robodev(dir.path(), &["plugin", "kv", "list", "nobody"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("plugin \"nobody\" has no key-value store in"),
        "{}",
        stderr(&out)
    );
    let out = robodev(
        dir.path(),
        &[
            "plugin",
            "call",
            &guest("ticketing_kv"),
            "poll-ready-tickets",
            "--plugin-config",
            &example("ticketing-kv.yaml"),
            "--input",
            r#"{"labels":["robodev"]}"#,
        ],
    );
    assert_eq!(json_out(&out)["tickets"].as_array().unwrap().len(), 1);
}

#[test]
fn every_example_guest_answers() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("secrets.yaml");
    std::fs::write(&cfg, "config:\n  secret.api: k-123\n").unwrap();
    let kv = dir.path().join("kv.yaml");
    std::fs::write(&kv, "kv: true\n").unwrap();
    let cases: [(&str, &str, &str, Option<&str>, serde_json::Value); 6] = [
        (
            "approval_kv",
            "RequestApproval",
            r#"{"question":"Merge?","taskRunId":"run-1","options":["yes","no"]}"#,
            Some(kv.to_str().unwrap()),
            json!({"requestId":"run-1-1"}),
        ),
        (
            "notify_webhook",
            "notify",
            r#"{"message":"hi","ticket":{"id":"T-1"}}"#,
            None,
            json!({}),
        ),
        (
            "secrets_config",
            "GetSecret",
            r#"{"key":"api"}"#,
            Some(cfg.to_str().unwrap()),
            json!({"value":"k-123"}),
        ),
        (
            "engine_basic",
            "build-prompt",
            r#"{"task":{"id":"t1","title":"Bump serde","description":"Update it."}}"#,
            None,
            serde_json::Value::Null,
        ),
        (
            "review_rules",
            "review-diff",
            r#"{"taskRunId":"r1","diff":"+++ b/a.rs\n@@ -1 +1 @@\n+x.unwrap();\n"}"#,
            None,
            serde_json::Value::Null,
        ),
        (
            "scm_kv",
            "get-diff",
            r#"{"repoUrl":"https://git.example/a","baseBranch":"main","branchName":"feature"}"#,
            None,
            serde_json::Value::Null,
        ),
    ];
    for (name, method, input, config, expected) in cases {
        let path = guest(name);
        let mut args = vec!["plugin", "call", &path, method, "--input", input];
        if let Some(c) = config {
            args.extend(["--plugin-config", c]);
        }
        let out = robodev(dir.path(), &args);
        assert_eq!(code(&out), 0, "{name}: {}", stderr(&out));
        let v = json_out(&out);
        match name {
            "engine_basic" => assert!(v["prompt"].as_str().unwrap().contains("Bump serde")),
            "review_rules" => {
                assert_eq!(v["reviewId"], "review-r1");
                assert_eq!(v["gateResult"]["score"], 95);
                assert_eq!(
                    v["gateResult"]["comments"][0]["severity"],
                    "SEVERITY_WARNING"
                );
            }
            "scm_kv" => assert!(v["diff"].as_str().unwrap().contains("feature")),
            _ => assert_eq!(v, expected, "{name}"),
        }
    }
}

/// Runs the chaos guest with `message` and extra arguments.
fn chaos(dir: &std::path::Path, message: &str, extra: &[&str]) -> std::process::Output {
    let input = json!({ "message": message }).to_string();
    let path = guest("chaos");
    let mut args = vec![
        "plugin", "call", &path, "notify", "--input", &input, "--json",
    ];
    args.extend_from_slice(extra);
    robodev(dir, &args)
}

#[test]
fn each_misbehaviour_has_its_own_error_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str], &str, &str); 6] = [
        (
            "loop",
            &["--timeout-ms", "100", "--fuel", "1000000000000"],
            "deadline_exceeded",
            "deadline of 100 ms",
        ),
        (
            "loop",
            &["--fuel", "1000000"],
            "out_of_fuel",
            "ran out of fuel",
        ),
        (
            "bomb",
            &["--memory-mb", "16"],
            "memory_limit",
            "memory limit of 16 MiB",
        ),
        ("overflow", &[], "stack_overflow", "overflowed its stack"),
        ("panic", &[], "panicked", "chaos asked to panic"),
        ("trap", &[], "trap", "trapped"),
    ];
    for (message, extra, kind, text) in cases {
        let out = chaos(dir.path(), message, extra);
        assert_eq!(code(&out), 3, "{message}: {}", stderr(&out));
        let err = &json_out(&out)["error"];
        assert_eq!(err["outcome"], "plugin_failed", "{message}");
        assert_eq!(err["kind"], kind, "{message}");
        assert_eq!(err["plugin"], "chaos");
        assert_eq!(err["interface"], "notifications");
        assert!(stderr(&out).contains(text), "{message}: {}", stderr(&out));
        // The next call succeeds.
        let ok = chaos(dir.path(), "hello", extra);
        assert_eq!(code(&ok), 0, "good call after {message}: {}", stderr(&ok));
    }
}

#[test]
fn domain_errors_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = chaos(dir.path(), "error:not-found", &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = &json_out(&out)["error"];
    assert_eq!(err["outcome"], "plugin_error");
    assert_eq!(err["kind"], "not_found");
    assert_eq!(err["grpcCode"], 5);
}

#[test]
fn refusals_exit_4_and_name_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("core.wasm");
    std::fs::write(&module, b"\0asm\x01\0\0\0").unwrap();
    let module = module.display().to_string();
    let (bad_import, future, chaos) = (guest("bad_import"), guest("future_major"), guest("chaos"));
    let cases: [(&[&str], &str); 4] = [
        (&[&bad_import, "notify"], "acme:backdoor/shell@1.0.0"),
        (
            &[&future, "notify"],
            "interface version 9 is not supported (this host implements version 1)",
        ),
        (
            &[&chaos, "notify", "--type", "ticketing"],
            "implements notifications, but was configured as ticketing",
        ),
        (&[&module, "notify"], "core WebAssembly module"),
    ];
    for (args, text) in cases {
        let out = robodev(dir.path(), &[&["plugin", "call"], args].concat());
        assert_eq!(code(&out), 4, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(text), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let chaos = guest("chaos");
    for (args, text) in [
        (
            vec!["plugin", "call", chaos.as_str(), "no-such-method"],
            "unknown method",
        ),
        (
            vec![
                "plugin",
                "call",
                chaos.as_str(),
                "notify",
                "--input",
                "{oops",
            ],
            "not valid JSON",
        ),
        (
            vec![
                "plugin",
                "call",
                chaos.as_str(),
                "notify",
                "--input",
                r#"{"mesage":"x"}"#,
            ],
            "mesage",
        ),
        (
            vec!["plugin", "call", "/nonexistent.wasm", "notify"],
            "/nonexistent.wasm",
        ),
        (
            vec![
                "plugin",
                "call",
                chaos.as_str(),
                "notify",
                "--plugin-config",
                "/nonexistent.yaml",
            ],
            "/nonexistent.yaml",
        ),
    ] {
        let out = robodev(dir.path(), &args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(text), "{args:?}: {}", stderr(&out));
    }
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "limits: { fuel: lots }\n").unwrap();
    let out = robodev(
        dir.path(),
        &[
            "plugin",
            "call",
            &chaos,
            "notify",
            "--plugin-config",
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("bad.yaml") && stderr(&out).contains("fuel"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn allowed_hosts_from_the_plugin_config() {
    // A real HTTP server on loopback; the chaos guest GETs it when granted.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("http.yaml");
    std::fs::write(&cfg, format!("allowed_hosts: [\"127.0.0.1:{port}\"]\n")).unwrap();
    let url = format!("http:http://127.0.0.1:{port}/ping");
    let out = chaos(
        dir.path(),
        &url,
        &["--plugin-config", cfg.to_str().unwrap()],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(server.join().unwrap().starts_with("GET /ping "));

    // Without the grant: a domain error (permission denied), not a failure.
    let out = chaos(dir.path(), &url, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(json_out(&out)["error"]["kind"], "permission_denied");
}

#[test]
fn the_plugin_config_is_a_robodev_config_entry() {
    // An entry as it stands in robodev-config.yaml's `plugins:` list, less `component:`.
    let dir = tempfile::tempdir().unwrap();
    let entry = dir.path().join("entry.yaml");
    std::fs::write(
        &entry,
        "name: tickets\ntype: ticketing\ninterface_version: 1\nkv: true\ninstance: { warm: 1 }\n\
         config: { tickets: [{ id: T-1, title: t, labels: [robodev] }] }\n",
    )
    .unwrap();
    let call = |extra: &[&str]| {
        let mut args = vec!["plugin", "call", "--plugin-config", entry.to_str().unwrap()];
        args.extend_from_slice(extra);
        robodev(dir.path(), &args)
    };
    let ticketing = guest("ticketing_kv");
    let out = call(&[
        &ticketing,
        "poll-ready-tickets",
        "--input",
        r#"{"labels":["robodev"]}"#,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_out(&out)["tickets"][0]["id"], "T-1");

    // `--type` and the file's `type` must agree.
    let out = call(&[&ticketing, "poll-ready-tickets", "--type", "review"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--type review disagrees with `type: ticketing`"),
        "{}",
        stderr(&out)
    );

    // The config file's messages: file, line, key, and a suggestion.
    std::fs::write(&entry, "kv: true\nallowed_host: [example.com]\n").unwrap();
    let out = call(&[&ticketing, "poll-ready-tickets"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            r#"entry.yaml:2: allowed_host: unknown key "allowed_host" (did you mean "allowed_hosts"?)"#
        ),
        "{}",
        stderr(&out)
    );
    // A subprocess plugin's key on a component is refused as in robodev-config.yaml.
    std::fs::write(&entry, "env: { A: b }\n").unwrap();
    let out = call(&[&ticketing, "poll-ready-tickets"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`env` only applies to subprocess plugins"),
        "{}",
        stderr(&out)
    );
}
