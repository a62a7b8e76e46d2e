//! Notifications: fire-and-forget messages (proto `robodev.v1.NotificationChannel`, WIT
//! `robodev:notifications/channel@1`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Empty, Error, PluginInfo, TaskResult, Ticket};

/// The interface version this host implements.
pub const INTERFACE_VERSION: u32 = 1;

/// Request of `Notify`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct NotifyRequest {
    /// Notification text; may contain markdown.
    pub message: String,
    /// Ticket context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Ticket>,
}

/// Request of `NotifyStart`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct NotifyStartRequest {
    /// Ticket being processed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Ticket>,
    /// Unique identifier of this execution attempt.
    pub task_run_id: String,
    /// Engine name (e.g. "claude-code").
    pub engine: String,
}

/// Request of `NotifyComplete`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct NotifyCompleteRequest {
    /// Ticket that finished processing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Ticket>,
    /// Unique identifier of this execution attempt.
    pub task_run_id: String,
    /// Structured execution outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<TaskResult>,
}

/// A notification channel, whichever runtime serves it.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Who the plugin is (the `Handshake` RPC).
    async fn handshake(&self) -> Result<PluginInfo, Error>;
    /// Send a free-form message about a ticket.
    async fn notify(&self, request: NotifyRequest) -> Result<Empty, Error>;
    /// Processing of a ticket began.
    async fn notify_start(&self, request: NotifyStartRequest) -> Result<Empty, Error>;
    /// Processing of a ticket finished.
    async fn notify_complete(&self, request: NotifyCompleteRequest) -> Result<Empty, Error>;
}
