//! Review: gate a change with an automated code review (proto `robodev.v1.ReviewBackend`, WIT
//! `robodev:review/backend@1`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Error, PluginInfo, TaskResult, Ticket};

/// The interface version this host implements.
pub const INTERFACE_VERSION: u32 = 1;

/// How serious a comment or finding is (proto `Severity`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    /// Not reported.
    #[default]
    #[serde(rename = "SEVERITY_UNSPECIFIED")]
    Unspecified,
    /// Informational.
    #[serde(rename = "SEVERITY_INFO")]
    Info,
    /// Worth fixing.
    #[serde(rename = "SEVERITY_WARNING")]
    Warning,
    /// Must be fixed.
    #[serde(rename = "SEVERITY_ERROR")]
    Error,
    /// Must be fixed first.
    #[serde(rename = "SEVERITY_CRITICAL")]
    Critical,
}

/// A review comment on a line (proto `ReviewComment`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReviewComment {
    /// File.
    pub file_path: String,
    /// Line.
    pub line: i32,
    /// Severity.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// Suggested replacement.
    pub suggestion: String,
}

/// A security finding (proto `SecurityFinding`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecurityFinding {
    /// Rule that matched.
    pub rule_id: String,
    /// Severity.
    pub severity: Severity,
    /// File.
    pub file_path: String,
    /// Line.
    pub line: i32,
    /// What was found.
    pub description: String,
    /// CWE id, e.g. "CWE-798".
    pub cwe_id: String,
}

/// The verdict of a review (proto `GateResult`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GateResult {
    /// Whether the change passes the gate.
    pub passed: bool,
    /// Summary.
    pub summary: String,
    /// Line comments.
    pub comments: Vec<ReviewComment>,
    /// Security findings.
    pub security_findings: Vec<SecurityFinding>,
    /// Score, 0 to 100.
    pub score: i32,
}

/// Request of `ReviewDiff`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ReviewDiffRequest {
    /// Task run that produced the diff.
    pub task_run_id: String,
    /// Ticket context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Ticket>,
    /// Unified diff.
    pub diff: String,
    /// Branch of the change.
    pub branch_name: String,
    /// Repository URL.
    pub repo_url: String,
    /// The agent's own report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<TaskResult>,
}

/// Response of `ReviewDiff`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReviewDiffResponse {
    /// Id for `GetGateResult`.
    pub review_id: String,
    /// The verdict, when decided synchronously.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate_result: Option<GateResult>,
}

/// Request of `GetGateResult`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct GetGateResultRequest {
    /// Id from `ReviewDiff`.
    pub review_id: String,
}

/// Response of `GetGateResult`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetGateResultResponse {
    /// The verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate_result: Option<GateResult>,
}

/// A review backend, whichever runtime serves it.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Who the plugin is (the `Handshake` RPC).
    async fn handshake(&self) -> Result<PluginInfo, Error>;
    /// Review a diff.
    async fn review_diff(&self, request: ReviewDiffRequest) -> Result<ReviewDiffResponse, Error>;
    /// Verdict of an earlier review.
    async fn get_gate_result(
        &self,
        request: GetGateResultRequest,
    ) -> Result<GetGateResultResponse, Error>;
}
