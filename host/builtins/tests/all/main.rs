//! The built-in backends, created through `builtin::create` and called through `AnyBackend`
//! and the core traits, as the controller calls them.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers (servers, fixtures) fail loudly on the first unexpected value"
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use robodev_builtins::{self as builtin, BuiltinContext, ticketing_local};
use robodev_core::notifications::{NotifyCompleteRequest, NotifyRequest, NotifyStartRequest};
use robodev_core::ticketing::{AddCommentRequest, MarkInProgressRequest};
use robodev_core::{AnyBackend, Error, ErrorCode, Failure, Interface, Outcome, TaskResult, Ticket};
use robodev_test_support::child;
use robodev_test_support::forward_proxy::ForwardProxy;
use robodev_test_support::tls::TestCa;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A temporary config directory (`conf/`) and state directory (`state/`).
struct Dirs {
    _tmp: tempfile::TempDir,
    context: BuiltinContext,
}

impl Dirs {
    fn new() -> Dirs {
        let tmp = tempfile::tempdir().unwrap();
        let context = BuiltinContext {
            config_dir: tmp.path().join("conf"),
            state_dir: tmp.path().join("state"),
        };
        std::fs::create_dir_all(&context.config_dir).unwrap();
        Dirs { _tmp: tmp, context }
    }

    fn conf(&self, rel: &str) -> PathBuf {
        self.context.config_dir.join(rel)
    }

    async fn create(&self, interface: Interface, name: &str, config: Value) -> AnyBackend {
        builtin::create(interface, name, &config, &self.context)
            .await
            .unwrap_or_else(|e| panic!("creating {interface} {name}: {e}"))
    }
}

/// The code and message of a domain error; anything else fails the test.
fn domain(result: Result<Value, Error>) -> (ErrorCode, String) {
    match result {
        Err(Error::Plugin { error, .. }) => (error.code, error.message),
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

fn ids(polled: &Value) -> Vec<&str> {
    polled["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect()
}

const TICKETS: &str = "\
tickets:
  - id: 1
    title: Fix the login redirect
    description: After login the user lands on /404.
    ticket_type: bug_fix
    labels: [robodev, web]
    repo_url: https://github.com/acme/web
    external_url: https://tracker.example/1
    raw: {priority: high}
  - id: \"2\"
    title: Bump the API client
    labels: [deps]
  - id: PROJ-3
    title: Document the CLI
    labels: [robodev]
";

#[tokio::test]
async fn local_ticketing_lifecycle_survives_a_restart() {
    let dirs = Dirs::new();
    std::fs::write(dirs.conf("tickets.yaml"), TICKETS).unwrap();
    let config = json!({"file": "tickets.yaml"});
    let t = dirs
        .create(Interface::Ticketing, "local", config.clone())
        .await;
    let info = t.handshake().await.unwrap();
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("local", VERSION)
    );

    let all = t
        .call_json("local", "PollReadyTickets", json!({}))
        .await
        .unwrap();
    assert_eq!(ids(&all), ["1", "2", "PROJ-3"]);
    assert_eq!(
        all["tickets"][0],
        json!({
            "id": "1",
            "title": "Fix the login redirect",
            "description": "After login the user lands on /404.",
            "ticketType": "bug_fix",
            "labels": ["robodev", "web"],
            "repoUrl": "https://github.com/acme/web",
            "externalUrl": "https://tracker.example/1",
            "raw": {"priority": "high"},
        })
    );
    let labelled = t
        .call_json("local", "PollReadyTickets", json!({"labels": ["robodev"]}))
        .await
        .unwrap();
    assert_eq!(ids(&labelled), ["1", "PROJ-3"]);
    let both = t
        .call_json(
            "local",
            "PollReadyTickets",
            json!({"labels": ["robodev", "web"]}),
        )
        .await
        .unwrap();
    assert_eq!(ids(&both), ["1"]);
    let one = t
        .call_json("local", "PollReadyTickets", json!({"maxResults": 2}))
        .await
        .unwrap();
    assert_eq!(ids(&one), ["1", "2"]);

    // Ticket 1 is picked up, commented on and completed; ticket 2 fails.
    t.call_json("local", "MarkInProgress", json!({"ticketId": "1"}))
        .await
        .unwrap();
    let after = t
        .call_json("local", "PollReadyTickets", json!({}))
        .await
        .unwrap();
    assert_eq!(ids(&after), ["2", "PROJ-3"]);
    t.call_json(
        "local",
        "AddComment",
        json!({"ticketId": "1", "comment": "working on it"}),
    )
    .await
    .unwrap();
    let result =
        json!({"success": true, "summary": "Fixed", "branchName": "robodev/1", "exitCode": 0});
    t.call_json(
        "local",
        "MarkComplete",
        json!({"ticketId": "1", "result": result}),
    )
    .await
    .unwrap();
    t.call_json("local", "MarkInProgress", json!({"ticketId": "2"}))
        .await
        .unwrap();
    t.call_json(
        "local",
        "MarkFailed",
        json!({"ticketId": "2", "reason": "tests fail"}),
    )
    .await
    .unwrap();
    // A comment alone does not pick a ticket up.
    t.call_json(
        "local",
        "AddComment",
        json!({"ticketId": "PROJ-3", "comment": "queued"}),
    )
    .await
    .unwrap();

    // Unknown tickets.
    let (code, message) = domain(
        t.call_json("local", "MarkInProgress", json!({"ticketId": "99"}))
            .await,
    );
    assert_eq!(
        (code, message.as_str()),
        (ErrorCode::NotFound, "no ticket 99")
    );
    let (code, message) = domain(
        t.call_json(
            "local",
            "AddComment",
            json!({"ticketId": "99", "comment": "x"}),
        )
        .await,
    );
    assert_eq!(
        (code, message.as_str()),
        (ErrorCode::NotFound, "no ticket 99")
    );
    let (code, _) = domain(
        t.call_json("local", "MarkComplete", json!({"ticketId": "99"}))
            .await,
    );
    assert_eq!(code, ErrorCode::NotFound);

    // What was written to disk.
    let state = ticketing_local::read_state(&dirs.context.state_dir).unwrap();
    assert_eq!(
        state.keys().map(String::as_str).collect::<Vec<_>>(),
        ["1", "2", "PROJ-3"]
    );
    let one = &state["1"];
    assert_eq!(one.status, Some(ticketing_local::TicketStatus::Complete));
    assert_eq!(
        one.comments
            .iter()
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>(),
        ["working on it"]
    );
    assert!(one.comments[0].time > 1_600_000_000);
    assert_eq!(
        one.result,
        Some(TaskResult {
            success: true,
            summary: "Fixed".into(),
            branch_name: "robodev/1".into(),
            ..TaskResult::default()
        })
    );
    assert_eq!(
        state["2"].status,
        Some(ticketing_local::TicketStatus::Failed)
    );
    assert_eq!(state["2"].failure_reason.as_deref(), Some("tests fail"));
    assert_eq!(state["PROJ-3"].status, None);
    let raw: Value = serde_json::from_slice(
        &std::fs::read(dirs.context.state_dir.join("ticketing-local/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(raw["tickets"]["1"]["status"], "complete");
    assert_eq!(raw["tickets"]["2"]["status"], "failed");

    // A ticket added to the file while robodev runs is seen by the next poll.
    std::fs::write(
        dirs.conf("tickets.yaml"),
        format!("{TICKETS}  - id: \"4\"\n    title: New one\n"),
    )
    .unwrap();
    let polled = t
        .call_json("local", "PollReadyTickets", json!({}))
        .await
        .unwrap();
    assert_eq!(ids(&polled), ["PROJ-3", "4"]);

    // Restart: a new backend on the same state directory.
    drop(t);
    let t = dirs.create(Interface::Ticketing, "local", config).await;
    let polled = t
        .call_json("local", "PollReadyTickets", json!({}))
        .await
        .unwrap();
    assert_eq!(ids(&polled), ["PROJ-3", "4"]);
    t.call_json(
        "local",
        "AddComment",
        json!({"ticketId": "1", "comment": "follow-up"}),
    )
    .await
    .unwrap();
    let state = ticketing_local::read_state(&dirs.context.state_dir).unwrap();
    assert_eq!(
        state["1"]
            .comments
            .iter()
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>(),
        ["working on it", "follow-up"]
    );
    assert_eq!(
        state["1"].status,
        Some(ticketing_local::TicketStatus::Complete)
    );
    assert_eq!(
        state["PROJ-3"]
            .comments
            .iter()
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>(),
        ["queued"]
    );
}

#[tokio::test]
async fn local_ticketing_concurrent_calls_lose_nothing() {
    let dirs = Dirs::new();
    std::fs::write(dirs.conf("t.json"), r#"[{"id": "7", "title": "x"}]"#).unwrap();
    let AnyBackend::Ticketing(t) = dirs
        .create(Interface::Ticketing, "local", json!({"file": "t.json"}))
        .await
    else {
        panic!("not a ticketing backend")
    };
    let mut tasks = Vec::new();
    for i in 0..16 {
        let t = Arc::clone(&t);
        tasks.push(tokio::spawn(async move {
            t.add_comment(AddCommentRequest {
                ticket_id: "7".into(),
                comment: format!("c{i}"),
            })
            .await
        }));
    }
    tasks.push({
        let t = Arc::clone(&t);
        tokio::spawn(async move {
            t.mark_in_progress(MarkInProgressRequest {
                ticket_id: "7".into(),
            })
            .await
        })
    });
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let state = ticketing_local::read_state(&dirs.context.state_dir).unwrap();
    let mut comments: Vec<_> = state["7"].comments.iter().map(|c| c.text.clone()).collect();
    comments.sort();
    let mut expected: Vec<_> = (0..16).map(|i| format!("c{i}")).collect();
    expected.sort();
    assert_eq!(comments, expected);
    assert_eq!(
        state["7"].status,
        Some(ticketing_local::TicketStatus::InProgress)
    );
}

#[tokio::test]
async fn local_ticketing_broken_and_missing_files_are_host_errors() {
    let dirs = Dirs::new();
    let err = builtin::create(
        Interface::Ticketing,
        "local",
        &json!({"file": "missing.yaml"}),
        &dirs.context,
    )
    .await
    .unwrap_err();
    let missing = dirs.conf("missing.yaml");
    match &err {
        Error::Host {
            plugin, message, ..
        } => {
            assert_eq!(plugin, "local");
            assert!(
                message.starts_with(&format!(
                    "cannot read the ticket file {}: ",
                    missing.display()
                )),
                "{message}"
            );
        }
        other => panic!("expected a host error, got {other:?}"),
    }

    let path = dirs.conf("t.yaml");
    std::fs::write(&path, "- id: 1\n").unwrap();
    let t = dirs
        .create(Interface::Ticketing, "local", json!({"file": "t.yaml"}))
        .await;
    std::fs::write(&path, "- id: 1\n- id: 1\n").unwrap();
    let err = t
        .call_json("local", "PollReadyTickets", json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::Host {
            plugin: "local".into(),
            interface: Interface::Ticketing,
            message: format!(
                "ticket file {}: [1].id: ticket id \"1\" is used twice ([0] and [1])",
                path.display()
            ),
            source: None,
        }
    );
    let (code, message) = domain(
        t.call_json("local", "PollReadyTickets", json!({"maxResults": -1}))
            .await,
    );
    assert_eq!(
        (code, message.as_str()),
        (
            ErrorCode::InvalidArgument,
            "max_results must not be negative (got -1)"
        )
    );
}

#[tokio::test]
async fn log_notifications_append_json_lines() {
    let dirs = Dirs::new();
    let n = dirs
        .create(
            Interface::Notifications,
            "log",
            json!({"file": "logs/deep/notify.jsonl"}),
        )
        .await;
    assert_eq!(n.handshake().await.unwrap().name, "log");
    let AnyBackend::Notifications(n) = n else {
        panic!("not a notification channel")
    };
    let ticket = Ticket {
        id: "42".into(),
        title: "Fix it".into(),
        ..Ticket::default()
    };
    n.notify(NotifyRequest {
        message: "hello".into(),
        ticket: Some(ticket.clone()),
    })
    .await
    .unwrap();
    n.notify_start(NotifyStartRequest {
        ticket: Some(ticket.clone()),
        task_run_id: "run-1".into(),
        engine: "local".into(),
    })
    .await
    .unwrap();
    n.notify_complete(NotifyCompleteRequest {
        ticket: Some(ticket),
        task_run_id: "run-1".into(),
        result: Some(TaskResult {
            success: false,
            summary: "tests fail".into(),
            ..TaskResult::default()
        }),
    })
    .await
    .unwrap();
    n.notify(NotifyRequest {
        message: "no ticket".into(),
        ticket: None,
    })
    .await
    .unwrap();

    let text = std::fs::read_to_string(dirs.conf("logs/deep/notify.jsonl")).unwrap();
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for line in &mut lines {
        assert!(line["time"].as_u64().unwrap() > 1_600_000_000, "{line}");
        line.as_object_mut().unwrap().remove("time");
    }
    assert_eq!(
        lines,
        [
            json!({"event": "notify", "ticket_id": "42", "task_run_id": null, "message": "hello",
                   "engine": null, "success": null, "summary": null}),
            json!({"event": "notify_start", "ticket_id": "42", "task_run_id": "run-1",
                   "message": null, "engine": "local", "success": null, "summary": null}),
            json!({"event": "notify_complete", "ticket_id": "42", "task_run_id": "run-1",
                   "message": null, "engine": null, "success": false, "summary": "tests fail"}),
            json!({"event": "notify", "ticket_id": null, "task_run_id": null,
                   "message": "no ticket", "engine": null, "success": null, "summary": null}),
        ]
    );
}

/// One HTTP request as a test server received it.
#[derive(Debug)]
struct Received {
    method: String,
    target: String,
    /// Lower-cased names.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads an HTTP/1.1 request head: its lines (request line first) and the bytes read past it.
async fn read_head<S: AsyncRead + Unpin>(socket: &mut S) -> (Vec<String>, Vec<u8>) {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 1024];
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "client closed before the end of the head");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let lines = head.split("\r\n").map(str::to_owned).collect();
    (lines, buf[head_end + 4..].to_vec())
}

/// Reads one request and answers `status` with `extra_headers` (each ending in `\r\n`) and
/// `reply` as body.
async fn answer_once<S: AsyncRead + AsyncWrite + Unpin>(
    mut socket: S,
    status: &str,
    extra_headers: &str,
    reply: &str,
) -> Received {
    let (lines, mut body) = read_head(&mut socket).await;
    let mut request_line = lines[0].split(' ');
    let method = request_line.next().unwrap().to_owned();
    let target = request_line.next().unwrap().to_owned();
    let headers: Vec<(String, String)> = lines[1..]
        .iter()
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    while body.len() < length {
        let mut chunk = [0u8; 1024];
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "client closed before the end of the body");
        body.extend_from_slice(&chunk[..n]);
    }
    let answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n{reply}",
        reply.len()
    );
    socket.write_all(answer.as_bytes()).await.unwrap();
    socket.shutdown().await.unwrap();
    Received {
        method,
        target,
        headers,
        body,
    }
}

/// A one-request HTTP/1.1 server on 127.0.0.1:0 that answers `status` with `reply` as body
/// and hands back what it received.
async fn serve_once(
    status: &'static str,
    reply: String,
) -> (u16, tokio::task::JoinHandle<Received>) {
    serve_once_with(status, String::new(), reply).await
}

/// [`serve_once`] with extra answer headers (each ending in `\r\n`).
async fn serve_once_with(
    status: &'static str,
    extra_headers: String,
    reply: String,
) -> (u16, tokio::task::JoinHandle<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        answer_once(socket, status, &extra_headers, &reply).await
    });
    (port, handle)
}

/// A webhook backend for servers on 127.0.0.1; see [`assert_loopback_is_not_proxied`].
async fn webhook(dirs: &Dirs, config: Value) -> Arc<dyn robodev_core::notifications::Backend> {
    assert_loopback_is_not_proxied();
    webhook_as_configured(dirs, config).await
}

/// The webhook tests talk to servers on 127.0.0.1, which the client sends through a proxy
/// set in the environment unless `NO_PROXY` lists it: say so instead of failing obscurely
/// (or waiting forever for a request that went to the proxy).
fn assert_loopback_is_not_proxied() {
    let first_set = |names: &[&str]| names.iter().find_map(|n| std::env::var(n).ok());
    let proxies = [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ];
    if let Some(var) = proxies
        .iter()
        .find(|v| std::env::var(v).is_ok_and(|p| !p.is_empty()))
    {
        let no_proxy = first_set(&["NO_PROXY", "no_proxy"]).unwrap_or_default();
        assert!(
            no_proxy
                .split(',')
                .any(|e| matches!(e.trim(), "*" | "127.0.0.1" | "127.0.0.0/8")),
            "{var} is set: add 127.0.0.1 to NO_PROXY to run the webhook tests, whose servers \
             are on loopback (NO_PROXY is {no_proxy:?})"
        );
    }
}

/// A webhook backend as the environment's proxy variables have it.
async fn webhook_as_configured(
    dirs: &Dirs,
    config: Value,
) -> Arc<dyn robodev_core::notifications::Backend> {
    match dirs
        .create(Interface::Notifications, "webhook", config)
        .await
    {
        AnyBackend::Notifications(n) => n,
        other => panic!("not a notification channel: {other:?}"),
    }
}

#[tokio::test]
async fn webhook_posts_json_with_headers() {
    let dirs = Dirs::new();
    let (port, server) = serve_once("200 OK", "ok".into()).await;
    let n = webhook(
        &dirs,
        json!({
            "url": format!("http://127.0.0.1:{port}/hooks/robodev?channel=ops"),
            "headers": {"X-Robodev-Token": "s3cret", "Authorization": "Bearer abc"},
        }),
    )
    .await;
    assert_eq!(n.handshake().await.unwrap().name, "webhook");
    let ticket = Ticket {
        id: "42".into(),
        title: "Fix it".into(),
        labels: vec!["robodev".into()],
        ..Ticket::default()
    };
    n.notify_start(NotifyStartRequest {
        ticket: Some(ticket),
        task_run_id: "run-1".into(),
        engine: "claude-code".into(),
    })
    .await
    .unwrap();
    let got = server.await.unwrap();
    assert_eq!(got.method, "POST");
    assert_eq!(got.target, "/hooks/robodev?channel=ops");
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(
        got.header("host"),
        Some(format!("127.0.0.1:{port}").as_str())
    );
    assert_eq!(got.header("x-robodev-token"), Some("s3cret"));
    assert_eq!(got.header("authorization"), Some("Bearer abc"));
    assert_eq!(
        got.header("user-agent"),
        Some(format!("robodev/{VERSION}").as_str())
    );
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(
        body,
        json!({
            "event": "notify_start",
            "message": null,
            "ticket": {"id": "42", "title": "Fix it", "description": "", "ticketType": "",
                       "labels": ["robodev"], "repoUrl": "", "externalUrl": ""},
            "taskRunId": "run-1",
            "engine": "claude-code",
            "result": null,
        })
    );

    // notify_complete carries the result as proto3 JSON.
    let (port, server) = serve_once("204 No Content", String::new()).await;
    let n = webhook(&dirs, json!({"url": format!("http://127.0.0.1:{port}")})).await;
    n.notify_complete(NotifyCompleteRequest {
        ticket: None,
        task_run_id: "run-2".into(),
        result: Some(TaskResult {
            success: true,
            summary: "done".into(),
            merge_request_url: "https://git/pr/1".into(),
            ..TaskResult::default()
        }),
    })
    .await
    .unwrap();
    let got = server.await.unwrap();
    assert_eq!(got.target, "/");
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body["event"], "notify_complete");
    assert_eq!(body["ticket"], Value::Null);
    assert_eq!(body["taskRunId"], "run-2");
    assert_eq!(
        body["result"],
        json!({"success": true, "mergeRequestUrl": "https://git/pr/1", "branchName": "",
               "summary": "done", "costEstimateUsd": 0.0, "exitCode": 0})
    );
}

#[tokio::test]
async fn webhook_error_answers_are_domain_errors() {
    let dirs = Dirs::new();
    let long = "x".repeat(300);
    let (port, server) = serve_once("500 Internal Server Error", long).await;
    let n = webhook(
        &dirs,
        json!({"url": format!("http://127.0.0.1:{port}/hook?token=t0k3n")}),
    )
    .await;
    let err = n
        .notify(NotifyRequest {
            message: "hi".into(),
            ticket: None,
        })
        .await
        .unwrap_err();
    let got = server.await.unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&got.body).unwrap(),
        json!({"event": "notify", "message": "hi", "ticket": null, "taskRunId": null,
               "engine": null, "result": null})
    );
    assert_eq!(
        err,
        Error::Plugin {
            plugin: "webhook".into(),
            interface: Interface::Notifications,
            error: robodev_core::PluginError::new(
                ErrorCode::Unavailable,
                format!(
                    "webhook http://127.0.0.1:{port}/hook answered 500 Internal Server Error: {}",
                    "x".repeat(200)
                ),
            ),
        }
    );

    let (port, _server) = serve_once("429 Too Many Requests", "slow down".into()).await;
    let n = webhook(&dirs, json!({"url": format!("http://127.0.0.1:{port}/")})).await;
    let (code, message) = domain(
        AnyBackend::Notifications(n)
            .call_json("webhook", "Notify", json!({"message": "x"}))
            .await,
    );
    assert_eq!(code, ErrorCode::Unavailable);
    assert_eq!(
        message,
        format!("webhook http://127.0.0.1:{port}/ answered 429 Too Many Requests: slow down")
    );

    let (port, _server) = serve_once("404 Not Found", "no such hook\n".into()).await;
    let n = webhook(
        &dirs,
        json!({"url": format!("http://127.0.0.1:{port}/gone")}),
    )
    .await;
    let (code, message) = domain(
        AnyBackend::Notifications(n)
            .call_json("webhook", "Notify", json!({"message": "x"}))
            .await,
    );
    assert_eq!(code, ErrorCode::FailedPrecondition);
    assert_eq!(
        message,
        format!("webhook http://127.0.0.1:{port}/gone answered 404 Not Found: no such hook")
    );
}

#[tokio::test]
async fn webhook_refused_connection_and_silence_are_transport_failures() {
    let dirs = Dirs::new();
    // A port nobody listens on: bind, note it, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let n = webhook(
        &dirs,
        json!({"url": format!("http://127.0.0.1:{port}/hook")}),
    )
    .await;
    let err = n
        .notify(NotifyRequest {
            message: "x".into(),
            ticket: None,
        })
        .await
        .unwrap_err();
    match &err {
        Error::Failed {
            plugin,
            interface,
            failure: Failure::Transport { detail, source },
        } => {
            assert_eq!(plugin, "webhook");
            assert_eq!(*interface, Interface::Notifications);
            // The transport's own error is kept, not only its text: a caller can walk the
            // chain down to the refused connection.
            let cause = source.as_ref().expect("the reqwest error is kept");
            let mut chain: Vec<String> = vec![cause.to_string()];
            let mut next = std::error::Error::source(cause.get());
            while let Some(e) = next {
                chain.push(e.to_string());
                next = e.source();
            }
            assert!(chain.iter().any(|e| e.contains("refused")), "{chain:?}");
            assert!(
                std::error::Error::source(&err).is_some(),
                "Error::Failed exposes its failure as its source"
            );
            assert!(
                detail.starts_with(&format!(
                    "cannot connect to webhook http://127.0.0.1:{port}/hook: "
                )),
                "{detail}"
            );
        }
        other => panic!("expected a transport failure, got {other:?}"),
    }
    assert_eq!(err.outcome(), Outcome::Failed);

    // A server that accepts and never answers: the timeout ends the call.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(socket);
    });
    let n = webhook(
        &dirs,
        json!({"url": format!("http://127.0.0.1:{port}/"), "timeout_ms": 300}),
    )
    .await;
    let started = std::time::Instant::now();
    let err = n
        .notify(NotifyRequest {
            message: "x".into(),
            ticket: None,
        })
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        err.failure(),
        Some(&Failure::Transport {
            detail: format!("webhook http://127.0.0.1:{port}/ did not answer within 300 ms"),
            source: None,
        })
    );
    silent.abort();
}

#[tokio::test]
async fn webhook_follows_no_redirect() {
    let dirs = Dirs::new();
    // Where a redirect would lead: nothing may connect here.
    let elsewhere = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere_port = elsewhere.local_addr().unwrap().port();
    let (port, server) = serve_once_with(
        "307 Temporary Redirect",
        format!("Location: http://127.0.0.1:{elsewhere_port}/hook\r\n"),
        "moved".into(),
    )
    .await;
    let n = webhook(
        &dirs,
        json!({"url": format!("http://127.0.0.1:{port}/hook"), "timeout_ms": 2000}),
    )
    .await;
    let (code, message) = domain(
        AnyBackend::Notifications(n)
            .call_json("webhook", "Notify", json!({"message": "x"}))
            .await,
    );
    assert_eq!(code, ErrorCode::FailedPrecondition);
    assert_eq!(
        message,
        format!("webhook http://127.0.0.1:{port}/hook answered 307 Temporary Redirect: moved")
    );
    assert_eq!(server.await.unwrap().target, "/hook");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), elsewhere.accept())
            .await
            .is_err(),
        "the redirect was followed"
    );
}

#[tokio::test]
async fn webhook_reads_only_the_start_of_a_huge_error_answer() {
    let dirs = Dirs::new();
    // A 500 announcing 100 MB of body, of which it sends 64 KiB and then nothing: reading the
    // answer to its end would never finish.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let (_head, _body) = read_head(&mut socket).await;
        let mut answer =
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 100000000\r\n\r\n".to_vec();
        answer.extend(std::iter::repeat_n(b'y', 64 * 1024));
        // The client may close once it has read enough: a failed write is expected then.
        let _ = socket.write_all(&answer).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let n = webhook(
        &dirs,
        json!({"url": format!("http://127.0.0.1:{port}/hook"), "timeout_ms": 3000}),
    )
    .await;
    let started = std::time::Instant::now();
    let (code, message) = domain(
        AnyBackend::Notifications(n)
            .call_json("webhook", "Notify", json!({"message": "x"}))
            .await,
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code, ErrorCode::Unavailable);
    assert_eq!(
        message,
        format!(
            "webhook http://127.0.0.1:{port}/hook answered 500 Internal Server Error: {}",
            "y".repeat(200)
        )
    );
    server.abort();
}

/// A one-request HTTPS server on 127.0.0.1:0 with the server certificate of `ca`, answering
/// 200; its handle gives what it received, or how the TLS handshake failed.
async fn serve_tls_once(ca: &TestCa) -> (u16, tokio::task::JoinHandle<Result<Received, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config());
    let handle = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let tls = acceptor.accept(socket).await.map_err(|e| e.to_string())?;
        Ok(answer_once(tls, "200 OK", "", "ok").await)
    });
    (port, handle)
}

#[tokio::test]
async fn webhook_https_trusts_the_ca_file() {
    let dirs = Dirs::new();
    let ca = TestCa::new("robodev test CA");
    let other = TestCa::new("another CA");
    // Two certificates: every one of them is trusted, not just the first.
    std::fs::write(dirs.conf("cas.pem"), format!("{}{}", other.pem, ca.pem)).unwrap();
    let (port, server) = serve_tls_once(&ca).await;
    let n = webhook(
        &dirs,
        json!({"url": format!("https://127.0.0.1:{port}/hook?token=t0k3n"), "ca_file": "cas.pem"}),
    )
    .await;
    n.notify(NotifyRequest {
        message: "over TLS".into(),
        ticket: None,
    })
    .await
    .unwrap();
    let got = server.await.unwrap().unwrap();
    assert_eq!(
        (got.method.as_str(), got.target.as_str()),
        ("POST", "/hook?token=t0k3n")
    );
    assert_eq!(
        got.header("host"),
        Some(format!("127.0.0.1:{port}").as_str())
    );
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body["message"], "over TLS");

    // The same server without `ca_file`, and with a file of another CA only: refused.
    std::fs::write(dirs.conf("other.pem"), &other.pem).unwrap();
    for extra in [json!({}), json!({"ca_file": "other.pem"})] {
        let (port, server) = serve_tls_once(&ca).await;
        let mut config = json!({"url": format!("https://127.0.0.1:{port}/hook?token=t0k3n")});
        config
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let n = webhook(&dirs, config).await;
        let err = n
            .notify(NotifyRequest {
                message: "x".into(),
                ticket: None,
            })
            .await
            .unwrap_err();
        let Some(Failure::Transport { detail, source }) = err.failure() else {
            panic!("{extra}: {err:?}")
        };
        assert_eq!(
            detail,
            &format!(
                "TLS handshake with webhook https://127.0.0.1:{port}/hook failed: \
                 invalid peer certificate: UnknownIssuer"
            ),
            "{extra}"
        );
        assert!(source.is_some(), "{extra}: the reqwest error is kept");
        assert_eq!(err.outcome(), Outcome::Failed);
        // The server saw the client give up on the handshake.
        let refused = server.await.unwrap().map(|r| r.target).unwrap_err();
        assert!(refused.contains("UnknownCA"), "{refused}");
    }
}

#[tokio::test]
async fn webhook_ca_file_errors_name_the_option() {
    let dirs = Dirs::new();
    let ca = TestCa::new("robodev test CA");
    let create = |config: Value| {
        let context = dirs.context.clone();
        async move {
            builtin::create(Interface::Notifications, "webhook", &config, &context)
                .await
                .map(drop)
        }
    };
    let host = |message: String| {
        Err(Error::Host {
            plugin: "webhook".into(),
            interface: Interface::Notifications,
            message,
            source: None,
        })
    };
    let path = |name: &str| dirs.conf(name).display().to_string();

    // Missing.
    assert_eq!(
        create(json!({"url": "https://x", "ca_file": "nowhere.pem"})).await,
        host(format!(
            "invalid option `ca_file`: cannot read {}: No such file or directory (os error 2)",
            path("nowhere.pem")
        ))
    );
    // No certificate in it (a private key is not one).
    let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
    std::fs::write(dirs.conf("key.pem"), key).unwrap();
    assert_eq!(
        create(json!({"url": "https://x", "ca_file": "key.pem"})).await,
        host(format!(
            "invalid option `ca_file`: {} holds no PEM certificate (a `-----BEGIN CERTIFICATE-----` block)",
            path("key.pem")
        ))
    );
    // Broken PEM: a block that never ends.
    let cut = &ca.pem[..ca.pem.find("-----END").unwrap()];
    std::fs::write(dirs.conf("cut.pem"), cut).unwrap();
    let err = create(json!({"url": "https://x", "ca_file": "cut.pem"}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "invalid option `ca_file`: {} is not valid PEM: ",
            path("cut.pem")
        )),
        "{err}"
    );
    // Well-formed PEM whose content is no certificate.
    std::fs::write(
        dirs.conf("junk.pem"),
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let err = create(json!({"url": "https://x", "ca_file": "junk.pem"}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "invalid option `ca_file`: certificate 1 of {} is not a usable CA certificate: ",
            path("junk.pem")
        )),
        "{err}"
    );
    // An absolute path is taken as it is.
    std::fs::write(dirs.conf("ca.pem"), &ca.pem).unwrap();
    assert_eq!(
        create(json!({"url": "https://x", "ca_file": path("ca.pem")})).await,
        Ok(())
    );
}

/// Set in a child of `webhook_uses_the_proxy_from_the_environment`: the webhook's options.
const PROXY_CHILD_CONFIG: &str = "ROBODEV_TEST_WEBHOOK_CHILD_CONFIG";

/// Runs this test binary's `webhook_uses_the_proxy_from_the_environment` in a child process
/// with only the proxy variables `env`, where it sends one notification with `config`; fails
/// unless that succeeded.
async fn notify_in_child(config: Value, env: &[(&str, String)]) {
    let mut command = tokio::process::Command::from(child::rerun(
        "webhook_uses_the_proxy_from_the_environment",
        (PROXY_CHILD_CONFIG, &config.to_string()),
        env,
    ));
    let out = command.kill_on_drop(true).output().await.unwrap();
    child::assert_passed(&out, &format!("{env:?}"));
}

#[tokio::test]
async fn webhook_uses_the_proxy_from_the_environment() {
    // Environment variables are process-wide and the client reads them when it is built, so
    // each case runs its webhook in a child process (this same test, given its config).
    if let Ok(config) = std::env::var(PROXY_CHILD_CONFIG) {
        let dirs = Dirs::new();
        let n = webhook_as_configured(&dirs, serde_json::from_str(&config).unwrap()).await;
        n.notify(NotifyRequest {
            message: "via the proxy?".into(),
            ticket: None,
        })
        .await
        .unwrap();
        return;
    }
    // The proxy answers plain requests itself: nobody else can have answered them.
    let forward_proxy = ForwardProxy::answering();
    let proxy = forward_proxy.url();

    // HTTP_PROXY: the request goes to the proxy, in absolute form. Nobody listens at the
    // webhook's own port, so only the proxy can have answered.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    notify_in_child(
        json!({"url": format!("http://127.0.0.1:{port}/hook?token=t0k3n")}),
        &[("HTTP_PROXY", proxy.clone())],
    )
    .await;
    assert_eq!(
        forward_proxy.seen(),
        [format!(
            "POST http://127.0.0.1:{port}/hook?token=t0k3n HTTP/1.1"
        )]
    );

    // NO_PROXY: the same proxy is set, but 127.0.0.1 is reached directly.
    let (port, server) = serve_once("204 No Content", String::new()).await;
    notify_in_child(
        json!({"url": format!("http://127.0.0.1:{port}/hook")}),
        &[
            ("http_proxy", proxy.clone()),
            ("NO_PROXY", "localhost,127.0.0.1".to_owned()),
        ],
    )
    .await;
    assert_eq!(forward_proxy.seen().len(), 1, "{:?}", forward_proxy.seen());
    let got = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the webhook server got no request")
        .unwrap();
    assert_eq!(got.target, "/hook");

    // HTTPS_PROXY: an https webhook is tunnelled with CONNECT, and its certificate is still
    // checked end to end (against `ca_file`).
    let ca = TestCa::new("robodev test CA");
    let dirs = Dirs::new();
    std::fs::write(dirs.conf("ca.pem"), &ca.pem).unwrap();
    let (port, server) = serve_tls_once(&ca).await;
    notify_in_child(
        json!({"url": format!("https://127.0.0.1:{port}/hook"),
               "ca_file": dirs.conf("ca.pem")}),
        &[("HTTPS_PROXY", proxy.clone())],
    )
    .await;
    let got = server.await.unwrap().unwrap();
    assert_eq!(
        (got.method.as_str(), got.target.as_str()),
        ("POST", "/hook")
    );
    assert_eq!(
        forward_proxy.seen()[1..],
        [format!("CONNECT 127.0.0.1:{port} HTTP/1.1")]
    );
}

#[tokio::test]
async fn env_secrets() {
    let dirs = Dirs::new();
    // Tests cannot set variables safely (set_var is unsafe in a threaded test binary), so
    // read PATH, which every test run has, through a prefix.
    let path = std::env::var("PATH").unwrap();
    let s = dirs
        .create(Interface::Secrets, "env", json!({"prefix": "PA"}))
        .await;
    assert_eq!(s.handshake().await.unwrap().name, "env");
    let got = s
        .call_json("env", "GetSecret", json!({"key": "TH"}))
        .await
        .unwrap();
    assert_eq!(got, json!({"value": path}));
    let got = s
        .call_json("env", "GetSecrets", json!({"keys": ["TH"]}))
        .await
        .unwrap();
    assert_eq!(got, json!({"secrets": {"TH": path}}));
    let got = s
        .call_json(
            "env",
            "BuildEnvVars",
            json!({"secretRefs": [{"envName": "SEARCH_PATH", "secretKey": "TH"}]}),
        )
        .await
        .unwrap();
    assert_eq!(
        got,
        json!({"envVars": [{"name": "SEARCH_PATH", "value": path}]})
    );

    let s = dirs
        .create(
            Interface::Secrets,
            "env",
            json!({"prefix": "ROBODEV_TEST_UNSET_"}),
        )
        .await;
    let (code, message) = domain(
        s.call_json("env", "GetSecret", json!({"key": "API_TOKEN"}))
            .await,
    );
    assert_eq!(code, ErrorCode::NotFound);
    assert_eq!(
        message,
        "no secret API_TOKEN (environment variable ROBODEV_TEST_UNSET_API_TOKEN is not set)"
    );
    let (code, message) = domain(
        s.call_json("env", "GetSecrets", json!({"keys": ["A", "B"]}))
            .await,
    );
    assert_eq!(code, ErrorCode::NotFound);
    assert_eq!(
        message,
        "no secret A (environment variable ROBODEV_TEST_UNSET_A is not set)"
    );
}

#[tokio::test]
async fn file_secrets_from_a_map_file() {
    let dirs = Dirs::new();
    let file = dirs.conf("secrets.yaml");
    std::fs::write(&file, "token: abc\nport: 5432\nnested: {a: 1}\n").unwrap();
    let s = dirs
        .create(Interface::Secrets, "file", json!({"file": "secrets.yaml"}))
        .await;
    assert_eq!(s.handshake().await.unwrap().name, "file");
    let get = |key: &str| s.call_json("file", "GetSecret", json!({"key": key}));
    assert_eq!(get("token").await.unwrap(), json!({"value": "abc"}));
    assert_eq!(get("port").await.unwrap(), json!({"value": "5432"}));
    let (code, message) = domain(get("nope").await);
    assert_eq!(code, ErrorCode::NotFound);
    assert_eq!(message, format!("no secret nope in {}", file.display()));
    let (code, message) = domain(get("nested").await);
    assert_eq!(code, ErrorCode::FailedPrecondition);
    assert_eq!(
        message,
        format!("secret nested in {} is not a string", file.display())
    );

    // Rotation: the file is read on every call.
    std::fs::write(&file, "token: rotated\n").unwrap();
    assert_eq!(get("token").await.unwrap(), json!({"value": "rotated"}));
    let got = s
        .call_json(
            "file",
            "BuildEnvVars",
            json!({"secretRefs": [{"envName": "TOKEN", "secretKey": "token"}]}),
        )
        .await
        .unwrap();
    assert_eq!(
        got,
        json!({"envVars": [{"name": "TOKEN", "value": "rotated"}]})
    );

    // A broken file names the file and the place, not the content.
    std::fs::write(&file, "token: \"hunter2\n").unwrap();
    let err = get("token").await.unwrap_err();
    let message = err.to_string();
    assert!(!message.contains("hunter2"), "{message}");
    assert!(
        message.contains(&format!(
            "secrets file {} is not valid YAML (line ",
            file.display()
        )),
        "{message}"
    );

    // A missing file fails at create.
    let err = builtin::create(
        Interface::Secrets,
        "file",
        &json!({"file": "absent.yaml"}),
        &dirs.context,
    )
    .await
    .unwrap_err();
    assert_eq!(err.outcome(), Outcome::Host);
    assert!(
        err.to_string().contains(&format!(
            "cannot read secrets {}",
            dirs.conf("absent.yaml").display()
        )),
        "{err}"
    );
}

#[tokio::test]
async fn file_secrets_from_a_directory() {
    let dirs = Dirs::new();
    let dir = dirs.conf("secrets.d");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("db-password"), "pw\n").unwrap();
    std::fs::write(dir.join("two-lines"), "a\nb\n\n").unwrap();
    std::fs::write(dir.join("windows"), "w\r\n").unwrap();
    // A file beside the directory, which no key may reach.
    std::fs::write(dirs.conf("outside"), "stolen").unwrap();
    let s = dirs
        .create(Interface::Secrets, "file", json!({"dir": "secrets.d"}))
        .await;
    let get = |key: &str| s.call_json("file", "GetSecret", json!({"key": key}));
    assert_eq!(get("db-password").await.unwrap(), json!({"value": "pw"}));
    assert_eq!(get("two-lines").await.unwrap(), json!({"value": "a\nb\n"}));
    assert_eq!(get("windows").await.unwrap(), json!({"value": "w"}));
    let got = s
        .call_json(
            "file",
            "GetSecrets",
            json!({"keys": ["db-password", "windows"]}),
        )
        .await
        .unwrap();
    assert_eq!(
        got,
        json!({"secrets": {"db-password": "pw", "windows": "w"}})
    );

    for (key, why) in [
        ("../outside", "it must be a plain file name (no `/`)"),
        ("..", "it must name a file in the directory"),
        (".", "it must name a file in the directory"),
        ("", "it is empty"),
    ] {
        let (code, message) = domain(get(key).await);
        assert_eq!(code, ErrorCode::InvalidArgument, "{key:?}");
        assert_eq!(message, format!("invalid secret key {key:?}: {why}"));
    }
    let (code, message) = domain(get("api-key").await);
    assert_eq!(code, ErrorCode::NotFound);
    assert_eq!(
        message,
        format!(
            "no secret api-key (no file {})",
            dir.join("api-key").display()
        )
    );
    // Rotation.
    std::fs::write(dir.join("db-password"), "new").unwrap();
    assert_eq!(get("db-password").await.unwrap(), json!({"value": "new"}));

    // `dir` must be a directory.
    let err = builtin::create(
        Interface::Secrets,
        "file",
        &json!({"dir": "outside"}),
        &dirs.context,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "host error serving secrets plugin \"file\": secrets {} is not a directory; `dir` needs a directory",
            dirs.conf("outside").display()
        )
    );
}

#[tokio::test]
async fn local_engine_spec_and_prompt() {
    let dirs = Dirs::new();
    let e = dirs
        .create(
            Interface::Engine,
            "local",
            json!({"command": ["my-agent", "--yes"]}),
        )
        .await;
    assert_eq!(e.handshake().await.unwrap().name, "local");
    let task = json!({
        "id": "task-9",
        "ticketId": "42",
        "title": "Fix the login redirect",
        "description": "After login the user lands on /404.\n",
        "repoUrl": "https://github.com/acme/web",
        "labels": ["robodev", "web"],
    });
    let spec = e
        .call_json(
            "local",
            "BuildExecutionSpec",
            json!({
                "task": task,
                "config": {
                    "image": "ghcr.io/acme/agent:1",
                    "resourceRequests": {"cpu": "500m", "memory": "1Gi"},
                    "resourceLimits": {"cpu": "2", "memory": "4Gi"},
                    "timeoutSeconds": 900,
                    "env": {"LOG": "debug", "ROBODEV_TASK_ID": "overridden"},
                },
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        spec,
        json!({"spec": {
            "image": "ghcr.io/acme/agent:1",
            "command": ["my-agent", "--yes"],
            "env": {
                "LOG": "debug",
                "ROBODEV_REPO_URL": "https://github.com/acme/web",
                "ROBODEV_TASK_ID": "task-9",
                "ROBODEV_TASK_TITLE": "Fix the login redirect",
                "ROBODEV_TICKET_ID": "42",
            },
            "secretEnv": {},
            "resourceRequests": {"cpu": "500m", "memory": "1Gi"},
            "resourceLimits": {"cpu": "2", "memory": "4Gi"},
            "volumes": [],
            "activeDeadlineSeconds": 900,
        }})
    );

    let prompt = e
        .call_json("local", "BuildPrompt", json!({"task": task}))
        .await
        .unwrap();
    assert_eq!(
        prompt["prompt"],
        "# Fix the login redirect\n\
         \n\
         - Ticket: 42\n\
         - Repository: https://github.com/acme/web\n\
         - Labels: robodev, web\n\
         \n\
         ## Description\n\
         \n\
         After login the user lands on /404.\n\
         \n\
         ## What to do\n\
         \n\
         Make the change this ticket asks for in the repository. Work on a new branch, commit \
         your change, and end with a short summary of what you changed and why.\n"
    );
    // Deterministic.
    let again = e
        .call_json("local", "BuildPrompt", json!({"task": task}))
        .await
        .unwrap();
    assert_eq!(prompt, again);

    for method in ["BuildPrompt", "BuildExecutionSpec"] {
        let (code, message) = domain(e.call_json("local", method, json!({})).await);
        assert_eq!(
            (code, message.as_str()),
            (ErrorCode::InvalidArgument, "the request has no task")
        );
    }
}

/// A change with one of each problem: 7 changed lines, an AWS key on line 3 of the new
/// src/config.rs, a new file under secrets/.
const RISKY_DIFF: &str = "\
diff --git a/src/config.rs b/src/config.rs
index 83db48f..bf269f4 100644
--- a/src/config.rs
+++ b/src/config.rs
@@ -1,3 +1,4 @@
 pub struct Config {
-    pub key: String,
+    pub key: &'static str,
+    // AKIAIOSFODNN7EXAMPLE
 }
diff --git a/secrets/prod.env b/secrets/prod.env
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ b/secrets/prod.env
@@ -0,0 +1,4 @@
+A=1
+B=2
+C=3
+D=4
";

#[tokio::test]
async fn review_rules_gates() {
    let dirs = Dirs::new();
    let r = dirs
        .create(
            Interface::Review,
            "rules",
            json!({
                "max_diff_lines": 5,
                "blocked_paths": ["secrets/**", "*.pem"],
                "forbidden_content": ["AKIA"],
            }),
        )
        .await;
    assert_eq!(r.handshake().await.unwrap().name, "rules");
    let got = r
        .call_json(
            "rules",
            "ReviewDiff",
            json!({"taskRunId": "run-7", "diff": RISKY_DIFF}),
        )
        .await
        .unwrap();
    let gate = json!({
        "passed": false,
        "summary": "failed (score 40): too large (7 changed lines, limit 5); blocked paths changed: secrets/prod.env; forbidden content in 1 added line",
        "comments": [{
            "filePath": "",
            "line": 0,
            "severity": "SEVERITY_WARNING",
            "message": "the change has 7 changed lines, more than the limit of 5",
            "suggestion": "split the change into smaller ones",
        }],
        "securityFindings": [
            {
                "ruleId": "blocked-path",
                "severity": "SEVERITY_ERROR",
                "filePath": "secrets/prod.env",
                "line": 0,
                "description": "changes secrets/prod.env, which matches the blocked path secrets/**",
                "cweId": "",
            },
            {
                "ruleId": "forbidden-content",
                "severity": "SEVERITY_CRITICAL",
                "filePath": "src/config.rs",
                "line": 3,
                "description": "an added line contains forbidden content \"AKIA\"",
                "cweId": "",
            },
        ],
        "score": 40,
    });
    assert_eq!(got, json!({"reviewId": "run-7", "gateResult": gate}));
    let kept = r
        .call_json("rules", "GetGateResult", json!({"reviewId": "run-7"}))
        .await
        .unwrap();
    assert_eq!(kept, json!({"gateResult": gate}));
    let (code, message) = domain(
        r.call_json("rules", "GetGateResult", json!({"reviewId": "run-8"}))
            .await,
    );
    assert_eq!(
        (code, message.as_str()),
        (ErrorCode::NotFound, "no review run-8")
    );

    // Each gate alone.
    let only = |options: Value| {
        let dirs = &dirs;
        async move {
            let r = dirs.create(Interface::Review, "rules", options).await;
            r.call_json("rules", "ReviewDiff", json!({"diff": RISKY_DIFF}))
                .await
                .unwrap()
        }
    };
    let size = only(json!({"max_diff_lines": 6})).await;
    assert_eq!(size["gateResult"]["score"], 80);
    assert_eq!(size["gateResult"]["passed"], false);
    assert_eq!(size["gateResult"]["comments"].as_array().unwrap().len(), 1);
    assert!(size["reviewId"].as_str().unwrap().starts_with("rules-"));
    let blocked = only(json!({"blocked_paths": ["**/*.env"]})).await;
    assert_eq!(
        blocked["gateResult"]["summary"],
        "failed (score 80): blocked paths changed: secrets/prod.env"
    );
    let forbidden = only(json!({"forbidden_content": ["AKIA", "D=4"]})).await;
    let findings = forbidden["gateResult"]["securityFindings"]
        .as_array()
        .unwrap();
    assert_eq!(
        findings
            .iter()
            .map(|f| (f["filePath"].as_str().unwrap(), f["line"].as_i64().unwrap()))
            .collect::<Vec<_>>(),
        [("src/config.rs", 3), ("secrets/prod.env", 4)]
    );
    assert_eq!(forbidden["gateResult"]["score"], 60);

    // Nothing configured: the same diff passes, and a generated id can be fetched back.
    let clean = only(json!({})).await;
    assert_eq!(
        clean["gateResult"],
        json!({"passed": true, "summary": "passed: 2 files, 7 changed lines, score 100",
               "comments": [], "securityFindings": [], "score": 100})
    );
    let r = dirs
        .create(Interface::Review, "rules", json!({"min_score": 100}))
        .await;
    let first = r
        .call_json("rules", "ReviewDiff", json!({"diff": RISKY_DIFF}))
        .await
        .unwrap();
    let id = first["reviewId"].as_str().unwrap();
    let back = r
        .call_json("rules", "GetGateResult", json!({"reviewId": id}))
        .await
        .unwrap();
    assert_eq!(back["gateResult"], first["gateResult"]);
    assert_eq!(back["gateResult"]["passed"], true);
}

#[test]
fn check_validates_without_creating() {
    // A ticket file that does not exist is fine for `check`: it only reads the options.
    assert_eq!(
        builtin::check(
            Interface::Ticketing,
            "local",
            &json!({"file": "nowhere.yaml"})
        ),
        Ok(())
    );
    let err = builtin::check(
        Interface::Notifications,
        "webhook",
        &json!({"url": "http://x", "header": {}}),
    )
    .unwrap_err();
    assert_eq!(err.key, "header");
    assert_eq!(
        err.message,
        "unknown option `header` of `webhook`; did you mean `headers`?"
    );
}
