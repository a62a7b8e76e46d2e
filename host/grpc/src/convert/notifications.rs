//! Notification messages (`notifications.proto`) ↔ `robodev_core::notifications`.

use robodev_core::notifications::{NotifyCompleteRequest, NotifyRequest, NotifyStartRequest};

use super::{empty, try_opt};
use crate::pb::rd as pb;

empty!(NotifyResponse, NotifyStartResponse, NotifyCompleteResponse);

impl From<NotifyRequest> for pb::NotifyRequest {
    fn from(r: NotifyRequest) -> Self {
        let NotifyRequest { message, ticket } = r;
        pb::NotifyRequest {
            message,
            ticket: ticket.map(Into::into),
        }
    }
}

impl TryFrom<pb::NotifyRequest> for NotifyRequest {
    type Error = String;

    fn try_from(r: pb::NotifyRequest) -> Result<Self, String> {
        let pb::NotifyRequest { message, ticket } = r;
        Ok(NotifyRequest {
            message,
            ticket: try_opt("ticket", ticket)?,
        })
    }
}

impl From<NotifyStartRequest> for pb::NotifyStartRequest {
    fn from(r: NotifyStartRequest) -> Self {
        let NotifyStartRequest {
            ticket,
            task_run_id,
            engine,
        } = r;
        pb::NotifyStartRequest {
            ticket: ticket.map(Into::into),
            task_run_id,
            engine,
        }
    }
}

impl TryFrom<pb::NotifyStartRequest> for NotifyStartRequest {
    type Error = String;

    fn try_from(r: pb::NotifyStartRequest) -> Result<Self, String> {
        let pb::NotifyStartRequest {
            ticket,
            task_run_id,
            engine,
        } = r;
        Ok(NotifyStartRequest {
            ticket: try_opt("ticket", ticket)?,
            task_run_id,
            engine,
        })
    }
}

impl From<NotifyCompleteRequest> for pb::NotifyCompleteRequest {
    fn from(r: NotifyCompleteRequest) -> Self {
        let NotifyCompleteRequest {
            ticket,
            task_run_id,
            result,
        } = r;
        pb::NotifyCompleteRequest {
            ticket: ticket.map(Into::into),
            task_run_id,
            result: result.map(Into::into),
        }
    }
}

impl TryFrom<pb::NotifyCompleteRequest> for NotifyCompleteRequest {
    type Error = String;

    fn try_from(r: pb::NotifyCompleteRequest) -> Result<Self, String> {
        let pb::NotifyCompleteRequest {
            ticket,
            task_run_id,
            result,
        } = r;
        Ok(NotifyCompleteRequest {
            ticket: try_opt("ticket", ticket)?,
            task_run_id,
            result: result.map(Into::into),
        })
    }
}
