//! Task runs: what robodev did with each ticket, persisted so that a restarted robodev resumes
//! or fails every unfinished run cleanly and never runs a ticket twice.
//!
//! One JSON file per ticket under `state_dir/runs/`, written atomically at every transition
//! ([`robodev_builtins::store`]). The file is created (state [`TaskState::Queued`]) before anything is
//! asked of any plugin, and it says which reporting steps are done, so a crash between two
//! steps repeats none of them and skips none.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use robodev_core::review::GateResult;
use robodev_core::{TaskResult, Ticket};
use serde::{Deserialize, Serialize};

use robodev_builtins::store;

/// Where a task run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TaskState {
    /// Accepted, waiting for a slot (or for its first step).
    Queued,
    /// The agent is running.
    Running,
    /// Waiting for a human (pre-start approval).
    NeedsHuman,
    /// Done; the agent succeeded and the gates passed.
    Succeeded,
    /// Done; the agent failed, a gate failed, a guard rail blocked it, or it was interrupted.
    Failed,
    /// The agent failed and will run again (`guardrails.max_retries`).
    Retrying,
    /// The agent ran past its deadline and was stopped.
    TimedOut,
}

impl TaskState {
    /// Whether the run is over (nothing more will run; reporting may still be pending).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Succeeded | TaskState::Failed | TaskState::TimedOut
        )
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Which side effects of a run have happened (each is done at most once).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Steps {
    /// `MarkInProgress` was called.
    pub marked_in_progress: bool,
    /// `NotifyStart` was sent.
    pub start_notified: bool,
    /// `MarkComplete` or `MarkFailed` was called.
    pub reported: bool,
    /// `NotifyComplete` was sent.
    pub complete_notified: bool,
    /// The channels `NotifyStart` was sent to so far (each recorded as it is sent, so that a
    /// restart in the middle tells only the channels not yet told).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub start_notified_to: Vec<String>,
    /// The channels `NotifyComplete` was sent to so far (as `start_notified_to`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub complete_notified_to: Vec<String>,
}

/// One state change, for the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// Unix seconds.
    pub at: u64,
    /// The new state.
    pub state: TaskState,
    /// Why, for humans.
    pub note: String,
}

/// The persisted record of one ticket's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRun {
    /// The run's id (`tr-<ticket>`), sent to plugins as `task_run_id`.
    pub id: String,
    /// The ticketing backend the ticket came from.
    pub ticketing: String,
    /// The ticket as polled.
    pub ticket: Ticket,
    /// Where the run is.
    pub state: TaskState,
    /// Agent runs started so far.
    pub attempts: u32,
    /// The engine that runs it.
    pub engine: String,
    /// Side effects done.
    pub steps: Steps,
    /// The agent's result, once known.
    pub result: Option<TaskResult>,
    /// The review gate's result, when a gate ran.
    pub gate: Option<GateResult>,
    /// Why it failed, when it did.
    pub reason: Option<String>,
    /// The approval request, until it is decided and cancelled at the approval backend.
    pub approval_request: Option<String>,
    /// Who approved the run (`robodev task approve`), when approval is required.
    #[serde(default)]
    pub approved_by: Option<String>,
    /// Where the current attempt runs (saved before the agent starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<crate::executor::JobRef>,
    /// The agent's workspace, as records written before executors had [`TaskRun::job`] name
    /// it (read as a local job; never written).
    #[serde(default, skip_serializing)]
    pub workspace: Option<PathBuf>,
    /// Every state change.
    pub history: Vec<Transition>,
}

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TaskRun {
    /// Where the current attempt runs: [`TaskRun::job`], or an older record's workspace.
    pub fn job_ref(&self) -> Option<crate::executor::JobRef> {
        self.job.clone().or_else(|| {
            self.workspace
                .clone()
                .map(|workspace| crate::executor::JobRef::Local { workspace })
        })
    }

    /// A new run of `ticket` (state Queued).
    pub fn new(ticketing: &str, ticket: Ticket, engine: &str) -> TaskRun {
        let mut run = TaskRun {
            id: format!("tr-{}", file_key(&ticket.id)),
            ticketing: ticketing.to_owned(),
            ticket,
            state: TaskState::Queued,
            attempts: 0,
            engine: engine.to_owned(),
            steps: Steps::default(),
            result: None,
            gate: None,
            reason: None,
            approval_request: None,
            approved_by: None,
            job: None,
            workspace: None,
            history: Vec::new(),
        };
        run.history.push(Transition {
            at: now(),
            state: TaskState::Queued,
            note: "polled".into(),
        });
        run
    }

    /// Moves to `state`, noting why.
    pub fn transition(&mut self, state: TaskState, note: impl Into<String>) {
        let note = note.into();
        tracing::info!(ticket = %self.ticket.id, run = %self.id, "{} -> {state}: {note}", self.state);
        self.state = state;
        self.history.push(Transition {
            at: now(),
            state,
            note,
        });
    }

    /// The run's outcome as channels are told it (`NotifyComplete`'s `result`): the agent's
    /// result when the run succeeded; otherwise `success: false`, the run's reason as the
    /// summary (a run can fail after its agent succeeded: a review gate, a timeout) and a
    /// non-zero exit code (2 when a guard rail blocked it, as RoboDev's `TaskResult` says),
    /// keeping what the agent did report (branch, merge request, tokens, cost).
    pub fn outcome(&self) -> TaskResult {
        let mut result = self.result.clone().unwrap_or_default();
        if self.state == TaskState::Succeeded {
            result.success = true;
            return result;
        }
        result.success = false;
        result.summary = self
            .reason
            .clone()
            .unwrap_or_else(|| format!("the run ended {}", self.state));
        if result.exit_code == 0 {
            result.exit_code = 1;
        }
        result
    }

    /// Whether the run needs nothing more from robodev.
    pub fn is_settled(&self) -> bool {
        self.state.is_final() && self.steps.reported && self.steps.complete_notified
    }
}

/// A file-name-safe form of a ticket id: ASCII letters, digits, `-` and `.` (but not a leading
/// `.`) are kept, anything else (`_` included) becomes `_xx` (its bytes in hex), so distinct
/// ids never share a file.
pub fn file_key(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' && !out.is_empty() {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    out
}

/// The task runs under `state_dir/runs/`.
#[derive(Debug, Clone)]
pub struct RunStore {
    dir: PathBuf,
}

impl RunStore {
    /// The store of `state_dir`.
    pub fn new(state_dir: &Path) -> RunStore {
        RunStore {
            dir: state_dir.join("runs"),
        }
    }

    fn path(&self, ticketing: &str, ticket_id: &str) -> PathBuf {
        self.dir.join(format!(
            "{}--{}.json",
            file_key(ticketing),
            file_key(ticket_id)
        ))
    }

    /// The run of `ticket_id` from `ticketing`, if there is one.
    pub fn get(&self, ticketing: &str, ticket_id: &str) -> std::io::Result<Option<TaskRun>> {
        store::read_json(&self.path(ticketing, ticket_id))
    }

    /// Saves `run` (atomically).
    pub fn put(&self, run: &TaskRun) -> std::io::Result<()> {
        store::write_json(&self.path(&run.ticketing, &run.ticket.id), run)
    }

    /// Every run, oldest first; unreadable files are reported, not skipped silently.
    pub fn all(&self) -> std::io::Result<Vec<TaskRun>> {
        let mut runs = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(runs),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json")
                && let Some(run) = store::read_json::<TaskRun>(&path)?
            {
                runs.push(run);
            }
        }
        runs.sort_by_key(|r| (r.history.first().map_or(0, |t| t.at), r.id.clone()));
        Ok(runs)
    }
}

/// Why a human's decision on a run could not be recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecideError {
    /// No run for this ticket.
    #[error("no task run for ticket {0:?}")]
    NoRun(String),
    /// The run is not waiting for a human.
    #[error("the task run of ticket {ticket:?} is {state}, not waiting for approval")]
    NotWaiting {
        /// The ticket.
        ticket: String,
        /// Where the run is.
        state: TaskState,
    },
    /// The store failed.
    #[error("{0}")]
    Store(#[from] std::io::Error),
}

impl RunStore {
    /// Records a human's decision on a run waiting for approval: approved runs are queued
    /// for the next pass; rejected ones fail (and are reported) with the reason.
    pub fn decide(
        &self,
        ticketing: &str,
        ticket_id: &str,
        approve: bool,
        who: &str,
        note: &str,
    ) -> Result<TaskRun, DecideError> {
        let mut run = self
            .get(ticketing, ticket_id)?
            .ok_or_else(|| DecideError::NoRun(ticket_id.to_owned()))?;
        if run.state != TaskState::NeedsHuman {
            return Err(DecideError::NotWaiting {
                ticket: ticket_id.to_owned(),
                state: run.state,
            });
        }
        let suffix = if note.is_empty() {
            String::new()
        } else {
            format!(": {note}")
        };
        if approve {
            run.approved_by = Some(who.to_owned());
            run.transition(TaskState::Queued, format!("approved by {who}{suffix}"));
        } else {
            let reason = format!("rejected by {who}{suffix}");
            run.reason = Some(reason.clone());
            run.result = Some(TaskResult {
                success: false,
                summary: reason.clone(),
                exit_code: 2,
                ..Default::default()
            });
            run.transition(TaskState::Failed, reason);
        }
        self.put(&run)?;
        Ok(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcome_is_the_runs_not_the_agents() {
        let mut run = TaskRun::new("local", Ticket::default(), "local");
        run.result = Some(TaskResult {
            success: true,
            summary: "done".into(),
            branch_name: "robodev/T-1".into(),
            ..Default::default()
        });
        run.transition(TaskState::Succeeded, "ok");
        let told = run.outcome();
        assert!(told.success);
        assert_eq!(told.summary, "done");
        // The agent succeeded, the gate did not.
        run.state = TaskState::Failed;
        run.reason = Some("review gate failed: score 60".into());
        let told = run.outcome();
        assert!(!told.success);
        assert_eq!(told.summary, "review gate failed: score 60");
        assert_eq!(told.exit_code, 1);
        assert_eq!(told.branch_name, "robodev/T-1");
        // No result at all (stopped before the agent ran).
        run.result = None;
        run.state = TaskState::TimedOut;
        run.reason = None;
        let told = run.outcome();
        assert!(!told.success);
        assert_eq!(told.summary, "the run ended TimedOut");
    }

    #[test]
    fn file_keys_are_safe_and_distinct() {
        assert_eq!(file_key("T-1"), "T-1");
        assert_eq!(file_key("../x"), "_2e./x".replace('/', "_2f"));
        assert_ne!(file_key("a/b"), file_key("a_b"));
        assert_ne!(file_key("a b"), file_key("a_20b"));
        assert!(!file_key(".hidden").starts_with('.'));
    }

    #[test]
    fn runs_round_trip_through_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = RunStore::new(dir.path());
        assert_eq!(store.get("local", "T-1").unwrap(), None);
        let ticket = Ticket {
            id: "T-1".into(),
            ..Default::default()
        };
        let mut run = TaskRun::new("local", ticket, "local");
        store.put(&run).unwrap();
        run.transition(TaskState::Running, "agent started");
        store.put(&run).unwrap();
        let back = store.get("local", "T-1").unwrap().unwrap();
        assert_eq!(back.state, TaskState::Running);
        assert_eq!(back.history.len(), 2);
        assert_eq!(store.all().unwrap(), vec![back]);
    }
}
