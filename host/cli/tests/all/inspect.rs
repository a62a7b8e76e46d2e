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
        &["plugin", "inspect", &guest("scm_v1"), "--json"],
    );
    assert_eq!(code(&out), 4);
    assert_eq!(json_out(&out)["error"]["outcome"], "refused");
}
