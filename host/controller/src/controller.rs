//! The controller loop (`robodev run`): poll the ticketing backend, and drive each ticket
//! through its life: guard rails, optional pre-start approval, the engine's spec and prompt,
//! mark in progress, notify start, the agent run, the optional review gate, mark complete or
//! failed, notify complete.
//!
//! Every step is recorded in the ticket's [`TaskRun`] before the next one starts, so a robodev
//! killed at any point and started again finishes what was left (a run whose agent had already
//! written its result is resumed; one whose agent was cut off is failed, or retried when
//! `guardrails.max_retries` allows) and never starts a ticket that already has a run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use robodev_core::approval::{CancelPendingRequest, RequestApprovalRequest};
use robodev_core::engine::{BuildExecutionSpecRequest, BuildPromptRequest, Task};
use robodev_core::notifications::{NotifyCompleteRequest, NotifyStartRequest};
use robodev_core::review::{GateResult, GetGateResultRequest, ReviewDiffRequest};
use robodev_core::scm::GetDiffRequest;
use robodev_core::secrets::{BuildEnvVarsRequest, GetSecretsRequest, SecretRef};
use robodev_core::ticketing::{
    MarkCompleteRequest, MarkFailedRequest, MarkInProgressRequest, PollReadyTicketsRequest,
};
use robodev_core::{
    AnyBackend, Error, Interface, TaskResult, Ticket, approval, engine, notifications, review, scm,
    secrets, ticketing,
};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::{BackendRef, Config, DEFAULT_KEEP_FAILED, ExecutorSettings};
use crate::executor::{
    AgentJob, Ending, Executor, LocalExecutor, Recovered, SecretDelivery, SecretEnv, Started,
};
use crate::runs::{FileStore, RunStore, StoreError, TaskRun, TaskState};
use robodev_registry::Registry;
use robodev_registry::registry::config_dir;

/// How often an asynchronous review backend is asked for its gate result, and how many times.
const GATE_POLL: (Duration, u32) = (Duration::from_secs(1), 60);

/// Why the controller cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControllerError {
    /// A backend the loop needs is not available.
    #[error("{0}")]
    Backend(#[from] Error),
    /// This replica lost the leader lease: it stopped acting so that another can lead.
    #[error("lost the leader lease: stopped acting so that another replica can lead")]
    LeadershipLost,
    /// The task run store cannot be read or written (outside a run: a run whose record
    /// cannot be saved stops instead, see `Controller::save`).
    #[error("task runs in {location}: {source}")]
    Runs {
        /// Where the runs are ([`RunStore::location`]).
        location: String,
        /// What went wrong.
        #[source]
        source: StoreError,
    },
    /// The state directory cannot be used.
    #[error("state directory {}: {message}", dir.display())]
    State {
        /// The directory.
        dir: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// What one pass did.
#[derive(Debug, Default)]
pub struct PassReport {
    /// Tickets the ticketing backend returned.
    pub polled: usize,
    /// Tickets skipped because they already have a run.
    pub already_handled: Vec<(String, TaskState)>,
    /// Runs this pass started or resumed (ids).
    pub dispatched: Vec<String>,
}

fn backend_of<T: ?Sized>(
    registry: &Registry,
    selection: &BackendRef,
    pick: impl Fn(AnyBackend) -> Option<Arc<T>>,
) -> Result<Arc<T>, Error> {
    let any = registry.resolve(selection)?;
    pick(any).ok_or_else(|| Error::Host {
        plugin: selection.name().to_owned(),
        interface: selection.interface(),
        message: "the registry holds a different interface under this name".into(),
        source: None,
    })
}

/// New runs a pass records at once (the store's writes in flight together).
const RECORDS_AT_ONCE: usize = 16;

/// The controller: the backends the loop uses, the run store, and the runs in flight.
pub struct Controller {
    config: Arc<Config>,
    runs: Arc<dyn RunStore>,
    ticketing_name: String,
    ticketing: Arc<dyn ticketing::Backend>,
    engine_name: String,
    engine: Arc<dyn engine::Backend>,
    channels: Vec<(String, Arc<dyn notifications::Backend>)>,
    approval: Option<Arc<dyn approval::Backend>>,
    secrets: Option<Arc<dyn secrets::Backend>>,
    scm: Option<Arc<dyn scm::Backend>>,
    review: Option<(Arc<dyn review::Backend>, Option<i32>)>,
    executor: Arc<dyn Executor>,
    slots: Arc<Semaphore>,
    in_flight: Mutex<HashSet<String>>,
    /// Runs stopped where they were (their record could not be saved, or robodev is stopping
    /// before their agent started); each stays claimed in `in_flight` until robodev restarts
    /// (see [`Controller::save`]).
    halted: Mutex<HashSet<String>>,
    /// Set when robodev stops and its agents outlive it: runs waiting for an agent hand over.
    handing_over: tokio::sync::watch::Sender<bool>,
}

impl Controller {
    /// Wires the loop to the registry's backends. The ticketing backend, the engine, the
    /// review backend (when a gate is configured) and the approval backend (when approval is
    /// required) must be available; a notification channel that is not is skipped with a
    /// warning.
    pub fn new(config: Arc<Config>, registry: &Registry) -> Result<Controller, ControllerError> {
        let ticketing = backend_of(registry, &config.ticketing.backend, |b| match b {
            AnyBackend::Ticketing(t) => Some(t),
            _ => None,
        })?;
        let engine = backend_of(registry, &config.engine.backend, |b| match b {
            AnyBackend::Engine(e) => Some(e),
            _ => None,
        })?;
        let mut channels = Vec::new();
        for channel in &config.notifications {
            match backend_of(registry, channel, |b| match b {
                AnyBackend::Notifications(n) => Some(n),
                _ => None,
            }) {
                Ok(n) => channels.push((channel.name().to_owned(), n)),
                Err(e) => tracing::warn!("notification channel skipped: {e}"),
            }
        }
        let approval = match &config.approval {
            Some(selection) => match backend_of(registry, selection, |b| match b {
                AnyBackend::Approval(a) => Some(a),
                _ => None,
            }) {
                Ok(a) => Some(a),
                Err(e) if config.guardrails.require_approval_before_start => return Err(e.into()),
                Err(e) => {
                    tracing::warn!("approval backend unavailable: {e}");
                    None
                }
            },
            None => None,
        };
        let secrets = match backend_of(registry, &config.secrets, |b| match b {
            AnyBackend::Secrets(s) => Some(s),
            _ => None,
        }) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(
                    "secrets backend unavailable (runs that need secrets will fail): {e}"
                );
                None
            }
        };
        let scm = match &config.scm {
            Some(selection) => match backend_of(registry, selection, |b| match b {
                AnyBackend::Scm(s) => Some(s),
                _ => None,
            }) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!("SCM backend unavailable: {e}");
                    None
                }
            },
            None => None,
        };
        let review = match &config.review {
            Some(settings) => Some((
                backend_of(registry, &settings.backend, |b| match b {
                    AnyBackend::Review(r) => Some(r),
                    _ => None,
                })?,
                settings.min_score,
            )),
            None => None,
        };
        Ok(Controller {
            runs: Arc::new(FileStore::new(&config.state_dir)),
            ticketing_name: config.ticketing.backend.name().to_owned(),
            ticketing,
            engine_name: config.engine.backend.name().to_owned(),
            engine,
            channels,
            approval,
            secrets,
            scm,
            review,
            executor: Arc::new(
                LocalExecutor::new(&config.state_dir, config_dir(&config.path)).keeping_failed(
                    match &config.executor {
                        ExecutorSettings::Local(local) => local.keep_failed,
                        ExecutorSettings::Kubernetes(_) => DEFAULT_KEEP_FAILED,
                    },
                ),
            ),
            slots: Arc::new(Semaphore::new(config.guardrails.max_concurrent_jobs.max(1))),
            in_flight: Mutex::new(HashSet::new()),
            halted: Mutex::new(HashSet::new()),
            handing_over: tokio::sync::watch::Sender::new(false),
            config,
        })
    }

    /// The same controller with its agents run by `executor` instead of the local one.
    pub fn with_executor(mut self, executor: Arc<dyn Executor>) -> Controller {
        self.executor = executor;
        self
    }

    /// The same controller with its task runs kept in `runs` instead of the state
    /// directory's files.
    pub fn with_runs(mut self, runs: Arc<dyn RunStore>) -> Controller {
        self.runs = runs;
        self
    }

    /// The run store.
    pub fn runs(&self) -> &dyn RunStore {
        self.runs.as_ref()
    }

    fn state_err(&self, source: StoreError) -> ControllerError {
        ControllerError::Runs {
            location: self.runs.location(),
            source,
        }
    }

    /// One pass: resume every unfinished run, poll for tickets, and start a run for each new
    /// one that passes the guard rails. Runs go into `tasks`; each ends with its [`TaskRun`].
    pub async fn pass(
        self: &Arc<Self>,
        tasks: &mut JoinSet<TaskRun>,
    ) -> Result<PassReport, ControllerError> {
        let mut report = PassReport::default();
        // Unfinished runs first: from an earlier pass, or from a robodev that was stopped.
        let resumable =
            |settled: bool, state: TaskState| !settled && state != TaskState::NeedsHuman;
        // Summaries, not whole records: a pass reads the records of the runs it resumes, not
        // those of every run ever stored.
        let stored = self.runs.summaries().await.map_err(|e| self.state_err(e))?;
        // The state of every ticket of this backend that has a run. Exact for the tickets
        // polled below: runs are only created by passes (one at a time, by the only acting
        // controller), so a run missing from this list is not stored yet; a store that finds
        // one anyway refuses to create it twice. One read of the store, not one per ticket.
        let handled: HashMap<String, TaskState> = stored
            .iter()
            .filter(|run| run.ticketing == self.ticketing_name)
            .map(|run| (run.ticket_id.clone(), run.state))
            .collect();
        for summary in stored {
            if summary.ticketing == self.ticketing_name
                && resumable(summary.settled, summary.state)
                && self.claim(&summary.id)
            {
                // Read now that it is ours: the list above may predate the last save of a run
                // that was still in flight while it was listed (and has since settled or gone
                // to a human); driving that stale state would run its steps again.
                let run = match self.runs.get(&summary.ticketing, &summary.ticket_id).await {
                    Ok(Some(fresh)) if resumable(fresh.is_settled(), fresh.state) => fresh,
                    Ok(_) => {
                        self.release(&summary.id);
                        continue;
                    }
                    Err(e) => {
                        self.release(&summary.id);
                        return Err(self.state_err(e));
                    }
                };
                report.dispatched.push(run.id.clone());
                let this = self.clone();
                tasks.spawn(async move { this.drive(run).await });
            }
        }
        let polled = self
            .ticketing
            .poll_ready_tickets(PollReadyTicketsRequest {
                labels: self.config.ticketing.labels.clone(),
                max_results: self.config.ticketing.max_results,
            })
            .await?;
        report.polled = polled.tickets.len();
        tracing::info!(
            "polled {}: {} ready ticket(s)",
            self.ticketing_name,
            polled.tickets.len()
        );
        let mut fresh = Vec::new();
        for ticket in polled.tickets {
            if ticket.id.is_empty() {
                // Nothing could be reported about it: MarkInProgress and the rest name the
                // ticket by id.
                tracing::warn!(
                    title = %ticket.title.chars().take(80).collect::<String>(),
                    "{} returned a ticket without an id; skipped",
                    self.ticketing_name
                );
                continue;
            }
            if let Some(state) = handled.get(&ticket.id) {
                // Never run a ticket twice: it has a run already (finished, waiting, or being
                // resumed above).
                tracing::info!(ticket = %ticket.id, "already handled ({state}); skipped");
                report.already_handled.push((ticket.id, *state));
                continue;
            }
            let mut run = TaskRun::new(&self.ticketing_name, ticket, &self.engine_name);
            if !self.claim(&run.id) {
                continue;
            }
            match self.guard_rails(&run.ticket) {
                Some(reason) => refuse(&mut run, reason),
                None => run.steps.guard_rails = true,
            }
            fresh.push(run);
        }
        // Recorded before any plugin hears of them: the writes go out together, a batch at a
        // time, and the runs start in the order their tickets were polled (the slots go to
        // the first). A run that cannot be recorded is not started (its ticket stays ready for
        // the next poll); the pass then fails with the first such error.
        let mut failed = None;
        let mut fresh = fresh.into_iter();
        loop {
            let batch: Vec<TaskRun> = fresh.by_ref().take(RECORDS_AT_ONCE).collect();
            if batch.is_empty() {
                break;
            }
            let mut writes = JoinSet::new();
            for (i, mut run) in batch.into_iter().enumerate() {
                let runs = self.runs.clone();
                writes.spawn(async move {
                    let written = runs.put(&mut run).await;
                    (i, run, written)
                });
            }
            let mut written = writes.join_all().await;
            written.sort_by_key(|(i, ..)| *i);
            for (_, run, written) in written {
                match written {
                    Ok(()) => {
                        report.dispatched.push(run.id.clone());
                        let this = self.clone();
                        tasks.spawn(async move { this.drive(run).await });
                    }
                    Err(e) => {
                        self.release(&run.id);
                        failed.get_or_insert(e);
                    }
                }
            }
        }
        match failed {
            Some(e) => Err(self.state_err(e)),
            None => Ok(report),
        }
    }

    fn claim(&self, id: &str) -> bool {
        self.in_flight
            .lock()
            .map(|mut set| set.insert(id.to_owned()))
            .unwrap_or(false)
    }

    fn release(&self, id: &str) {
        if let Ok(mut set) = self.in_flight.lock() {
            set.remove(id);
        }
    }

    /// Why the guard rails block `ticket`, if they do.
    pub fn guard_rails(&self, ticket: &Ticket) -> Option<String> {
        let rails = &self.config.guardrails;
        if !rails.allowed_repos.is_empty() {
            let repo = normalise_repo(&ticket.repo_url);
            if !rails.allowed_repos.iter().any(|p| {
                robodev_builtins::glob::matches(p, &repo)
                    || robodev_builtins::glob::matches(p, &ticket.repo_url)
            }) {
                return Some(format!(
                    "guard rail: repository {:?} is not in allowed_repos",
                    ticket.repo_url
                ));
            }
        }
        if !rails.allowed_task_types.is_empty()
            && !rails.allowed_task_types.contains(&ticket.ticket_type)
        {
            return Some(format!(
                "guard rail: task type {:?} is not in allowed_task_types",
                ticket.ticket_type
            ));
        }
        None
    }

    /// Saves `run`; `false` when it could not be saved. A store that fails (the state
    /// directory full or unwritable, the cluster's API unreachable) is asked again, backing
    /// off ([`SAVE_RETRIES`], about five minutes in all): nothing of the run goes on meanwhile,
    /// and once the record is written it goes on from there. When the store still fails, or
    /// the record was changed by someone else (a conflict: never overwritten), the run stops
    /// right there, as if robodev had been killed at that point: going on would do things its
    /// record does not show, which a later pass (reading the stale record) or the next start
    /// would do again. It stays claimed, so no later pass of this robodev picks it up; the next
    /// start resumes it from its record.
    async fn save(&self, run: &mut TaskRun) -> bool {
        let mut waits = SAVE_RETRIES.iter();
        loop {
            let e = match self.runs.put(run).await {
                Ok(()) => return true,
                Err(e) => e,
            };
            let wait = match (&e, waits.next()) {
                (StoreError::Conflict { .. }, _) | (_, None) => None,
                (_, Some(wait)) => Some(*wait),
            };
            let Some(wait) = wait else {
                tracing::error!(
                    run = %run.id,
                    "cannot save the task run; it stops here until robodev is restarted: {e}"
                );
                self.halt(&run.id);
                return false;
            };
            tracing::error!(
                run = %run.id,
                "cannot save the task run: {e}; trying again in {}",
                humanize(wait)
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Stops the run `id` where it is (see [`Controller::save`]).
    fn halt(&self, id: &str) {
        if let Ok(mut set) = self.halted.lock() {
            set.insert(id.to_owned());
        }
    }

    fn is_halted(&self, id: &str) -> bool {
        self.halted.lock().map_or(true, |set| set.contains(id))
    }

    /// Drives one run as far as it can go, saving it at every step.
    async fn drive(self: Arc<Self>, mut run: TaskRun) -> TaskRun {
        while !self.is_halted(&run.id) {
            match run.state {
                TaskState::Queued if run.attempts == 0 && !run.steps.guard_rails => {
                    // A run recorded but never started (robodev stopped right after recording
                    // it) passes the guard rails again before anything runs.
                    match self.guard_rails(&run.ticket) {
                        Some(reason) => refuse(&mut run, reason),
                        None => run.steps.guard_rails = true,
                    }
                    if !self.save(&mut run).await {
                        break;
                    }
                }
                TaskState::Queued | TaskState::Retrying => {
                    if self.config.guardrails.require_approval_before_start
                        && run.approved_by.is_none()
                    {
                        self.ask_approval(&mut run).await;
                        if run.state == TaskState::NeedsHuman {
                            break;
                        }
                        continue;
                    }
                    self.attempt(&mut run).await;
                }
                TaskState::Running => self.recover(&mut run).await,
                TaskState::NeedsHuman => break,
                TaskState::Succeeded | TaskState::Failed | TaskState::TimedOut => {
                    self.report(&mut run).await;
                    break;
                }
            }
        }
        // A halted run stays claimed (see `save`).
        if !self.is_halted(&run.id) {
            self.release(&run.id);
        }
        run
    }

    async fn ask_approval(&self, run: &mut TaskRun) {
        let Some(approval) = &self.approval else {
            self.fail(
                run,
                "approval is required but no approval backend is available".into(),
            )
            .await;
            return;
        };
        match approval
            .request_approval(RequestApprovalRequest {
                question: format!(
                    "May robodev run the agent on ticket {} ({})?",
                    run.ticket.id, run.ticket.title
                ),
                ticket: Some(run.ticket.clone()),
                task_run_id: run.id.clone(),
                options: vec!["approve".into(), "reject".into()],
            })
            .await
        {
            Ok(response) => {
                run.approval_request = Some(response.request_id.clone());
                run.transition(
                    TaskState::NeedsHuman,
                    format!("approval requested ({})", response.request_id),
                );
                self.save(run).await;
            }
            Err(e) => {
                self.fail(run, format!("cannot request approval: {e}"))
                    .await
            }
        }
    }

    async fn fail(&self, run: &mut TaskRun, reason: String) {
        run.reason = Some(reason.clone());
        if run.result.is_none() {
            run.result = Some(TaskResult {
                success: false,
                summary: reason.clone(),
                exit_code: 1,
                ..Default::default()
            });
        }
        run.transition(TaskState::Failed, reason);
        if self.save(run).await {
            self.keep_failed(run).await;
        }
    }

    /// The run failed or timed out (and its record says so): the executor keeps what its
    /// attempt left, within its bound.
    async fn keep_failed(&self, run: &TaskRun) {
        if let Some(at) = run.job_ref() {
            self.executor.keep_failed(&at).await;
        }
    }

    /// After a failed attempt: retry when attempts remain, else fail.
    async fn fail_or_retry(&self, run: &mut TaskRun, reason: String) {
        if run.attempts <= self.config.guardrails.max_retries {
            run.reason = Some(reason.clone());
            run.transition(
                TaskState::Retrying,
                format!("attempt {} failed: {reason}", run.attempts),
            );
            self.save(run).await;
        } else {
            self.fail(run, reason).await;
        }
    }

    fn task(&self, run: &TaskRun) -> Task {
        let t = &run.ticket;
        Task {
            id: run.id.clone(),
            ticket_id: t.id.clone(),
            title: t.title.clone(),
            description: t.description.clone(),
            repo_url: t.repo_url.clone(),
            labels: t.labels.clone(),
            metadata: BTreeMap::from([("ticket_type".to_owned(), t.ticket_type.clone())]),
        }
    }

    /// The human decided: withdraw the request at the approval backend (best effort).
    async fn close_approval(&self, run: &mut TaskRun) {
        let (Some(request), Some(approval)) = (&run.approval_request, &self.approval) else {
            return;
        };
        if let Err(e) = approval
            .cancel_pending(CancelPendingRequest {
                task_run_id: run.id.clone(),
            })
            .await
        {
            tracing::warn!(ticket = %run.ticket.id, "cannot cancel approval request {request}: {e}");
        }
        run.approval_request = None;
        self.save(run).await;
    }

    async fn attempt(&self, run: &mut TaskRun) {
        self.close_approval(run).await;
        if self.is_halted(&run.id) {
            return;
        }
        let _slot = match self.slots.clone().acquire_owned().await {
            Ok(permit) => permit,
            // Stopping (`run_until_signalled`): no agent starts any more. The run is left as
            // its record says (queued), for the next start; not failed, nothing went wrong.
            Err(_) => {
                tracing::info!(ticket = %run.ticket.id, "stopping: left {} for the next start", run.state);
                self.halt(&run.id);
                return;
            }
        };
        run.attempts += 1;
        let task = self.task(run);
        let spec = match self
            .engine
            .build_execution_spec(BuildExecutionSpecRequest {
                task: Some(task.clone()),
                config: Some(self.config.engine.config.clone()),
            })
            .await
        {
            Ok(r) => match r.spec {
                Some(spec) => spec,
                None => {
                    return self
                        .fail_or_retry(
                            run,
                            format!("engine {:?} returned no execution spec", self.engine_name),
                        )
                        .await;
                }
            },
            Err(e) => {
                return self
                    .fail_or_retry(run, format!("cannot build the execution spec: {e}"))
                    .await;
            }
        };
        let prompt = match self
            .engine
            .build_prompt(BuildPromptRequest { task: Some(task) })
            .await
        {
            Ok(r) => r.prompt,
            Err(e) => {
                return self
                    .fail_or_retry(run, format!("cannot build the prompt: {e}"))
                    .await;
            }
        };
        let secret_env = match self.secret_env(&spec.secret_env).await {
            Ok(env) => env,
            Err(e) => return self.fail_or_retry(run, e).await,
        };
        let mut deadline = self.config.guardrails.max_job_duration;
        if spec.active_deadline_seconds > 0 {
            deadline = deadline.min(Duration::from_secs(spec.active_deadline_seconds as u64));
        }
        let job = AgentJob {
            task_run_id: run.id.clone(),
            attempt: run.attempts,
            ticket: run.ticket.clone(),
            spec,
            prompt,
            secret_env,
            deadline,
        };
        let at = match self.executor.prepare(&job).await {
            Ok(at) => at,
            Err(e) => return self.fail_or_retry(run, e.to_string()).await,
        };
        run.job = Some(at.clone());
        run.transition(
            TaskState::Running,
            format!("attempt {}: agent started in {at}", run.attempts),
        );
        // Never start an agent the record does not show as started.
        if !self.save(run).await {
            return;
        }
        let started = match self.executor.start(&at, &job).await {
            Ok(started) => started,
            Err(e) => return self.fail_or_retry(run, e.to_string()).await,
        };
        self.follow(run, started).await;
    }

    /// A started attempt to its end: announced (MarkInProgress and NotifyStart mean the
    /// agent's job exists: RoboDev calls both "when the controller creates a Kubernetes Job",
    /// so they come now, and nothing remote stands between a claim and its Job), then waited
    /// for. When robodev stops first and its agent outlives it (see
    /// [`Executor::agents_outlive_controller`]) the run is halted, Running on the record, and
    /// the next controller resumes it from its job.
    async fn follow(&self, run: &mut TaskRun, started: Box<dyn Started>) {
        if !self.announce_start(run).await {
            return;
        }
        let mut handing_over = self.handing_over.subscribe();
        let ending = tokio::select! {
            ending = started.wait() => ending,
            _ = handing_over.wait_for(|stop| *stop) => {
                tracing::info!(ticket = %run.ticket.id, "stopping: handed over while its agent runs ({}); the next controller resumes it", run.job.as_ref().map_or_else(String::new, ToString::to_string));
                self.halt(&run.id);
                return;
            }
        };
        match ending {
            Ok(ending) => self.ended(run, ending).await,
            Err(e) => self.fail_or_retry(run, e.to_string()).await,
        }
    }

    /// Once the agent's job exists: the ticket marked in progress, then every channel told,
    /// each step recorded as it is done so that a restart repeats none that is recorded. A
    /// refusal is logged, not retried: the agent runs regardless and the run's end reports
    /// its outcome (MarkComplete or MarkFailed, NotifyComplete). False when the record cannot
    /// be written (the run is halted then).
    async fn announce_start(&self, run: &mut TaskRun) -> bool {
        if !run.steps.marked_in_progress {
            if let Err(e) = self
                .ticketing
                .mark_in_progress(MarkInProgressRequest {
                    ticket_id: run.ticket.id.clone(),
                })
                .await
            {
                tracing::warn!(ticket = %run.ticket.id, "MarkInProgress failed: {e}; the agent runs regardless");
            }
            run.steps.marked_in_progress = true;
            if !self.save(run).await {
                return false;
            }
        }
        self.tell_channels(run, Notice::Start).await
    }

    /// Tells every channel `notice` about the run, once: each channel is recorded as it is
    /// told, so a restart tells only the others, and the step is recorded done after the last.
    /// A channel's refusal is logged, not retried; a transient failure is tried again a few
    /// times ([`NOTIFY_RETRIES`]). False when the record cannot be written.
    async fn tell_channels(&self, run: &mut TaskRun, notice: Notice) -> bool {
        if *notice.done(run) {
            return true;
        }
        for (name, channel) in &self.channels {
            if notice.told(run).contains(name) {
                continue;
            }
            let mut told = self.notify(channel.as_ref(), run, notice).await;
            // A channel that is restarting, timed out or said it is unavailable is asked
            // again a few times (a channel may hear a notice twice: it has the task run's id
            // to tell); a refusal is not.
            for wait in NOTIFY_RETRIES {
                match &told {
                    Err(e) if e.is_transient() => {
                        tracing::warn!(channel = %name, "{} failed: {e}; trying again in {} s", notice.rpc(), wait.as_secs());
                        tokio::time::sleep(wait).await;
                        told = self.notify(channel.as_ref(), run, notice).await;
                    }
                    _ => break,
                }
            }
            if let Err(e) = told {
                tracing::warn!(channel = %name, "{} failed: {e}", notice.rpc());
            }
            notice.told(run).push(name.clone());
            if !self.save(run).await {
                return false;
            }
        }
        *notice.done(run) = true;
        self.save(run).await
    }

    /// Tells one channel `notice` about the run.
    async fn notify(
        &self,
        channel: &dyn notifications::Backend,
        run: &TaskRun,
        notice: Notice,
    ) -> Result<(), Error> {
        let ticket = Some(run.ticket.clone());
        let task_run_id = run.id.clone();
        match notice {
            Notice::Start => channel
                .notify_start(NotifyStartRequest {
                    ticket,
                    task_run_id,
                    engine: self.engine_name.clone(),
                })
                .await
                .map(drop),
            // The run's outcome, not the agent's word: a run whose agent succeeded can still
            // have failed (review gate, deadline).
            Notice::Complete => channel
                .notify_complete(NotifyCompleteRequest {
                    ticket,
                    task_run_id,
                    result: Some(run.outcome()),
                })
                .await
                .map(drop),
        }
    }

    /// How an attempt ended, into the run: a result goes on to the verdict and the gate.
    async fn ended(&self, run: &mut TaskRun, ending: Ending) {
        match ending {
            Ending::TimedOut { limit } => {
                let reason = format!(
                    "the agent ran past its deadline of {} s and was stopped",
                    limit.as_secs()
                );
                run.reason = Some(reason.clone());
                run.result = Some(TaskResult {
                    success: false,
                    summary: reason.clone(),
                    exit_code: 1,
                    ..Default::default()
                });
                run.transition(TaskState::TimedOut, reason);
                if self.save(run).await {
                    self.keep_failed(run).await;
                }
            }
            Ending::Broken { reason } => self.fail_or_retry(run, reason).await,
            Ending::Finished { result, diff } => self.finished(run, result, diff).await,
        }
    }

    /// A run found `Running` with no agent behind it: robodev was stopped during the run. Its
    /// executor says what became of the attempt: ended (go on from its result), still running
    /// (wait for it), or lost (failed, or retried when the guard rails allow).
    async fn recover(&self, run: &mut TaskRun) {
        let lost = |why: &str| {
            format!(
                "interrupted: robodev stopped while the agent was running (attempt {}) and {why}",
                run.attempts
            )
        };
        let Some(at) = run.job_ref() else {
            let why = lost("its record names no job");
            return self.fail_or_retry(run, why).await;
        };
        match self.executor.recover(&at).await {
            Ok(Recovered::Ended(ending)) => {
                tracing::info!(ticket = %run.ticket.id, "resuming: the agent had finished before robodev stopped");
                if self.announce_start(run).await {
                    self.ended(run, ending).await;
                }
            }
            Ok(Recovered::Running(started)) => {
                tracing::info!(ticket = %run.ticket.id, "resuming: waiting for {at}, still running");
                self.follow(run, started).await;
            }
            Ok(Recovered::Lost(why)) => {
                tracing::debug!(ticket = %run.ticket.id, "{at}: {why}");
                let why = lost("the agent left no result");
                self.fail_or_retry(run, why).await;
            }
            Err(e) => {
                let why = lost(&format!("its job cannot be found: {e}"));
                self.fail_or_retry(run, why).await;
            }
        }
    }

    /// The agent exited with a result: its verdict, then the review gate.
    async fn finished(&self, run: &mut TaskRun, result: TaskResult, diff: String) {
        run.result = Some(result.clone());
        if !result.success {
            let why = if result.summary.is_empty() {
                format!(
                    "the agent reported failure (exit code {})",
                    result.exit_code
                )
            } else {
                format!("the agent reported failure: {}", result.summary)
            };
            return self.fail_or_retry(run, why).await;
        }
        if let Some((review, min_score)) = &self.review {
            match self.gate(run, review.as_ref(), &result, diff).await {
                Ok(gate) => {
                    let score_ok = min_score.is_none_or(|min| gate.score >= min);
                    let passed = gate.passed && score_ok;
                    let summary = gate.summary.clone();
                    let score = gate.score;
                    run.gate = Some(gate);
                    if !passed {
                        let why = if score_ok {
                            format!("review gate failed: {summary}")
                        } else {
                            format!(
                                "review gate failed: score {score} is below min_score {}: {summary}",
                                min_score.unwrap_or_default()
                            )
                        };
                        // A gate verdict is not retried: the same diff would fail again.
                        return self.fail(run, why).await;
                    }
                }
                Err(e) => {
                    return self
                        .fail(run, format!("review gate unavailable: {e}"))
                        .await;
                }
            }
        }
        let note = if result.summary.is_empty() {
            "the agent succeeded".to_owned()
        } else {
            format!("the agent succeeded: {}", result.summary)
        };
        run.reason = None;
        run.transition(TaskState::Succeeded, note);
        // Unsaved, the record still says Running: the next start needs the workspace's result.
        if !self.save(run).await {
            return;
        }
        if let Some(at) = run.job_ref() {
            self.executor.remove(&at).await;
        }
    }

    async fn gate(
        &self,
        run: &TaskRun,
        review: &dyn review::Backend,
        result: &TaskResult,
        workspace_diff: String,
    ) -> Result<GateResult, Error> {
        // The SCM's view of the branch wins over what the agent wrote locally.
        let diff = match (&self.scm, result.branch_name.is_empty()) {
            (Some(scm), false) => {
                scm.get_diff(GetDiffRequest {
                    repo_url: run.ticket.repo_url.clone(),
                    base_branch: String::new(),
                    branch_name: result.branch_name.clone(),
                })
                .await?
                .diff
            }
            _ => workspace_diff,
        };
        let response = review
            .review_diff(ReviewDiffRequest {
                task_run_id: run.id.clone(),
                ticket: Some(run.ticket.clone()),
                diff,
                branch_name: result.branch_name.clone(),
                repo_url: run.ticket.repo_url.clone(),
                result: Some(result.clone()),
            })
            .await?;
        if let Some(gate) = response.gate_result {
            return Ok(gate);
        }
        let (every, times) = GATE_POLL;
        for _ in 0..times {
            tokio::time::sleep(every).await;
            if let Some(gate) = review
                .get_gate_result(GetGateResultRequest {
                    review_id: response.review_id.clone(),
                })
                .await?
                .gate_result
            {
                return Ok(gate);
            }
        }
        Err(Error::Host {
            plugin: self
                .config
                .review
                .as_ref()
                .map(|r| r.backend.name().to_owned())
                .unwrap_or_default(),
            interface: Interface::Review,
            message: format!(
                "no gate result for review {:?} after {} s",
                response.review_id,
                every.as_secs() * u64::from(times)
            ),
            source: None,
        })
    }

    /// Final state reached: tell the ticketing backend and the channels, once each.
    async fn report(&self, run: &mut TaskRun) {
        self.close_approval(run).await;
        if self.is_halted(&run.id) {
            return;
        }
        if !run.steps.reported {
            let outcome = if run.state == TaskState::Succeeded {
                self.ticketing
                    .mark_complete(MarkCompleteRequest {
                        ticket_id: run.ticket.id.clone(),
                        result: run.result.clone(),
                    })
                    .await
            } else {
                self.ticketing
                    .mark_failed(MarkFailedRequest {
                        ticket_id: run.ticket.id.clone(),
                        reason: run.reason.clone().unwrap_or_else(|| run.state.to_string()),
                    })
                    .await
            };
            match outcome {
                Ok(_) => {
                    run.steps.reported = true;
                    if !self.save(run).await {
                        return;
                    }
                }
                Err(e @ Error::Plugin { .. }) if !e.is_transient() => {
                    // Refused for good (the ticket is gone, the request invalid): asking at
                    // every pass would only repeat the answer.
                    tracing::error!(ticket = %run.ticket.id, "{} refused the outcome; not asked again: {e}", self.ticketing_name);
                    run.steps.reported = true;
                    run.steps.report_refused = Some(e.to_string());
                    if !self.save(run).await {
                        return;
                    }
                }
                Err(e) => {
                    // Left unreported: the next pass (or the next start) tries again.
                    tracing::error!(ticket = %run.ticket.id, "cannot report the outcome to {}: {e}", self.ticketing_name);
                    return;
                }
            }
        }
        self.tell_channels(run, Notice::Complete).await;
    }

    /// The spec's `secret_env` (variable -> secret key) as the executor takes it: values from
    /// `GetSecrets`, or the references `BuildEnvVars` makes.
    async fn secret_env(&self, secret_env: &BTreeMap<String, String>) -> Result<SecretEnv, String> {
        match self.executor.secret_delivery() {
            SecretDelivery::Values => self
                .resolve_secret_env(secret_env)
                .await
                .map(SecretEnv::Values),
            SecretDelivery::References => {
                if secret_env.is_empty() {
                    return Ok(SecretEnv::References(Vec::new()));
                }
                let Some(secrets) = &self.secrets else {
                    return Err(
                        "the execution spec needs secrets, but no secrets backend is available"
                            .into(),
                    );
                };
                let secret_refs = secret_env
                    .iter()
                    .map(|(env, key)| SecretRef {
                        env_name: env.clone(),
                        secret_key: key.clone(),
                    })
                    .collect();
                let vars = secrets
                    .build_env_vars(BuildEnvVarsRequest { secret_refs })
                    .await
                    .map_err(|e| format!("cannot build the agent's secret references: {e}"))?
                    .env_vars;
                // What reaches a Job must be a reference, never a value.
                if let Some(var) = vars.iter().find(|v| v.secret_ref.is_none()) {
                    return Err(format!(
                        "the secrets backend answered a value for {}, not a reference; the {} executor takes references only (use a backend that builds them, e.g. k8s)",
                        var.name,
                        self.executor.name()
                    ));
                }
                Ok(SecretEnv::References(vars))
            }
        }
    }

    async fn resolve_secret_env(
        &self,
        secret_env: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, String> {
        if secret_env.is_empty() {
            return Ok(BTreeMap::new());
        }
        let Some(secrets) = &self.secrets else {
            return Err(
                "the execution spec needs secrets, but no secrets backend is available".into(),
            );
        };
        let keys: Vec<String> = secret_env.values().cloned().collect();
        let found = secrets
            .get_secrets(GetSecretsRequest { keys })
            .await
            .map_err(|e| format!("cannot resolve the agent's secrets: {e}"))?
            .secrets;
        secret_env
            .iter()
            .map(|(env, key)| match found.get(key) {
                Some(v) => Ok((env.clone(), v.clone())),
                None => Err(format!(
                    "the secrets backend has no secret {key:?} (for {env})"
                )),
            })
            .collect()
    }
}

/// Fails `run` at a guard rail, before anything of it ran.
fn refuse(run: &mut TaskRun, reason: String) {
    run.result = Some(TaskResult {
        success: false,
        summary: reason.clone(),
        exit_code: 2,
        ..Default::default()
    });
    run.reason = Some(reason.clone());
    run.transition(TaskState::Failed, reason);
}

/// `https://github.com/acme/api.git/` -> `github.com/acme/api`.
fn normalise_repo(url: &str) -> String {
    let s = url.split_once("://").map_or(url, |(_, rest)| rest);
    let s = s.trim_end_matches('/');
    s.strip_suffix(".git").unwrap_or(s).to_owned()
}

impl Controller {
    /// One pass, then waits for every run it started or resumed (`robodev run --once`).
    /// Returns what the pass did and the runs as they ended.
    pub async fn run_once(self: &Arc<Self>) -> Result<(PassReport, Vec<TaskRun>), ControllerError> {
        let mut tasks = JoinSet::new();
        let report = self.pass(&mut tasks).await;
        // Even when the poll failed, the runs resumed before it are finished first.
        let mut done = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(run) => done.push(run),
                Err(e) => tracing::error!("a task run panicked: {e}"),
            }
        }
        Ok((report?, done))
    }

    /// Polls every `poll_interval` until SIGINT or SIGTERM; then stops polling and waits for
    /// the runs in flight (a second signal abandons them: their agents are killed and the next
    /// start fails or resumes them cleanly).
    pub async fn run_until_signalled(self: &Arc<Self>) -> Result<(), ControllerError> {
        self.run_until_signalled_or(std::future::pending()).await
    }

    /// [`Controller::run_until_signalled`], stopping at once when `lost` resolves (leader
    /// election: another replica may take over): nothing more starts, the runs in flight are
    /// abandoned where they are (the next leader resumes them from their records), and the
    /// answer is [`ControllerError::LeadershipLost`].
    pub async fn run_until_signalled_or(
        self: &Arc<Self>,
        lost: impl Future<Output = ()>,
    ) -> Result<(), ControllerError> {
        tokio::pin!(lost);
        let mut signals = Signals::new().map_err(|e| ControllerError::State {
            dir: self.config.state_dir.clone(),
            message: e.to_string(),
        })?;
        let mut tasks = JoinSet::new();
        let interval = self.config.poll_interval;
        // Passes failed in a row.
        let mut failures = 0u32;
        loop {
            let passed = tokio::select! {
                passed = self.pass(&mut tasks) => passed,
                () = &mut lost => {
                    self.slots.close();
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                    return Err(ControllerError::LeadershipLost);
                }
            };
            let wait = match passed {
                Ok(report) => {
                    if !report.dispatched.is_empty() {
                        tracing::info!(
                            "{} task run(s) started or resumed",
                            report.dispatched.len()
                        );
                    }
                    failures = 0;
                    interval
                }
                // The ticketing backend down, the state directory full or unwritable for a
                // moment, the cluster's store unreachable, another replica's write: nothing
                // was started for it (a run that cannot be recorded is not started), so the
                // next poll tries again, backing off while the failures last.
                Err(e @ (ControllerError::Backend(_) | ControllerError::Runs { .. })) => {
                    failures = failures.saturating_add(1);
                    let wait = retry_delay(interval, failures);
                    let what = if matches!(e, ControllerError::Backend(_)) {
                        "poll failed: "
                    } else {
                        ""
                    };
                    tracing::error!("{what}{e}; next poll in {}", humanize(wait));
                    wait
                }
                Err(e) => return Err(e),
            };
            let sleep = tokio::time::sleep(wait);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = signals.next() => {
                        // Runs still waiting for a slot stop there, queued for the next start:
                        // an agent started now would likely be cut off by the kill that follows
                        // a SIGTERM's grace period, and fail as interrupted.
                        self.slots.close();
                        let running = tasks.len();
                        if running > 0 && self.executor.agents_outlive_controller() {
                            // Their agents keep running without robodev: the runs waiting for
                            // one hand over now; the others finish the step they are in.
                            tracing::info!("stopping: {running} task run(s) in flight; those waiting for an agent are handed over to the next controller");
                            self.handing_over.send_replace(true);
                        }
                        if running > 0 {
                            tracing::warn!("stopping: waiting for {running} task run(s) to finish; signal again to abandon them");
                            tokio::select! {
                                _ = async { while tasks.join_next().await.is_some() {} } => {}
                                _ = signals.next() => {
                                    tracing::warn!("abandoning {} task run(s); the next start settles them", tasks.len());
                                    tasks.abort_all();
                                }
                            }
                        }
                        return Ok(());
                    }
                    () = &mut lost => {
                        self.slots.close();
                        tasks.abort_all();
                        while tasks.join_next().await.is_some() {}
                        return Err(ControllerError::LeadershipLost);
                    }
                    _ = &mut sleep => break,
                    Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                        if let Ok(run) = joined {
                            tracing::info!(ticket = %run.ticket.id, "task run ended: {}", run.state);
                        }
                    }
                }
            }
        }
    }
}

/// The waits before asking a channel again after a transient failure (see
/// [`robodev_core::Error::is_transient`]): a restarting plugin is back after its first
/// restart's backoff (1 s by default).
const NOTIFY_RETRIES: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(3),
    Duration::from_secs(9),
];

/// The waits before writing a run's record again when the store fails (330 s in all).
const SAVE_RETRIES: [Duration; 15] = {
    let s = Duration::from_secs;
    [
        s(1),
        s(2),
        s(4),
        s(8),
        s(15),
        s(30),
        s(30),
        s(30),
        s(30),
        s(30),
        s(30),
        s(30),
        s(30),
        s(30),
        s(30),
    ]
};

/// The longest wait between failed passes (unless `poll_interval` is longer).
const RETRY_DELAY_MAX: Duration = Duration::from_secs(30);

/// How long to wait after `failures` failed passes in a row: `interval`, or, when that is
/// shorter, 1 s doubling with each failure up to [`RETRY_DELAY_MAX`], so that a fast poll does
/// not spin on a backend that is down or a state directory that is full.
fn retry_delay(interval: Duration, failures: u32) -> Duration {
    let backoff = Duration::from_secs(1 << failures.saturating_sub(1).min(5)).min(RETRY_DELAY_MAX);
    interval.max(backoff)
}

/// A wait as a log shows it: `250 ms`, `30 s`.
fn humanize(wait: Duration) -> String {
    if wait < Duration::from_secs(1) {
        format!("{} ms", wait.as_millis())
    } else {
        format!("{} s", wait.as_secs())
    }
}

/// SIGINT and SIGTERM as one stream.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

/// Holds `state_dir/lock` so that two robodevs never drive the same state at once.
#[derive(Debug)]
pub struct StateLock {
    _file: std::fs::File,
}

impl StateLock {
    /// Takes the lock of `state_dir` (creating the directory), or says who holds it.
    pub fn acquire(state_dir: &std::path::Path) -> Result<StateLock, ControllerError> {
        let err = |message: String| ControllerError::State {
            dir: state_dir.to_owned(),
            message,
        };
        std::fs::create_dir_all(state_dir).map_err(|e| err(format!("cannot create it: {e}")))?;
        let path = state_dir.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| err(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                return Err(err(format!(
                    "another robodev (pid {}) is running on it",
                    holder.trim()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(err(format!("cannot lock {}: {e}", path.display())));
            }
        }
        let _ = file.set_len(0);
        let _ = std::io::Write::write_all(&mut &file, std::process::id().to_string().as_bytes());
        Ok(StateLock { _file: file })
    }
}

/// Which of the two notices every channel gets about a run.
#[derive(Debug, Clone, Copy)]
enum Notice {
    /// NotifyStart, once the agent's job exists.
    Start,
    /// NotifyComplete, once the outcome is reported.
    Complete,
}

impl Notice {
    fn rpc(self) -> &'static str {
        match self {
            Notice::Start => "NotifyStart",
            Notice::Complete => "NotifyComplete",
        }
    }

    /// Whether every channel has been told (the run's step flag).
    fn done(self, run: &mut TaskRun) -> &mut bool {
        match self {
            Notice::Start => &mut run.steps.start_notified,
            Notice::Complete => &mut run.steps.complete_notified,
        }
    }

    /// The channels told so far.
    fn told(self, run: &mut TaskRun) -> &mut Vec<String> {
        match self {
            Notice::Start => &mut run.steps.start_notified_to,
            Notice::Complete => &mut run.steps.complete_notified_to,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_passes_back_off_from_a_fast_poll_but_never_below_the_interval() {
        let fast = Duration::from_millis(5);
        let waits: Vec<u64> = (1..=8).map(|n| retry_delay(fast, n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        let slow = Duration::from_secs(60);
        assert_eq!(retry_delay(slow, 1), slow);
        assert_eq!(retry_delay(slow, 100), slow);
        assert_eq!(humanize(Duration::from_millis(250)), "250 ms");
        assert_eq!(humanize(Duration::from_secs(30)), "30 s");
    }
}
