//! [`KubernetesExecutor`]: each attempt a batch/v1 Job ([`crate::job`]), followed with a
//! watch on that one Job (not polling GETs) until Kubernetes marks it `Complete` or `Failed`;
//! the result is the agent container's termination message, read from its pod's status.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams, PropagationPolicy};
use kube::runtime::wait::{Condition, await_condition};
use robodev_controller::executor::{
    AgentJob, Ending, Executor, ExecutorError, JobRef, Recovered, SecretDelivery, Started,
};
use robodev_core::TaskResult;

use crate::job::{self, JobSettings};

/// How long past a Job's own deadline robodev waits for Kubernetes to say it ended before it
/// deletes the Job itself and reports a time-out.
pub const DEADLINE_GRACE: Duration = Duration::from_secs(60);

/// Why the Kubernetes API did not do what an attempt needed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeError {
    /// The attempt cannot be made into a Job.
    #[error(transparent)]
    Spec(#[from] job::JobSpecError),
    /// The API server refused or could not be reached.
    #[error("Kubernetes API: {what}: {source}")]
    Api {
        /// What robodev was doing.
        what: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// Watching a Job failed.
    #[error("Kubernetes API: {what}: {source}")]
    Watch {
        /// What robodev was doing.
        what: String,
        /// The watch's error.
        #[source]
        source: kube::runtime::wait::Error,
    },
    /// A Job of that name exists but belongs to another attempt.
    #[error("Job {namespace}/{name} exists and belongs to another task run or attempt ({found})")]
    Foreign {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Its labels, as found.
        found: String,
    },
}

fn api_error(what: impl Into<String>) -> impl FnOnce(kube::Error) -> KubeError {
    let what = what.into();
    move |source| KubeError::Api { what, source }
}

impl From<KubeError> for ExecutorError {
    fn from(e: KubeError) -> Self {
        ExecutorError::Other(Box::new(e))
    }
}

/// Agents as Kubernetes Jobs.
#[derive(Clone)]
pub struct KubernetesExecutor {
    client: kube::Client,
    settings: JobSettings,
}

impl fmt::Debug for KubernetesExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubernetesExecutor")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl KubernetesExecutor {
    /// Runs agents through `client` as `settings` say.
    pub fn new(client: kube::Client, settings: JobSettings) -> Self {
        KubernetesExecutor { client, settings }
    }

    fn jobs(&self, namespace: &str) -> Api<Job> {
        Api::namespaced(self.client.clone(), namespace)
    }

    fn pods(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), namespace)
    }

    fn follow(&self, namespace: &str, name: &str, deadline: Duration) -> Box<dyn Started> {
        Box::new(Following {
            jobs: self.jobs(namespace),
            pods: self.pods(namespace),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            deadline,
        })
    }
}

fn target(at: &JobRef) -> Result<(&str, &str), ExecutorError> {
    match at {
        JobRef::Kubernetes { namespace, name } => Ok((namespace, name)),
        other => Err(ExecutorError::Foreign {
            job: other.clone(),
            executor: "kubernetes",
        }),
    }
}

#[async_trait]
impl Executor for KubernetesExecutor {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn secret_delivery(&self) -> SecretDelivery {
        SecretDelivery::References
    }

    fn agents_outlive_controller(&self) -> bool {
        true
    }

    async fn prepare(&self, job: &AgentJob) -> Result<JobRef, ExecutorError> {
        let name = job::job_name(&job.task_run_id, job.attempt);
        // Checked now, so a spec that cannot run fails before the run says it started. `start`
        // builds it again rather than keeping this one: it may run in another process, after a
        // restart, from the persisted run (building a manifest takes microseconds).
        job::build(&self.settings, job, &name).map_err(KubeError::from)?;
        Ok(JobRef::Kubernetes {
            namespace: self.settings.namespace.clone(),
            name,
        })
    }

    async fn start(&self, at: &JobRef, job: &AgentJob) -> Result<Box<dyn Started>, ExecutorError> {
        let (namespace, name) = target(at)?;
        let manifest = job::build(&self.settings, job, name).map_err(KubeError::from)?;
        let jobs = self.jobs(namespace);
        match jobs.create(&PostParams::default(), &manifest).await {
            Ok(_) => tracing::info!(job = %name, namespace, "agent Job created"),
            Err(kube::Error::Api(e)) if e.code == 409 => {
                // Created before robodev stopped (or by another replica that lost its lease):
                // adopted if it is this attempt's, never created twice.
                let existing = jobs
                    .get(name)
                    .await
                    .map_err(api_error(format!("reading Job {namespace}/{name}")))?;
                let want = job::labels(job, &self.settings.engine);
                let have = existing.metadata.labels.clone().unwrap_or_default();
                let mine = [job::TASK_RUN_LABEL, job::ATTEMPT_LABEL]
                    .iter()
                    .all(|k| want.get(*k) == have.get(*k));
                if !mine {
                    return Err(KubeError::Foreign {
                        namespace: namespace.to_owned(),
                        name: name.to_owned(),
                        found: format!("{have:?}"),
                    }
                    .into());
                }
                tracing::info!(job = %name, namespace, "agent Job already exists: adopted");
            }
            Err(e) => {
                return Err(api_error(format!("creating Job {namespace}/{name}"))(e).into());
            }
        }
        Ok(self.follow(namespace, name, job.deadline))
    }

    async fn recover(&self, at: &JobRef) -> Result<Recovered, ExecutorError> {
        let (namespace, name) = target(at)?;
        let found = self
            .jobs(namespace)
            .get_opt(name)
            .await
            .map_err(api_error(format!("reading Job {namespace}/{name}")))
            .map_err(ExecutorError::from)?;
        let Some(found) = found else {
            return Ok(Recovered::Lost(format!(
                "Job {namespace}/{name} no longer exists"
            )));
        };
        let deadline = found
            .spec
            .as_ref()
            .and_then(|s| s.active_deadline_seconds)
            .map_or(Duration::from_secs(3600), |s| {
                Duration::from_secs(s.max(0) as u64)
            });
        if finished(&found).is_some() {
            let ending = ending(&self.pods(namespace), namespace, name, &found).await?;
            return Ok(Recovered::Ended(ending));
        }
        Ok(Recovered::Running(self.follow(namespace, name, deadline)))
    }

    async fn remove(&self, at: &JobRef) {
        let Ok((namespace, name)) = target(at) else {
            return;
        };
        delete(&self.jobs(namespace), &self.pods(namespace), name).await;
    }
}

/// Deletes Job `name` and its pods (the garbage collector would, but need not be running);
/// one already gone is fine.
async fn delete(jobs: &Api<Job>, pods: &Api<Pod>, name: &str) {
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    match jobs.delete(name, &params).await {
        Ok(_) => tracing::debug!(job = %name, "agent Job deleted"),
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => tracing::warn!(job = %name, "cannot delete agent Job: {e}"),
    }
    let selector = ListParams::default().labels(&format!("{}={name}", job::JOB_NAME_LABEL));
    if let Err(e) = pods
        .delete_collection(&DeleteParams::default(), &selector)
        .await
    {
        tracing::warn!(job = %name, "cannot delete the agent Job's pods: {e}");
    }
}

/// `Complete` or `Failed`, with the condition's reason and message, once the Job has one.
fn finished(job: &Job) -> Option<(bool, String, String)> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    conditions
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" | "SuccessCriteriaMet" => Some((
                true,
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )),
            "Failed" | "FailureTarget" => Some((
                false,
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )),
            _ => None,
        })
}

fn is_finished() -> impl Condition<Job> {
    |job: Option<&Job>| job.is_some_and(|j| finished(j).is_some())
}

/// The agent container's termination message, from the newest pod of Job `name`.
async fn termination_message(pods: &Api<Pod>, name: &str) -> Result<Option<String>, KubeError> {
    let selector = ListParams::default().labels(&format!("{}={name}", job::JOB_NAME_LABEL));
    let list = pods
        .list(&selector)
        .await
        .map_err(api_error(format!("listing the pods of Job {name}")))?;
    let newest = list
        .items
        .iter()
        .max_by_key(|p| p.metadata.creation_timestamp.clone());
    Ok(newest.and_then(|pod| {
        pod.status
            .as_ref()?
            .container_statuses
            .as_ref()?
            .iter()
            .find(|c| c.name == job::CONTAINER)?
            .state
            .as_ref()?
            .terminated
            .as_ref()?
            .message
            .clone()
    }))
}

/// How the finished Job `name` ended.
async fn ending(
    pods: &Api<Pod>,
    namespace: &str,
    name: &str,
    found: &Job,
) -> Result<Ending, KubeError> {
    let Some((complete, reason, message)) = finished(found) else {
        return Ok(Ending::Broken {
            reason: format!("Job {namespace}/{name} has not finished"),
        });
    };
    if !complete && reason == "DeadlineExceeded" {
        let limit = found
            .spec
            .as_ref()
            .and_then(|s| s.active_deadline_seconds)
            .map_or(Duration::ZERO, |s| Duration::from_secs(s.max(0) as u64));
        return Ok(Ending::TimedOut { limit });
    }
    let said = termination_message(pods, name).await?;
    if !complete {
        let last = said
            .map(|m| format!("; its termination message: {}", m.trim()))
            .unwrap_or_default();
        let why = if message.is_empty() {
            reason
        } else {
            format!("{reason}: {message}")
        };
        return Ok(Ending::Broken {
            reason: format!("the agent's Job {namespace}/{name} failed ({why}){last}"),
        });
    }
    let Some(text) = said.filter(|m| !m.trim().is_empty()) else {
        return Ok(Ending::Broken {
            reason: format!(
                "the agent's Job {namespace}/{name} completed but left no result: the agent must write its result JSON to {}",
                job::RESULT_FILE
            ),
        });
    };
    match serde_json::from_str::<TaskResult>(&text) {
        Ok(result) => Ok(Ending::Finished {
            result,
            // The SCM's view of the branch is what the review gate reads.
            diff: String::new(),
        }),
        Err(e) => Ok(Ending::Broken {
            reason: format!(
                "the agent's Job {namespace}/{name} completed but its result in {} is not a TaskResult (proto3 JSON): {e}",
                job::RESULT_FILE
            ),
        }),
    }
}

/// The longest agent log line relogged; the rest of a longer line is cut.
const MAX_LOG_LINE: usize = 16 * 1024;

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Follows the `agent` container's log of Job `job`'s pod and relogs each line under the Job's
/// name (target `robodev::agent`), once the pod runs. Best effort: without a kubelet serving
/// logs (or the right to read them), nothing is relogged and the run goes on.
async fn stream_logs(pods: Api<Pod>, job: String) {
    use futures_util::io::AsyncBufReadExt;
    let selector = ListParams::default().labels(&format!("{}={job}", job::JOB_NAME_LABEL));
    let pod = loop {
        match pods.list(&selector).await {
            Ok(list) => {
                let started = list.items.into_iter().find(|p| {
                    p.status
                        .as_ref()
                        .and_then(|s| s.phase.as_deref())
                        .is_some_and(|phase| phase != "Pending")
                });
                if let Some(pod) = started.and_then(|p| p.metadata.name) {
                    break pod;
                }
            }
            Err(e) => {
                tracing::debug!(job = %job, "cannot list the agent's pods for its log: {e}");
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let params = kube::api::LogParams {
        container: Some(job::CONTAINER.to_owned()),
        follow: true,
        ..Default::default()
    };
    let mut reader = match pods.log_stream(&pod, &params).await {
        Ok(r) => Box::pin(r),
        Err(e) => {
            tracing::debug!(job = %job, "the agent's log cannot be read: {e}");
            return;
        }
    };
    let mut line: Vec<u8> = Vec::new();
    loop {
        let chunk = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(chunk) => chunk,
        };
        let (take, end) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LOG_LINE.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..take.min(room)]);
        reader.consume_unpin(take);
        if end {
            let text = String::from_utf8_lossy(&line);
            tracing::info!(target: "robodev::agent", job = %job, "{}", text.trim_end());
            line.clear();
        }
    }
    if !line.is_empty() {
        let text = String::from_utf8_lossy(&line);
        tracing::info!(target: "robodev::agent", job = %job, "{}", text.trim_end());
    }
}

/// A Job being followed. Dropping it leaves the Job running: a robodev that stops (a rolling
/// update, a lost lease) hands its runs to the next one, which adopts them.
struct Following {
    jobs: Api<Job>,
    pods: Api<Pod>,
    namespace: String,
    name: String,
    deadline: Duration,
}

impl fmt::Debug for Following {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Job {}/{}", self.namespace, self.name)
    }
}

#[async_trait]
impl Started for Following {
    async fn wait(self: Box<Self>) -> Result<Ending, ExecutorError> {
        // The agent's log lines into robodev's log while it runs, when a kubelet serves them.
        let logs = tokio::spawn(stream_logs(self.pods.clone(), self.name.clone()));
        let _stop_logs = AbortOnDrop(logs);
        let waited = tokio::time::timeout(
            self.deadline + DEADLINE_GRACE,
            await_condition(self.jobs.clone(), &self.name, is_finished()),
        )
        .await;
        let found = match waited {
            Err(_) => {
                // Kubernetes did not end it (no Job controller?): robodev does.
                delete(&self.jobs, &self.pods, &self.name).await;
                return Ok(Ending::TimedOut {
                    limit: self.deadline,
                });
            }
            Ok(Err(source)) => {
                return Err(KubeError::Watch {
                    what: format!("watching Job {}/{}", self.namespace, self.name),
                    source,
                }
                .into());
            }
            Ok(Ok(None)) => {
                return Ok(Ending::Broken {
                    reason: format!(
                        "Job {}/{} was deleted while it ran",
                        self.namespace, self.name
                    ),
                });
            }
            Ok(Ok(Some(job))) => job,
        };
        Ok(ending(&self.pods, &self.namespace, &self.name, &found).await?)
    }
}
