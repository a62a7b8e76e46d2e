//! The controller loop against a scripted executor: the loop's own decisions (guard rails,
//! retries, time-outs, the verdict, recovery after a restart, never an attempt twice) tested
//! without running agents. The executor is a fake by design (it is what is being stood in
//! for); the backends around the loop are the real built-ins.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on the first unexpected value"
)]

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use robodev_controller::config::Config;
use robodev_controller::controller::Controller;
use robodev_controller::executor::{
    AgentJob, Ending, Executor, ExecutorError, JobRef, Recovered, Started,
};
use robodev_controller::runs::{FileStore, RunStore, Steps, TaskRun, TaskState};
use robodev_core::{TaskResult, Ticket};
use robodev_registry::{LoadOptions, Registry};

/// What one attempt does.
#[derive(Debug, Clone)]
enum Script {
    /// Exits with this result.
    Finish {
        success: bool,
        summary: &'static str,
    },
    /// Exits without a usable result.
    Broken(&'static str),
    /// Runs past its deadline.
    TimedOut,
    /// Cannot be started.
    StartFails,
}

/// What recovering a job finds.
#[derive(Debug, Clone)]
enum Found {
    Ended(Script),
    Running(Script),
    Lost,
}

/// Everything the loop asked of the executor, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Prepare(String, u32),
    Start(String),
    Recover(String),
    Remove(String),
    KeepFailed(String),
}

#[derive(Debug, Default)]
struct Fake {
    /// Per task run, what its attempts do, in order.
    scripts: Mutex<BTreeMap<String, VecDeque<Script>>>,
    found: Mutex<Option<Found>>,
    calls: Mutex<Vec<Call>>,
    /// Where the runs are stored, when a test wants to see the record as each start finds it.
    store: Mutex<Option<PathBuf>>,
    /// The record's steps at each start.
    at_start: Mutex<Vec<Steps>>,
}

impl Fake {
    fn new<const N: usize>(scripts: [(&str, Vec<Script>); N]) -> Arc<Fake> {
        Arc::new(Fake {
            scripts: Mutex::new(
                scripts
                    .into_iter()
                    .map(|(run, s)| (run.to_owned(), s.into()))
                    .collect(),
            ),
            ..Fake::default()
        })
    }

    fn finding(self: Arc<Self>, found: Found) -> Arc<Fake> {
        *self.found.lock().unwrap() = Some(found);
        self
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn call(&self, call: Call) {
        self.calls.lock().unwrap().push(call);
    }
}

fn name_of(at: &JobRef) -> String {
    match at {
        JobRef::Kubernetes { name, .. } => name.clone(),
        JobRef::Local { workspace } => workspace.display().to_string(),
    }
}

fn ending(script: Script) -> Result<Ending, ExecutorError> {
    Ok(match script {
        Script::Finish { success, summary } => Ending::Finished {
            result: TaskResult {
                success,
                summary: summary.into(),
                exit_code: i32::from(!success),
                ..Default::default()
            },
            diff: String::new(),
        },
        Script::Broken(reason) => Ending::Broken {
            reason: reason.into(),
        },
        Script::TimedOut => Ending::TimedOut {
            limit: Duration::from_secs(5),
        },
        Script::StartFails => unreachable!("a start that fails has no ending"),
    })
}

#[derive(Debug)]
struct Scripted(Script);

#[async_trait]
impl Started for Scripted {
    async fn wait(self: Box<Self>) -> Result<Ending, ExecutorError> {
        ending(self.0)
    }
}

#[async_trait]
impl Executor for Fake {
    fn name(&self) -> &'static str {
        "fake"
    }

    async fn prepare(&self, job: &AgentJob) -> Result<JobRef, ExecutorError> {
        self.call(Call::Prepare(job.task_run_id.clone(), job.attempt));
        Ok(JobRef::Kubernetes {
            namespace: "test".into(),
            name: format!("{}-{}", job.task_run_id, job.attempt),
        })
    }

    async fn start(&self, at: &JobRef, job: &AgentJob) -> Result<Box<dyn Started>, ExecutorError> {
        self.call(Call::Start(name_of(at)));
        let store = self.store.lock().unwrap().clone();
        if let Some(state_dir) = store {
            let run = FileStore::new(&state_dir)
                .get("local", &job.ticket.id)
                .await
                .unwrap()
                .expect("recorded before its start");
            assert_eq!(
                run.state,
                TaskState::Running,
                "started before it was recorded"
            );
            self.at_start.lock().unwrap().push(run.steps);
        }
        let script = self
            .scripts
            .lock()
            .unwrap()
            .get_mut(&job.task_run_id)
            .and_then(VecDeque::pop_front)
            .expect("a script per attempt");
        match script {
            Script::StartFails => Err(ExecutorError::Prepare {
                workspace: "/nowhere".into(),
                source: std::io::Error::other("no room for the agent"),
            }),
            other => Ok(Box::new(Scripted(other))),
        }
    }

    async fn recover(&self, at: &JobRef) -> Result<Recovered, ExecutorError> {
        self.call(Call::Recover(name_of(at)));
        Ok(
            match self.found.lock().unwrap().clone().expect("a finding") {
                Found::Ended(script) => Recovered::Ended(ending(script)?),
                Found::Running(script) => Recovered::Running(Box::new(Scripted(script))),
                Found::Lost => Recovered::Lost("gone".into()),
            },
        )
    }

    async fn remove(&self, at: &JobRef) {
        self.call(Call::Remove(name_of(at)));
    }

    async fn keep_failed(&self, at: &JobRef) {
        self.call(Call::KeepFailed(name_of(at)));
    }
}

/// A config of built-ins only: tickets `ids` from a file, the local engine, no gate.
fn setup(dir: &Path, ids: &[&str], extra: &str) -> Config {
    let tickets: String = ids
        .iter()
        .map(|id| {
            format!(
                "  - {{ id: {id}, title: t, ticket_type: bug_fix, labels: [robodev], repo_url: https://git.example/acme/api }}\n"
            )
        })
        .collect();
    std::fs::write(dir.join("tickets.yaml"), format!("tickets:\n{tickets}")).unwrap();
    let text = format!(
        "state_dir: state\n\
         ticketing: {{ backend: local, config: {{ file: tickets.yaml }}, labels: [robodev] }}\n\
         engines: {{ default: local, local: {{ command: [agent] }} }}\n{extra}"
    );
    Config::parse(&text, &dir.join("robodev-config.yaml")).unwrap()
}

async fn controller(config: Config, executor: Arc<Fake>) -> (Arc<Controller>, Registry) {
    let options = LoadOptions::no_compile_cache();
    let registry = Registry::load(&config.host(), options).await.unwrap();
    let controller = Controller::new(Arc::new(config), &registry)
        .unwrap()
        .with_executor(executor);
    (Arc::new(controller), registry)
}

/// One ticket, T-1, whose agent fixes it at the first attempt; a log channel.
fn one_ticket_fixed(dir: &Path) -> (Arc<Fake>, Config) {
    let fake = Fake::new([(
        "tr-T-1",
        vec![Script::Finish {
            success: true,
            summary: "fixed",
        }],
    )]);
    let config = setup(
        dir,
        &["T-1"],
        "notifications: { channels: [ { backend: log } ] }\n",
    );
    (fake, config)
}

fn run_of(runs: &[TaskRun], id: &str) -> TaskRun {
    runs.iter()
        .find(|r| r.ticket.id == id)
        .unwrap_or_else(|| panic!("no run of {id}"))
        .clone()
}

#[tokio::test]
async fn a_successful_attempt_is_prepared_recorded_started_and_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, config) = one_ticket_fixed(dir.path());
    *fake.store.lock().unwrap() = Some(dir.path().join("state"));
    let (controller, registry) = controller(config, fake.clone()).await;
    let (report, runs) = controller.run_once().await.unwrap();
    assert_eq!(report.dispatched, ["tr-T-1"]);
    let run = run_of(&runs, "T-1");
    assert_eq!(run.state, TaskState::Succeeded, "{:?}", run.reason);
    assert_eq!(run.attempts, 1);
    // When the job started, the ticket was not yet marked in progress nor the channels told:
    // both follow the job's start (RoboDev: "when the controller creates a Kubernetes Job").
    let at_start = fake.at_start.lock().unwrap().clone();
    assert_eq!(at_start.len(), 1);
    assert!(!at_start[0].marked_in_progress && !at_start[0].start_notified);
    assert!(run.steps.marked_in_progress);
    assert!(run.steps.start_notified && run.steps.start_notified_to == ["log"]);
    // The job the attempt ran as is on the record, executor-neutral.
    assert_eq!(
        run.job,
        Some(JobRef::Kubernetes {
            namespace: "test".into(),
            name: "tr-T-1-1".into()
        })
    );
    assert!(
        run.history
            .iter()
            .any(|t| t.note == "attempt 1: agent started in Job test/tr-T-1-1"),
        "{:?}",
        run.history
    );
    assert_eq!(
        fake.calls(),
        [
            Call::Prepare("tr-T-1".into(), 1),
            Call::Start("tr-T-1-1".into()),
            Call::Remove("tr-T-1-1".into()),
        ]
    );
    // The ticket was marked complete with the agent's result.
    let state = robodev_builtins::ticketing_local::read_state(&dir.path().join("state")).unwrap();
    assert_eq!(state["T-1"].result.as_ref().unwrap().summary, "fixed");
    // A second pass starts nothing: the ticket has its run.
    let (report, _) = controller.run_once().await.unwrap();
    assert!(report.dispatched.is_empty());
    assert_eq!(fake.calls().len(), 3);
    registry.shutdown().await;
}

#[tokio::test]
async fn failures_are_retried_as_the_guard_rails_allow_and_no_further() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new([
        (
            "tr-T-1",
            vec![
                Script::Broken("it wrote no result.json"),
                Script::Finish {
                    success: true,
                    summary: "second time lucky",
                },
            ],
        ),
        (
            "tr-T-2",
            vec![
                Script::Broken("crashed"),
                Script::Finish {
                    success: false,
                    summary: "tests fail",
                },
            ],
        ),
    ]);
    let config = setup(
        dir.path(),
        &["T-1", "T-2"],
        "guardrails: { max_retries: 1, max_concurrent_jobs: 1 }\n",
    );
    let (controller, registry) = controller(config, fake.clone()).await;
    // A retried run is queued for the next pass.
    for _ in 0..3 {
        controller.run_once().await.unwrap();
    }
    let runs = controller.runs().all().await.unwrap();
    let first = run_of(&runs, "T-1");
    assert_eq!(first.state, TaskState::Succeeded, "{:?}", first.reason);
    assert_eq!(first.attempts, 2);
    let second = run_of(&runs, "T-2");
    assert_eq!(second.state, TaskState::Failed);
    assert_eq!(second.attempts, 2, "one retry, no more");
    assert_eq!(
        second.reason.as_deref(),
        Some("the agent reported failure: tests fail")
    );
    // Every attempt was prepared and started once, with its own number.
    let starts: Vec<Call> = fake
        .calls()
        .into_iter()
        .filter(|c| matches!(c, Call::Prepare(..)))
        .collect();
    assert_eq!(starts.len(), 4, "{starts:?}");
    assert!(starts.contains(&Call::Prepare("tr-T-1".into(), 2)));
    assert!(starts.contains(&Call::Prepare("tr-T-2".into(), 2)));
    // The failed run's last attempt is kept for a person to look at (within the executor's
    // bound); a retried attempt is not (the next one replaces it), nor the succeeded run's.
    let kept: Vec<Call> = fake
        .calls()
        .into_iter()
        .filter(|c| matches!(c, Call::KeepFailed(..)))
        .collect();
    assert_eq!(kept, [Call::KeepFailed("tr-T-2-2".into())]);
    registry.shutdown().await;
}

#[tokio::test]
async fn a_time_out_and_a_start_failure_end_the_run_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new([
        ("tr-T-1", vec![Script::TimedOut]),
        ("tr-T-2", vec![Script::StartFails]),
    ]);
    let config = setup(
        dir.path(),
        &["T-1", "T-2"],
        "guardrails: { max_concurrent_jobs: 1 }\n",
    );
    let (controller, registry) = controller(config, fake.clone()).await;
    let (_, runs) = controller.run_once().await.unwrap();
    let timed_out = runs
        .iter()
        .find(|r| r.state == TaskState::TimedOut)
        .unwrap();
    assert_eq!(
        timed_out.reason.as_deref(),
        Some("the agent ran past its deadline of 5 s and was stopped")
    );
    let failed = runs.iter().find(|r| r.state == TaskState::Failed).unwrap();
    assert_eq!(
        failed.reason.as_deref(),
        Some("cannot prepare the workspace /nowhere: no room for the agent")
    );
    let state = robodev_builtins::ticketing_local::read_state(&dir.path().join("state")).unwrap();
    for run in [timed_out, failed] {
        assert_eq!(
            state[&run.ticket.id].failure_reason.as_deref(),
            run.reason.as_deref(),
            "the ticket is told why"
        );
    }
    let mut kept: Vec<Call> = fake
        .calls()
        .into_iter()
        .filter(|c| matches!(c, Call::KeepFailed(..)))
        .collect();
    kept.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(
        kept,
        [
            Call::KeepFailed("tr-T-1-1".into()),
            Call::KeepFailed("tr-T-2-1".into())
        ],
        "both failed runs' attempts are kept"
    );
    registry.shutdown().await;
}

#[tokio::test]
async fn a_guard_rail_keeps_the_executor_out() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new([]);
    let config = setup(
        dir.path(),
        &["T-1"],
        "guardrails: { allowed_repos: [\"https://git.example/other/*\"] }\n",
    );
    let (controller, registry) = controller(config, fake.clone()).await;
    let (_, runs) = controller.run_once().await.unwrap();
    assert_eq!(run_of(&runs, "T-1").state, TaskState::Failed);
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    registry.shutdown().await;
}

/// A run the store shows `Running` at attempt 1 with its job: what robodev finds after it was
/// stopped mid-run.
async fn interrupted(dir: &Path, id: &str) {
    let ticket = Ticket {
        id: id.into(),
        title: "t".into(),
        ticket_type: "bug_fix".into(),
        labels: vec!["robodev".into()],
        repo_url: "https://git.example/acme/api".into(),
        ..Default::default()
    };
    let mut run = TaskRun::new("local", ticket, "local");
    run.attempts = 1;
    run.steps.marked_in_progress = true;
    run.steps.start_notified = true;
    run.job = Some(JobRef::Kubernetes {
        namespace: "test".into(),
        name: format!("{}-1", run.id),
    });
    run.transition(TaskState::Running, "attempt 1: agent started");
    FileStore::new(&dir.join("state"))
        .put(&mut run)
        .await
        .unwrap();
}

#[tokio::test]
async fn after_a_restart_the_attempt_is_recovered_never_started_again() {
    for (found, state, reason) in [
        (
            Found::Ended(Script::Finish {
                success: true,
                summary: "done while robodev was away",
            }),
            TaskState::Succeeded,
            None,
        ),
        (
            Found::Running(Script::Finish {
                success: true,
                summary: "done after robodev came back",
            }),
            TaskState::Succeeded,
            None,
        ),
        (
            Found::Lost,
            TaskState::Failed,
            Some(
                "interrupted: robodev stopped while the agent was running (attempt 1) and the agent left no result",
            ),
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        interrupted(dir.path(), "T-1").await;
        let fake = Fake::new([]).finding(found.clone());
        let (controller, registry) =
            controller(setup(dir.path(), &["T-1"], ""), fake.clone()).await;
        let (_, runs) = controller.run_once().await.unwrap();
        let run = run_of(&runs, "T-1");
        assert_eq!(run.state, state, "{found:?}: {:?}", run.reason);
        assert_eq!(run.reason.as_deref(), reason, "{found:?}");
        assert_eq!(run.attempts, 1, "{found:?}: no second attempt");
        let calls = fake.calls();
        assert_eq!(
            calls[0],
            Call::Recover("tr-T-1-1".into()),
            "{found:?}: {calls:?}"
        );
        assert!(
            !calls
                .iter()
                .any(|c| matches!(c, Call::Prepare(..) | Call::Start(..))),
            "{found:?}: {calls:?}"
        );
        registry.shutdown().await;
    }
}

/// A run recorded but never started (robodev stopped right after writing it, before its
/// guard rails were recorded as passed) passes the guard rails again before anything runs.
#[tokio::test]
async fn a_recorded_run_that_never_started_meets_the_guard_rails_again() {
    let dir = tempfile::tempdir().unwrap();
    let ticket = Ticket {
        id: "T-1".into(),
        title: "t".into(),
        ticket_type: "bug_fix".into(),
        labels: vec!["robodev".into()],
        repo_url: "https://git.example/acme/api".into(),
        ..Default::default()
    };
    let mut run = TaskRun::new("local", ticket, "local");
    FileStore::new(&dir.path().join("state"))
        .put(&mut run)
        .await
        .unwrap();
    let fake = Fake::new([]);
    let config = setup(
        dir.path(),
        &["T-1"],
        "guardrails: { allowed_repos: [\"https://git.example/other/*\"] }\n",
    );
    let (controller, registry) = controller(config, fake.clone()).await;
    controller.run_once().await.unwrap();
    let run = run_of(&controller.runs().all().await.unwrap(), "T-1");
    assert_eq!(run.state, TaskState::Failed, "{:?}", run.reason);
    assert!(
        run.reason
            .as_deref()
            .unwrap_or_default()
            .contains("guard rail"),
        "{:?}",
        run.reason
    );
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    registry.shutdown().await;
}

/// A run store whose writes fail for a while (the state directory full), then work again.
#[derive(Debug)]
struct Filling {
    inner: FileStore,
    /// Writes still to refuse, after `after` writes have succeeded.
    failing: Mutex<(usize, usize)>,
}

#[async_trait]
impl RunStore for Filling {
    async fn get(
        &self,
        ticketing: &str,
        ticket_id: &str,
    ) -> Result<Option<TaskRun>, robodev_controller::runs::StoreError> {
        self.inner.get(ticketing, ticket_id).await
    }

    async fn put(&self, run: &mut TaskRun) -> Result<(), robodev_controller::runs::StoreError> {
        {
            let mut failing = self.failing.lock().unwrap();
            if failing.0 > 0 {
                failing.0 -= 1;
            } else if failing.1 > 0 {
                failing.1 -= 1;
                return Err(std::io::Error::from(std::io::ErrorKind::StorageFull).into());
            }
        }
        self.inner.put(run).await
    }

    async fn all(&self) -> Result<Vec<TaskRun>, robodev_controller::runs::StoreError> {
        self.inner.all().await
    }

    async fn summaries(
        &self,
    ) -> Result<Vec<robodev_controller::runs::RunSummary>, robodev_controller::runs::StoreError>
    {
        self.inner.summaries().await
    }

    fn location(&self) -> String {
        self.inner.location()
    }
}

/// A state directory that is full for a moment in the middle of a run holds the run there
/// (its record is written again, backing off) and the run goes on once it is written: no
/// restart needed, no step repeated.
#[tokio::test]
async fn a_run_waits_out_a_full_state_directory_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, config) = one_ticket_fixed(dir.path());
    let (controller, registry) = controller(config, fake.clone()).await;
    // The first two writes (the record, the attempt) work; the next two fail.
    let store = Arc::new(Filling {
        inner: FileStore::new(&dir.path().join("state")),
        failing: Mutex::new((2, 2)),
    });
    let controller = Arc::new(
        Arc::try_unwrap(controller)
            .ok()
            .unwrap()
            .with_runs(store.clone()),
    );
    let (_, runs) = controller.run_once().await.unwrap();
    let run = run_of(&runs, "T-1");
    assert_eq!(run.state, TaskState::Succeeded, "{:?}", run.reason);
    assert!(run.steps.reported && run.steps.complete_notified);
    assert_eq!(
        *store.failing.lock().unwrap(),
        (0, 0),
        "the failing writes happened"
    );
    assert_eq!(
        fake.calls(),
        [
            Call::Prepare("tr-T-1".into(), 1),
            Call::Start("tr-T-1-1".into()),
            Call::Remove("tr-T-1-1".into()),
        ]
    );
    let stored = store.get("local", "T-1").await.unwrap().unwrap();
    assert_eq!(stored.state, TaskState::Succeeded);
    registry.shutdown().await;
}
