//! `scm-kv`: an SCM backend (`robodev:scm/backend@2.0.0`) that keeps branches and pull requests
//! in the plugin's host key-value store instead of a git host. Tests and demos use it to drive
//! the whole pull-request flow offline.
//!
//! Config keys:
//!
//! - `comments` (optional): the review comments every pull request shows, a JSON array of
//!   `{"id", "threadId", "author", "body", "filePath", "line", "createdUnix"}`.
//!
//! The config must enable kv. Keys it writes:
//!
//! - `branch/<repo-url> <branch>`: a created branch, `{"base": ..., "sha": ...}`;
//! - `pr-seq`: the last pull request id; `pr/<id>`: a pull request, as JSON;
//! - `replies/<comment-id>`: replies to a comment, a JSON array of `{"prUrl", "body"}`;
//! - `resolved/<thread-id>`: the pull request URL a thread was resolved on.
//!
//! Behaviour: `create-branch` fails with `already-exists` for a known branch and returns a
//! deterministic SHA (FNV-1a 64 of repo-url + branch + base-ref, 16 hex digits).
//! `create-pull-request` needs a head branch created before (`not-found` otherwise), numbers
//! pull requests "1", "2"... and answers `<repo-url>/pull/<id>`. Status: draft or open,
//! mergeable, CI and review pending. `reply-to-comment`/`resolve-thread` know only the ids of
//! the `comments` config. `get-diff` returns a small synthetic diff naming both branches.

use serde::{Deserialize, Serialize};

wit_bindgen::generate!({
    path: ["../../wit/types", "../../wit/host", "../../wit/scm"],
    world: "robodev:scm/plugin@2.0.0",
    generate_all,
});

use exports::robodev::scm::backend::{
    CiStatus, CreatedPullRequest, Guest, PullRequestState, PullRequestStatus, ReviewComment,
    ReviewStatus,
};
use robodev::host::{config, kv};
use robodev::types::types::{PluginError, PluginInfo};

#[derive(Serialize, Deserialize)]
struct Branch {
    base: String,
    sha: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PullRequest {
    repo_url: String,
    title: String,
    body: String,
    head_branch: String,
    base_branch: String,
    labels: Vec<String>,
    draft: bool,
    url: String,
}

/// A review comment as written in the `comments` config key.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigComment {
    id: String,
    #[serde(default)]
    thread_id: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    file_path: String,
    #[serde(default)]
    line: i32,
    #[serde(default)]
    created_unix: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reply {
    pr_url: String,
    body: String,
}

struct Component;

impl Guest for Component {
    fn handshake() -> PluginInfo {
        PluginInfo {
            name: "scm-kv".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn create_branch(
        repo_url: String,
        branch_name: String,
        base_ref: String,
    ) -> Result<String, PluginError> {
        require("repo-url", &repo_url)?;
        require("branch-name", &branch_name)?;
        require("base-ref", &base_ref)?;
        let key = branch_key(&repo_url, &branch_name);
        if kv::get(&key).map_err(kv_error)?.is_some() {
            return Err(PluginError::AlreadyExists(format!(
                "branch {branch_name} already exists in {repo_url}"
            )));
        }
        let sha = format!("{:016x}", fnv1a64([&repo_url, &branch_name, &base_ref]));
        put_json(
            &key,
            &Branch {
                base: base_ref,
                sha: sha.clone(),
            },
        )?;
        Ok(sha)
    }

    fn create_pull_request(
        repo_url: String,
        title: String,
        body: String,
        head_branch: String,
        base_branch: String,
        labels: Vec<String>,
        draft: bool,
    ) -> Result<CreatedPullRequest, PluginError> {
        require("repo-url", &repo_url)?;
        require("base-branch", &base_branch)?;
        if kv::get(&branch_key(&repo_url, &head_branch))
            .map_err(kv_error)?
            .is_none()
        {
            return Err(PluginError::NotFound(format!(
                "branch {head_branch:?} does not exist in {repo_url}"
            )));
        }
        let id = next_pr_id()?.to_string();
        let url = format!("{}/pull/{id}", repo_url.trim_end_matches('/'));
        let pr = PullRequest {
            repo_url,
            title,
            body,
            head_branch,
            base_branch,
            labels,
            draft,
            url: url.clone(),
        };
        put_json(&format!("pr/{id}"), &pr)?;
        Ok(CreatedPullRequest {
            pull_request_url: url,
            pull_request_id: id,
        })
    }

    fn get_pull_request_status(
        repo_url: String,
        pull_request_id: String,
    ) -> Result<PullRequestStatus, PluginError> {
        let pr: PullRequest = get_json(&format!("pr/{pull_request_id}"))?
            .filter(|pr: &PullRequest| pr.repo_url == repo_url)
            .ok_or_else(|| {
                PluginError::NotFound(format!("no pull request {pull_request_id} in {repo_url}"))
            })?;
        Ok(PullRequestStatus {
            state: if pr.draft {
                PullRequestState::Draft
            } else {
                PullRequestState::Open
            },
            mergeable: true,
            ci_status: CiStatus::Pending,
            review_status: ReviewStatus::Pending,
            pull_request_url: pr.url,
        })
    }

    fn list_review_comments(_pr_url: String) -> Result<Vec<ReviewComment>, PluginError> {
        Ok(config_comments()?
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
            .collect())
    }

    fn reply_to_comment(
        pr_url: String,
        comment_id: String,
        body: String,
    ) -> Result<(), PluginError> {
        require("body", &body)?;
        if !config_comments()?.iter().any(|c| c.id == comment_id) {
            return Err(PluginError::NotFound(format!(
                "no review comment {comment_id:?}"
            )));
        }
        let key = format!("replies/{comment_id}");
        let mut replies: Vec<Reply> = get_json(&key)?.unwrap_or_default();
        replies.push(Reply { pr_url, body });
        put_json(&key, &replies)
    }

    fn resolve_thread(pr_url: String, thread_id: String) -> Result<(), PluginError> {
        if thread_id.is_empty() || !config_comments()?.iter().any(|c| c.thread_id == thread_id) {
            return Err(PluginError::NotFound(format!(
                "no review thread {thread_id:?}"
            )));
        }
        kv::set(&format!("resolved/{thread_id}"), pr_url.as_bytes()).map_err(kv_error)
    }

    fn get_diff(
        repo_url: String,
        base_branch: String,
        branch_name: String,
    ) -> Result<String, PluginError> {
        require("base-branch", &base_branch)?;
        require("branch-name", &branch_name)?;
        Ok(format!(
            "diff --git a/CHANGES.md b/CHANGES.md\n\
             --- a/CHANGES.md\n\
             +++ b/CHANGES.md\n\
             @@ -1,1 +1,2 @@\n \
             Changes of {branch_name} against {base_branch} in {repo_url}\n\
             +- a synthetic change made on {branch_name}\n"
        ))
    }
}

export!(Component);

fn require(what: &str, value: &str) -> Result<(), PluginError> {
    if value.is_empty() {
        Err(PluginError::InvalidArgument(format!("{what} is empty")))
    } else {
        Ok(())
    }
}

/// A space separates the parts: it can occur neither in a URL nor in a git branch name.
fn branch_key(repo_url: &str, branch_name: &str) -> String {
    format!("branch/{repo_url} {branch_name}")
}

fn next_pr_id() -> Result<u64, PluginError> {
    let last: u64 = get_json("pr-seq")?.unwrap_or(0);
    let id = last + 1;
    put_json("pr-seq", &id)?;
    Ok(id)
}

/// FNV-1a, 64 bits, over the concatenation of `parts`: a deterministic stand-in for a commit SHA.
fn fnv1a64<const N: usize>(parts: [&str; N]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    parts
        .iter()
        .flat_map(|part| part.bytes())
        .fold(OFFSET, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        })
}

fn config_comments() -> Result<Vec<ConfigComment>, PluginError> {
    match config::get("comments") {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            PluginError::FailedPrecondition(format!(
                "config key comments is not a JSON array of comments: {e}"
            ))
        }),
    }
}

fn get_json<T: for<'de> Deserialize<'de>>(key: &str) -> Result<Option<T>, PluginError> {
    match kv::get(key).map_err(kv_error)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| PluginError::DataLoss(format!("kv value {key} is corrupt: {e}"))),
    }
}

fn put_json<T: Serialize>(key: &str, value: &T) -> Result<(), PluginError> {
    let bytes = serde_json::to_vec(value).map_err(|e| PluginError::Internal(e.to_string()))?;
    kv::set(key, &bytes).map_err(kv_error)
}

fn kv_error(e: kv::KvError) -> PluginError {
    match e {
        kv::KvError::Denied => PluginError::PermissionDenied(
            "the key-value store is not enabled in this plugin's config (set `kv: true` in its plugins: entry)".into(),
        ),
        kv::KvError::TooLarge(m) => PluginError::ResourceExhausted(m),
        kv::KvError::Io(m) => PluginError::Unavailable(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64([""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(["a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(["foo", "bar"]), fnv1a64(["foobar"]));
    }

    #[test]
    fn diff_names_both_branches() {
        let diff = Component::get_diff("https://x/r".into(), "main".into(), "feature/a".into())
            .unwrap_or_default();
        assert!(
            diff.contains("feature/a") && diff.contains("main"),
            "{diff}"
        );
        assert!(diff.lines().any(|l| l.starts_with("+++ b/")));
    }
}
