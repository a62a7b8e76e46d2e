//! Ticketing: poll issue trackers for ready tickets and move them through their lifecycle
//! (proto `robodev.v1.TicketingBackend`, WIT `robodev:ticketing/backend@1`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Empty, Error, PluginInfo, TaskResult, Ticket};

/// The interface version this host implements.
pub const INTERFACE_VERSION: u32 = 1;

/// Request of `PollReadyTickets`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PollReadyTicketsRequest {
    /// Only tickets carrying all of these labels.
    pub labels: Vec<String>,
    /// At most this many tickets (backend default if zero).
    pub max_results: i32,
}

/// Response of `PollReadyTickets`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PollReadyTicketsResponse {
    /// Tickets ready for automated processing.
    pub tickets: Vec<Ticket>,
}

/// Request of `MarkInProgress`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct MarkInProgressRequest {
    /// External system identifier.
    pub ticket_id: String,
}

/// Request of `MarkComplete`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct MarkCompleteRequest {
    /// External system identifier.
    pub ticket_id: String,
    /// Structured execution outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<TaskResult>,
}

/// Request of `MarkFailed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct MarkFailedRequest {
    /// External system identifier.
    pub ticket_id: String,
    /// Human-readable failure reason.
    pub reason: String,
}

/// Request of `AddComment`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct AddCommentRequest {
    /// External system identifier.
    pub ticket_id: String,
    /// Comment text; markdown if the backend supports it.
    pub comment: String,
}

/// A ticketing backend, whichever runtime serves it.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Who the plugin is (the `Handshake` RPC).
    async fn handshake(&self) -> Result<PluginInfo, Error>;
    /// Tickets labelled and ready for processing.
    async fn poll_ready_tickets(
        &self,
        request: PollReadyTicketsRequest,
    ) -> Result<PollReadyTicketsResponse, Error>;
    /// Move a ticket to in progress.
    async fn mark_in_progress(&self, request: MarkInProgressRequest) -> Result<Empty, Error>;
    /// Move a ticket to completed, with the execution result.
    async fn mark_complete(&self, request: MarkCompleteRequest) -> Result<Empty, Error>;
    /// Move a ticket to failed, with a reason.
    async fn mark_failed(&self, request: MarkFailedRequest) -> Result<Empty, Error>;
    /// Post a comment on a ticket.
    async fn add_comment(&self, request: AddCommentRequest) -> Result<Empty, Error>;
}
