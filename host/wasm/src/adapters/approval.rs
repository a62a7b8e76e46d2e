//! Approval over a component exporting `robodev:approval/backend@1`.

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::approval::*;
use robodev_core::{Empty, Error, PluginInfo};

use super::{empty, invoke, ticket_in};
use crate::plugin::PluginInner;

pub(crate) struct Adapter(pub(crate) Arc<PluginInner>);

#[async_trait]
impl Backend for Adapter {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(self.0.info())
    }

    async fn request_approval(
        &self,
        r: RequestApprovalRequest,
    ) -> Result<RequestApprovalResponse, Error> {
        let ticket = r.ticket.map(ticket_in);
        let answer = invoke!(self.0, Approval, "request-approval", |g, s| g
            .call_request_approval(
                s,
                &r.question,
                ticket.as_ref(),
                &r.task_run_id,
                &r.options
            ))?;
        self.0.answer(answer, |request_id| {
            Ok(RequestApprovalResponse { request_id })
        })
    }

    async fn cancel_pending(&self, r: CancelPendingRequest) -> Result<Empty, Error> {
        let answer = invoke!(self.0, Approval, "cancel-pending", |g, s| g
            .call_cancel_pending(s, &r.task_run_id))?;
        self.0.answer(answer, empty)
    }
}
