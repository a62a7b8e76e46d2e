//! Serves a `robodev_core::scm::Backend` as `robodev.v1.SCMBackend` (interface version 2).

use std::sync::Arc;

use robodev_core::Interface;
use robodev_core::scm::Backend;
use tonic::{Request, Response, Status};

use super::{answer, handshake, input};
use crate::pb::rd as pb;
use crate::pb::rd::scm_backend_server::ScmBackend;

pub(crate) struct Service(pub(crate) Arc<dyn Backend>);

#[tonic::async_trait]
impl ScmBackend for Service {
    async fn handshake(
        &self,
        _request: Request<pb::HandshakeRequest>,
    ) -> Result<Response<pb::HandshakeResponse>, Status> {
        handshake(Interface::Scm, self.0.handshake().await)
    }

    async fn create_branch(
        &self,
        request: Request<pb::CreateBranchRequest>,
    ) -> Result<Response<pb::CreateBranchResponse>, Status> {
        answer(self.0.create_branch(input(request)?).await)
    }

    async fn create_pull_request(
        &self,
        request: Request<pb::CreatePullRequestRequest>,
    ) -> Result<Response<pb::CreatePullRequestResponse>, Status> {
        answer(self.0.create_pull_request(input(request)?).await)
    }

    async fn get_pull_request_status(
        &self,
        request: Request<pb::GetPullRequestStatusRequest>,
    ) -> Result<Response<pb::GetPullRequestStatusResponse>, Status> {
        answer(self.0.get_pull_request_status(input(request)?).await)
    }

    async fn list_review_comments(
        &self,
        request: Request<pb::ListReviewCommentsRequest>,
    ) -> Result<Response<pb::ListReviewCommentsResponse>, Status> {
        answer(self.0.list_review_comments(input(request)?).await)
    }

    async fn reply_to_comment(
        &self,
        request: Request<pb::ReplyToCommentRequest>,
    ) -> Result<Response<pb::ReplyToCommentResponse>, Status> {
        answer(self.0.reply_to_comment(input(request)?).await)
    }

    async fn resolve_thread(
        &self,
        request: Request<pb::ResolveThreadRequest>,
    ) -> Result<Response<pb::ResolveThreadResponse>, Status> {
        answer(self.0.resolve_thread(input(request)?).await)
    }

    async fn get_diff(
        &self,
        request: Request<pb::GetDiffRequest>,
    ) -> Result<Response<pb::GetDiffResponse>, Status> {
        answer(self.0.get_diff(input(request)?).await)
    }
}
