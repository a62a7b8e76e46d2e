//! Every interface end to end across a real process: the echo plugin
//! (`examples/echo_plugin.rs`, served by `robodev_grpc::serve_with`) is launched once per
//! interface and every method is called through the host's adapter with `call_json`, so each
//! request goes core JSON → core type → protobuf → wire → protobuf → core type in the plugin,
//! and each answer all the way back.
//!
//! Per method, three calls with a request whose every field is set (nested messages, maps,
//! repeated fields, `Ticket.raw` with nested JSON, int64 values beyond 2^53 as strings):
//! - the request as is: the exact response JSON, derived by the plugin from the request;
//! - its id set to `echo`: ABORTED carrying the proto3 JSON of the request as the plugin got
//!   it, which must equal what was sent (this is how methods with empty responses are checked);
//! - its id set to `missing`: NOT_FOUND with the plugin's message.
//!
//! Then the plugin is launched again without a configured interface, to check the host finds
//! it by probing each service's `Handshake`.

use std::path::{Path, PathBuf};

use robodev_core::{Error, ErrorCode, Interface, PluginInfo};
use robodev_grpc::{Health, SubprocessPlugin};
use serde_json::{Value, json};

use crate::support;

const REPO: &str = "https://git.example.com/acme/app.git";
const PR: &str = "https://git.example.com/acme/app/pull/142";

/// The echo example plugin (built by `cargo build --examples` / `cargo test`).
fn echo_plugin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/all-HASH -> target/debug/examples/echo_plugin
    let path = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples/echo_plugin");
    assert!(
        path.exists(),
        "{} was not built (cargo build -p robodev-grpc --examples)",
        path.display()
    );
    path
}

/// Launches the echo plugin serving `interface`; `configured` is what the host is told.
async fn launch(interface: Interface, configured: Option<Interface>) -> SubprocessPlugin {
    let mut config = support::config(&format!("echo-{interface}"), &echo_plugin());
    config.interface = configured;
    config
        .env
        .push(("ROBODEV_TEST_INTERFACE".into(), interface.name().into()));
    SubprocessPlugin::launch(config)
        .await
        .unwrap_or_else(|e| panic!("launching the {interface} echo plugin: {e}"))
}

/// One call: `request` to `rpc` must answer `response`; with the string at `id` (a JSON
/// pointer into the request) replaced, `echo` and `missing` are the sentinel errors, the
/// latter with message `no <what> missing`.
struct Case {
    rpc: &'static str,
    request: Value,
    response: Value,
    id: &'static str,
    what: &'static str,
}

fn case(
    rpc: &'static str,
    id: &'static str,
    what: &'static str,
    request: Value,
    response: Value,
) -> Case {
    Case {
        rpc,
        request,
        response,
        id,
        what,
    }
}

fn with_id(request: &Value, pointer: &str, id: &str) -> Value {
    let mut changed = request.clone();
    let slot = changed
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in {request}"));
    assert!(slot.is_string(), "{pointer} is not a string id");
    *slot = json!(id);
    changed
}

/// Calls every case against a freshly launched plugin, then checks probing.
async fn check_interface(interface: Interface, cases: Vec<Case>) {
    let name = format!("echo-{interface}");
    let methods = interface.methods();
    for m in &methods[1..] {
        assert!(
            cases.iter().any(|c| c.rpc == m.rpc),
            "{interface}: no case for {}",
            m.rpc
        );
    }

    let plugin = launch(interface, Some(interface)).await;
    assert_eq!(plugin.interface(), interface);
    assert_eq!(plugin.health(), Health::Serving);
    let info = PluginInfo {
        name: name.clone(),
        version: "0.1.0".into(),
    };
    assert_eq!(plugin.info(), info);
    let backend = plugin.backend();
    assert_eq!(backend.interface(), interface);
    assert_eq!(backend.handshake().await.unwrap(), info);
    assert_eq!(
        backend
            .call_json(&name, "Handshake", Value::Null)
            .await
            .unwrap(),
        json!({"name": name, "version": "0.1.0"})
    );

    for case in &cases {
        let rpc = case.rpc;
        let wit = interface.method(rpc).unwrap().wit;
        let got = backend
            .call_json(&name, rpc, case.request.clone())
            .await
            .unwrap_or_else(|e| panic!("{interface} {rpc}: {e}"));
        assert_eq!(got, case.response, "{interface} {rpc}: response");

        // The request as the plugin received it, by the method's WIT name this time.
        let echo = with_id(&case.request, case.id, "echo");
        match backend.call_json(&name, wit, echo.clone()).await {
            Err(Error::Plugin {
                plugin,
                interface: i,
                error,
            }) => {
                assert_eq!((plugin.as_str(), i), (name.as_str(), interface));
                assert_eq!(error.code, ErrorCode::Aborted, "{interface} {rpc}: {error}");
                let received: Value = serde_json::from_str(&error.message)
                    .unwrap_or_else(|e| panic!("{interface} {rpc}: {e}: {}", error.message));
                assert_eq!(received, echo, "{interface} {rpc}: request as received");
            }
            other => panic!("{interface} {rpc}: expected the echo error, got {other:?}"),
        }

        let missing = with_id(&case.request, case.id, "missing");
        match backend.call_json(&name, rpc, missing).await {
            Err(Error::Plugin {
                plugin,
                interface: i,
                error,
            }) => {
                assert_eq!((plugin.as_str(), i), (name.as_str(), interface));
                assert_eq!(
                    error.code,
                    ErrorCode::NotFound,
                    "{interface} {rpc}: {error}"
                );
                assert_eq!(error.message, format!("no {} missing", case.what));
            }
            other => panic!("{interface} {rpc}: expected NOT_FOUND, got {other:?}"),
        }
    }
    plugin.ping().await.unwrap();
    plugin.shutdown().await;
    assert_eq!(plugin.health(), Health::Stopped);

    // Not told which interface: the host asks each service's Handshake in turn.
    let plugin = launch(interface, None).await;
    assert_eq!(plugin.interface(), interface);
    assert_eq!(plugin.backend().interface(), interface);
    assert_eq!(plugin.info(), info);
    assert_eq!(plugin.backend().handshake().await.unwrap(), info);
    plugin.shutdown().await;
    assert_eq!(plugin.health(), Health::Stopped);
}

// ---- shared request parts ---------------------------------------------------------------------

fn ticket(id: &str) -> Value {
    json!({
        "id": id,
        "title": "Fix login — SSO ✓",
        "description": "Users cannot log in.\n\t\"quoted\" & <tagged> 🚀",
        "ticketType": "bug_fix",
        "labels": ["robodev", "backend", "ünïcødé"],
        "repoUrl": REPO,
        "externalUrl": "https://tracker.example.com/PROJ-123",
        "raw": {
            "priority": "high",
            "points": 3,
            "ratio": 0.25,
            "negative": -7,
            "largestExact": 9_007_199_254_740_991_i64,
            "flag": false,
            "none": null,
            "emptyObject": {},
            "emptyList": [],
            "tags": ["a", 1, true, null, {"k": "v"}, [2.5, []]],
            "nested": {"deep": {"deeper": {"ok": true, "text": "ü ✓"}}},
            "key with spaces": "value",
        },
    })
}

fn task_result() -> Value {
    json!({
        "success": true,
        "mergeRequestUrl": PR,
        "branchName": "robodev/proj-123",
        "summary": "Fixed the SSO callback ✓",
        // int64 travels as a string in proto3 JSON; these are beyond 2^53.
        "tokenUsage": {"inputTokens": "9007199254740993", "outputTokens": "-9223372036854775808"},
        "costEstimateUsd": 1.25,
        "exitCode": 2,
    })
}

// ---- one test per interface -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticketing() {
    let raw = json!({
        "index": 1,
        "labels": ["robodev", "bäckend"],
        "ratio": 0.5,
        "negative": -3,
        "none": null,
        "emptyObject": {},
        "emptyList": [],
        "nested": {"deep": {"ok": true, "list": [1, "two", [3.5], {"four": 4}]}},
    });
    let cases = vec![
        case(
            "PollReadyTickets",
            "/labels/0",
            "label",
            json!({"labels": ["robodev", "bäckend"], "maxResults": 2}),
            json!({"tickets": [
                {
                    "id": "E-1",
                    "title": "Ticket 1 of 2",
                    "description": "Labels: robodev, bäckend\nSecond line ✓",
                    "ticketType": "bug_fix",
                    "labels": ["robodev", "bäckend", "echo-1"],
                    "repoUrl": REPO,
                    "externalUrl": "https://tracker.example.com/E-1",
                    "raw": raw,
                },
                {
                    "id": "E-2",
                    "title": "Ticket 2 of 2",
                    "description": "Labels: robodev, bäckend\nSecond line ✓",
                    "ticketType": "refactor",
                    "labels": ["robodev", "bäckend", "echo-2"],
                    "repoUrl": REPO,
                    "externalUrl": "https://tracker.example.com/E-2",
                },
            ]}),
        ),
        case(
            "MarkInProgress",
            "/ticketId",
            "ticket",
            json!({"ticketId": "PROJ-123"}),
            json!({}),
        ),
        case(
            "MarkComplete",
            "/ticketId",
            "ticket",
            json!({"ticketId": "PROJ-123", "result": task_result()}),
            json!({}),
        ),
        case(
            "MarkFailed",
            "/ticketId",
            "ticket",
            json!({"ticketId": "PROJ-123", "reason": "tests failed: 3 of 120 ✗"}),
            json!({}),
        ),
        case(
            "AddComment",
            "/ticketId",
            "ticket",
            json!({"ticketId": "PROJ-123", "comment": "**Looking** into it\n- step 1 🚀"}),
            json!({}),
        ),
    ];
    check_interface(Interface::Ticketing, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications() {
    let cases = vec![
        case(
            "Notify",
            "/ticket/id",
            "ticket",
            json!({"message": "Started work on *PROJ-123* ✓", "ticket": ticket("PROJ-123")}),
            json!({}),
        ),
        case(
            "NotifyStart",
            "/ticket/id",
            "ticket",
            json!({"ticket": ticket("PROJ-123"), "taskRunId": "run-7", "engine": "claude-code"}),
            json!({}),
        ),
        case(
            "NotifyComplete",
            "/ticket/id",
            "ticket",
            json!({"ticket": ticket("PROJ-123"), "taskRunId": "run-7", "result": task_result()}),
            json!({}),
        ),
    ];
    check_interface(Interface::Notifications, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval() {
    let cases = vec![
        case(
            "RequestApproval",
            "/ticket/id",
            "ticket",
            json!({
                "question": "Merge PR #42?",
                "ticket": ticket("PROJ-123"),
                "taskRunId": "run-7",
                "options": ["approve", "reject", "défer"],
            }),
            json!({"requestId": "run-7/PROJ-123/Fix login — SSO ✓/approve|reject|défer"}),
        ),
        case(
            "CancelPending",
            "/taskRunId",
            "task run",
            json!({"taskRunId": "run-7"}),
            json!({}),
        ),
    ];
    check_interface(Interface::Approval, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets() {
    let cases = vec![
        case(
            "GetSecret",
            "/key",
            "secret",
            json!({"key": "db/password"}),
            json!({"value": "secret-of-db/password"}),
        ),
        case(
            "GetSecrets",
            "/keys/1",
            "secret",
            json!({"keys": ["db/password", "api token", "ünïcødé"]}),
            json!({"secrets": {
                "db/password": "secret-of-db/password",
                "api token": "secret-of-api token",
                "ünïcødé": "secret-of-ünïcødé",
            }}),
        ),
        case(
            "BuildEnvVars",
            "/secretRefs/1/secretKey",
            "secret",
            json!({"secretRefs": [
                {"envName": "DB_PASSWORD", "secretKey": "db/password"},
                {"envName": "API_TOKEN", "secretKey": "k8s:api-secrets/token"},
            ]}),
            json!({"envVars": [
                {"name": "DB_PASSWORD", "value": "secret-of-db/password"},
                {"name": "API_TOKEN", "value": "", "secretRef": {"name": "api-secrets", "key": "token"}},
            ]}),
        ),
    ];
    check_interface(Interface::Secrets, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scm() {
    let status = |id: &str, state: &str, mergeable: bool, ci: &str, review: &str| {
        case(
            "GetPullRequestStatus",
            "/pullRequestId",
            "pull request",
            json!({"repoUrl": REPO, "pullRequestId": id}),
            json!({
                "state": state,
                "mergeable": mergeable,
                "ciStatus": ci,
                "reviewStatus": review,
                "pullRequestUrl": format!("https://git.example.com/acme/app/pull/{id}"),
            }),
        )
    };
    let cases = vec![
        case(
            "CreateBranch",
            "/baseRef",
            "ref",
            json!({"repoUrl": REPO, "branchName": "robodev/proj-123", "baseRef": "main"}),
            json!({"sha": "sha:robodev/proj-123@main:https://git.example.com/acme/app.git"}),
        ),
        case(
            "CreatePullRequest",
            "/headBranch",
            "branch",
            json!({
                "repoUrl": REPO,
                "title": "Fix login ✓",
                "body": "Fixes PROJ-123.\n\n- a\n- b",
                "headBranch": "robodev/proj-123",
                "baseBranch": "main",
                "labels": ["robodev", "automated"],
                "draft": true,
            }),
            json!({
                // 40 + 2 labels + 100 for a draft.
                "pullRequestUrl": "https://git.example.com/acme/app/pull/142?head=robodev/proj-123&base=main&labels=robodev,automated&title=Fix login ✓&body_lines=4",
                "pullRequestId": "142",
            }),
        ),
        status(
            "1",
            "PULL_REQUEST_STATE_OPEN",
            true,
            "CI_STATUS_PENDING",
            "REVIEW_STATUS_PENDING",
        ),
        status(
            "2",
            "PULL_REQUEST_STATE_CLOSED",
            false,
            "CI_STATUS_PASSING",
            "REVIEW_STATUS_APPROVED",
        ),
        status(
            "3",
            "PULL_REQUEST_STATE_MERGED",
            true,
            "CI_STATUS_FAILING",
            "REVIEW_STATUS_CHANGES_REQUESTED",
        ),
        status(
            "4",
            "PULL_REQUEST_STATE_DRAFT",
            false,
            "CI_STATUS_PENDING",
            "REVIEW_STATUS_PENDING",
        ),
        case(
            "ListReviewComments",
            "/prUrl",
            "pull request",
            json!({"prUrl": PR}),
            json!({"comments": [
                {
                    "id": "c-1",
                    "threadId": "t-1",
                    "author": "reviewer-ü",
                    "body": format!("Please fix this in {PR}"),
                    "filePath": "src/lib.rs",
                    "line": 42,
                    "createdUnix": "9007199254740993",
                },
                {
                    "id": "c-2",
                    "threadId": "t-2",
                    "author": "maintainer",
                    "body": "LGTM overall",
                    "filePath": "",
                    "line": 0,
                    "createdUnix": "-1",
                },
            ]}),
        ),
        case(
            "ReplyToComment",
            "/commentId",
            "comment",
            json!({"prUrl": PR, "commentId": "c-1", "body": "Fixed in abc123 ✓"}),
            json!({}),
        ),
        case(
            "ResolveThread",
            "/threadId",
            "thread",
            json!({"prUrl": PR, "threadId": "t-1"}),
            json!({}),
        ),
        case(
            "GetDiff",
            "/branchName",
            "branch",
            json!({"repoUrl": REPO, "baseBranch": "main", "branchName": "robodev/proj-123"}),
            json!({"diff": "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-main\n+robodev/proj-123\n# https://git.example.com/acme/app.git\n"}),
        ),
    ];
    check_interface(Interface::Scm, cases).await;
}

/// The echo plugin's verdict for `review_id` with first comment line `line`.
fn gate(review_id: &str, passed: bool, summary: &str, line: i32) -> Value {
    json!({
        "passed": passed,
        "summary": summary,
        "comments": [
            {
                "filePath": "src/main.rs",
                "line": line,
                "severity": "SEVERITY_INFO",
                "message": "consider a doc comment",
                "suggestion": "/// Does things.",
            },
            {
                "filePath": "src/lib.rs",
                "line": line + 1,
                "severity": "SEVERITY_WARNING",
                "message": "unused variable",
                "suggestion": "let _x = 1;",
            },
            {
                "filePath": "src/db.rs",
                "line": line + 2,
                "severity": "SEVERITY_ERROR",
                "message": "SQL built by string concatenation",
                "suggestion": "use a bound parameter",
            },
        ],
        "securityFindings": [{
            "ruleId": "hardcoded-secret",
            "severity": "SEVERITY_CRITICAL",
            "filePath": "config/prod.yaml",
            "line": 7,
            "description": format!("a token is committed ({review_id})"),
            "cweId": "CWE-798",
        }],
        "score": 87,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review() {
    let id = "review-run-7-PROJ-123";
    let cases = vec![
        case(
            "ReviewDiff",
            "/taskRunId",
            "task run",
            json!({
                "taskRunId": "run-7",
                "ticket": ticket("PROJ-123"),
                "diff": "diff --git a/x b/x\n-old\n+new ✓\n",
                "branchName": "robodev/proj-123",
                "repoUrl": REPO,
                "result": task_result(),
            }),
            json!({
                "reviewId": id,
                "gateResult": gate(
                    id,
                    true,
                    &format!("review {id}: 3 diff lines on robodev/proj-123 ({REPO})"),
                    3,
                ),
            }),
        ),
        case(
            "GetGateResult",
            "/reviewId",
            "review",
            json!({"reviewId": id}),
            json!({"gateResult": gate(id, true, &format!("review {id}: 3 diff lines"), 3)}),
        ),
    ];
    check_interface(Interface::Review, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine() {
    let task = json!({
        "id": "task-9",
        "ticketId": "PROJ-123",
        "title": "Fix login ✓",
        "description": "Users cannot log in.\nSee the logs.",
        "repoUrl": REPO,
        "labels": ["backend", "urgent"],
        "metadata": {"priority": "high", "team": "core"},
    });
    let cases = vec![
        case(
            "BuildExecutionSpec",
            "/task/id",
            "task",
            json!({
                "task": task,
                "config": {
                    "image": "ghcr.io/acme/agent:1.2.3",
                    "resourceRequests": {"cpu": "500m", "memory": "1Gi"},
                    "resourceLimits": {"cpu": "2", "memory": "4Gi"},
                    "timeoutSeconds": 3600,
                    "env": {"LOG_LEVEL": "debug", "MODE": "ci"},
                },
            }),
            json!({"spec": {
                "image": "ghcr.io/acme/agent:1.2.3",
                "command": ["agent", "run", "--task", "task-9", "--ticket", "PROJ-123"],
                "env": {
                    "LOG_LEVEL": "debug",
                    "MODE": "ci",
                    "TASK_ID": "task-9",
                    "REPO_URL": REPO,
                    "META_PRIORITY": "high",
                    "META_TEAM": "core",
                },
                "secretEnv": {"AGENT_API_KEY": "agents/PROJ-123/api-key"},
                "resourceRequests": {"cpu": "500m", "memory": "1Gi"},
                "resourceLimits": {"cpu": "2", "memory": "4Gi"},
                "volumes": [
                    {"name": "workspace", "mountPath": "/workspace/task-9", "readOnly": false},
                    {"name": "label-backend", "mountPath": "/labels/backend", "readOnly": true},
                    {"name": "label-urgent", "mountPath": "/labels/urgent", "readOnly": true},
                ],
                "activeDeadlineSeconds": 3900,
            }}),
        ),
        case(
            "BuildPrompt",
            "/task/id",
            "task",
            json!({"task": task}),
            json!({"prompt": format!(
                "# Fix login ✓\n\nUsers cannot log in.\nSee the logs.\n\nTask: task-9\nTicket: PROJ-123\nRepository: {REPO}\nLabels: backend, urgent\nMetadata: priority=high, team=core\n"
            )}),
        ),
    ];
    check_interface(Interface::Engine, cases).await;
}
