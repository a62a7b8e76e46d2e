//! Where agents run: the [`Executor`] seam between the controller loop and what runs an
//! attempt, so the loop is the same whichever runs it. [`LocalExecutor`] runs the agent as a
//! local process in a workspace directory ([`crate::exec`]); a Kubernetes executor runs it as
//! a Job. A task run records where its attempt runs as an executor-neutral [`JobRef`], saved
//! before the agent starts, so that a robodev started again finds the attempt
//! ([`Executor::recover`]) instead of starting it twice.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use robodev_core::Ticket;
use robodev_core::engine::ExecutionSpec;
use serde::{Deserialize, Serialize};

pub use crate::exec::Ending;
use crate::exec::{self, ExecError};

/// Where one attempt of a task run runs, as its executor finds it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "executor", rename_all = "snake_case")]
pub enum JobRef {
    /// A local process in its workspace directory.
    Local {
        /// The workspace.
        workspace: PathBuf,
    },
    /// A Kubernetes Job.
    Kubernetes {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
}

impl fmt::Display for JobRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobRef::Local { workspace } => write!(f, "local workspace {}", workspace.display()),
            JobRef::Kubernetes { namespace, name } => write!(f, "Job {namespace}/{name}"),
        }
    }
}

/// One attempt to run, as the loop hands it to an executor.
#[derive(Debug, Clone)]
pub struct AgentJob {
    /// The task run's id.
    pub task_run_id: String,
    /// Which attempt this is (1 for the first).
    pub attempt: u32,
    /// The ticket.
    pub ticket: Ticket,
    /// The engine's execution spec.
    pub spec: ExecutionSpec,
    /// The engine's prompt.
    pub prompt: String,
    /// The spec's `secret_env`, as the executor takes it ([`Executor::secret_delivery`]).
    pub secret_env: SecretEnv,
    /// How long the agent may run.
    pub deadline: Duration,
}

/// How an executor takes the agent's secret environment variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretDelivery {
    /// As values, read from the secrets backend (`GetSecrets`) by the loop: a local process
    /// gets them in its environment.
    Values,
    /// As references the secrets backend builds (`BuildEnvVars`, e.g. Kubernetes
    /// `secretKeyRef`s), so that no value passes through robodev or appears in a Job.
    References,
}

/// The agent's secret environment variables, as its executor takes them.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretEnv {
    /// Variable name to value.
    Values(BTreeMap<String, String>),
    /// What the secrets backend's `BuildEnvVars` answered: one variable per reference.
    References(Vec<robodev_core::secrets::EnvVar>),
}

/// Why an executor could not prepare, start, follow or find an attempt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutorError {
    /// The attempt's workspace could not be made ready.
    #[error("cannot prepare the workspace {}: {source}", workspace.display())]
    Prepare {
        /// The workspace.
        workspace: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The local agent could not be started or waited for.
    #[error(transparent)]
    Local(#[from] ExecError),
    /// The executor's own failure (e.g. the Kubernetes API's).
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
    /// The job is not one this executor runs (a task run written by another executor).
    #[error("{job} is not run by the {executor} executor")]
    Foreign {
        /// The job.
        job: JobRef,
        /// This executor.
        executor: &'static str,
    },
}

/// What became of an attempt robodev lost sight of (it was stopped while the attempt ran).
#[derive(Debug)]
pub enum Recovered {
    /// The attempt ended; how.
    Ended(Ending),
    /// The attempt still runs: wait for it.
    Running(Box<dyn Started>),
    /// Nothing is left to wait for or read: why.
    Lost(String),
}

/// An attempt that was started.
#[async_trait]
pub trait Started: Send + fmt::Debug {
    /// Waits for the attempt's end. Dropping the value instead abandons the attempt: the
    /// executor stops it.
    async fn wait(self: Box<Self>) -> Result<Ending, ExecutorError>;
}

/// Runs agents: prepare an attempt, start it, recover it after a restart, remove what it left.
#[async_trait]
pub trait Executor: Send + Sync + fmt::Debug {
    /// The executor's name in config and messages (`local`, `kubernetes`).
    fn name(&self) -> &'static str;

    /// How it takes the agent's secrets (values by default).
    fn secret_delivery(&self) -> SecretDelivery {
        SecretDelivery::Values
    }

    /// Whether its agents keep running when robodev stops (Jobs in a cluster do; local
    /// processes do not). When they do, a stopping robodev hands the runs waiting for them over
    /// at once (they stay Running on the record; the next controller resumes them) instead
    /// of waiting for them to end.
    fn agents_outlive_controller(&self) -> bool {
        false
    }

    /// Makes the attempt ready to start (nothing runs yet) and says where it will run; the
    /// loop records that before it calls [`Executor::start`].
    async fn prepare(&self, job: &AgentJob) -> Result<JobRef, ExecutorError>;

    /// Starts the prepared attempt at `at`.
    async fn start(&self, at: &JobRef, job: &AgentJob) -> Result<Box<dyn Started>, ExecutorError>;

    /// After a restart: what became of the attempt at `at`.
    async fn recover(&self, at: &JobRef) -> Result<Recovered, ExecutorError>;

    /// Removes what a finished attempt left (its workspace, its Job and pods). Best effort:
    /// what cannot be removed is logged.
    async fn remove(&self, at: &JobRef);

    /// The run of the attempt at `at` failed: what it left stays for a person to look at,
    /// within the executor's bound. The local executor keeps the last `executor.keep_failed`
    /// workspaces and removes older ones here; by default nothing is done (a Kubernetes Job is
    /// removed by its `ttlSecondsAfterFinished`).
    async fn keep_failed(&self, _at: &JobRef) {}
}

/// Agents as local processes, each in a fresh workspace `STATE_DIR/workspaces/<task run id>`
/// (see [`crate::exec`] for what an agent gets).
#[derive(Debug, Clone)]
pub struct LocalExecutor {
    workspaces: PathBuf,
    base_dir: PathBuf,
    keep_failed: usize,
}

/// The file that marks a failed run's workspace as kept ([`Executor::keep_failed`]); its
/// modification time orders the kept ones.
pub const FAILED_MARK: &str = ".robodev-failed";

impl LocalExecutor {
    /// Workspaces under `state_dir/workspaces`; relative agent commands resolve against
    /// `base_dir` (the config file's directory). Keeps the last
    /// [`crate::config::DEFAULT_KEEP_FAILED`] failed runs' workspaces
    /// ([`LocalExecutor::keeping_failed`]).
    pub fn new(state_dir: &std::path::Path, base_dir: impl Into<PathBuf>) -> Self {
        LocalExecutor {
            workspaces: state_dir.join("workspaces"),
            base_dir: base_dir.into(),
            keep_failed: crate::config::DEFAULT_KEEP_FAILED,
        }
    }

    /// The same executor keeping the workspaces of the last `n` failed runs.
    pub fn keeping_failed(mut self, n: usize) -> Self {
        self.keep_failed = n;
        self
    }

    fn workspace<'a>(&self, at: &'a JobRef) -> Result<&'a PathBuf, ExecutorError> {
        match at {
            JobRef::Local { workspace } => Ok(workspace),
            other => Err(ExecutorError::Foreign {
                job: other.clone(),
                executor: "local",
            }),
        }
    }

    fn job<'a>(&'a self, job: &'a AgentJob, workspace: &'a std::path::Path) -> exec::Job<'a> {
        exec::Job {
            task_run_id: &job.task_run_id,
            ticket: &job.ticket,
            spec: &job.spec,
            prompt: &job.prompt,
            secret_env: match &job.secret_env {
                SecretEnv::Values(values) => values.clone(),
                // Not asked for (see `secret_delivery`); a local process cannot use them.
                SecretEnv::References(_) => BTreeMap::new(),
            },
            workspace,
            base_dir: &self.base_dir,
            deadline: job.deadline,
        }
    }
}

#[async_trait]
impl Started for exec::Running {
    async fn wait(self: Box<Self>) -> Result<Ending, ExecutorError> {
        Ok(exec::Running::wait(*self).await?)
    }
}

#[async_trait]
impl Executor for LocalExecutor {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn prepare(&self, job: &AgentJob) -> Result<JobRef, ExecutorError> {
        let workspace = self.workspaces.join(&job.task_run_id);
        exec::prepare(&self.job(job, &workspace)).map_err(|source| ExecutorError::Prepare {
            workspace: workspace.clone(),
            source,
        })?;
        Ok(JobRef::Local { workspace })
    }

    async fn start(&self, at: &JobRef, job: &AgentJob) -> Result<Box<dyn Started>, ExecutorError> {
        let workspace = self.workspace(at)?;
        let running = exec::start(&self.job(job, workspace)).await?;
        Ok(Box::new(running))
    }

    async fn recover(&self, at: &JobRef) -> Result<Recovered, ExecutorError> {
        let workspace = self.workspace(at)?;
        // A local agent dies with robodev (parent-death signal, watchdog): what it left is all.
        Ok(match exec::read_result(workspace) {
            Ok((result, diff)) => Recovered::Ended(Ending::Finished { result, diff }),
            Err(why) => Recovered::Lost(format!("the agent left no result ({why})")),
        })
    }

    async fn remove(&self, at: &JobRef) {
        let Ok(workspace) = self.workspace(at) else {
            return;
        };
        let workspace = workspace.clone();
        // A checkout can be large: removed on a blocking thread.
        let removed = tokio::task::spawn_blocking(move || {
            std::fs::remove_dir_all(&workspace).map_err(|e| format!("{}: {e}", workspace.display()))
        })
        .await;
        if let Ok(Err(e)) = removed {
            tracing::debug!("cannot remove workspace {e}");
        }
    }

    async fn keep_failed(&self, at: &JobRef) {
        let Ok(workspace) = self.workspace(at) else {
            return;
        };
        let (workspace, workspaces, keep) =
            (workspace.clone(), self.workspaces.clone(), self.keep_failed);
        let pruned = tokio::task::spawn_blocking(move || {
            if workspace.is_dir()
                && let Err(e) = std::fs::write(workspace.join(FAILED_MARK), b"")
            {
                tracing::warn!(
                    "cannot mark workspace {} as failed: {e}",
                    workspace.display()
                );
            }
            prune_failed(&workspaces, keep)
        })
        .await;
        match pruned {
            Ok(removed) if removed > 0 => tracing::info!(
                "removed the workspaces of {removed} older failed run(s) (executor.keep_failed: {keep})",
                keep = self.keep_failed
            ),
            _ => {}
        }
    }
}

/// Removes the workspaces marked failed under `workspaces` but the `keep` most recently marked;
/// how many it removed. What cannot be read or removed is logged and left.
fn prune_failed(workspaces: &std::path::Path, keep: usize) -> usize {
    let Ok(entries) = std::fs::read_dir(workspaces) else {
        return 0;
    };
    let mut failed: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let dir = entry.path();
            let marked = std::fs::metadata(dir.join(FAILED_MARK))
                .ok()?
                .modified()
                .ok()?;
            Some((marked, dir))
        })
        .collect();
    if failed.len() <= keep {
        return 0;
    }
    // Newest first; the same time: by name, so that the order is stable.
    failed.sort_by(|a, b| b.cmp(a));
    let mut removed = 0;
    for (_, dir) in failed.drain(keep..) {
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => removed += 1,
            // Two runs that failed at once prune together: the other one removed it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(
                "cannot remove the failed run's workspace {}: {e}",
                dir.display()
            ),
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_last_failed_workspaces_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let executor = LocalExecutor::new(dir.path(), dir.path()).keeping_failed(2);
        let workspaces = dir.path().join("workspaces");
        let at = |name: &str| {
            let workspace = workspaces.join(name);
            std::fs::create_dir_all(workspace.join("src")).unwrap();
            std::fs::write(workspace.join("src/main.rs"), "fn main() {}").unwrap();
            JobRef::Local { workspace }
        };
        // A run still going: never marked, never removed.
        let running = at("tr-running");
        for name in ["tr-1", "tr-2", "tr-3", "tr-4"] {
            executor.keep_failed(&at(name)).await;
            // Marks far enough apart for any file system's timestamps.
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        }
        let mut left: Vec<String> = std::fs::read_dir(&workspaces)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["tr-3", "tr-4", "tr-running"]);
        let JobRef::Local { workspace } = running else {
            unreachable!()
        };
        assert!(workspace.join("src/main.rs").exists());
        assert!(workspaces.join("tr-4").join(FAILED_MARK).exists());
        // Keeping none removes each failed run's workspace as it fails.
        let none = LocalExecutor::new(dir.path(), dir.path()).keeping_failed(0);
        none.keep_failed(&at("tr-5")).await;
        assert!(!workspaces.join("tr-5").exists());
        assert!(!workspaces.join("tr-4").exists());
        assert!(workspaces.join("tr-running").exists());
    }
}
