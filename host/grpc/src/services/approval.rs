//! Serves a `robodev_core::approval::Backend` as `robodev.v1.HumanApprovalBackend`.

use std::sync::Arc;

use robodev_core::Interface;
use robodev_core::approval::Backend;
use tonic::{Request, Response, Status};

use super::{answer, handshake, input};
use crate::pb::rd as pb;
use crate::pb::rd::human_approval_backend_server::HumanApprovalBackend;

pub(crate) struct Service(pub(crate) Arc<dyn Backend>);

#[tonic::async_trait]
impl HumanApprovalBackend for Service {
    async fn handshake(
        &self,
        _request: Request<pb::HandshakeRequest>,
    ) -> Result<Response<pb::HandshakeResponse>, Status> {
        handshake(Interface::Approval, self.0.handshake().await)
    }

    async fn request_approval(
        &self,
        request: Request<pb::RequestApprovalRequest>,
    ) -> Result<Response<pb::RequestApprovalResponse>, Status> {
        answer(self.0.request_approval(input(request)?).await)
    }

    async fn cancel_pending(
        &self,
        request: Request<pb::CancelPendingRequest>,
    ) -> Result<Response<pb::CancelPendingResponse>, Status> {
        answer(self.0.cancel_pending(input(request)?).await)
    }
}
