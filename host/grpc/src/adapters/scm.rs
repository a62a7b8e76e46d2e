//! SCM over a subprocess serving `robodev.v1.SCMBackend` (interface version 2).

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::scm::{
    Backend, CreateBranchRequest, CreateBranchResponse, CreatePullRequestRequest,
    CreatePullRequestResponse, GetDiffRequest, GetDiffResponse, GetPullRequestStatusRequest,
    GetPullRequestStatusResponse, ListReviewCommentsRequest, ListReviewCommentsResponse,
    ReplyToCommentRequest, ResolveThreadRequest,
};
use robodev_core::{Empty, Error, Interface, PluginInfo};
use tonic::transport::Channel;

use super::call;
use crate::client::Plugin;
use crate::convert::{MAX_MESSAGE_BYTES, handshake_request};
use crate::pb::rd as pb;
use crate::pb::rd::scm_backend_client::ScmBackendClient;

pub(crate) struct Adapter(pub(crate) Arc<Plugin>);

/// A client of the service over `channel`.
pub(crate) fn client(channel: Channel) -> ScmBackendClient<Channel> {
    ScmBackendClient::new(channel)
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
            handshake_request(Interface::Scm)
        )
    }

    async fn create_branch(&self, r: CreateBranchRequest) -> Result<CreateBranchResponse, Error> {
        call!(
            self.0,
            client,
            "CreateBranch",
            create_branch,
            pb::CreateBranchRequest::from(r)
        )
    }

    async fn create_pull_request(
        &self,
        r: CreatePullRequestRequest,
    ) -> Result<CreatePullRequestResponse, Error> {
        call!(
            self.0,
            client,
            "CreatePullRequest",
            create_pull_request,
            pb::CreatePullRequestRequest::from(r)
        )
    }

    async fn get_pull_request_status(
        &self,
        r: GetPullRequestStatusRequest,
    ) -> Result<GetPullRequestStatusResponse, Error> {
        call!(
            self.0,
            client,
            "GetPullRequestStatus",
            get_pull_request_status,
            pb::GetPullRequestStatusRequest::from(r)
        )
    }

    async fn list_review_comments(
        &self,
        r: ListReviewCommentsRequest,
    ) -> Result<ListReviewCommentsResponse, Error> {
        call!(
            self.0,
            client,
            "ListReviewComments",
            list_review_comments,
            pb::ListReviewCommentsRequest::from(r)
        )
    }

    async fn reply_to_comment(&self, r: ReplyToCommentRequest) -> Result<Empty, Error> {
        call!(
            self.0,
            client,
            "ReplyToComment",
            reply_to_comment,
            pb::ReplyToCommentRequest::from(r)
        )
    }

    async fn resolve_thread(&self, r: ResolveThreadRequest) -> Result<Empty, Error> {
        call!(
            self.0,
            client,
            "ResolveThread",
            resolve_thread,
            pb::ResolveThreadRequest::from(r)
        )
    }

    async fn get_diff(&self, r: GetDiffRequest) -> Result<GetDiffResponse, Error> {
        call!(
            self.0,
            client,
            "GetDiff",
            get_diff,
            pb::GetDiffRequest::from(r)
        )
    }
}
