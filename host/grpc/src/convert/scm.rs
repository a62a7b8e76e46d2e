//! SCM messages (`scm.proto`, interface version 2) ↔ `robodev_core::scm`.

use robodev_core::scm::{
    CiStatus, CreateBranchRequest, CreateBranchResponse, CreatePullRequestRequest,
    CreatePullRequestResponse, GetDiffRequest, GetDiffResponse, GetPullRequestStatusRequest,
    GetPullRequestStatusResponse, ListReviewCommentsRequest, ListReviewCommentsResponse,
    PullRequestState, ReplyToCommentRequest, ResolveThreadRequest, ReviewComment, ReviewStatus,
};

use super::{each, empty, enum_field, plain};
use crate::pb::rd as pb;

plain! {
    CreateBranchRequest <=> CreateBranchRequest { repo_url, branch_name, base_ref }
    CreateBranchResponse <=> CreateBranchResponse { sha }
    CreatePullRequestRequest <=> CreatePullRequestRequest {
        repo_url, title, body, head_branch, base_branch, labels, draft
    }
    CreatePullRequestResponse <=> CreatePullRequestResponse { pull_request_url, pull_request_id }
    GetPullRequestStatusRequest <=> GetPullRequestStatusRequest { repo_url, pull_request_id }
    ListReviewCommentsRequest <=> ListReviewCommentsRequest { pr_url }
    ReviewCommentProto <=> ReviewComment {
        id, thread_id, author, body, file_path, line, created_unix
    }
    ReplyToCommentRequest <=> ReplyToCommentRequest { pr_url, comment_id, body }
    ResolveThreadRequest <=> ResolveThreadRequest { pr_url, thread_id }
    GetDiffRequest <=> GetDiffRequest { repo_url, base_branch, branch_name }
    GetDiffResponse <=> GetDiffResponse { diff }
}

empty!(ReplyToCommentResponse, ResolveThreadResponse);

impl From<PullRequestState> for pb::PullRequestState {
    fn from(s: PullRequestState) -> Self {
        match s {
            PullRequestState::Unspecified => pb::PullRequestState::Unspecified,
            PullRequestState::Open => pb::PullRequestState::Open,
            PullRequestState::Closed => pb::PullRequestState::Closed,
            PullRequestState::Merged => pb::PullRequestState::Merged,
            PullRequestState::Draft => pb::PullRequestState::Draft,
        }
    }
}

impl From<pb::PullRequestState> for PullRequestState {
    fn from(s: pb::PullRequestState) -> Self {
        match s {
            pb::PullRequestState::Unspecified => PullRequestState::Unspecified,
            pb::PullRequestState::Open => PullRequestState::Open,
            pb::PullRequestState::Closed => PullRequestState::Closed,
            pb::PullRequestState::Merged => PullRequestState::Merged,
            pb::PullRequestState::Draft => PullRequestState::Draft,
        }
    }
}

impl From<CiStatus> for pb::CiStatus {
    fn from(s: CiStatus) -> Self {
        match s {
            CiStatus::Unspecified => pb::CiStatus::Unspecified,
            CiStatus::Pending => pb::CiStatus::Pending,
            CiStatus::Passing => pb::CiStatus::Passing,
            CiStatus::Failing => pb::CiStatus::Failing,
        }
    }
}

impl From<pb::CiStatus> for CiStatus {
    fn from(s: pb::CiStatus) -> Self {
        match s {
            pb::CiStatus::Unspecified => CiStatus::Unspecified,
            pb::CiStatus::Pending => CiStatus::Pending,
            pb::CiStatus::Passing => CiStatus::Passing,
            pb::CiStatus::Failing => CiStatus::Failing,
        }
    }
}

impl From<ReviewStatus> for pb::ReviewStatus {
    fn from(s: ReviewStatus) -> Self {
        match s {
            ReviewStatus::Unspecified => pb::ReviewStatus::Unspecified,
            ReviewStatus::Pending => pb::ReviewStatus::Pending,
            ReviewStatus::Approved => pb::ReviewStatus::Approved,
            ReviewStatus::ChangesRequested => pb::ReviewStatus::ChangesRequested,
        }
    }
}

impl From<pb::ReviewStatus> for ReviewStatus {
    fn from(s: pb::ReviewStatus) -> Self {
        match s {
            pb::ReviewStatus::Unspecified => ReviewStatus::Unspecified,
            pb::ReviewStatus::Pending => ReviewStatus::Pending,
            pb::ReviewStatus::Approved => ReviewStatus::Approved,
            pb::ReviewStatus::ChangesRequested => ReviewStatus::ChangesRequested,
        }
    }
}

impl From<GetPullRequestStatusResponse> for pb::GetPullRequestStatusResponse {
    fn from(r: GetPullRequestStatusResponse) -> Self {
        let GetPullRequestStatusResponse {
            state,
            mergeable,
            ci_status,
            review_status,
            pull_request_url,
        } = r;
        pb::GetPullRequestStatusResponse {
            state: pb::PullRequestState::from(state).into(),
            mergeable,
            ci_status: pb::CiStatus::from(ci_status).into(),
            review_status: pb::ReviewStatus::from(review_status).into(),
            pull_request_url,
        }
    }
}

impl TryFrom<pb::GetPullRequestStatusResponse> for GetPullRequestStatusResponse {
    type Error = String;

    fn try_from(r: pb::GetPullRequestStatusResponse) -> Result<Self, String> {
        let pb::GetPullRequestStatusResponse {
            state,
            mergeable,
            ci_status,
            review_status,
            pull_request_url,
        } = r;
        Ok(GetPullRequestStatusResponse {
            state: enum_field::<pb::PullRequestState, _>("state", state)?,
            mergeable,
            ci_status: enum_field::<pb::CiStatus, _>("ci_status", ci_status)?,
            review_status: enum_field::<pb::ReviewStatus, _>("review_status", review_status)?,
            pull_request_url,
        })
    }
}

impl From<ListReviewCommentsResponse> for pb::ListReviewCommentsResponse {
    fn from(r: ListReviewCommentsResponse) -> Self {
        let ListReviewCommentsResponse { comments } = r;
        pb::ListReviewCommentsResponse {
            comments: each(comments),
        }
    }
}

impl From<pb::ListReviewCommentsResponse> for ListReviewCommentsResponse {
    fn from(r: pb::ListReviewCommentsResponse) -> Self {
        let pb::ListReviewCommentsResponse { comments } = r;
        ListReviewCommentsResponse {
            comments: each(comments),
        }
    }
}
