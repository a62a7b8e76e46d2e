//! The admin API of a running `robodev run` against its OpenAPI description
//! (docs/admin-openapi.yaml), checked by schemathesis (scripts/admin-api-check): generated
//! requests, valid and not, with and without the token, across every route; every answer must
//! be one the description declares, none a server error. The API's load and abuse tests are
//! host/controller/tests/all/admin.rs.

use std::process::Command;
use std::time::Duration;

use crate::run::{admin_addr, robodev_run, start};

#[test]
fn the_admin_api_answers_as_its_openapi_description_says() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("secrets.yaml"), "admin-token: t0ken\n").unwrap();
    std::fs::write(d.join("tickets.yaml"), "tickets: []\n").unwrap();
    let gate = crate::guests::guest("review_rules");
    let console = crate::plugins::rust_plugin().with_file_name("notify_plugin");
    std::fs::write(
        d.join("robodev-config.yaml"),
        format!(
            "poll_interval: 1s\n\
             state_dir: state\n\
             secrets: {{ backend: file, config: {{ file: secrets.yaml }} }}\n\
             admin: {{ listen: \"127.0.0.1:0\", token_secret: admin-token }}\n\
             plugins:\n\
             \x20 - {{ name: gate, type: review, interface_version: 1, component: {} }}\n\
             \x20 - {{ name: console, type: notifications, interface_version: 1, command: {} }}\n\
             ticketing: {{ backend: local, config: {{ file: tickets.yaml }} }}\n\
             notifications: {{ channels: [ {{ backend: console }} ] }}\n\
             review: {{ backend: gate }}\n\
             engines: {{ default: local, local: {{ command: [./agent.sh] }} }}\n",
            gate.display(),
            console.display()
        ),
    )
    .unwrap();
    let (_running, mut log) = start(&mut robodev_run(&d.join("robodev-config.yaml"), d));
    let addr = admin_addr(&mut log);
    log.wait_for("robodev: polling", Duration::from_secs(60));
    let check =
        Command::new(robodev_test_support::repo::repo_root().join("scripts/admin-api-check"))
            .args([&format!("http://{addr}"), "t0ken"])
            .output()
            .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(report.contains("No issues found"), "{report}");
    assert!(report.contains("7 selected / 7 total"), "{report}");
}
