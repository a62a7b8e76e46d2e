//! Secrets over a subprocess serving `robodev.v1.SecretsBackend`.

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::secrets::{
    Backend, BuildEnvVarsRequest, BuildEnvVarsResponse, GetSecretRequest, GetSecretResponse,
    GetSecretsRequest, GetSecretsResponse,
};
use robodev_core::{Error, Interface, PluginInfo};
use tonic::transport::Channel;

use super::call;
use crate::client::Plugin;
use crate::convert::{MAX_MESSAGE_BYTES, handshake_request};
use crate::pb::rd as pb;
use crate::pb::rd::secrets_backend_client::SecretsBackendClient;

pub(crate) struct Adapter(pub(crate) Arc<Plugin>);

/// A client of the service over `channel`.
pub(crate) fn client(channel: Channel) -> SecretsBackendClient<Channel> {
    SecretsBackendClient::new(channel)
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
            handshake_request(Interface::Secrets)
        )
    }

    async fn get_secret(&self, r: GetSecretRequest) -> Result<GetSecretResponse, Error> {
        call!(
            self.0,
            client,
            "GetSecret",
            get_secret,
            pb::GetSecretRequest::from(r)
        )
    }

    async fn get_secrets(&self, r: GetSecretsRequest) -> Result<GetSecretsResponse, Error> {
        call!(
            self.0,
            client,
            "GetSecrets",
            get_secrets,
            pb::GetSecretsRequest::from(r)
        )
    }

    async fn build_env_vars(&self, r: BuildEnvVarsRequest) -> Result<BuildEnvVarsResponse, Error> {
        call!(
            self.0,
            client,
            "BuildEnvVars",
            build_env_vars,
            pb::BuildEnvVarsRequest::from(r)
        )
    }
}
