//! Serves a `robodev_core::ticketing::Backend` as `robodev.v1.TicketingBackend`.

use std::sync::Arc;

use robodev_core::Interface;
use robodev_core::ticketing::Backend;
use tonic::{Request, Response, Status};

use super::{answer, handshake, input};
use crate::pb::rd as pb;
use crate::pb::rd::ticketing_backend_server::TicketingBackend;

pub(crate) struct Service(pub(crate) Arc<dyn Backend>);

#[tonic::async_trait]
impl TicketingBackend for Service {
    async fn handshake(
        &self,
        _request: Request<pb::HandshakeRequest>,
    ) -> Result<Response<pb::HandshakeResponse>, Status> {
        handshake(Interface::Ticketing, self.0.handshake().await)
    }

    async fn poll_ready_tickets(
        &self,
        request: Request<pb::PollReadyTicketsRequest>,
    ) -> Result<Response<pb::PollReadyTicketsResponse>, Status> {
        answer(self.0.poll_ready_tickets(input(request)?).await)
    }

    async fn mark_in_progress(
        &self,
        request: Request<pb::MarkInProgressRequest>,
    ) -> Result<Response<pb::MarkInProgressResponse>, Status> {
        answer(self.0.mark_in_progress(input(request)?).await)
    }

    async fn mark_complete(
        &self,
        request: Request<pb::MarkCompleteRequest>,
    ) -> Result<Response<pb::MarkCompleteResponse>, Status> {
        answer(self.0.mark_complete(input(request)?).await)
    }

    async fn mark_failed(
        &self,
        request: Request<pb::MarkFailedRequest>,
    ) -> Result<Response<pb::MarkFailedResponse>, Status> {
        answer(self.0.mark_failed(input(request)?).await)
    }

    async fn add_comment(
        &self,
        request: Request<pb::AddCommentRequest>,
    ) -> Result<Response<pb::AddCommentResponse>, Status> {
        answer(self.0.add_comment(input(request)?).await)
    }
}
