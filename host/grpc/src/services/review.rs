//! Serves a `robodev_core::review::Backend` as `robodev.v1.ReviewBackend`.

use std::sync::Arc;

use robodev_core::Interface;
use robodev_core::review::Backend;
use tonic::{Request, Response, Status};

use super::{answer, handshake, input};
use crate::pb::rd as pb;
use crate::pb::rd::review_backend_server::ReviewBackend;

pub(crate) struct Service(pub(crate) Arc<dyn Backend>);

#[tonic::async_trait]
impl ReviewBackend for Service {
    async fn handshake(
        &self,
        _request: Request<pb::HandshakeRequest>,
    ) -> Result<Response<pb::HandshakeResponse>, Status> {
        handshake(Interface::Review, self.0.handshake().await)
    }

    async fn review_diff(
        &self,
        request: Request<pb::ReviewDiffRequest>,
    ) -> Result<Response<pb::ReviewDiffResponse>, Status> {
        answer(self.0.review_diff(input(request)?).await)
    }

    async fn get_gate_result(
        &self,
        request: Request<pb::GetGateResultRequest>,
    ) -> Result<Response<pb::GetGateResultResponse>, Status> {
        answer(self.0.get_gate_result(input(request)?).await)
    }
}
