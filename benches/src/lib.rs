//! Native Rust backends used as the baseline in the plugin-call benches: the same traits,
//! doing the same work as the guest components, without a sandbox.

#[cfg(feature = "extism")]
pub mod extism;
pub mod raw;
pub mod report;

use async_trait::async_trait;
use robodev_core::{Empty, Error, PluginInfo, Ticket, notifications, review, ticketing};

/// The benches' one-ticket `notify` request (the floor's [`raw::MESSAGE`] and ticket).
pub fn notify_request() -> notifications::NotifyRequest {
    notifications::NotifyRequest {
        message: raw::MESSAGE.into(),
        ticket: Some(Ticket {
            id: "PROJ-1".into(),
            title: "Bump serde".into(),
            labels: vec!["robodev".into()],
            ..Default::default()
        }),
    }
}

/// Native twin of the `notify-webhook` guest in dry-run mode: formats the log line it would
/// write, and succeeds.
pub struct NativeNotify;

#[async_trait]
impl notifications::Backend for NativeNotify {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(PluginInfo {
            name: "native-notify".into(),
            version: "0".into(),
        })
    }
    async fn notify(&self, r: notifications::NotifyRequest) -> Result<Empty, Error> {
        let id = r.ticket.as_ref().map_or("", |t| t.id.as_str());
        std::hint::black_box(format!("dry run: notify {id}: {}", r.message));
        Ok(Empty {})
    }
    async fn notify_start(&self, _: notifications::NotifyStartRequest) -> Result<Empty, Error> {
        Ok(Empty {})
    }
    async fn notify_complete(
        &self,
        _: notifications::NotifyCompleteRequest,
    ) -> Result<Empty, Error> {
        Ok(Empty {})
    }
}

/// Native twin of `ticketing-kv` with `generate: N`: N synthetic ready tickets.
pub struct NativeTicketing(pub Vec<Ticket>);

impl NativeTicketing {
    /// `n` tickets shaped like the guest's synthetic ones.
    pub fn generate(n: usize) -> Self {
        NativeTicketing(
            (1..=n)
                .map(|i| Ticket {
                    id: format!("T-{i:04}"),
                    title: format!("Synthetic ticket {i}"),
                    description: format!("Generated ticket number {i} for benchmarks."),
                    ticket_type: "bug_fix".into(),
                    labels: vec!["robodev".into()],
                    repo_url: "https://git.example/acme/bench".into(),
                    external_url: format!("https://tracker.example/T-{i:04}"),
                    raw: None,
                })
                .collect(),
        )
    }
}

#[async_trait]
impl ticketing::Backend for NativeTicketing {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(PluginInfo::default())
    }
    async fn poll_ready_tickets(
        &self,
        r: ticketing::PollReadyTicketsRequest,
    ) -> Result<ticketing::PollReadyTicketsResponse, Error> {
        let max = usize::try_from(r.max_results).unwrap_or(0);
        let tickets = self
            .0
            .iter()
            .filter(|t| r.labels.iter().all(|l| t.labels.contains(l)))
            .take(if max == 0 { usize::MAX } else { max })
            .cloned()
            .collect();
        Ok(ticketing::PollReadyTicketsResponse { tickets })
    }
    async fn mark_in_progress(&self, _: ticketing::MarkInProgressRequest) -> Result<Empty, Error> {
        Ok(Empty {})
    }
    async fn mark_complete(&self, _: ticketing::MarkCompleteRequest) -> Result<Empty, Error> {
        Ok(Empty {})
    }
    async fn mark_failed(&self, _: ticketing::MarkFailedRequest) -> Result<Empty, Error> {
        Ok(Empty {})
    }
    async fn add_comment(&self, _: ticketing::AddCommentRequest) -> Result<Empty, Error> {
        Ok(Empty {})
    }
}

/// Native twin of `review-rules`: one pass over the added lines with the same rules.
pub struct NativeReview;

#[async_trait]
impl review::Backend for NativeReview {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(PluginInfo::default())
    }
    async fn review_diff(
        &self,
        r: review::ReviewDiffRequest,
    ) -> Result<review::ReviewDiffResponse, Error> {
        use review::Severity as S;
        let (mut file, mut line) = (String::new(), 0i32);
        let mut gate = review::GateResult::default();
        let mut penalty = 0;
        for text in r.diff.lines() {
            if let Some(path) = text.strip_prefix("+++ b/") {
                file = path.to_owned();
            } else if let Some(hunk) = text.strip_prefix("@@ ") {
                line = hunk
                    .split_whitespace()
                    .nth(1)
                    .and_then(|p| p.trim_start_matches('+').split(',').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
            } else if let Some(added) = text.strip_prefix('+') {
                let mut comment = |severity, message: &str, weight| {
                    gate.comments.push(review::ReviewComment {
                        file_path: file.clone(),
                        line,
                        severity,
                        message: message.into(),
                        suggestion: String::new(),
                    });
                    penalty += weight;
                };
                if added.contains("TODO") || added.contains("FIXME") {
                    comment(S::Info, "TODO/FIXME left in the change", 2);
                }
                if added.contains(".unwrap()") {
                    comment(S::Warning, "`.unwrap()` panics on error", 5);
                }
                if ["password = \"", "api_key = \"", "secret = \""]
                    .iter()
                    .any(|p| added.contains(p))
                {
                    gate.security_findings.push(review::SecurityFinding {
                        rule_id: "hardcoded-credential".into(),
                        severity: S::Critical,
                        file_path: file.clone(),
                        line,
                        description: "hard-coded credential".into(),
                        cwe_id: "CWE-798".into(),
                    });
                    penalty += 40;
                }
                line += 1;
            } else if !text.starts_with('-') {
                line += 1;
            }
        }
        gate.score = (100 - penalty).max(0);
        gate.passed = gate.score >= 70 && gate.security_findings.is_empty();
        Ok(review::ReviewDiffResponse {
            review_id: format!("review-{}", r.task_run_id),
            gate_result: Some(gate),
        })
    }
    async fn get_gate_result(
        &self,
        _: review::GetGateResultRequest,
    ) -> Result<review::GetGateResultResponse, Error> {
        Ok(review::GetGateResultResponse::default())
    }
}

/// A unified diff of about `bytes` bytes, a mix of clean and rule-matching added lines.
pub fn synthetic_diff(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 256);
    let mut file = 0;
    while out.len() < bytes {
        file += 1;
        out.push_str(&format!(
            "diff --git a/src/f{file}.rs b/src/f{file}.rs\n--- a/src/f{file}.rs\n+++ b/src/f{file}.rs\n@@ -1,40 +1,60 @@\n"
        ));
        for i in 0..60 {
            let line = match i % 20 {
                3 => "+    let v = parse(input).unwrap(); // TODO: errors\n",
                11 => " fn unchanged_context_line() -> u32 { 42 }\n",
                17 => "-    let old = legacy();\n",
                _ => "+    let total = items.iter().map(|i| i.price * i.quantity).sum::<u64>();\n",
            };
            out.push_str(line);
        }
    }
    out
}
