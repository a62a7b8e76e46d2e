//! [`CrdStore`]: task runs as TaskRun custom resources (`taskruns.robodev.dev`, the chart's
//! `crds/taskruns.robodev.dev.yaml`), so that a restarted robodev, or a new leader on another
//! pod, resumes the runs where the last one left them.
//!
//! One object per (ticketing backend, ticket), named [`object_name`] (a DNS label of
//! `<ticketing>--<ticket>`, hashed when it had to change) and labelled with both
//! ([`TICKETING_LABEL`], [`TICKET_LABEL`]). The record is split as the CRD's schema says:
//! [`TaskRunSpec`] (what the run is of; written once, when the object is created) and
//! [`TaskRunStatus`] (where it is; written through the status subresource at every
//! transition).
//!
//! Writes are optimistic: a record remembers the `resourceVersion` it was read or last written
//! at ([`TaskRun::revision`]) and [`RunStore::put`] writes only over that version. Another
//! replica's write in between makes the put fail with [`StoreError::Conflict`]; the loop then
//! halts that run where it is (as for any record it cannot save), and whoever owns the record
//! now carries it on.
//!
//! ```no_run
//! # async fn demo(client: kube::Client) -> Result<(), robodev_controller::runs::StoreError> {
//! use robodev_controller::runs::RunStore;
//! let store = robodev_kube::taskruns::CrdStore::new(client, "robodev");
//! for run in store.all().await? {
//!     println!("{} {}", run.ticket.id, run.state);
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use async_trait::async_trait;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use kube::{CustomResource, ResourceExt};
use robodev_controller::executor::JobRef;
use robodev_controller::runs::{
    RunStore, Steps, StoreError, TaskRun, TaskState, Transition, run_id, sort_runs,
};
use robodev_core::review::GateResult;
use robodev_core::{TaskResult, Ticket};
use serde::{Deserialize, Serialize};

use crate::names::{dns_label, label_value};

/// The label holding the ticketing backend's name (as a label value).
pub const TICKETING_LABEL: &str = "robodev.io/ticketing";
/// The label holding the ticket's id (as a label value).
pub const TICKET_LABEL: &str = "robodev.io/ticket";
/// The label every TaskRun robodev writes carries, with the value `robodev`.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// What the run is of: the TaskRun's `spec`, written once when the object is created.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "robodev.dev",
    version = "v1alpha1",
    kind = "TaskRun",
    root = "TaskRunObject",
    namespaced,
    status = "TaskRunStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct TaskRunSpec {
    /// The ticketing backend the ticket came from.
    pub ticketing: String,
    /// The ticket's id as the backend gave it (the object's name may be a shortened form).
    pub ticket_id: String,
    /// The engine that runs the agent.
    pub engine: String,
    /// The ticket as polled.
    #[serde(default)]
    pub ticket: Ticket,
}

/// Where the run is: the TaskRun's `status`, written through the status subresource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRunStatus {
    /// The run's state (absent only on an object whose first status write never happened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<TaskState>,
    /// Agent runs started so far.
    #[serde(default)]
    pub attempts: u32,
    /// The agent Job of the current attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobStatus>,
    /// Why the run failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The approval backend's request id, until the request is decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_request: Option<String>,
    /// Who approved the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// Every state change, oldest first.
    #[serde(default)]
    pub history: Vec<Transition>,
    /// The agent's result, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<TaskResult>,
    /// The review gate's result, when a gate ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateResult>,
    /// The reporting side effects done.
    #[serde(default)]
    pub steps: Steps,
}

/// `status.job`: the agent Job of the current attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStatus {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

/// The name of the TaskRun object of `ticket_id` from `ticketing`.
pub fn object_name(ticketing: &str, ticket_id: &str) -> String {
    dns_label(&format!("{ticketing}--{ticket_id}"))
}

/// The task runs of one namespace, as TaskRun objects.
#[derive(Clone)]
pub struct CrdStore {
    api: Api<TaskRunObject>,
    namespace: String,
}

impl std::fmt::Debug for CrdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrdStore")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

fn api_error(what: String) -> impl FnOnce(kube::Error) -> StoreError {
    move |source| StoreError::Backend {
        what: format!("Kubernetes API: {what}"),
        source: Box::new(source),
    }
}

fn is_status(e: &kube::Error, check: impl Fn(&kube::core::Status) -> bool) -> bool {
    matches!(e, kube::Error::Api(status) if check(status))
}

impl CrdStore {
    /// The TaskRuns in `namespace` (the CRD must be installed: the chart does it).
    pub fn new(client: kube::Client, namespace: &str) -> CrdStore {
        CrdStore {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
        }
    }

    /// The TaskRun object `run` is written as (no `resourceVersion`).
    pub fn object_of(&self, run: &TaskRun) -> Result<TaskRunObject, StoreError> {
        let job = match run.job_ref() {
            None => None,
            Some(JobRef::Kubernetes { namespace, name }) => Some(JobStatus { namespace, name }),
            Some(other) => {
                return Err(StoreError::Invalid {
                    what: format!("task run {}", run.id),
                    message: format!(
                        "TaskRuns record Kubernetes Jobs only, not a {other} (use the kubernetes executor)"
                    ),
                });
            }
        };
        let mut object = TaskRunObject::new(
            &object_name(&run.ticketing, &run.ticket.id),
            TaskRunSpec {
                ticketing: run.ticketing.clone(),
                ticket_id: run.ticket.id.clone(),
                engine: run.engine.clone(),
                ticket: run.ticket.clone(),
            },
        );
        object.metadata.namespace = Some(self.namespace.clone());
        object.metadata.labels = Some(BTreeMap::from([
            (TICKETING_LABEL.to_owned(), label_value(&run.ticketing)),
            (TICKET_LABEL.to_owned(), label_value(&run.ticket.id)),
            (MANAGED_BY_LABEL.to_owned(), "robodev".to_owned()),
        ]));
        object.status = Some(TaskRunStatus {
            state: Some(run.state),
            attempts: run.attempts,
            job,
            reason: run.reason.clone(),
            approval_request: run.approval_request.clone(),
            approved_by: run.approved_by.clone(),
            history: run.history.clone(),
            result: run.result.clone(),
            gate: run.gate.clone(),
            steps: run.steps.clone(),
        });
        Ok(object)
    }

    /// The task run `object` holds, its revision its `resourceVersion`. An object whose status
    /// was never written (robodev stopped between creating it and its first status write)
    /// is a run that has done nothing yet: Queued.
    pub fn run_of(object: TaskRunObject) -> TaskRun {
        let revision = object.resource_version();
        let created = object
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(0, |t| u64::try_from(t.0.as_second()).unwrap_or(0));
        let spec = object.spec;
        let status = object.status.unwrap_or_default();
        let mut history = status.history;
        let state = match status.state {
            Some(state) => state,
            None => {
                history.push(Transition {
                    at: created,
                    state: TaskState::Queued,
                    note: "polled (its status was never written)".into(),
                });
                TaskState::Queued
            }
        };
        TaskRun {
            id: run_id(&spec.ticket_id),
            ticketing: spec.ticketing,
            ticket: Ticket {
                id: spec.ticket_id,
                ..spec.ticket
            },
            state,
            attempts: status.attempts,
            engine: spec.engine,
            steps: status.steps,
            result: status.result,
            gate: status.gate,
            reason: status.reason,
            approval_request: status.approval_request,
            approved_by: status.approved_by,
            job: status.job.map(|j| JobRef::Kubernetes {
                namespace: j.namespace,
                name: j.name,
            }),
            workspace: None,
            history,
            revision,
        }
    }

    fn conflict(run: &TaskRun, detail: String) -> StoreError {
        StoreError::Conflict {
            ticketing: run.ticketing.clone(),
            ticket: run.ticket.id.clone(),
            detail,
        }
    }
}

#[async_trait]
impl RunStore for CrdStore {
    async fn get(&self, ticketing: &str, ticket_id: &str) -> Result<Option<TaskRun>, StoreError> {
        let name = object_name(ticketing, ticket_id);
        let Some(object) = self
            .api
            .get_opt(&name)
            .await
            .map_err(api_error(format!("get TaskRun {}/{name}", self.namespace)))?
        else {
            return Ok(None);
        };
        if object.spec.ticketing != ticketing || object.spec.ticket_id != ticket_id {
            return Err(StoreError::Invalid {
                what: format!("TaskRun {}/{name}", self.namespace),
                message: format!(
                    "it is the run of ticket {:?} from {}, not of {ticket_id:?} from {ticketing}",
                    object.spec.ticket_id, object.spec.ticketing
                ),
            });
        }
        Ok(Some(CrdStore::run_of(object)))
    }

    async fn put(&self, run: &mut TaskRun) -> Result<(), StoreError> {
        let mut object = self.object_of(run)?;
        let name = object.name_any();
        let what = |verb: &str| format!("{verb} TaskRun {}/{name}", self.namespace);
        let status = object.status.clone();
        let revision = match &run.revision {
            Some(revision) => revision.clone(),
            None => {
                // New: the object (spec; the API server drops status on create), then status.
                let created = match self.api.create(&PostParams::default(), &object).await {
                    Ok(created) => created,
                    Err(e) if is_status(&e, |s| s.is_already_exists()) => {
                        return Err(CrdStore::conflict(
                            run,
                            format!(
                                "TaskRun {}/{name} exists already (another robodev created it)",
                                self.namespace
                            ),
                        ));
                    }
                    Err(e) => return Err(api_error(what("create"))(e)),
                };
                created.resource_version().unwrap_or_default()
            }
        };
        object.metadata = ObjectMeta {
            resource_version: Some(revision),
            ..object.metadata
        };
        object.status = status;
        match self
            .api
            .replace_status(&name, &PostParams::default(), &object)
            .await
        {
            Ok(written) => {
                run.revision = written.resource_version();
                Ok(())
            }
            Err(e) if is_status(&e, |s| s.is_conflict() || s.is_not_found()) => {
                Err(CrdStore::conflict(run, format!("{}: {e}", what("write"))))
            }
            Err(e) => Err(api_error(what("write the status of"))(e)),
        }
    }

    async fn all(&self) -> Result<Vec<TaskRun>, StoreError> {
        let list = self
            .api
            .list(&ListParams::default())
            .await
            .map_err(api_error(format!("list TaskRuns in {}", self.namespace)))?;
        let mut runs: Vec<TaskRun> = list.items.into_iter().map(CrdStore::run_of).collect();
        sort_runs(&mut runs);
        Ok(runs)
    }

    fn location(&self) -> String {
        format!("TaskRuns in namespace {}", self.namespace)
    }
}
