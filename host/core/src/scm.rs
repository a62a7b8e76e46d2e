//! SCM: branches, pull requests, review comments and diffs (proto `robodev.v1.SCMBackend`,
//! WIT `robodev:scm/backend@2`). Interface version 2.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Empty, Error, PluginInfo};

/// The interface version this host implements (2: review comments and diffs were added).
pub const INTERFACE_VERSION: u32 = 2;

/// State of a pull/merge request (proto `PullRequestState`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PullRequestState {
    /// Not reported.
    #[default]
    #[serde(rename = "PULL_REQUEST_STATE_UNSPECIFIED")]
    Unspecified,
    /// Open.
    #[serde(rename = "PULL_REQUEST_STATE_OPEN")]
    Open,
    /// Closed without merging.
    #[serde(rename = "PULL_REQUEST_STATE_CLOSED")]
    Closed,
    /// Merged.
    #[serde(rename = "PULL_REQUEST_STATE_MERGED")]
    Merged,
    /// Draft.
    #[serde(rename = "PULL_REQUEST_STATE_DRAFT")]
    Draft,
}

/// Combined CI status (proto `CIStatus`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CiStatus {
    /// Not reported.
    #[default]
    #[serde(rename = "CI_STATUS_UNSPECIFIED")]
    Unspecified,
    /// Checks running.
    #[serde(rename = "CI_STATUS_PENDING")]
    Pending,
    /// All checks passed.
    #[serde(rename = "CI_STATUS_PASSING")]
    Passing,
    /// A check failed.
    #[serde(rename = "CI_STATUS_FAILING")]
    Failing,
}

/// Review status (proto `ReviewStatus`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReviewStatus {
    /// Not reported.
    #[default]
    #[serde(rename = "REVIEW_STATUS_UNSPECIFIED")]
    Unspecified,
    /// Waiting for reviews.
    #[serde(rename = "REVIEW_STATUS_PENDING")]
    Pending,
    /// Approved.
    #[serde(rename = "REVIEW_STATUS_APPROVED")]
    Approved,
    /// Changes requested.
    #[serde(rename = "REVIEW_STATUS_CHANGES_REQUESTED")]
    ChangesRequested,
}

/// Request of `CreateBranch`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CreateBranchRequest {
    /// Repository URL.
    pub repo_url: String,
    /// Name of the new branch.
    pub branch_name: String,
    /// Ref to branch from.
    pub base_ref: String,
}

/// Response of `CreateBranch`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateBranchResponse {
    /// Commit SHA the new branch points at.
    pub sha: String,
}

/// Request of `CreatePullRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CreatePullRequestRequest {
    /// Repository URL.
    pub repo_url: String,
    /// Pull request title.
    pub title: String,
    /// Pull request body.
    pub body: String,
    /// Branch with the changes.
    pub head_branch: String,
    /// Branch to merge into.
    pub base_branch: String,
    /// Labels to apply.
    pub labels: Vec<String>,
    /// Open as a draft.
    pub draft: bool,
}

/// Response of `CreatePullRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreatePullRequestResponse {
    /// Web URL of the pull request.
    pub pull_request_url: String,
    /// Backend-specific id.
    pub pull_request_id: String,
}

/// Request of `GetPullRequestStatus`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct GetPullRequestStatusRequest {
    /// Repository URL.
    pub repo_url: String,
    /// Backend-specific id.
    pub pull_request_id: String,
}

/// Response of `GetPullRequestStatus`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetPullRequestStatusResponse {
    /// Open, closed, merged or draft.
    pub state: PullRequestState,
    /// Whether it merges without conflicts.
    pub mergeable: bool,
    /// Combined CI status.
    pub ci_status: CiStatus,
    /// Review status.
    pub review_status: ReviewStatus,
    /// Web URL of the pull request.
    pub pull_request_url: String,
}

/// Request of `ListReviewComments`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ListReviewCommentsRequest {
    /// Web URL of the pull request.
    pub pr_url: String,
}

/// A review or general comment (proto `ReviewCommentProto`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReviewComment {
    /// Comment id.
    pub id: String,
    /// Thread id.
    pub thread_id: String,
    /// Author login.
    pub author: String,
    /// Text.
    pub body: String,
    /// File, empty for general comments.
    pub file_path: String,
    /// Line, 0 for general comments.
    pub line: i32,
    /// Creation time, seconds since the Unix epoch.
    #[serde(with = "crate::json::int64")]
    pub created_unix: i64,
}

/// Response of `ListReviewComments`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListReviewCommentsResponse {
    /// The comments.
    pub comments: Vec<ReviewComment>,
}

/// Request of `ReplyToComment`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ReplyToCommentRequest {
    /// Web URL of the pull request.
    pub pr_url: String,
    /// Comment to reply to.
    pub comment_id: String,
    /// Reply text.
    pub body: String,
}

/// Request of `ResolveThread`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ResolveThreadRequest {
    /// Web URL of the pull request.
    pub pr_url: String,
    /// Thread to resolve.
    pub thread_id: String,
}

/// Request of `GetDiff`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct GetDiffRequest {
    /// Repository URL.
    pub repo_url: String,
    /// Base of the comparison.
    pub base_branch: String,
    /// Branch with the changes.
    pub branch_name: String,
}

/// Response of `GetDiff`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetDiffResponse {
    /// Unified diff.
    pub diff: String,
}

/// An SCM backend, whichever runtime serves it.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Who the plugin is (the `Handshake` RPC).
    async fn handshake(&self) -> Result<PluginInfo, Error>;
    /// Create a branch.
    async fn create_branch(
        &self,
        request: CreateBranchRequest,
    ) -> Result<CreateBranchResponse, Error>;
    /// Open a pull request.
    async fn create_pull_request(
        &self,
        request: CreatePullRequestRequest,
    ) -> Result<CreatePullRequestResponse, Error>;
    /// State of a pull request.
    async fn get_pull_request_status(
        &self,
        request: GetPullRequestStatusRequest,
    ) -> Result<GetPullRequestStatusResponse, Error>;
    /// Comments on a pull request.
    async fn list_review_comments(
        &self,
        request: ListReviewCommentsRequest,
    ) -> Result<ListReviewCommentsResponse, Error>;
    /// Reply to a comment.
    async fn reply_to_comment(&self, request: ReplyToCommentRequest) -> Result<Empty, Error>;
    /// Resolve a thread.
    async fn resolve_thread(&self, request: ResolveThreadRequest) -> Result<Empty, Error>;
    /// Diff between two branches.
    async fn get_diff(&self, request: GetDiffRequest) -> Result<GetDiffResponse, Error>;
}
