//! Engine over a subprocess serving `robodev.v1.ExecutionEngine`.

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::engine::{
    Backend, BuildExecutionSpecRequest, BuildExecutionSpecResponse, BuildPromptRequest,
    BuildPromptResponse,
};
use robodev_core::{Error, Interface, PluginInfo};
use tonic::transport::Channel;

use super::call;
use crate::client::Plugin;
use crate::convert::{MAX_MESSAGE_BYTES, handshake_request};
use crate::pb::rd as pb;
use crate::pb::rd::execution_engine_client::ExecutionEngineClient;

pub(crate) struct Adapter(pub(crate) Arc<Plugin>);

/// A client of the service over `channel`.
pub(crate) fn client(channel: Channel) -> ExecutionEngineClient<Channel> {
    ExecutionEngineClient::new(channel)
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
            handshake_request(Interface::Engine)
        )
    }

    async fn build_execution_spec(
        &self,
        r: BuildExecutionSpecRequest,
    ) -> Result<BuildExecutionSpecResponse, Error> {
        call!(
            self.0,
            client,
            "BuildExecutionSpec",
            build_execution_spec,
            pb::BuildExecutionSpecRequest::from(r)
        )
    }

    async fn build_prompt(&self, r: BuildPromptRequest) -> Result<BuildPromptResponse, Error> {
        call!(
            self.0,
            client,
            "BuildPrompt",
            build_prompt,
            pb::BuildPromptRequest::from(r)
        )
    }
}
