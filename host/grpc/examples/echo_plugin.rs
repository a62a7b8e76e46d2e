//! An echo plugin binary for the host's end-to-end tests: it serves the interface named by
//! `ROBODEV_TEST_INTERFACE` (ticketing, notifications, approval, secrets, scm, review, engine)
//! with a small deterministic in-memory backend, so a test can call every method across a real
//! process and tell from the answer that the request arrived intact.
//!
//! - Every answer is derived from the request (e.g. secrets `GetSecret{key}` answers
//!   `secret-of-<key>`).
//! - The request's id or key `missing` (a ticket id, secret key, branch, pull request id,
//!   review id, task id, ...) is a domain error NOT_FOUND with message `no <what> missing`.
//! - The id or key `echo` is a domain error ABORTED whose message is the proto3 JSON of the
//!   whole request as the plugin received it: how a test checks the requests of methods whose
//!   response is empty.
//!
//! The handshake answers name `echo-<interface>`, version `0.1.0`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::approval::{
    CancelPendingRequest, RequestApprovalRequest, RequestApprovalResponse,
};
use robodev_core::engine::{
    BuildExecutionSpecRequest, BuildExecutionSpecResponse, BuildPromptRequest, BuildPromptResponse,
    ExecutionSpec, VolumeMount,
};
use robodev_core::notifications::{NotifyCompleteRequest, NotifyRequest, NotifyStartRequest};
use robodev_core::review::{
    GateResult, GetGateResultRequest, GetGateResultResponse, ReviewComment, ReviewDiffRequest,
    ReviewDiffResponse, SecurityFinding, Severity,
};
use robodev_core::scm::{
    CiStatus, CreateBranchRequest, CreateBranchResponse, CreatePullRequestRequest,
    CreatePullRequestResponse, GetDiffRequest, GetDiffResponse, GetPullRequestStatusRequest,
    GetPullRequestStatusResponse, ListReviewCommentsRequest, ListReviewCommentsResponse,
    PullRequestState, ReplyToCommentRequest, ResolveThreadRequest, ReviewStatus,
};
use robodev_core::secrets::{
    BuildEnvVarsRequest, BuildEnvVarsResponse, EnvVar, GetSecretRequest, GetSecretResponse,
    GetSecretsRequest, GetSecretsResponse, SecretKeyRef,
};
use robodev_core::ticketing::{
    AddCommentRequest, MarkCompleteRequest, MarkFailedRequest, MarkInProgressRequest,
    PollReadyTicketsRequest, PollReadyTicketsResponse,
};
use robodev_core::{
    AnyBackend, Empty, Error, ErrorCode, Interface, PluginError, PluginInfo, Ticket, approval,
    engine, notifications, review, scm, secrets, ticketing,
};
use robodev_grpc::ServeOptions;
use serde::Serialize;
use serde_json::json;

/// The echo backend of one interface (one type implements all seven traits).
struct Echo(Interface);

impl Echo {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: format!("echo-{}", self.0),
            version: "0.1.0".to_owned(),
        }
    }

    fn error(&self, code: ErrorCode, message: String) -> Error {
        Error::Plugin {
            plugin: format!("echo-{}", self.0),
            interface: self.0,
            error: PluginError::new(code, message),
        }
    }

    /// The sentinels: any of `ids` being `missing` is NOT_FOUND, `echo` is ABORTED carrying the
    /// request's proto3 JSON.
    fn check<'a, T: Serialize>(
        &self,
        what: &str,
        ids: impl IntoIterator<Item = &'a str>,
        request: &T,
    ) -> Result<(), Error> {
        for id in ids {
            match id {
                "missing" => {
                    return Err(self.error(ErrorCode::NotFound, format!("no {what} missing")));
                }
                "echo" => {
                    let text = serde_json::to_string(request).map_err(|e| {
                        self.error(ErrorCode::Internal, format!("cannot encode: {e}"))
                    })?;
                    return Err(self.error(ErrorCode::Aborted, text));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn ticket_id(ticket: Option<&Ticket>) -> &str {
    ticket.map_or("", |t| t.id.as_str())
}

// ---- ticketing --------------------------------------------------------------------------------

#[async_trait]
impl ticketing::Backend for Echo {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(self.info())
    }

    /// `max_results` tickets (at most 5, at least 1) carrying the requested labels; every one
    /// but the last has nested `raw` data.
    async fn poll_ready_tickets(
        &self,
        request: PollReadyTicketsRequest,
    ) -> Result<PollReadyTicketsResponse, Error> {
        self.check("label", request.labels.iter().map(String::as_str), &request)?;
        let count = request.max_results.clamp(1, 5);
        let tickets = (1..=count)
            .map(|i| {
                let mut labels = request.labels.clone();
                labels.push(format!("echo-{i}"));
                Ticket {
                    // A `missing-ticket` label makes the first ticket one the plugin does not
                    // know (`missing`): every later call about it is NOT_FOUND.
                    id: if i == 1 && request.labels.iter().any(|l| l == "missing-ticket") {
                        "missing".to_owned()
                    } else {
                        format!("E-{i}")
                    },
                    title: format!("Ticket {i} of {count}"),
                    description: format!("Labels: {}\nSecond line ✓", request.labels.join(", ")),
                    ticket_type: if i % 2 == 0 { "refactor" } else { "bug_fix" }.to_owned(),
                    labels,
                    repo_url: "https://git.example.com/acme/app.git".to_owned(),
                    external_url: format!("https://tracker.example.com/E-{i}"),
                    raw: if i < count {
                        json!({
                            "index": i,
                            "labels": request.labels,
                            "ratio": 0.5,
                            "negative": -3,
                            "none": null,
                            "emptyObject": {},
                            "emptyList": [],
                            "nested": {"deep": {"ok": true, "list": [1, "two", [3.5], {"four": 4}]}},
                        })
                        .as_object()
                        .cloned()
                    } else {
                        None
                    },
                }
            })
            .collect();
        Ok(PollReadyTicketsResponse { tickets })
    }

    async fn mark_in_progress(&self, request: MarkInProgressRequest) -> Result<Empty, Error> {
        self.check("ticket", [request.ticket_id.as_str()], &request)?;
        Ok(Empty {})
    }

    async fn mark_complete(&self, request: MarkCompleteRequest) -> Result<Empty, Error> {
        self.check("ticket", [request.ticket_id.as_str()], &request)?;
        Ok(Empty {})
    }

    async fn mark_failed(&self, request: MarkFailedRequest) -> Result<Empty, Error> {
        self.check("ticket", [request.ticket_id.as_str()], &request)?;
        Ok(Empty {})
    }

    async fn add_comment(&self, request: AddCommentRequest) -> Result<Empty, Error> {
        self.check("ticket", [request.ticket_id.as_str()], &request)?;
        Ok(Empty {})
    }
}

// ---- notifications ----------------------------------------------------------------------------

#[async_trait]
impl notifications::Backend for Echo {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(self.info())
    }

    async fn notify(&self, request: NotifyRequest) -> Result<Empty, Error> {
        self.check("ticket", [ticket_id(request.ticket.as_ref())], &request)?;
        Ok(Empty {})
    }

    async fn notify_start(&self, request: NotifyStartRequest) -> Result<Empty, Error> {
        self.check("ticket", [ticket_id(request.ticket.as_ref())], &request)?;
        Ok(Empty {})
    }

    async fn notify_complete(&self, request: NotifyCompleteRequest) -> Result<Empty, Error> {
        self.check("ticket", [ticket_id(request.ticket.as_ref())], &request)?;
        Ok(Empty {})
    }
}

// ---- approval ---------------------------------------------------------------------------------

#[async_trait]
impl approval::Backend for Echo {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(self.info())
    }

    /// The request id is `<task run>/<ticket id>/<ticket title>/<options joined by |>`.
    async fn request_approval(
        &self,
        request: RequestApprovalRequest,
    ) -> Result<RequestApprovalResponse, Error> {
        self.check("ticket", [ticket_id(request.ticket.as_ref())], &request)?;
        let title = request.ticket.as_ref().map_or("", |t| t.title.as_str());
        Ok(RequestApprovalResponse {
            request_id: format!(
                "{}/{}/{title}/{}",
                request.task_run_id,
                ticket_id(request.ticket.as_ref()),
                request.options.join("|")
            ),
        })
    }

    async fn cancel_pending(&self, request: CancelPendingRequest) -> Result<Empty, Error> {
        self.check("task run", [request.task_run_id.as_str()], &request)?;
        Ok(Empty {})
    }
}

// ---- secrets ----------------------------------------------------------------------------------

fn secret_of(key: &str) -> String {
    format!("secret-of-{key}")
}

#[async_trait]
impl secrets::Backend for Echo {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(self.info())
    }

    async fn get_secret(&self, request: GetSecretRequest) -> Result<GetSecretResponse, Error> {
        self.check("secret", [request.key.as_str()], &request)?;
        Ok(GetSecretResponse {
            value: secret_of(&request.key),
        })
    }

    async fn get_secrets(&self, request: GetSecretsRequest) -> Result<GetSecretsResponse, Error> {
        self.check("secret", request.keys.iter().map(String::as_str), &request)?;
        Ok(GetSecretsResponse {
            secrets: request
                .keys
                .iter()
                .map(|k| (k.clone(), secret_of(k)))
                .collect(),
        })
    }

    /// A key `k8s:<secret>/<key>` becomes a secretKeyRef, any other key a plain value.
    async fn build_env_vars(
        &self,
        request: BuildEnvVarsRequest,
    ) -> Result<BuildEnvVarsResponse, Error> {
        self.check(
            "secret",
            request.secret_refs.iter().map(|r| r.secret_key.as_str()),
            &request,
        )?;
        let env_vars = request
            .secret_refs
            .iter()
            .map(|r| match r.secret_key.strip_prefix("k8s:") {
                Some(reference) => {
                    let (name, key) = reference.split_once('/').unwrap_or((reference, ""));
                    EnvVar {
                        name: r.env_name.clone(),
                        value: String::new(),
                        secret_ref: Some(SecretKeyRef {
                            name: name.to_owned(),
                            key: key.to_owned(),
                        }),
                    }
                }
                None => EnvVar {
                    name: r.env_name.clone(),
                    value: secret_of(&r.secret_key),
                    secret_ref: None,
                },
            })
            .collect();
        Ok(BuildEnvVarsResponse { env_vars })
    }
}

// ---- scm --------------------------------------------------------------------------------------

#[async_trait]
impl scm::Backend for Echo {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(self.info())
    }

    async fn create_branch(
        &self,
        request: CreateBranchRequest,
    ) -> Result<CreateBranchResponse, Error> {
        self.check("ref", [request.base_ref.as_str()], &request)?;
        Ok(CreateBranchResponse {
            sha: format!(
                "sha:{}@{}:{}",
                request.branch_name, request.base_ref, request.repo_url
            ),
        })
    }

    /// The pull request number is 40 + the number of labels (+ 100 for a draft).
    async fn create_pull_request(
        &self,
        request: CreatePullRequestRequest,
    ) -> Result<CreatePullRequestResponse, Error> {
        self.check("branch", [request.head_branch.as_str()], &request)?;
        let number = 40 + request.labels.len() + if request.draft { 100 } else { 0 };
        Ok(CreatePullRequestResponse {
            pull_request_url: format!(
                "{}/pull/{number}?head={}&base={}&labels={}&title={}&body_lines={}",
                request.repo_url.trim_end_matches(".git"),
                request.head_branch,
                request.base_branch,
                request.labels.join(","),
                request.title,
                request.body.lines().count()
            ),
            pull_request_id: number.to_string(),
        })
    }

    /// Pull requests 1 to 4 cover every non-default enum value; others are open.
    async fn get_pull_request_status(
        &self,
        request: GetPullRequestStatusRequest,
    ) -> Result<GetPullRequestStatusResponse, Error> {
        self.check("pull request", [request.pull_request_id.as_str()], &request)?;
        let (state, mergeable, ci_status, review_status) = match request.pull_request_id.as_str() {
            "2" => (
                PullRequestState::Closed,
                false,
                CiStatus::Passing,
                ReviewStatus::Approved,
            ),
            "3" => (
                PullRequestState::Merged,
                true,
                CiStatus::Failing,
                ReviewStatus::ChangesRequested,
            ),
            "4" => (
                PullRequestState::Draft,
                false,
                CiStatus::Pending,
                ReviewStatus::Pending,
            ),
            _ => (
                PullRequestState::Open,
                true,
                CiStatus::Pending,
                ReviewStatus::Pending,
            ),
        };
        Ok(GetPullRequestStatusResponse {
            state,
            mergeable,
            ci_status,
            review_status,
            pull_request_url: format!(
                "{}/pull/{}",
                request.repo_url.trim_end_matches(".git"),
                request.pull_request_id
            ),
        })
    }

    /// A line comment (with a creation time beyond 2^53) and a general comment.
    async fn list_review_comments(
        &self,
        request: ListReviewCommentsRequest,
    ) -> Result<ListReviewCommentsResponse, Error> {
        self.check("pull request", [request.pr_url.as_str()], &request)?;
        Ok(ListReviewCommentsResponse {
            comments: vec![
                scm::ReviewComment {
                    id: "c-1".to_owned(),
                    thread_id: "t-1".to_owned(),
                    author: "reviewer-ü".to_owned(),
                    body: format!("Please fix this in {}", request.pr_url),
                    file_path: "src/lib.rs".to_owned(),
                    line: 42,
                    created_unix: 9_007_199_254_740_993,
                },
                scm::ReviewComment {
                    id: "c-2".to_owned(),
                    thread_id: "t-2".to_owned(),
                    author: "maintainer".to_owned(),
                    body: "LGTM overall".to_owned(),
                    file_path: String::new(),
                    line: 0,
                    created_unix: -1,
                },
            ],
        })
    }

    async fn reply_to_comment(&self, request: ReplyToCommentRequest) -> Result<Empty, Error> {
        self.check("comment", [request.comment_id.as_str()], &request)?;
        Ok(Empty {})
    }

    async fn resolve_thread(&self, request: ResolveThreadRequest) -> Result<Empty, Error> {
        self.check("thread", [request.thread_id.as_str()], &request)?;
        Ok(Empty {})
    }

    async fn get_diff(&self, request: GetDiffRequest) -> Result<GetDiffResponse, Error> {
        self.check("branch", [request.branch_name.as_str()], &request)?;
        Ok(GetDiffResponse {
            diff: format!(
                "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-{}\n+{}\n# {}\n",
                request.base_branch, request.branch_name, request.repo_url
            ),
        })
    }
}

// ---- review -----------------------------------------------------------------------------------

/// A verdict naming `review_id`, with comments of severities info, warning and error and a
/// critical security finding.
fn gate(review_id: &str, passed: bool, lines: usize) -> GateResult {
    let line = i32::try_from(lines).unwrap_or(i32::MAX);
    GateResult {
        passed,
        summary: format!("review {review_id}: {lines} diff lines"),
        comments: vec![
            ReviewComment {
                file_path: "src/main.rs".to_owned(),
                line,
                severity: Severity::Info,
                message: "consider a doc comment".to_owned(),
                suggestion: "/// Does things.".to_owned(),
            },
            ReviewComment {
                file_path: "src/lib.rs".to_owned(),
                line: line + 1,
                severity: Severity::Warning,
                message: "unused variable".to_owned(),
                suggestion: "let _x = 1;".to_owned(),
            },
            ReviewComment {
                file_path: "src/db.rs".to_owned(),
                line: line + 2,
                severity: Severity::Error,
                message: "SQL built by string concatenation".to_owned(),
                suggestion: "use a bound parameter".to_owned(),
            },
        ],
        security_findings: vec![SecurityFinding {
            rule_id: "hardcoded-secret".to_owned(),
            severity: Severity::Critical,
            file_path: "config/prod.yaml".to_owned(),
            line: 7,
            description: format!("a token is committed ({review_id})"),
            cwe_id: "CWE-798".to_owned(),
        }],
        score: 87,
    }
}

#[async_trait]
impl review::Backend for Echo {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(self.info())
    }

    async fn review_diff(&self, request: ReviewDiffRequest) -> Result<ReviewDiffResponse, Error> {
        self.check("task run", [request.task_run_id.as_str()], &request)?;
        let review_id = format!(
            "review-{}-{}",
            request.task_run_id,
            ticket_id(request.ticket.as_ref())
        );
        let passed = request.result.as_ref().is_some_and(|r| r.success);
        let mut verdict = gate(&review_id, passed, request.diff.lines().count());
        verdict.summary = format!(
            "{} on {} ({})",
            verdict.summary, request.branch_name, request.repo_url
        );
        Ok(ReviewDiffResponse {
            review_id,
            gate_result: Some(verdict),
        })
    }

    async fn get_gate_result(
        &self,
        request: GetGateResultRequest,
    ) -> Result<GetGateResultResponse, Error> {
        self.check("review", [request.review_id.as_str()], &request)?;
        Ok(GetGateResultResponse {
            gate_result: Some(gate(&request.review_id, true, 3)),
        })
    }
}

// ---- engine -----------------------------------------------------------------------------------

#[async_trait]
impl engine::Backend for Echo {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(self.info())
    }

    /// The spec: the configured image, resources and env, plus the task's id, repository and
    /// metadata (`META_<KEY>`), one read-only volume per label and a workspace volume.
    async fn build_execution_spec(
        &self,
        request: BuildExecutionSpecRequest,
    ) -> Result<BuildExecutionSpecResponse, Error> {
        let task = request.task.clone().unwrap_or_default();
        self.check("task", [task.id.as_str()], &request)?;
        let config = request.config.unwrap_or_default();
        let mut env: BTreeMap<String, String> = config.env;
        env.insert("TASK_ID".to_owned(), task.id.clone());
        env.insert("REPO_URL".to_owned(), task.repo_url.clone());
        for (k, v) in &task.metadata {
            env.insert(format!("META_{}", k.to_uppercase()), v.clone());
        }
        let mut volumes = vec![VolumeMount {
            name: "workspace".to_owned(),
            mount_path: format!("/workspace/{}", task.id),
            read_only: false,
        }];
        volumes.extend(task.labels.iter().map(|l| VolumeMount {
            name: format!("label-{l}"),
            mount_path: format!("/labels/{l}"),
            read_only: true,
        }));
        Ok(BuildExecutionSpecResponse {
            spec: Some(ExecutionSpec {
                image: config.image,
                command: vec![
                    "agent".to_owned(),
                    "run".to_owned(),
                    "--task".to_owned(),
                    task.id.clone(),
                    "--ticket".to_owned(),
                    task.ticket_id.clone(),
                ],
                env,
                secret_env: [(
                    "AGENT_API_KEY".to_owned(),
                    format!("agents/{}/api-key", task.ticket_id),
                )]
                .into(),
                resource_requests: config.resource_requests,
                resource_limits: config.resource_limits,
                volumes,
                active_deadline_seconds: config.timeout_seconds + 300,
            }),
        })
    }

    async fn build_prompt(
        &self,
        request: BuildPromptRequest,
    ) -> Result<BuildPromptResponse, Error> {
        let task = request.task.clone().unwrap_or_default();
        self.check("task", [task.id.as_str()], &request)?;
        let metadata: Vec<String> = task
            .metadata
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        Ok(BuildPromptResponse {
            prompt: format!(
                "# {}\n\n{}\n\nTask: {}\nTicket: {}\nRepository: {}\nLabels: {}\nMetadata: {}\n",
                task.title,
                task.description,
                task.id,
                task.ticket_id,
                task.repo_url,
                task.labels.join(", "),
                metadata.join(", ")
            ),
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), robodev_grpc::ServeError> {
    let name = std::env::var("ROBODEV_TEST_INTERFACE").unwrap_or_default();
    let interface: Interface = match name.parse() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("echo_plugin: set ROBODEV_TEST_INTERFACE: {e}");
            std::process::exit(2);
        }
    };
    let echo = Arc::new(Echo(interface));
    let backend = match interface {
        Interface::Ticketing => AnyBackend::Ticketing(echo),
        Interface::Notifications => AnyBackend::Notifications(echo),
        Interface::Approval => AnyBackend::Approval(echo),
        Interface::Secrets => AnyBackend::Secrets(echo),
        Interface::Scm => AnyBackend::Scm(echo),
        Interface::Review => AnyBackend::Review(echo),
        Interface::Engine => AnyBackend::Engine(echo),
    };
    let options = ServeOptions {
        log_module: Some("echo".to_owned()),
        ..ServeOptions::default()
    };
    robodev_grpc::serve_with(backend, options).await
}
