//! SCM over a component exporting `robodev:scm/backend@2`.

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::scm::*;
use robodev_core::{Empty, Error, PluginInfo};

use super::{empty, invoke};
use crate::bindings::guest::scm::backend as w;
use crate::plugin::PluginInner;

pub(crate) struct Adapter(pub(crate) Arc<PluginInner>);

/// The WIT enums of an SCM major's bindings (`$w`) to the core ones: every major so far has the
/// same three, bound as distinct types.
macro_rules! scm_enums {
    ($w:ident) => {
        fn state(s: $w::PullRequestState) -> PullRequestState {
            use $w::PullRequestState as S;
            match s {
                S::Unspecified => PullRequestState::Unspecified,
                S::Open => PullRequestState::Open,
                S::Closed => PullRequestState::Closed,
                S::Merged => PullRequestState::Merged,
                S::Draft => PullRequestState::Draft,
            }
        }

        fn ci(s: $w::CiStatus) -> CiStatus {
            use $w::CiStatus as S;
            match s {
                S::Unspecified => CiStatus::Unspecified,
                S::Pending => CiStatus::Pending,
                S::Passing => CiStatus::Passing,
                S::Failing => CiStatus::Failing,
            }
        }

        fn review(s: $w::ReviewStatus) -> ReviewStatus {
            use $w::ReviewStatus as S;
            match s {
                S::Unspecified => ReviewStatus::Unspecified,
                S::Pending => ReviewStatus::Pending,
                S::Approved => ReviewStatus::Approved,
                S::ChangesRequested => ReviewStatus::ChangesRequested,
            }
        }
    };
}
pub(crate) use scm_enums;

/// `impl Backend for Adapter` over an SCM major's guest (`$variant` of [`super::Guests`]): the
/// four functions every major so far has (version 1's), the same calls on each major's own
/// bindings, then that major's `{ ... }` (what it adds, or answers for what it lacks).
macro_rules! scm_backend {
    ($variant:ident, { $($functions:tt)* }) => {
        #[async_trait]
        impl Backend for Adapter {
            async fn handshake(&self) -> Result<PluginInfo, Error> {
                Ok(self.0.info())
            }

            async fn create_branch(
                &self,
                r: CreateBranchRequest,
            ) -> Result<CreateBranchResponse, Error> {
                let answer = invoke!(self.0, $variant, "create-branch", |g, s| g
                    .call_create_branch(s, &r.repo_url, &r.branch_name, &r.base_ref))?;
                self.0.answer(answer, |sha| Ok(CreateBranchResponse { sha }))
            }

            async fn create_pull_request(
                &self,
                r: CreatePullRequestRequest,
            ) -> Result<CreatePullRequestResponse, Error> {
                let answer = invoke!(self.0, $variant, "create-pull-request", |g, s| g
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
                let answer = invoke!(self.0, $variant, "get-pull-request-status", |g, s| g
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

            $($functions)*
        }
    };
}
pub(crate) use scm_backend;

scm_enums!(w);

scm_backend!(Scm, {
    async fn list_review_comments(
        &self,
        r: ListReviewCommentsRequest,
    ) -> Result<ListReviewCommentsResponse, Error> {
        let answer = invoke!(self.0, Scm, "list-review-comments", |g, s| g
            .call_list_review_comments(s, &r.pr_url))?;
        self.0.answer(answer, |comments| {
            Ok(ListReviewCommentsResponse {
                comments: comments
                    .into_iter()
                    .map(|c| ReviewComment {
                        id: c.id,
                        thread_id: c.thread_id,
                        author: c.author,
                        body: c.body,
                        file_path: c.file_path,
                        line: c.line,
                        created_unix: c.created_unix,
                    })
                    .collect(),
            })
        })
    }

    async fn reply_to_comment(&self, r: ReplyToCommentRequest) -> Result<Empty, Error> {
        let answer = invoke!(self.0, Scm, "reply-to-comment", |g, s| g
            .call_reply_to_comment(s, &r.pr_url, &r.comment_id, &r.body))?;
        self.0.answer(answer, empty)
    }

    async fn resolve_thread(&self, r: ResolveThreadRequest) -> Result<Empty, Error> {
        let answer = invoke!(self.0, Scm, "resolve-thread", |g, s| g.call_resolve_thread(
            s,
            &r.pr_url,
            &r.thread_id
        ))?;
        self.0.answer(answer, empty)
    }

    async fn get_diff(&self, r: GetDiffRequest) -> Result<GetDiffResponse, Error> {
        let answer = invoke!(self.0, Scm, "get-diff", |g, s| g.call_get_diff(
            s,
            &r.repo_url,
            &r.base_branch,
            &r.branch_name
        ))?;
        self.0.answer(answer, |diff| Ok(GetDiffResponse { diff }))
    }
});
