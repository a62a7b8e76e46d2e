//! {{name}}: a robodev SCM plugin (a WebAssembly component), made by `robodev plugin new`.
//!
//! Branches and pull requests are kept in the key-value store; replace the bodies with calls
//! to your forge's API (outbound HTTP goes through `wasi:http`, the `wasip2` crate, to the hosts
//! `allowed_hosts` grants; its token through `robodev_plugin::secrets::get`). Calls run
//! concurrently: number pull requests with `kv::increment`, never with get-then-set.

use robodev_plugin::kv;
use robodev_plugin::scm::{
    CiStatus, CreatedPullRequest, PluginError, PluginInfo, PullRequestState, PullRequestStatus,
    ReviewComment, ReviewStatus, Scm,
};

fn required(field: &str, value: &str) -> Result<(), PluginError> {
    if value.trim().is_empty() {
        return Err(PluginError::InvalidArgument(format!("{field} is empty")));
    }
    Ok(())
}

struct Plugin;

impl Scm for Plugin {
    fn handshake() -> PluginInfo {
        robodev_plugin::info!()
    }

    fn create_branch(repo_url: String, branch_name: String, base_ref: String) -> Result<String, PluginError> {
        required("repo-url", &repo_url)?;
        required("branch-name", &branch_name)?;
        kv::set(&format!("branch/{repo_url}/{branch_name}"), base_ref.as_bytes())?;
        Ok(format!("{:040x}", kv::increment("commits", 1)?))
    }

    fn create_pull_request(
        repo_url: String,
        title: String,
        _body: String,
        head_branch: String,
        _base_branch: String,
        _labels: Vec<String>,
        _draft: bool,
    ) -> Result<CreatedPullRequest, PluginError> {
        required("title", &title)?;
        if kv::get(&format!("branch/{repo_url}/{head_branch}"))?.is_none() {
            return Err(PluginError::NotFound(format!("no branch {head_branch} in {repo_url}")));
        }
        let n = kv::increment("pull-requests", 1)?;
        let url = format!("{repo_url}/pull/{n}");
        kv::set(&format!("pull/{n}"), url.as_bytes())?;
        Ok(CreatedPullRequest { pull_request_url: url, pull_request_id: n.to_string() })
    }

    fn get_pull_request_status(_repo_url: String, pull_request_id: String) -> Result<PullRequestStatus, PluginError> {
        required("pull-request-id", &pull_request_id)?;
        let url = kv::get(&format!("pull/{pull_request_id}"))?
            .ok_or_else(|| PluginError::NotFound(format!("no pull request {pull_request_id}")))?;
        Ok(PullRequestStatus {
            state: PullRequestState::Open,
            mergeable: true,
            ci_status: CiStatus::Pending,
            review_status: ReviewStatus::Pending,
            pull_request_url: String::from_utf8_lossy(&url).into_owned(),
        })
    }

    fn list_review_comments(pr_url: String) -> Result<Vec<ReviewComment>, PluginError> {
        required("pr-url", &pr_url)?;
        Ok(Vec::new())
    }

    fn reply_to_comment(_pr_url: String, comment_id: String, _body: String) -> Result<(), PluginError> {
        required("comment-id", &comment_id)?;
        Err(PluginError::NotFound(format!("no comment {comment_id}")))
    }

    fn resolve_thread(_pr_url: String, thread_id: String) -> Result<(), PluginError> {
        required("thread-id", &thread_id)?;
        Err(PluginError::NotFound(format!("no thread {thread_id}")))
    }

    fn get_diff(repo_url: String, base_branch: String, branch_name: String) -> Result<String, PluginError> {
        required("repo-url", &repo_url)?;
        required("branch-name", &branch_name)?;
        // Your forge's compare API goes here; this example's diff names the two branches.
        Ok(format!("--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-{base_branch}\n+{branch_name}\n"))
    }
}

robodev_plugin::export_scm!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use robodev_plugin::testing;

    #[test]
    fn a_branch_then_its_pull_request() {
        testing::Host::new().kv().install();
        let repo = "https://git.example/acme/api".to_owned();
        Plugin::create_branch(repo.clone(), "fix".into(), "main".into()).unwrap();
        let pr = Plugin::create_pull_request(repo.clone(), "Fix".into(), String::new(), "fix".into(), "main".into(), vec![], false).unwrap();
        assert_eq!(pr.pull_request_url, format!("{repo}/pull/1"));
        let status = Plugin::get_pull_request_status(repo, pr.pull_request_id).unwrap();
        assert_eq!(status.state, PullRequestState::Open);
    }
}
