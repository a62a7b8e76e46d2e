//! Ticketing over a component exporting `robodev:ticketing/backend@1`.

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::ticketing::*;
use robodev_core::{Empty, Error, PluginInfo};

use super::{empty, invoke, task_result_in, ticket_out};
use crate::plugin::PluginInner;

pub(crate) struct Adapter(pub(crate) Arc<PluginInner>);

#[async_trait]
impl Backend for Adapter {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(self.0.info())
    }

    async fn poll_ready_tickets(
        &self,
        r: PollReadyTicketsRequest,
    ) -> Result<PollReadyTicketsResponse, Error> {
        let answer = invoke!(self.0, Ticketing, "poll-ready-tickets", |g, s| g
            .call_poll_ready_tickets(s, &r.labels, r.max_results))?;
        self.0.answer(answer, |tickets| {
            Ok(PollReadyTicketsResponse {
                tickets: tickets
                    .into_iter()
                    .map(ticket_out)
                    .collect::<Result<_, _>>()?,
            })
        })
    }

    async fn mark_in_progress(&self, r: MarkInProgressRequest) -> Result<Empty, Error> {
        let answer = invoke!(self.0, Ticketing, "mark-in-progress", |g, s| g
            .call_mark_in_progress(s, &r.ticket_id))?;
        self.0.answer(answer, empty)
    }

    async fn mark_complete(&self, r: MarkCompleteRequest) -> Result<Empty, Error> {
        let result = r.result.map(task_result_in);
        let answer = invoke!(self.0, Ticketing, "mark-complete", |g, s| g
            .call_mark_complete(s, &r.ticket_id, result.as_ref()))?;
        self.0.answer(answer, empty)
    }

    async fn mark_failed(&self, r: MarkFailedRequest) -> Result<Empty, Error> {
        let answer = invoke!(self.0, Ticketing, "mark-failed", |g, s| g.call_mark_failed(
            s,
            &r.ticket_id,
            &r.reason
        ))?;
        self.0.answer(answer, empty)
    }

    async fn add_comment(&self, r: AddCommentRequest) -> Result<Empty, Error> {
        let answer = invoke!(self.0, Ticketing, "add-comment", |g, s| g.call_add_comment(
            s,
            &r.ticket_id,
            &r.comment
        ))?;
        self.0.answer(answer, empty)
    }
}
