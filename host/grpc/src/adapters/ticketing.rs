//! Ticketing over a subprocess serving `robodev.v1.TicketingBackend`.

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::ticketing::{
    AddCommentRequest, Backend, MarkCompleteRequest, MarkFailedRequest, MarkInProgressRequest,
    PollReadyTicketsRequest, PollReadyTicketsResponse,
};
use robodev_core::{Empty, Error, Interface, PluginInfo};
use tonic::transport::Channel;

use super::call;
use crate::client::Plugin;
use crate::convert::{MAX_MESSAGE_BYTES, handshake_request};
use crate::pb::rd as pb;
use crate::pb::rd::ticketing_backend_client::TicketingBackendClient;

pub(crate) struct Adapter(pub(crate) Arc<Plugin>);

/// A client of the service over `channel`.
pub(crate) fn client(channel: Channel) -> TicketingBackendClient<Channel> {
    TicketingBackendClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

#[async_trait]
impl Backend for Adapter {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        call!(
            self.0,
            client,
            "Handshake",
            handshake,
            handshake_request(Interface::Ticketing)
        )
    }

    async fn poll_ready_tickets(
        &self,
        r: PollReadyTicketsRequest,
    ) -> Result<PollReadyTicketsResponse, Error> {
        call!(
            self.0,
            client,
            "PollReadyTickets",
            poll_ready_tickets,
            pb::PollReadyTicketsRequest::from(r)
        )
    }

    async fn mark_in_progress(&self, r: MarkInProgressRequest) -> Result<Empty, Error> {
        call!(
            self.0,
            client,
            "MarkInProgress",
            mark_in_progress,
            pb::MarkInProgressRequest::from(r)
        )
    }

    async fn mark_complete(&self, r: MarkCompleteRequest) -> Result<Empty, Error> {
        call!(
            self.0,
            client,
            "MarkComplete",
            mark_complete,
            pb::MarkCompleteRequest::from(r)
        )
    }

    async fn mark_failed(&self, r: MarkFailedRequest) -> Result<Empty, Error> {
        call!(
            self.0,
            client,
            "MarkFailed",
            mark_failed,
            pb::MarkFailedRequest::from(r)
        )
    }

    async fn add_comment(&self, r: AddCommentRequest) -> Result<Empty, Error> {
        call!(
            self.0,
            client,
            "AddComment",
            add_comment,
            pb::AddCommentRequest::from(r)
        )
    }
}
