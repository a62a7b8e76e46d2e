//! Approval messages (`approval.proto`) ↔ `robodev_core::approval`.

use robodev_core::approval::{
    CancelPendingRequest, RequestApprovalRequest, RequestApprovalResponse,
};

use super::{empty, plain, try_opt};
use crate::pb::rd as pb;

plain! {
    RequestApprovalResponse <=> RequestApprovalResponse { request_id }
    CancelPendingRequest <=> CancelPendingRequest { task_run_id }
}

empty!(CancelPendingResponse);

impl From<RequestApprovalRequest> for pb::RequestApprovalRequest {
    fn from(r: RequestApprovalRequest) -> Self {
        let RequestApprovalRequest {
            question,
            ticket,
            task_run_id,
            options,
        } = r;
        pb::RequestApprovalRequest {
            question,
            ticket: ticket.map(Into::into),
            task_run_id,
            options,
        }
    }
}

impl TryFrom<pb::RequestApprovalRequest> for RequestApprovalRequest {
    type Error = String;

    fn try_from(r: pb::RequestApprovalRequest) -> Result<Self, String> {
        let pb::RequestApprovalRequest {
            question,
            ticket,
            task_run_id,
            options,
        } = r;
        Ok(RequestApprovalRequest {
            question,
            ticket: try_opt("ticket", ticket)?,
            task_run_id,
            options,
        })
    }
}
