//! `scm-v1`: an SCM plugin exporting the OLD `robodev:scm/backend@1.0.0` interface (the four
//! version-1 functions, see `wit/scm-v1/scm.wit`), as plugins built before SCM 2 do. The host
//! serves it through an adapter onto the version-2 trait: its functions answer, the v2-only
//! ones are `unimplemented`.
//!
//! Config keys: none. The functions answer fixed, stateless values. It is built against
//! `robodev:host@1.0.0` (the frozen `wit/host-1.0/`) and logs each branch it "creates", so it
//! imports `robodev:host/log@1.0.0`: loading it shows that a host at a later 1.x minor still
//! links a plugin built against 1.0.0.

wit_bindgen::generate!({
    path: ["../../wit/types", "../../wit/host-1.0", "../../wit/scm-v1"],
    world: "robodev:scm/plugin@1.0.0",
    generate_all,
});

use exports::robodev::scm::backend::{
    CiStatus, CreatedPullRequest, Guest, PullRequestState, PullRequestStatus, ReviewStatus,
};
use robodev::host::log;
use robodev::types::types::{PluginError, PluginInfo};

struct Component;

impl Guest for Component {
    fn handshake() -> PluginInfo {
        PluginInfo {
            name: "scm-v1".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn create_branch(
        _repo_url: String,
        branch_name: String,
        _base_ref: String,
    ) -> Result<String, PluginError> {
        if branch_name.is_empty() {
            return Err(PluginError::InvalidArgument("branch-name is empty".into()));
        }
        log::log(log::Level::Info, &format!("created branch {branch_name}"));
        Ok("0000000000000001".into())
    }

    fn create_pull_request(
        repo_url: String,
        _title: String,
        _body: String,
        _head_branch: String,
        _base_branch: String,
        _labels: Vec<String>,
        _draft: bool,
    ) -> Result<CreatedPullRequest, PluginError> {
        Ok(CreatedPullRequest {
            pull_request_url: format!("{repo_url}/pull/1"),
            pull_request_id: "1".into(),
        })
    }

    fn get_pull_request_status(
        repo_url: String,
        pull_request_id: String,
    ) -> Result<PullRequestStatus, PluginError> {
        Ok(PullRequestStatus {
            state: PullRequestState::Open,
            mergeable: true,
            ci_status: CiStatus::Pending,
            review_status: ReviewStatus::Pending,
            pull_request_url: format!("{repo_url}/pull/{pull_request_id}"),
        })
    }
}

export!(Component);
