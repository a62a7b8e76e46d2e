//! Running an agent locally: the command of an [`ExecutionSpec`] in a fresh workspace
//! directory, under a deadline, and its `result.json` read back.
//!
//! (RoboDev runs agents as Kubernetes Jobs; robodev's local executor runs the same spec as a
//! process, which is what a laptop, CI and the tests have.) The agent gets:
//!
//! - its working directory: the workspace, empty but for `prompt.md` and `ticket.json`;
//! - `ROBODEV_WORKSPACE`, `ROBODEV_PROMPT_FILE`, `ROBODEV_TICKET_FILE`, `ROBODEV_RESULT_FILE`
//!   (where to write its [`TaskResult`] as proto3 JSON), `ROBODEV_DIFF_FILE` (where it may
//!   write the diff it produced, for the review gate), `ROBODEV_TASK_RUN_ID`, plus the spec's
//!   `env` and resolved `secret_env`;
//! - of robodev's own environment only [`PASSED_ENV`] (`PATH`, `HOME`, locale...): tokens and
//!   secrets robodev itself holds do not leak into agents;
//! - no stdin; stdout and stderr go to `agent.log` in the workspace.
//!
//! The agent runs in its own process group with the parent-death signal, so it never
//! outlives robodev; past its deadline the whole group is killed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use robodev_core::engine::ExecutionSpec;
use robodev_core::{TaskResult, Ticket};

/// The file the agent writes its result to, in its workspace.
pub const RESULT_FILE: &str = "result.json";
/// The file the agent may write its diff to, in its workspace.
pub const DIFF_FILE: &str = "changes.diff";
/// The agent's combined stdout and stderr, in its workspace.
pub const LOG_FILE: &str = "agent.log";
/// The variables of robodev's environment an agent inherits; everything else it gets comes
/// from its execution spec (`env`, resolved `secret_env`) and the `ROBODEV_*` variables.
pub const PASSED_ENV: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM",
];
/// The most of `agent.log` quoted in a failure reason.
const LOG_TAIL_BYTES: usize = 600;

/// How an agent run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// The agent exited and left a readable result.
    Finished {
        /// Its result.
        result: TaskResult,
        /// The diff it left in `changes.diff` (empty if none).
        diff: String,
    },
    /// The agent exited without a usable result.
    Broken {
        /// What happened: exit status, what was wrong with `result.json`, the log's tail.
        reason: String,
    },
    /// The agent ran past its deadline and was killed.
    TimedOut {
        /// The deadline.
        limit: Duration,
    },
}

/// Why an agent could not be started or waited for (it never ran, or robodev lost it).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The spec's command is empty.
    #[error("the engine's execution spec has an empty command")]
    EmptyCommand,
    /// The command's path could not be made absolute.
    #[error("cannot resolve the agent command: {0}")]
    Resolve(#[source] std::io::Error),
    /// `agent.log` could not be created.
    #[error("cannot create {LOG_FILE}: {0}")]
    Log(#[source] std::io::Error),
    /// The program did not start.
    #[error("cannot start {}: {source}", program.display())]
    Start {
        /// The program.
        program: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Waiting for the agent failed.
    #[error("cannot wait for the agent: {0}")]
    Wait(#[source] std::io::Error),
}

/// Why an agent's workspace holds no usable result.
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    /// It wrote no `result.json`.
    #[error("it wrote no {RESULT_FILE}")]
    Missing,
    /// `result.json` could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `result.json` is not a `TaskResult`.
    #[error("{RESULT_FILE} is not a TaskResult (proto3 JSON): {0}")]
    Malformed(#[source] serde_json::Error),
    /// `result.json` or the diff is larger than robodev reads.
    #[error("{} is larger than {} MiB, more than robodev reads", path.display(), limit >> 20)]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The most read, bytes.
        limit: u64,
    },
}

/// The largest `result.json` read (a `TaskResult` is a summary and a few fields).
pub const MAX_RESULT_BYTES: u64 = 1024 * 1024;
/// The largest diff read for the review gate (larger is refused, not cut: a cut diff would
/// be reviewed as if it were the whole change).
pub const MAX_DIFF_BYTES: u64 = 16 * 1024 * 1024;

/// The text of `path`, or `Ok(None)` when it does not exist; larger than `limit` is an error.
fn read_bounded(path: &Path, limit: u64) -> Result<Option<String>, ResultError> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ResultError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| ResultError::Read {
            path: path.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(ResultError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| ResultError::Read {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })
}

/// What to run, and where.
#[derive(Debug, Clone)]
pub struct Job<'a> {
    /// The run's id.
    pub task_run_id: &'a str,
    /// The ticket.
    pub ticket: &'a Ticket,
    /// The engine's spec.
    pub spec: &'a ExecutionSpec,
    /// The engine's prompt.
    pub prompt: &'a str,
    /// The spec's `secret_env`, resolved to values.
    pub secret_env: BTreeMap<String, String>,
    /// The workspace directory (created empty by [`prepare`]).
    pub workspace: &'a Path,
    /// Relative command paths resolve against this directory (the config file's).
    pub base_dir: &'a Path,
    /// The deadline.
    pub deadline: Duration,
}

/// Creates the workspace, empty, with the prompt and the ticket in it.
pub fn prepare(job: &Job<'_>) -> std::io::Result<()> {
    if job.workspace.exists() {
        std::fs::remove_dir_all(job.workspace)?;
    }
    std::fs::create_dir_all(job.workspace)?;
    std::fs::write(job.workspace.join("prompt.md"), job.prompt)?;
    let ticket = serde_json::to_vec_pretty(job.ticket).map_err(std::io::Error::other)?;
    std::fs::write(job.workspace.join("ticket.json"), ticket)
}

/// Reads what an agent left in `workspace` (also used to resume a run whose agent finished
/// while robodev was down).
pub fn read_result(workspace: &Path) -> Result<(TaskResult, String), ResultError> {
    let text = read_bounded(&workspace.join(RESULT_FILE), MAX_RESULT_BYTES)?
        .ok_or(ResultError::Missing)?;
    let result: TaskResult = serde_json::from_str(&text).map_err(ResultError::Malformed)?;
    let diff = read_bounded(&workspace.join(DIFF_FILE), MAX_DIFF_BYTES)?.unwrap_or_default();
    Ok((result, diff))
}

/// Below this many free bytes, a workspace's file system is said to be full when its agent
/// fails without a result (it may have failed to write it, and its log too).
pub const FULL_BELOW_BYTES: u64 = 1 << 20;

/// The bytes an unprivileged process can still write on `path`'s file system, if known.
fn free_bytes(path: &Path) -> Option<u64> {
    let stat = nix::sys::statvfs::statvfs(path).ok()?;
    Some((stat.blocks_available() as u64).saturating_mul(stat.fragment_size() as u64))
}

/// What a failure's reason says about a full file system (nothing when it is not).
fn full_note(free: Option<u64>) -> String {
    match free {
        Some(free) if free < FULL_BELOW_BYTES => {
            format!("; the workspace's file system is full ({free} bytes free)")
        }
        _ => String::new(),
    }
}

fn log_tail(workspace: &Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    // Only the end is read: an agent's log can be far larger than memory should hold.
    let Ok(mut file) = std::fs::File::open(workspace.join(LOG_FILE)) else {
        return String::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let start = len.saturating_sub(LOG_TAIL_BYTES as u64);
    let mut bytes = Vec::with_capacity(LOG_TAIL_BYTES);
    if file.seek(SeekFrom::Start(start)).is_err()
        || file
            .take(LOG_TAIL_BYTES as u64)
            .read_to_end(&mut bytes)
            .is_err()
    {
        return String::new();
    }
    // Cut mid-character: drop the continuation bytes of the one cut.
    let skip = if start > 0 {
        bytes.iter().take_while(|b| *b & 0xC0 == 0x80).count()
    } else {
        0
    };
    let tail = String::from_utf8_lossy(&bytes[skip..]);
    let tail = tail.trim();
    if tail.is_empty() {
        String::new()
    } else {
        format!("; last output: {}", tail.replace('\n', " | "))
    }
}

/// The agent's process group, killed when this is dropped: on every way out of [`Running::wait`],
/// including the run being abandoned (its future dropped), so that nothing the agent started
/// outlives it (`kill_on_drop` reaches only the group's leader).
struct Group(Option<u32>, Option<robodev_grpc::process::Watchdog>);

impl Group {
    fn kill(&mut self) {
        if let Some(pid) = self.0.take() {
            robodev_grpc::process::kill_group(pid);
        }
        self.1.take();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An agent process that was started: [`Running::wait`] for its end. Dropping it kills the
/// agent's whole process group.
pub struct Running {
    // Declared before `child`, so dropped before it: the group is killed while its leader is
    // not yet reaped (its id cannot have been reused).
    group: Group,
    child: tokio::process::Child,
    workspace: PathBuf,
    deadline: Duration,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("pid", &self.child.id())
            .field("workspace", &self.workspace)
            .finish_non_exhaustive()
    }
}

/// Starts the agent of `job` in its prepared workspace.
pub async fn start(job: &Job<'_>) -> Result<Running, ExecError> {
    let Some((program, args)) = job.spec.command.split_first() else {
        return Err(ExecError::EmptyCommand);
    };
    let program = PathBuf::from(program);
    // `./agent.sh` is relative to the config file; a bare name is looked up in PATH. The
    // agent's working directory is its workspace, so the path must be absolute.
    let program = if program.is_relative() && program.components().count() > 1 {
        std::path::absolute(job.base_dir.join(program)).map_err(ExecError::Resolve)?
    } else {
        program
    };
    let log = std::fs::File::create(job.workspace.join(LOG_FILE)).map_err(ExecError::Log)?;
    let log2 = log.try_clone().map_err(ExecError::Log)?;
    let mut command = tokio::process::Command::new(&program);
    command
        .args(args)
        .current_dir(job.workspace)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .kill_on_drop(true)
        // The agent sees only what its spec gives it, plus what any program needs to run:
        // robodev's own environment (secrets the env backend reads, tokens) stays out.
        .env_clear()
        .envs(
            PASSED_ENV
                .iter()
                .filter_map(|k| std::env::var_os(k).map(|v| (*k, v))),
        )
        .envs(&job.spec.env)
        .envs(&job.secret_env)
        .env("ROBODEV_WORKSPACE", job.workspace)
        .env("ROBODEV_PROMPT_FILE", job.workspace.join("prompt.md"))
        .env("ROBODEV_TICKET_FILE", job.workspace.join("ticket.json"))
        .env("ROBODEV_RESULT_FILE", job.workspace.join(RESULT_FILE))
        .env("ROBODEV_DIFF_FILE", job.workspace.join(DIFF_FILE))
        .env("ROBODEV_TASK_RUN_ID", job.task_run_id);
    let (child, watchdog) = robodev_grpc::process::spawn(command)
        .await
        .map_err(|source| ExecError::Start {
            program: program.clone(),
            source,
        })?;
    // The watchdog kills the group if robodev itself dies first.
    let group = Group(child.id(), Some(watchdog));
    Ok(Running {
        child,
        group,
        workspace: job.workspace.to_owned(),
        deadline: job.deadline,
    })
}

impl Running {
    /// Waits for the agent to exit (killing its group past the deadline) and reads its result.
    pub async fn wait(mut self) -> Result<Ending, ExecError> {
        let status = match tokio::time::timeout(self.deadline, self.child.wait()).await {
            Ok(status) => status.map_err(ExecError::Wait)?,
            Err(_) => {
                // The group is killed while its leader is not yet reaped (its id cannot have
                // been reused).
                self.group.kill();
                let _ = self.child.wait().await;
                return Ok(Ending::TimedOut {
                    limit: self.deadline,
                });
            }
        };
        // Whatever the agent started in its group goes with it.
        self.group.kill();
        match read_result(&self.workspace) {
            Ok((result, diff)) => Ok(Ending::Finished { result, diff }),
            Err(why) => Ok(Ending::Broken {
                reason: format!(
                    "the agent {} and {why}{}{}",
                    robodev_grpc::process::describe_exit(&status),
                    full_note(free_bytes(&self.workspace)),
                    log_tail(&self.workspace)
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_workspace_is_named_in_the_reason() {
        assert_eq!(
            full_note(Some(4096)),
            "; the workspace's file system is full (4096 bytes free)"
        );
        assert_eq!(full_note(Some(FULL_BELOW_BYTES)), "");
        assert_eq!(full_note(None), "");
        // A real directory's file system is measured (this one has room).
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).is_some_and(|free| free > 0));
    }

    #[test]
    fn an_oversized_result_or_diff_is_refused_not_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path();
        assert!(matches!(read_result(ws), Err(ResultError::Missing)));
        std::fs::write(
            ws.join(RESULT_FILE),
            r#"{"success": true, "summary": "ok"}"#,
        )
        .unwrap();
        let (result, diff) = read_result(ws).unwrap();
        assert!(result.success && diff.is_empty());
        // A diff over the cap fails the read rather than reach the review gate cut short.
        let file = std::fs::File::create(ws.join(DIFF_FILE)).unwrap();
        file.set_len(MAX_DIFF_BYTES + 1).unwrap();
        let err = read_result(ws).unwrap_err().to_string();
        assert!(err.contains("is larger than 16 MiB"), "{err}");
        std::fs::remove_file(ws.join(DIFF_FILE)).unwrap();
        let file = std::fs::File::create(ws.join(RESULT_FILE)).unwrap();
        file.set_len(MAX_RESULT_BYTES + 1).unwrap();
        assert!(matches!(
            read_result(ws),
            Err(ResultError::TooLarge {
                limit: MAX_RESULT_BYTES,
                ..
            })
        ));
    }
}
