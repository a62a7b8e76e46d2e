//! Serves a `robodev_core::engine::Backend` as `robodev.v1.ExecutionEngine`.

use std::sync::Arc;

use robodev_core::Interface;
use robodev_core::engine::Backend;
use tonic::{Request, Response, Status};

use super::{answer, handshake, input};
use crate::pb::rd as pb;
use crate::pb::rd::execution_engine_server::ExecutionEngine;

pub(crate) struct Service(pub(crate) Arc<dyn Backend>);

#[tonic::async_trait]
impl ExecutionEngine for Service {
    async fn handshake(
        &self,
        _request: Request<pb::HandshakeRequest>,
    ) -> Result<Response<pb::HandshakeResponse>, Status> {
        handshake(Interface::Engine, self.0.handshake().await)
    }

    async fn build_execution_spec(
        &self,
        request: Request<pb::BuildExecutionSpecRequest>,
    ) -> Result<Response<pb::BuildExecutionSpecResponse>, Status> {
        answer(self.0.build_execution_spec(input(request)?).await)
    }

    async fn build_prompt(
        &self,
        request: Request<pb::BuildPromptRequest>,
    ) -> Result<Response<pb::BuildPromptResponse>, Status> {
        answer(self.0.build_prompt(input(request)?).await)
    }
}
