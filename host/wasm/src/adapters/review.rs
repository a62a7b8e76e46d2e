//! Review over a component exporting `robodev:review/backend@1`.

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::review::*;
use robodev_core::{Error, PluginInfo};

use super::{invoke, task_result_in, ticket_in};
use crate::bindings::guest::review::backend as w;
use crate::plugin::PluginInner;

pub(crate) struct Adapter(pub(crate) Arc<PluginInner>);

fn severity(s: w::Severity) -> Severity {
    match s {
        w::Severity::Unspecified => Severity::Unspecified,
        w::Severity::Info => Severity::Info,
        w::Severity::Warning => Severity::Warning,
        w::Severity::Error => Severity::Error,
        w::Severity::Critical => Severity::Critical,
    }
}

fn gate(g: w::GateResult) -> GateResult {
    GateResult {
        passed: g.passed,
        summary: g.summary,
        comments: g
            .comments
            .into_iter()
            .map(|c| ReviewComment {
                file_path: c.file_path,
                line: c.line,
                severity: severity(c.severity),
                message: c.message,
                suggestion: c.suggestion,
            })
            .collect(),
        security_findings: g
            .security_findings
            .into_iter()
            .map(|f| SecurityFinding {
                rule_id: f.rule_id,
                severity: severity(f.severity),
                file_path: f.file_path,
                line: f.line,
                description: f.description,
                cwe_id: f.cwe_id,
            })
            .collect(),
        score: g.score,
    }
}

#[async_trait]
impl Backend for Adapter {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(self.0.info())
    }

    async fn review_diff(&self, r: ReviewDiffRequest) -> Result<ReviewDiffResponse, Error> {
        let ticket = r.ticket.map(ticket_in);
        let result = r.result.map(task_result_in);
        let answer = invoke!(self.0, Review, "review-diff", |g, s| g.call_review_diff(
            s,
            &r.task_run_id,
            ticket.as_ref(),
            &r.diff,
            &r.branch_name,
            &r.repo_url,
            result.as_ref()
        ))?;
        self.0.answer(answer, |o| {
            Ok(ReviewDiffResponse {
                review_id: o.review_id,
                gate_result: o.gate_result.map(gate),
            })
        })
    }

    async fn get_gate_result(
        &self,
        r: GetGateResultRequest,
    ) -> Result<GetGateResultResponse, Error> {
        let answer = invoke!(self.0, Review, "get-gate-result", |g, s| g
            .call_get_gate_result(s, &r.review_id))?;
        self.0.answer(answer, |g| {
            Ok(GetGateResultResponse {
                gate_result: Some(gate(g)),
            })
        })
    }
}
