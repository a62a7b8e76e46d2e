//! Approval: ask a human, cancel pending requests (proto `robodev.v1.HumanApprovalBackend`,
//! WIT `robodev:approval/backend@1`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Empty, Error, PluginInfo, Ticket};

/// The interface version this host implements.
pub const INTERFACE_VERSION: u32 = 1;

/// Request of `RequestApproval`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RequestApprovalRequest {
    /// Text presented to the human decision-maker.
    pub question: String,
    /// Ticket context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Ticket>,
    /// Correlates the human's answer with the task run.
    pub task_run_id: String,
    /// Valid answers; free text if empty.
    pub options: Vec<String>,
}

/// Response of `RequestApproval`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestApprovalResponse {
    /// Backend-specific id of the request, for cancellation and callback correlation.
    pub request_id: String,
}

/// Request of `CancelPending`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CancelPendingRequest {
    /// Execution attempt whose pending requests are cancelled.
    pub task_run_id: String,
}

/// An approval backend, whichever runtime serves it.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Who the plugin is (the `Handshake` RPC).
    async fn handshake(&self) -> Result<PluginInfo, Error>;
    /// Send a question to a human.
    async fn request_approval(
        &self,
        request: RequestApprovalRequest,
    ) -> Result<RequestApprovalResponse, Error>;
    /// Cancel a task run's outstanding requests.
    async fn cancel_pending(&self, request: CancelPendingRequest) -> Result<Empty, Error>;
}
