//! Approval over a subprocess serving `robodev.v1.HumanApprovalBackend`.

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::approval::{
    Backend, CancelPendingRequest, RequestApprovalRequest, RequestApprovalResponse,
};
use robodev_core::{Empty, Error, Interface, PluginInfo};
use tonic::transport::Channel;

use super::call;
use crate::client::Plugin;
use crate::convert::{MAX_MESSAGE_BYTES, handshake_request};
use crate::pb::rd as pb;
use crate::pb::rd::human_approval_backend_client::HumanApprovalBackendClient;

pub(crate) struct Adapter(pub(crate) Arc<Plugin>);

/// A client of the service over `channel`.
pub(crate) fn client(channel: Channel) -> HumanApprovalBackendClient<Channel> {
    HumanApprovalBackendClient::new(channel)
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
            handshake_request(Interface::Approval)
        )
    }

    async fn request_approval(
        &self,
        r: RequestApprovalRequest,
    ) -> Result<RequestApprovalResponse, Error> {
        call!(
            self.0,
            client,
            "RequestApproval",
            request_approval,
            pb::RequestApprovalRequest::from(r)
        )
    }

    async fn cancel_pending(&self, r: CancelPendingRequest) -> Result<Empty, Error> {
        call!(
            self.0,
            client,
            "CancelPending",
            cancel_pending,
            pb::CancelPendingRequest::from(r)
        )
    }
}
