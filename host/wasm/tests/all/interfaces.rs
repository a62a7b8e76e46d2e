//! Every interface end to end through its core trait, against the example guests.

use robodev_core::{
    AnyBackend, ErrorCode, Interface, Ticket, approval, engine, review, scm, secrets, ticketing,
};
use robodev_wasm::Grants;
use serde_json::json;

use crate::{config, domain_code, load, options};

const TICKETS: &str = r#"[
  {"id":"A-1","title":"one","labels":["robodev"]},
  {"id":"A-2","title":"two","labels":["robodev","flaky"]},
  {"id":"A-3","title":"three","labels":["humans"]}
]"#;

#[tokio::test]
async fn ticketing_lifecycle_through_the_trait() {
    let dir = tempfile::tempdir().unwrap();
    let grants = Grants {
        config: config(&[("tickets", TICKETS)]),
        kv_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let plugin = load("ticketing_kv", options("tix", Interface::Ticketing, grants)).await;
    assert_eq!(plugin.plugin_info().name, "ticketing-kv");
    let AnyBackend::Ticketing(t) = plugin.backend() else {
        panic!("not a ticketing backend")
    };
    let ready = t
        .poll_ready_tickets(ticketing::PollReadyTicketsRequest {
            labels: vec!["robodev".into()],
            max_results: 0,
        })
        .await
        .unwrap();
    let ids: Vec<_> = ready.tickets.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["A-1", "A-2"]);
    let one = t
        .poll_ready_tickets(ticketing::PollReadyTicketsRequest {
            labels: vec!["robodev".into(), "flaky".into()],
            max_results: 5,
        })
        .await
        .unwrap();
    assert_eq!(one.tickets.len(), 1);
    assert_eq!(one.tickets[0].id, "A-2");
    assert_eq!(one.tickets[0].raw.as_ref().unwrap()["state"], "ready");

    t.mark_in_progress(ticketing::MarkInProgressRequest {
        ticket_id: "A-1".into(),
    })
    .await
    .unwrap();
    t.add_comment(ticketing::AddCommentRequest {
        ticket_id: "A-1".into(),
        comment: "working on it".into(),
    })
    .await
    .unwrap();
    let after = t
        .poll_ready_tickets(ticketing::PollReadyTicketsRequest {
            labels: vec!["robodev".into()],
            max_results: 0,
        })
        .await
        .unwrap();
    assert_eq!(after.tickets.len(), 1, "A-1 is no longer ready");

    let err = t
        .mark_in_progress(ticketing::MarkInProgressRequest {
            ticket_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(domain_code::<()>(Err(err.clone())), ErrorCode::NotFound);
    let err = t
        .mark_failed(ticketing::MarkFailedRequest {
            ticket_id: "A-3".into(),
            reason: "never started".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        domain_code::<()>(Err(err.clone())),
        ErrorCode::FailedPrecondition
    );
    t.mark_complete(ticketing::MarkCompleteRequest {
        ticket_id: "A-1".into(),
        result: Some(robodev_core::TaskResult {
            success: true,
            summary: "done".into(),
            ..Default::default()
        }),
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn notifications_dry_run_and_json_dispatch() {
    let plugin = load(
        "notify_webhook",
        options("notify", Interface::Notifications, Grants::default()),
    )
    .await;
    let backend = plugin.backend();
    let out = backend
        .call_json(
            "notify",
            "Notify",
            json!({"message": "hello", "ticket": {"id": "T-1", "title": "t"}}),
        )
        .await
        .unwrap();
    assert_eq!(out, json!({}));
    backend
        .call_json(
            "notify",
            "notify-start",
            json!({"taskRunId": "run-1", "engine": "codex"}),
        )
        .await
        .unwrap();
    backend
        .call_json(
            "notify",
            "notify-complete",
            json!({"taskRunId": "run-1", "result": {"success": true, "tokenUsage": {"inputTokens": "12", "outputTokens": 3}}}),
        )
        .await
        .unwrap();
    let err = backend
        .call_json("notify", "notify", json!({"mesage": "typo"}))
        .await
        .unwrap_err();
    assert_eq!(err.outcome(), robodev_core::Outcome::Host);
    assert!(err.to_string().contains("mesage"), "{err}");
    let err = backend
        .call_json("notify", "no-such-method", json!({}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("notify-start"), "{err}");
}

#[tokio::test]
async fn approval_requests_and_cancellation() {
    let dir = tempfile::tempdir().unwrap();
    let grants = Grants {
        kv_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let plugin = load(
        "approval_kv",
        options("approve", Interface::Approval, grants),
    )
    .await;
    let AnyBackend::Approval(a) = plugin.backend() else {
        panic!()
    };
    let req = |q: &str| approval::RequestApprovalRequest {
        question: q.into(),
        ticket: Some(Ticket {
            id: "T-9".into(),
            ..Default::default()
        }),
        task_run_id: "run-7".into(),
        options: vec!["yes".into(), "no".into()],
    };
    assert_eq!(
        a.request_approval(req("merge?")).await.unwrap().request_id,
        "run-7-1"
    );
    assert_eq!(
        a.request_approval(req("deploy?")).await.unwrap().request_id,
        "run-7-2"
    );
    let err = a.request_approval(req("")).await.unwrap_err();
    assert_eq!(
        domain_code::<()>(Err(err.clone())),
        ErrorCode::InvalidArgument
    );
    a.cancel_pending(approval::CancelPendingRequest {
        task_run_id: "run-7".into(),
    })
    .await
    .unwrap();
    let err = a
        .cancel_pending(approval::CancelPendingRequest {
            task_run_id: "run-7".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(domain_code::<()>(Err(err.clone())), ErrorCode::NotFound);
}

#[tokio::test]
async fn secrets_from_granted_config() {
    let grants = Grants {
        config: config(&[("secret.db-password", "hunter2"), ("secret.api", "k-123")]),
        ..Default::default()
    };
    let plugin = load(
        "secrets_config",
        options("vault", Interface::Secrets, grants),
    )
    .await;
    let AnyBackend::Secrets(s) = plugin.backend() else {
        panic!()
    };
    let v = s
        .get_secret(secrets::GetSecretRequest {
            key: "db-password".into(),
        })
        .await
        .unwrap();
    assert_eq!(v.value, "hunter2");
    let many = s
        .get_secrets(secrets::GetSecretsRequest {
            keys: vec!["api".into(), "db-password".into()],
        })
        .await
        .unwrap();
    assert_eq!(many.secrets.len(), 2);
    assert_eq!(many.secrets["api"], "k-123");
    let err = s
        .get_secrets(secrets::GetSecretsRequest {
            keys: vec!["api".into(), "missing".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(domain_code::<()>(Err(err.clone())), ErrorCode::NotFound);
    assert!(err.to_string().contains("missing"), "{err}");
    let env = s
        .build_env_vars(secrets::BuildEnvVarsRequest {
            secret_refs: vec![
                secrets::SecretRef {
                    env_name: "API_KEY".into(),
                    secret_key: "api".into(),
                },
                secrets::SecretRef {
                    env_name: "DB".into(),
                    secret_key: "k8s:db-creds/password".into(),
                },
            ],
        })
        .await
        .unwrap();
    assert_eq!(env.env_vars[0].name, "API_KEY");
    assert_eq!(env.env_vars[0].value, "k-123");
    assert_eq!(env.env_vars[0].secret_ref, None);
    assert_eq!(env.env_vars[1].value, "");
    assert_eq!(
        env.env_vars[1].secret_ref,
        Some(secrets::SecretKeyRef {
            name: "db-creds".into(),
            key: "password".into()
        })
    );
}

#[tokio::test]
async fn scm_branches_pull_requests_and_comments() {
    let dir = tempfile::tempdir().unwrap();
    let comments = r#"[{"id":"c1","threadId":"t1","author":"alice","body":"rename this","filePath":"src/lib.rs","line":3,"createdUnix":1700000000}]"#;
    let grants = Grants {
        config: config(&[("comments", comments)]),
        kv_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let plugin = load("scm_kv", options("git", Interface::Scm, grants)).await;
    let AnyBackend::Scm(s) = plugin.backend() else {
        panic!()
    };
    let repo = "https://git.example/acme/api";
    let branch = s
        .create_branch(scm::CreateBranchRequest {
            repo_url: repo.into(),
            branch_name: "robodev/fix-1".into(),
            base_ref: "main".into(),
        })
        .await
        .unwrap();
    assert_eq!(branch.sha.len(), 16);
    let err = s
        .create_branch(scm::CreateBranchRequest {
            repo_url: repo.into(),
            branch_name: "robodev/fix-1".into(),
            base_ref: "main".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        domain_code::<()>(Err(err.clone())),
        ErrorCode::AlreadyExists
    );
    let pr = s
        .create_pull_request(scm::CreatePullRequestRequest {
            repo_url: repo.into(),
            title: "Fix".into(),
            head_branch: "robodev/fix-1".into(),
            base_branch: "main".into(),
            draft: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        pr.pull_request_url,
        format!("{repo}/pull/{}", pr.pull_request_id)
    );
    let status = s
        .get_pull_request_status(scm::GetPullRequestStatusRequest {
            repo_url: repo.into(),
            pull_request_id: pr.pull_request_id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(status.state, scm::PullRequestState::Draft);
    assert_eq!(status.ci_status, scm::CiStatus::Pending);
    let listed = s
        .list_review_comments(scm::ListReviewCommentsRequest {
            pr_url: pr.pull_request_url.clone(),
        })
        .await
        .unwrap();
    assert_eq!(listed.comments.len(), 1);
    assert_eq!(listed.comments[0].created_unix, 1_700_000_000);
    s.reply_to_comment(scm::ReplyToCommentRequest {
        pr_url: pr.pull_request_url.clone(),
        comment_id: "c1".into(),
        body: "done".into(),
    })
    .await
    .unwrap();
    let err = s
        .resolve_thread(scm::ResolveThreadRequest {
            pr_url: pr.pull_request_url.clone(),
            thread_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(domain_code::<()>(Err(err.clone())), ErrorCode::NotFound);
    let diff = s
        .get_diff(scm::GetDiffRequest {
            repo_url: repo.into(),
            base_branch: "main".into(),
            branch_name: "robodev/fix-1".into(),
        })
        .await
        .unwrap();
    assert!(diff.diff.contains("robodev/fix-1"), "{}", diff.diff);
}

#[tokio::test]
async fn review_gate_scores_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    let grants = Grants {
        kv_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let plugin = load("review_rules", options("gate", Interface::Review, grants)).await;
    let AnyBackend::Review(r) = plugin.backend() else {
        panic!()
    };
    let diff = "\
diff --git a/src/db.rs b/src/db.rs
--- a/src/db.rs
+++ b/src/db.rs
@@ -1,2 +10,4 @@
 fn connect() {
+    let password = \"hunter2\";
+    let conn = open(password).unwrap(); // TODO: pool
 }
";
    let out = r
        .review_diff(review::ReviewDiffRequest {
            task_run_id: "run-1".into(),
            diff: diff.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(out.review_id, "review-run-1");
    let gate = out.gate_result.unwrap();
    assert!(!gate.passed, "a hard-coded credential fails the gate");
    assert_eq!(gate.security_findings.len(), 1);
    let f = &gate.security_findings[0];
    assert_eq!(
        (f.rule_id.as_str(), f.cwe_id.as_str()),
        ("hardcoded-credential", "CWE-798")
    );
    assert_eq!((f.file_path.as_str(), f.line), ("src/db.rs", 11));
    assert_eq!(f.severity, review::Severity::Critical);
    // TODO (info, 2) + unwrap (warning, 5) + critical (40) => 53
    assert_eq!(gate.score, 53);
    let again = r
        .get_gate_result(review::GetGateResultRequest {
            review_id: "review-run-1".into(),
        })
        .await
        .unwrap();
    assert_eq!(again.gate_result.unwrap(), gate);

    let clean = r
        .review_diff(review::ReviewDiffRequest {
            task_run_id: "run-2".into(),
            diff: "+++ b/a.rs\n@@ -1 +1 @@\n+let x = 1;\n".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let g = clean.gate_result.unwrap();
    assert!(g.passed);
    assert_eq!(g.score, 100);
}

#[tokio::test]
async fn engine_builds_spec_and_prompt() {
    let plugin = load(
        "engine_basic",
        options("claude", Interface::Engine, Grants::default()),
    )
    .await;
    let AnyBackend::Engine(e) = plugin.backend() else {
        panic!()
    };
    let task = engine::Task {
        id: "task-1".into(),
        ticket_id: "PROJ-1".into(),
        title: "Bump serde".into(),
        description: "Update the lockfile.".into(),
        repo_url: "https://git.example/acme/api".into(),
        labels: vec!["robodev".into()],
        ..Default::default()
    };
    let spec = e
        .build_execution_spec(engine::BuildExecutionSpecRequest {
            task: Some(task.clone()),
            config: Some(engine::EngineConfig {
                image: "ghcr.io/acme/agent:1".into(),
                timeout_seconds: 600,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(spec.image, "ghcr.io/acme/agent:1");
    assert_eq!(spec.active_deadline_seconds, 600);
    assert_eq!(spec.env["TASK_ID"], "task-1");
    assert_eq!(spec.env["TICKET_ID"], "PROJ-1");
    assert!(spec.command.contains(&"task-1".to_owned()));
    let prompt = e
        .build_prompt(engine::BuildPromptRequest { task: Some(task) })
        .await
        .unwrap()
        .prompt;
    assert!(prompt.contains("Bump serde") && prompt.contains("Update the lockfile."));
    let err = e
        .build_execution_spec(engine::BuildExecutionSpecRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        domain_code::<()>(Err(err.clone())),
        ErrorCode::InvalidArgument
    );
}
