//! Review over a subprocess serving `robodev.v1.ReviewBackend`.

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::review::{
    Backend, GetGateResultRequest, GetGateResultResponse, ReviewDiffRequest, ReviewDiffResponse,
};
use robodev_core::{Error, Interface, PluginInfo};
use tonic::transport::Channel;

use super::call;
use crate::client::Plugin;
use crate::convert::{MAX_MESSAGE_BYTES, handshake_request};
use crate::pb::rd as pb;
use crate::pb::rd::review_backend_client::ReviewBackendClient;

pub(crate) struct Adapter(pub(crate) Arc<Plugin>);

/// A client of the service over `channel`.
pub(crate) fn client(channel: Channel) -> ReviewBackendClient<Channel> {
    ReviewBackendClient::new(channel)
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
            handshake_request(Interface::Review)
        )
    }

    async fn review_diff(&self, r: ReviewDiffRequest) -> Result<ReviewDiffResponse, Error> {
        call!(
            self.0,
            client,
            "ReviewDiff",
            review_diff,
            pb::ReviewDiffRequest::from(r)
        )
    }

    async fn get_gate_result(
        &self,
        r: GetGateResultRequest,
    ) -> Result<GetGateResultResponse, Error> {
        call!(
            self.0,
            client,
            "GetGateResult",
            get_gate_result,
            pb::GetGateResultRequest::from(r)
        )
    }
}
