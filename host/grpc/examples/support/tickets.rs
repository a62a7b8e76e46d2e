//! The ticketing backend shared by the Rust interop plugin (`examples/ticketing_plugin.rs`)
//! and the subprocess bench's plugin (`benches/src/bin/bench_ticketing_plugin.rs`): the
//! behaviour of `examples/plugins/README.md`, plus the failure hooks of `AddComment`
//! (`chaos:sleep` never answers, `chaos:exit` exits with code 3, `chaos:abort` aborts,
//! `chaos:stdout` prints 100 lines to stdout).

use async_trait::async_trait;
use robodev_core::ticketing::{
    AddCommentRequest, Backend, MarkCompleteRequest, MarkFailedRequest, MarkInProgressRequest,
    PollReadyTicketsRequest, PollReadyTicketsResponse,
};
use robodev_core::{Empty, Error, ErrorCode, Interface, PluginError, PluginInfo, Ticket};
use serde_json::json;

const REPO: &str = "https://git.example.com/acme/app.git";

/// The shared ticketing behaviour.
pub struct Tickets;

fn ticket(id: &str, title: &str, description: &str, kind: &str, labels: &[&str]) -> Ticket {
    Ticket {
        id: id.to_owned(),
        title: title.to_owned(),
        description: description.to_owned(),
        ticket_type: kind.to_owned(),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        repo_url: REPO.to_owned(),
        external_url: format!("https://tracker.example.com/{id}"),
        raw: None,
    }
}

fn object(value: serde_json::Value) -> Option<serde_json::Map<String, serde_json::Value>> {
    value.as_object().cloned()
}

fn base_tickets() -> Vec<Ticket> {
    let mut t1 = ticket(
        "T-1",
        "Fix login bug",
        "Users cannot log in with SSO.",
        "bug_fix",
        &["robodev", "backend"],
    );
    t1.raw = object(
        json!({"priority": "high", "points": 3, "nested": {"ok": true}, "tags": ["a", "b"], "none": null}),
    );
    let mut t2 = ticket(
        "T-2",
        "Update README",
        "The install section is out of date.",
        "documentation",
        &["robodev", "docs"],
    );
    t2.raw = object(json!({"priority": "low"}));
    let t3 = ticket(
        "T-3",
        "Refactor billing",
        "Split the billing module.",
        "refactor",
        &["backend"],
    );
    vec![t1, t2, t3]
}

fn known(id: &str) -> Result<Empty, Error> {
    let refused = |code, message: String| Error::Plugin {
        plugin: "rust-ticketing".to_owned(),
        interface: Interface::Ticketing,
        error: PluginError::new(code, message),
    };
    if id.is_empty() {
        Err(refused(
            ErrorCode::InvalidArgument,
            "ticket_id is empty".into(),
        ))
    } else if ["T-1", "T-2", "T-3"].contains(&id) {
        Ok(Empty {})
    } else {
        Err(refused(ErrorCode::NotFound, format!("no ticket {id}")))
    }
}

#[async_trait]
impl Backend for Tickets {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(PluginInfo {
            name: "rust-ticketing".to_owned(),
            version: "1.0.0".to_owned(),
        })
    }

    async fn poll_ready_tickets(
        &self,
        request: PollReadyTicketsRequest,
    ) -> Result<PollReadyTicketsResponse, Error> {
        let mut tickets: Vec<Ticket> = if request.labels.iter().any(|l| l == "bulk") {
            (0..200)
                .map(|i| {
                    let mut t = ticket(
                        &format!("B-{i}"),
                        &format!("Bulk {i}"),
                        &"x".repeat(512),
                        "bulk",
                        &["bulk"],
                    );
                    t.raw = object(json!({ "index": i }));
                    t
                })
                .collect()
        } else {
            base_tickets()
                .into_iter()
                .filter(|t| request.labels.iter().all(|l| t.labels.contains(l)))
                .collect()
        };
        if let Ok(max) = usize::try_from(request.max_results)
            && max > 0
        {
            tickets.truncate(max);
        }
        tracing::info!(count = tickets.len(), "polled tickets");
        Ok(PollReadyTicketsResponse { tickets })
    }

    async fn mark_in_progress(&self, request: MarkInProgressRequest) -> Result<Empty, Error> {
        known(&request.ticket_id)
    }

    async fn mark_complete(&self, request: MarkCompleteRequest) -> Result<Empty, Error> {
        known(&request.ticket_id)
    }

    async fn mark_failed(&self, request: MarkFailedRequest) -> Result<Empty, Error> {
        known(&request.ticket_id)
    }

    async fn add_comment(&self, request: AddCommentRequest) -> Result<Empty, Error> {
        match request.comment.as_str() {
            "chaos:sleep" => std::future::pending::<()>().await,
            "chaos:exit" => {
                eprintln!("chaos: exiting with code 3 in the middle of AddComment");
                std::process::exit(3);
            }
            "chaos:abort" => std::process::abort(),
            "chaos:stdout" => {
                for i in 0..100 {
                    println!("chaos stdout line {i}");
                }
            }
            _ => {}
        }
        known(&request.ticket_id)
    }
}
