//! `require_signatures`: components and subprocess binaries are verified (cosign format)
//! before they are compiled or spawned; `robodev plugin sign|verify`.

use std::path::Path;

use robodev_test_support::openssl::KeyPair;

use crate::{code, json_out, robodev, stderr};

fn row(out: &std::process::Output, name: &str) -> serde_json::Value {
    crate::plugin_row(&json_out(out), name)
}

#[test]
fn only_plugins_signed_by_a_trusted_key_load_when_signatures_are_required() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let KeyPair {
        private: trusted_key,
        public: trusted_pub,
    } = KeyPair::generate(d, "trusted");
    let other_key = KeyPair::generate(d, "other").private;
    // Copies, so each gets its own .sig.
    let gate = d.join("gate.wasm");
    std::fs::copy(crate::guests::guest("review_rules"), &gate).unwrap();
    let notify = d.join("notify_plugin");
    std::fs::copy(
        crate::plugins::rust_plugin().with_file_name("notify_plugin"),
        &notify,
    )
    .unwrap();
    let marker = d.join("executed");
    let unsigned = d.join("robodev-plugin-unsigned");
    std::fs::write(
        &unsigned,
        format!("#!/bin/sh\ntouch {}\n", marker.display()),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&unsigned).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&unsigned, perms).unwrap();

    let sign = |file: &Path, key: &Path| {
        robodev(
            d,
            &[
                "plugin",
                "sign",
                &file.display().to_string(),
                "--key",
                &key.display().to_string(),
            ],
        )
    };
    let out = sign(&gate, &trusted_key);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(d.join("gate.wasm.sig").exists());
    let out = sign(&notify, &other_key);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let verify = |file: &Path| {
        robodev(
            d,
            &[
                "plugin",
                "verify",
                &file.display().to_string(),
                "--key",
                &trusted_pub.display().to_string(),
            ],
        )
    };
    let out = verify(&gate);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with(&format!("verified {}: signed by", gate.display()))
    );
    let out = verify(&notify);
    assert_eq!(code(&out), 4, "{}", stderr(&out));

    std::fs::write(d.join("tickets.yaml"), "[]").unwrap();
    let config = d.join("robodev-config.yaml");
    std::fs::write(
        &config,
        format!(
            "state_dir: state\n\
             require_signatures: true\n\
             trusted_keys: [trusted.pub]\n\
             plugins:\n\
             \x20 - {{ name: gate, type: review, interface_version: 1, component: gate.wasm }}\n\
             \x20 - {{ name: console, type: notifications, interface_version: 1, command: {} }}\n\
             \x20 - {{ name: unsigned, type: ticketing, interface_version: 1, command: {} }}\n\
             ticketing: {{ backend: local, config: {{ file: tickets.yaml }} }}\n\
             engines: {{ default: local, local: {{ command: [./agent.sh] }} }}\n",
            notify.display(),
            unsigned.display()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let out = robodev(d, &["plugins", "list", "--json", "--config", &config]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert_eq!(row(&out, "gate")["health"], "serving");
    let console = row(&out, "console");
    assert_eq!(console["health"], "refused");
    let message = console["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("refused to load plugin \"console\": signature check failed:"),
        "{message}"
    );
    let unsigned_row = row(&out, "unsigned");
    assert_eq!(unsigned_row["health"], "refused");
    let message = unsigned_row["error"]["message"].as_str().unwrap();
    assert!(message.contains("robodev-plugin-unsigned.sig"), "{message}");
    assert!(!marker.exists(), "an unsigned plugin binary was executed");

    // Signed by the trusted key, the subprocess plugin loads too.
    let out = sign(&notify, &trusted_key);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = robodev(d, &["plugins", "list", "--json", "--config", &config]);
    assert_eq!(
        row(&out, "console")["health"],
        "serving",
        "{}",
        stderr(&out)
    );
}
