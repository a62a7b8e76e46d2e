//! Serves a `robodev_core::secrets::Backend` as `robodev.v1.SecretsBackend`.

use std::sync::Arc;

use robodev_core::Interface;
use robodev_core::secrets::Backend;
use tonic::{Request, Response, Status};

use super::{answer, handshake, input};
use crate::pb::rd as pb;
use crate::pb::rd::secrets_backend_server::SecretsBackend;

pub(crate) struct Service(pub(crate) Arc<dyn Backend>);

#[tonic::async_trait]
impl SecretsBackend for Service {
    async fn handshake(
        &self,
        _request: Request<pb::HandshakeRequest>,
    ) -> Result<Response<pb::HandshakeResponse>, Status> {
        handshake(Interface::Secrets, self.0.handshake().await)
    }

    async fn get_secret(
        &self,
        request: Request<pb::GetSecretRequest>,
    ) -> Result<Response<pb::GetSecretResponse>, Status> {
        answer(self.0.get_secret(input(request)?).await)
    }

    async fn get_secrets(
        &self,
        request: Request<pb::GetSecretsRequest>,
    ) -> Result<Response<pb::GetSecretsResponse>, Status> {
        answer(self.0.get_secrets(input(request)?).await)
    }

    async fn build_env_vars(
        &self,
        request: Request<pb::BuildEnvVarsRequest>,
    ) -> Result<Response<pb::BuildEnvVarsResponse>, Status> {
        answer(self.0.build_env_vars(input(request)?).await)
    }
}
