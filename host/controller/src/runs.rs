//! Task runs: what robodev did with each ticket, persisted so that a restarted robodev resumes
//! or fails every unfinished run cleanly and never runs a ticket twice.
//!
//! Where the records live is a [`RunStore`]: by default the [`FileStore`], one JSON file per
//! ticket under `state_dir/runs/`, written atomically at every transition
//! ([`robodev_builtins::store`]); in Kubernetes, `robodev_kube::taskruns::CrdStore`, one
//! TaskRun object per ticket, so that a restarted or new leader resumes the runs. The record
//! is created (state [`TaskState::Queued`]) before anything is asked of any plugin, and it
//! says which reporting steps are done, so a crash between two steps repeats none of them and
//! skips none.
//!
//! ```no_run
//! # async fn demo() -> Result<(), robodev_controller::runs::StoreError> {
//! use robodev_controller::runs::{FileStore, RunStore};
//! let store = FileStore::new(std::path::Path::new("/var/lib/robodev"));
//! for run in store.all().await? {
//!     println!("{} {}", run.ticket.id, run.state);
//! }
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

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
    /// The guard rails passed (checked again for a run recorded but never started).
    #[serde(default)]
    pub guard_rails: bool,
    /// `MarkInProgress` was called.
    pub marked_in_progress: bool,
    /// `NotifyStart` was sent.
    pub start_notified: bool,
    /// `MarkComplete` or `MarkFailed` was called (and answered, or refused for good).
    pub reported: bool,
    /// The ticketing backend's refusal of the outcome (a domain error that asking again would
    /// only repeat: the ticket is gone, the request invalid), when it refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_refused: Option<String>,
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
    /// The store's version of this record as it was last read or written (a Kubernetes
    /// `resourceVersion`; `None` for the file store and for a record never stored). A store
    /// that has versions refuses to [`RunStore::put`] a record whose stored version has moved
    /// on since ([`StoreError::Conflict`]). Never serialized.
    #[serde(skip)]
    pub revision: Option<String>,
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
            id: run_id(&ticket.id),
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
            revision: None,
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

/// The id of the run of `ticket_id` (`tr-<ticket>`, file-name safe).
pub fn run_id(ticket_id: &str) -> String {
    format!("tr-{}", file_key(ticket_id))
}

/// The longest [`file_key`]: two of them, `--`, `.json` and `tr-` stay well inside a file
/// name's 255 bytes.
pub const FILE_KEY_MAX: usize = 100;

/// A file-name-safe form of a ticket id: ASCII letters, digits, `-` and `.` (but not a leading
/// `.`) are kept, anything else (`_` included) becomes `_xx` (its bytes in hex), so distinct
/// ids never share a file. A form longer than [`FILE_KEY_MAX`] (a ticketing plugin's ids are
/// not ours to bound) is cut to its first 60 characters, `~` and 32 hex digits of the id's
/// sha256: still distinct (`~` never appears in an uncut form), and never too long a name.
pub fn file_key(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' && !out.is_empty() {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    if out.len() > FILE_KEY_MAX {
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(id.as_bytes()));
        // The form is ASCII: any byte index is a character boundary.
        out.truncate(60);
        out.push('~');
        out.push_str(&digest[..32]);
    }
    out
}

/// Why the run store could not read or write a record.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file of the file store could not be read or written (or holds no record).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The stored record changed since this copy was read (another robodev wrote it, or it
    /// was created or deleted meanwhile): the write was refused rather than overwriting it.
    #[error(
        "the task run of ticket {ticket:?} ({ticketing}) changed in the store since it was read: {detail}"
    )]
    Conflict {
        /// The ticketing backend.
        ticketing: String,
        /// The ticket.
        ticket: String,
        /// What the store said.
        detail: String,
    },
    /// The store's backend failed or refused the request (the Kubernetes API).
    #[error("{what}: {source}")]
    Backend {
        /// What the store was doing.
        what: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored record cannot be made into a task run, or a task run into a record.
    #[error("{what}: {message}")]
    Invalid {
        /// Which record.
        what: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Where task runs are kept: every read and write of the loop and the CLI goes through it.
/// Implementations: [`FileStore`] (the default) and `robodev_kube::taskruns::CrdStore`.
#[async_trait]
pub trait RunStore: Send + Sync + fmt::Debug {
    /// The run of `ticket_id` from `ticketing`, if there is one (its
    /// [`TaskRun::revision`] set when the store has versions).
    async fn get(&self, ticketing: &str, ticket_id: &str) -> Result<Option<TaskRun>, StoreError>;

    /// Saves `run`, creating its record when it has none, and updates
    /// [`TaskRun::revision`]. A store with versions writes only over the version `run` was
    /// read at ([`StoreError::Conflict`] otherwise).
    async fn put(&self, run: &mut TaskRun) -> Result<(), StoreError>;

    /// Every run, oldest first; records that cannot be read are an error, not skipped.
    async fn all(&self) -> Result<Vec<TaskRun>, StoreError>;

    /// What every pass needs to know of every run, oldest first ([`RunSummary`]): by default
    /// made from [`RunStore::all`]. A store that can list them for less overrides it (the
    /// [`FileStore`] reads only the records changed since it last listed them).
    async fn summaries(&self) -> Result<Vec<RunSummary>, StoreError> {
        Ok(self.all().await?.iter().map(RunSummary::of).collect())
    }

    /// Where the runs are, for messages (a directory, a namespace).
    fn location(&self) -> String;

    /// Records a human's decision on a run waiting for approval: approved runs are queued
    /// for the next pass; rejected ones fail (and are reported) with the reason.
    async fn decide(
        &self,
        ticketing: &str,
        ticket_id: &str,
        approve: bool,
        who: &str,
        note: &str,
    ) -> Result<TaskRun, DecideError> {
        let mut run = self
            .get(ticketing, ticket_id)
            .await?
            .ok_or_else(|| DecideError::NoRun(ticket_id.to_owned()))?;
        apply_decision(&mut run, ticket_id, approve, who, note)?;
        self.put(&mut run).await?;
        Ok(run)
    }
}

/// A run as a pass sees it: enough to tell which tickets have runs and which runs to resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// [`TaskRun::ticketing`].
    pub ticketing: String,
    /// The ticket's id.
    pub ticket_id: String,
    /// [`TaskRun::id`].
    pub id: String,
    /// [`TaskRun::state`].
    pub state: TaskState,
    /// [`TaskRun::is_settled`].
    pub settled: bool,
    /// When the run was created (its first transition, Unix seconds): the order of
    /// [`RunStore::summaries`].
    pub created: u64,
}

impl RunSummary {
    /// The summary of `run`.
    pub fn of(run: &TaskRun) -> RunSummary {
        RunSummary {
            ticketing: run.ticketing.clone(),
            ticket_id: run.ticket.id.clone(),
            id: run.id.clone(),
            state: run.state,
            settled: run.is_settled(),
            created: run.history.first().map_or(0, |t| t.at),
        }
    }
}

/// The task runs under `state_dir/runs/`, one JSON file each, written atomically.
///
/// [`RunStore::summaries`] keeps what it read: the record of a settled run (which nothing
/// writes again) whose file is still the one it read (same inode, size, modification and change
/// times) is not read again. A pass over thousands of settled runs then costs a directory
/// listing and a `stat` per run, and the summaries (about 200 bytes a run) are all it keeps.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
    location: String,
    listed: Arc<Mutex<HashMap<PathBuf, (FileStamp, RunSummary)>>>,
}

/// What tells one version of a record's file from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileStamp {
    fn of(meta: &std::fs::Metadata) -> FileStamp {
        use std::os::unix::fs::MetadataExt;
        FileStamp {
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

impl FileStore {
    /// The store of `state_dir`.
    pub fn new(state_dir: &Path) -> FileStore {
        FileStore {
            dir: state_dir.join("runs"),
            location: state_dir.display().to_string(),
            listed: Arc::default(),
        }
    }

    /// The records' files (`*.json` under `runs/`); none when the directory is not there yet.
    fn files(&self) -> Result<Vec<PathBuf>, StoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(at(&self.dir, e)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| at(&self.dir, e))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
        Ok(files)
    }

    fn path(&self, ticketing: &str, ticket_id: &str) -> PathBuf {
        self.dir.join(format!(
            "{}--{}.json",
            file_key(ticketing),
            file_key(ticket_id)
        ))
    }
}

#[async_trait]
impl RunStore for FileStore {
    async fn get(&self, ticketing: &str, ticket_id: &str) -> Result<Option<TaskRun>, StoreError> {
        Ok(store::read_json(&self.path(ticketing, ticket_id))?)
    }

    async fn put(&self, run: &mut TaskRun) -> Result<(), StoreError> {
        Ok(store::write_json(
            &self.path(&run.ticketing, &run.ticket.id),
            &*run,
        )?)
    }

    async fn all(&self) -> Result<Vec<TaskRun>, StoreError> {
        let mut runs = Vec::new();
        for path in self.files()? {
            if let Some(run) = store::read_json::<TaskRun>(&path)? {
                runs.push(run);
            }
        }
        sort_runs(&mut runs);
        Ok(runs)
    }

    async fn summaries(&self) -> Result<Vec<RunSummary>, StoreError> {
        let files = self.files()?;
        let mut listed = self.listed.lock().unwrap_or_else(|e| e.into_inner());
        let mut now = HashMap::with_capacity(files.len());
        for path in files {
            let meta = match std::fs::metadata(&path) {
                Ok(meta) => meta,
                // Gone since the listing (deleted by a person): as if not listed.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(at(&path, e)),
            };
            let stamp = FileStamp::of(&meta);
            let summary = match listed.remove(&path) {
                // A settled run's record is never written again: only one that is still the
                // file read last time is trusted, and only when it was settled (any other may
                // have changed within the file system's timestamp granularity).
                Some((was, summary)) if was == stamp && summary.settled => summary,
                _ => match store::read_json::<TaskRun>(&path)? {
                    Some(run) => RunSummary::of(&run),
                    None => continue,
                },
            };
            now.insert(path, (stamp, summary));
        }
        // What is not in the directory any more is forgotten with the old map.
        *listed = now;
        let mut summaries: Vec<RunSummary> = listed.values().map(|(_, s)| s.clone()).collect();
        summaries.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(summaries)
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}

/// `e`, naming the directory (or file) it happened in.
fn at(dir: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(std::io::Error::new(
        e.kind(),
        format!("reading {}: {e}", dir.display()),
    ))
}

/// Sorts runs oldest first (by their first transition, then id), as [`RunStore::all`] returns
/// them.
pub fn sort_runs(runs: &mut [TaskRun]) {
    runs.sort_by_key(|r| (r.history.first().map_or(0, |t| t.at), r.id.clone()));
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
    Store(#[from] StoreError),
}

fn apply_decision(
    run: &mut TaskRun,
    ticket_id: &str,
    approve: bool,
    who: &str,
    note: &str,
) -> Result<(), DecideError> {
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
    Ok(())
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
        // Long ids (a hostile or careless tracker's) are cut and hashed, never too long a
        // file name, and still distinct.
        let long = "x".repeat(300);
        let key = file_key(&long);
        assert_eq!(key.len(), 60 + 1 + 32);
        assert!(key.starts_with(&"x".repeat(60)) && key.contains('~'));
        assert_ne!(key, file_key(&"x".repeat(301)));
        let wide = "\u{4e2d}".repeat(40); // 120 bytes, 360 escaped characters
        assert!(file_key(&wide).len() <= FILE_KEY_MAX);
        assert_eq!(
            file_key(&"y".repeat(FILE_KEY_MAX)),
            "y".repeat(FILE_KEY_MAX)
        );
    }

    #[tokio::test]
    async fn a_ticket_with_a_very_long_id_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        for id in ["H-".to_owned() + &"x".repeat(400), "\u{1f600}".repeat(100)] {
            let mut run = TaskRun::new(
                "local",
                Ticket {
                    id: id.clone(),
                    ..Default::default()
                },
                "local",
            );
            store.put(&mut run).await.unwrap();
            assert_eq!(
                store.get("local", &id).await.unwrap().unwrap().ticket.id,
                id
            );
        }
        assert_eq!(store.all().await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn runs_round_trip_through_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        assert_eq!(store.get("local", "T-1").await.unwrap(), None);
        let ticket = Ticket {
            id: "T-1".into(),
            ..Default::default()
        };
        let mut run = TaskRun::new("local", ticket, "local");
        store.put(&mut run).await.unwrap();
        run.transition(TaskState::Running, "agent started");
        store.put(&mut run).await.unwrap();
        let back = store.get("local", "T-1").await.unwrap().unwrap();
        assert_eq!(back.state, TaskState::Running);
        assert_eq!(back.history.len(), 2);
        assert_eq!(store.all().await.unwrap(), vec![back]);
    }

    fn summaries_of(runs: &[TaskRun]) -> Vec<RunSummary> {
        runs.iter().map(RunSummary::of).collect()
    }

    #[tokio::test]
    async fn summaries_follow_every_change_to_the_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        assert_eq!(store.summaries().await.unwrap(), []);
        let mut runs: Vec<TaskRun> = ["T-1", "T-2", "T-3"]
            .into_iter()
            .map(|id| {
                let ticket = Ticket {
                    id: id.into(),
                    ..Default::default()
                };
                TaskRun::new("local", ticket, "local")
            })
            .collect();
        for run in &mut runs {
            store.put(run).await.unwrap();
        }
        let all = store.all().await.unwrap();
        assert_eq!(store.summaries().await.unwrap(), summaries_of(&all));
        // Settled: a summary that is kept, not read again.
        let settle = |run: &mut TaskRun| {
            run.transition(TaskState::Succeeded, "done");
            run.steps.reported = true;
            run.steps.complete_notified = true;
        };
        settle(&mut runs[0]);
        store.put(&mut runs[0]).await.unwrap();
        runs[1].transition(TaskState::Running, "started");
        store.put(&mut runs[1]).await.unwrap();
        let listed = store.summaries().await.unwrap();
        assert_eq!(listed, summaries_of(&store.all().await.unwrap()));
        assert!(listed[0].settled && !listed[1].settled);
        // An unsettled run changes between two listings, and is seen to.
        runs[1].transition(TaskState::Failed, "broke");
        store.put(&mut runs[1]).await.unwrap();
        assert_eq!(store.summaries().await.unwrap()[1].state, TaskState::Failed);
        // A person rewrites a settled record by hand (a new file): read again.
        let path = store.path("local", "T-1");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("\"Succeeded\"", "\"Failed\"")).unwrap();
        assert_eq!(store.summaries().await.unwrap()[0].state, TaskState::Failed);
        // Or deletes one: gone from the listing.
        std::fs::remove_file(store.path("local", "T-3")).unwrap();
        let listed = store.summaries().await.unwrap();
        assert_eq!(listed, summaries_of(&store.all().await.unwrap()));
        assert_eq!(listed.len(), 2);
        // A record that cannot be read is an error, as in `all`.
        std::fs::write(store.path("local", "T-2"), "{").unwrap();
        let e = store.summaries().await.unwrap_err().to_string();
        assert!(e.contains("T-2.json"), "{e}");
    }
}
