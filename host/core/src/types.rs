//! Records shared by every interface: RoboDev's `common.proto` (`Ticket`, `TaskResult`,
//! `TokenUsage`) plus [`PluginInfo`], what a plugin's handshake returns.
//!
//! Every message type serialises to and from proto3 JSON: lowerCamelCase field names, missing
//! fields take their default, 64-bit integers are written as strings (and read from strings or
//! numbers), enums as their proto value names.

use serde::{Deserialize, Serialize};

/// A unit of work from an external issue tracker (proto `robodev.v1.Ticket`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Ticket {
    /// Unique identifier in the external system (e.g. "42", "PROJ-123").
    pub id: String,
    /// Ticket summary or title.
    pub title: String,
    /// Full ticket body. May contain markdown.
    pub description: String,
    /// Work classifier (e.g. "bug_fix"). Selects guard rail profiles.
    pub ticket_type: String,
    /// Tags or labels from the external system.
    pub labels: Vec<String>,
    /// Repository URL associated with the ticket.
    pub repo_url: String,
    /// Web URL to view the ticket in the originating system.
    pub external_url: String,
    /// Original unprocessed data from the external system (proto `google.protobuf.Struct`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Token consumption of one agent run (proto `robodev.v1.TokenUsage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenUsage {
    /// Number of input tokens consumed.
    #[serde(with = "crate::json::int64")]
    pub input_tokens: i64,
    /// Number of output tokens consumed.
    #[serde(with = "crate::json::int64")]
    pub output_tokens: i64,
}

/// Structured outcome of an agent execution (proto `robodev.v1.TaskResult`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskResult {
    /// Whether the agent completed successfully.
    pub success: bool,
    /// URL of the created pull/merge request, if any.
    pub merge_request_url: String,
    /// Git branch the agent worked on.
    pub branch_name: String,
    /// Human-readable description of what the agent did.
    pub summary: String,
    /// Token consumption, when reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_usage: Option<TokenUsage>,
    /// Estimated cost in US dollars.
    pub cost_estimate_usd: f64,
    /// 0 = success, 1 = agent failure, 2 = guard rail blocked.
    pub exit_code: i32,
}

/// Who a plugin is, as its handshake reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PluginInfo {
    /// The plugin's own name, e.g. "jira".
    pub name: String,
    /// Semver version of the plugin, e.g. "1.2.0".
    pub version: String,
}

/// The (empty) response of an RPC whose only outcome is success or an error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}
