//! SCM over a component exporting the older `robodev:scm/backend@1` (plugins built before SCM
//! 2): the four version-1 functions are called as they are; the functions version 2 added
//! answer `unimplemented`, saying so, as a gRPC SCM v1 plugin's server does.

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::scm::*;
use robodev_core::{Empty, Error, ErrorCode, PluginError, PluginInfo};

use super::invoke;
use crate::bindings::v1::scm as w;
use crate::plugin::PluginInner;

pub(crate) struct Adapter(pub(crate) Arc<PluginInner>);

impl Adapter {
    /// The answer of a function this major lacks.
    fn added_in_v2(&self, function: &str) -> Error {
        Error::Plugin {
            plugin: self.0.ctx.name.to_string(),
            interface: robodev_core::Interface::Scm,
            error: PluginError::new(
                ErrorCode::Unimplemented,
                format!(
                    "{function} came in SCM interface version 2; this plugin implements version 1"
                ),
            ),
        }
    }
}

super::scm::scm_enums!(w);

#[async_trait]
impl Backend for Adapter {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(self.0.info())
    }

    async fn create_branch(&self, r: CreateBranchRequest) -> Result<CreateBranchResponse, Error> {
        let answer = invoke!(self.0, ScmV1, "create-branch", |g, s| g.call_create_branch(
            s,
            &r.repo_url,
            &r.branch_name,
            &r.base_ref
        ))?;
        self.0
            .answer(answer, |sha| Ok(CreateBranchResponse { sha }))
    }

    async fn create_pull_request(
        &self,
        r: CreatePullRequestRequest,
    ) -> Result<CreatePullRequestResponse, Error> {
        let answer = invoke!(self.0, ScmV1, "create-pull-request", |g, s| g
            .call_create_pull_request(
                s,
                &r.repo_url,
                &r.title,
                &r.body,
                &r.head_branch,
                &r.base_branch,
                &r.labels,
                r.draft
            ))?;
        self.0.answer(answer, |pr| {
            Ok(CreatePullRequestResponse {
                pull_request_url: pr.pull_request_url,
                pull_request_id: pr.pull_request_id,
            })
        })
    }

    async fn get_pull_request_status(
        &self,
        r: GetPullRequestStatusRequest,
    ) -> Result<GetPullRequestStatusResponse, Error> {
        let answer = invoke!(self.0, ScmV1, "get-pull-request-status", |g, s| g
            .call_get_pull_request_status(s, &r.repo_url, &r.pull_request_id))?;
        self.0.answer(answer, |st| {
            Ok(GetPullRequestStatusResponse {
                state: state(st.state),
                mergeable: st.mergeable,
                ci_status: ci(st.ci_status),
                review_status: review(st.review_status),
                pull_request_url: st.pull_request_url,
            })
        })
    }

    async fn list_review_comments(
        &self,
        _: ListReviewCommentsRequest,
    ) -> Result<ListReviewCommentsResponse, Error> {
        Err(self.added_in_v2("list-review-comments"))
    }

    async fn reply_to_comment(&self, _: ReplyToCommentRequest) -> Result<Empty, Error> {
        Err(self.added_in_v2("reply-to-comment"))
    }

    async fn resolve_thread(&self, _: ResolveThreadRequest) -> Result<Empty, Error> {
        Err(self.added_in_v2("resolve-thread"))
    }

    async fn get_diff(&self, _: GetDiffRequest) -> Result<GetDiffResponse, Error> {
        Err(self.added_in_v2("get-diff"))
    }
}
