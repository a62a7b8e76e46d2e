//! `robodev plugin test`, the conformance kit: every example plugin passes it whatever its
//! language and runtime; a plugin that breaks a rule is failed with the rule named; recorded
//! cases run; reports come as JSON and JUnit XML.

use std::path::{Path, PathBuf};

use robodev_test_support::guests::guest;
use robodev_test_support::plugins::{
    GoPlugin, go_plugin_of, python_plugin, python_sdk_plugin, rust_plugin, ts_plugin,
};

use crate::{code, robodev_command, stderr};

fn kit(dir: &Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut all = vec!["plugin", "test", "--format", "json"];
    all.extend_from_slice(args);
    let out = robodev_command(dir, &all).output().unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        )
    });
    (code(&out), report, stderr(&out))
}

/// The names of the failed cases, each with its message.
fn failed(report: &serde_json::Value) -> Vec<(String, String)> {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| {
            (
                format!(
                    "{} [{}]",
                    c["name"].as_str().unwrap(),
                    c["method"].as_str().unwrap()
                ),
                c["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_example_plugin_passes_in_every_language_and_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let subprocess: Vec<PathBuf> = vec![
        rust_plugin(),
        go_plugin_of(GoPlugin::Current),
        go_plugin_of(GoPlugin::V1_0_1),
        python_plugin(),
        ts_plugin(),
    ];
    for plugin in &subprocess {
        let (status, report, log) = kit(d, &[plugin.to_str().unwrap()]);
        assert_eq!(
            status,
            0,
            "{}: {:?}\n{log}",
            plugin.display(),
            failed(&report)
        );
        assert_eq!(report["interface"], "ticketing");
        assert_eq!(report["runtime"], "subprocess");
        // Every method with valid input ran: nothing skipped.
        assert_eq!(report["skipped"], 0, "{report:#}");
        assert_eq!(report["passed"], 13, "{report:#}");
    }

    // Components, with the settings they need; fuel and memory are reported per call.
    let repo = robodev_test_support::repo::repo_root();
    std::fs::write(d.join("kv.yaml"), "kv: true\n").unwrap();
    let examples = repo.join("examples/ticketing-kv.yaml");
    let components: [(&str, Option<&Path>); 5] = [
        ("ticketing_kv", Some(&examples)),
        ("review_rules", Some(&d.join("kv.yaml"))),
        ("approval_kv", Some(&d.join("kv.yaml"))),
        ("engine_basic", None),
        ("secrets_config", None),
    ];
    for (name, settings) in components {
        let wasm = guest(name);
        let data = d.join(format!("kv-{name}"));
        let mut args = vec![wasm.to_str().unwrap(), "--data-dir", data.to_str().unwrap()];
        if let Some(s) = settings {
            args.extend(["--plugin-config", s.to_str().unwrap()]);
        }
        let (status, report, log) = kit(d, &args);
        assert_eq!(status, 0, "{name}: {:?}\n{log}", failed(&report));
        assert_eq!(report["runtime"], "component");
        let first = &report["cases"][1];
        assert!(first["fuel"].as_u64().unwrap() > 0, "{report:#}");
        assert!(first["memoryBytes"].as_u64().unwrap() > 0, "{report:#}");
    }
}

/// A plugin (Python, on the SDK) that breaks every rule the kit checks for ticketing.
const BROKEN: &str = r#"
from robodev_plugin_sdk import NotFound, TicketingBackend, serve
from robodev_plugin_sdk.proto import common_pb2, ticketing_pb2

class Broken(TicketingBackend):
    name = "broken"
    version = "1.0"                      # not semver

    def PollReadyTickets(self, request, context):
        # max_results ignored, and an id twice
        ids = ["A", "B", "A", "C", "D", "E", "F"]
        return ticketing_pb2.PollReadyTicketsResponse(tickets=[common_pb2.Ticket(id=i) for i in ids])

    def MarkInProgress(self, request, context):
        if request.ticket_id == "":
            raise NotFound("no ticket")      # bad input is not invalid_argument
        return ticketing_pb2.MarkInProgressResponse()   # an unknown ticket is "fine"

    def MarkComplete(self, request, context):
        return ticketing_pb2.MarkCompleteResponse()

    # MarkFailed and AddComment left out: UNIMPLEMENTED

serve(Broken())
"#;

#[test]
fn a_plugin_that_breaks_the_contract_fails_with_each_rule_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Apart from the data directory `plugin test` keeps here, which its sandbox may not read.
    let plugins = d.join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::write(plugins.join("broken.py"), BROKEN).unwrap();
    let plugin = python_sdk_plugin(&plugins.join("broken.py"), &plugins);
    let (status, report, log) = kit(d, &[plugin.to_str().unwrap()]);
    assert_eq!(status, 1, "{report:#}\n{log}");
    let failed = failed(&report);
    let names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
    for rule in [
        "names itself with a semver version [handshake]",
        "polls at most max_results tickets, each with a unique id [poll-ready-tickets]",
        "honours max_results 1 [poll-ready-tickets]",
        "an unknown ticket id is not_found [mark-in-progress]",
        "an unknown ticket id is not_found [mark-complete]",
        "an unknown ticket id is not_found [mark-failed]",
        "an unknown ticket id is not_found [add-comment]",
        "an empty ticket id is invalid_argument [mark-in-progress]",
        "comments on a polled ticket [add-comment]",
        "marks it failed [mark-failed]",
    ] {
        assert!(names.contains(&rule), "{rule} not failed: {names:#?}");
    }
    let message = |rule: &str| {
        failed
            .iter()
            .find(|(n, _)| n == rule)
            .map(|(_, m)| m.clone())
            .unwrap()
    };
    assert!(
        message("names itself with a semver version [handshake]").contains("\"1.0\" is not semver")
    );
    assert!(
        message("an empty ticket id is invalid_argument [mark-in-progress]")
            .contains("expected the error invalid_argument, got not_found")
    );
    assert!(message("marks it failed [mark-failed]").contains("unimplemented"));
    // What it did right passes.
    assert!(!names.contains(&"marks a polled ticket in progress [mark-in-progress]"));
}

#[test]
fn recorded_cases_run_and_reports_come_as_junit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("cases.yaml"),
        "cases:\n\
         \x20 - name: T-1 is the login bug\n\
         \x20   method: PollReadyTickets\n\
         \x20   input: { labels: [backend], maxResults: 1 }\n\
         \x20   output: { tickets: [ { id: T-1, title: Fix login bug } ] }\n\
         \x20 - name: a comment on T-9 is not_found\n\
         \x20   method: add-comment\n\
         \x20   input: { ticketId: T-9, comment: hi }\n\
         \x20   error: not_found\n\
         \x20 - name: T-3 is the login bug (it is not)\n\
         \x20   method: poll-ready-tickets\n\
         \x20   input: { labels: [backend], maxResults: 5 }\n\
         \x20   output: { tickets: [ { id: T-3 }, { id: T-1 } ] }\n",
    )
    .unwrap();
    let report_file = d.join("report.xml");
    let out = robodev_command(
        d,
        &[
            "plugin",
            "test",
            rust_plugin().to_str().unwrap(),
            "--cases",
            d.join("cases.yaml").to_str().unwrap(),
            "--format",
            "junit",
            "--output",
            report_file.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let xml = std::fs::read_to_string(&report_file).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains(r#"tests="16" failures="1""#), "{xml}");
    assert!(
        xml.contains(r#"name="recorded: T-3 is the login bug (it is not) [poll-ready-tickets]""#)
            && xml.contains("response.tickets[0].id is &quot;T-1&quot;, expected &quot;T-3&quot;"),
        "{xml}"
    );
    // The verdict is printed where the command ran.
    let log = stderr(&out);
    assert!(
        log.contains("PASS recorded: T-1 is the login bug")
            && log.contains("PASS recorded: a comment on T-9 is not_found")
            && log.contains("FAIL recorded: T-3"),
        "{log}"
    );

    // A malformed cases file is a usage error naming the file.
    std::fs::write(d.join("bad.yaml"), "- name: x\n  metod: y\n").unwrap();
    let out = robodev_command(
        d,
        &[
            "plugin",
            "test",
            rust_plugin().to_str().unwrap(),
            "--cases",
            d.join("bad.yaml").to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("bad.yaml"), "{}", stderr(&out));
}

#[test]
fn a_plugin_that_does_not_load_fails_the_kit_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Claims interface version 2 of ticketing, which robodev does not serve.
    let (status, report, _) = kit(
        d,
        &[
            python_plugin().to_str().unwrap(),
            "--env",
            "ROBODEV_TEST_INTERFACE_VERSION=2",
            "--type",
            "ticketing",
        ],
    );
    assert_eq!(status, 1);
    let failed = failed(&report);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, "loads and answers its handshake [handshake]");
    assert!(failed[0].1.contains("version"), "{failed:?}");
}
