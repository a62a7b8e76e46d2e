//! Notifications over a component exporting `robodev:notifications/channel@1`.

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::notifications::*;
use robodev_core::{Empty, Error, PluginInfo};

use super::{empty, invoke, task_result_in, ticket_in};
use crate::plugin::PluginInner;

pub(crate) struct Adapter(pub(crate) Arc<PluginInner>);

#[async_trait]
impl Backend for Adapter {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(self.0.info())
    }

    async fn notify(&self, r: NotifyRequest) -> Result<Empty, Error> {
        let ticket = r.ticket.map(ticket_in);
        let answer = invoke!(self.0, Notifications, "notify", |g, s| g.call_notify(
            s,
            &r.message,
            ticket.as_ref()
        ))?;
        self.0.answer(answer, empty)
    }

    async fn notify_start(&self, r: NotifyStartRequest) -> Result<Empty, Error> {
        let ticket = r.ticket.map(ticket_in);
        let answer = invoke!(self.0, Notifications, "notify-start", |g, s| g
            .call_notify_start(s, ticket.as_ref(), &r.task_run_id, &r.engine))?;
        self.0.answer(answer, empty)
    }

    async fn notify_complete(&self, r: NotifyCompleteRequest) -> Result<Empty, Error> {
        let ticket = r.ticket.map(ticket_in);
        let result = r.result.map(task_result_in);
        let answer = invoke!(self.0, Notifications, "notify-complete", |g, s| g
            .call_notify_complete(s, ticket.as_ref(), &r.task_run_id, result.as_ref()))?;
        self.0.answer(answer, empty)
    }
}
