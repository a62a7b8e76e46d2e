//! The agent's batch/v1 Job, built from an attempt: RoboDev's conventions
//! (`robodev-<task run>` names, `app: robodev-agent` and `robodev.io/*` labels, one `agent`
//! container, the hardened security context, the workspace/home/tmp volumes, the
//! `robodev.io/agent` toleration) made safe: names and label values always valid, no retries
//! inside Kubernetes (`backoffLimit: 0`, `restartPolicy: Never`: robodev's guard rails decide
//! retries), the deadline as `activeDeadlineSeconds`, finished Jobs collected
//! (`ttlSecondsAfterFinished`), no service account token in the pod, and secrets only as
//! `secretKeyRef`s.
//!
//! The agent gets its task in its environment (`ROBODEV_PROMPT`, `ROBODEV_TICKET` as JSON,
//! `ROBODEV_TASK_RUN_ID`, `ROBODEV_ATTEMPT`) and writes its result JSON to
//! `ROBODEV_RESULT_FILE`, the container's termination message file (`/dev/termination-log`,
//! at most 4096 bytes), which robodev reads back from the pod's status.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource, PodSecurityContext,
    PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile, SecretKeySelector,
    SecurityContext, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::ObjectMeta;
use robodev_controller::executor::{AgentJob, SecretEnv};

use crate::names::{dns_label, label_value};

/// The agent container's name.
pub const CONTAINER: &str = "agent";
/// Where the agent writes its result: the container's termination message.
pub const RESULT_FILE: &str = "/dev/termination-log";
/// The agent's working directory (an emptyDir).
pub const WORKSPACE: &str = "/workspace";
/// The uid (and gid) the agent runs as.
pub const AGENT_UID: i64 = 10000;
/// Label of every agent Job and pod.
pub const APP_LABEL: (&str, &str) = ("app", "robodev-agent");
/// Label of the task run a Job belongs to (a label value: hashed when the id does not fit).
pub const TASK_RUN_LABEL: &str = "robodev.io/task-run-id";
/// Label of the attempt's number.
pub const ATTEMPT_LABEL: &str = "robodev.io/attempt";
/// Label of the engine.
pub const ENGINE_LABEL: &str = "robodev.io/engine";
/// Annotation holding the task run's id as it is (labels may hold it hashed).
pub const TASK_RUN_ANNOTATION: &str = "robodev.io/task-run-id";
/// The label the Job controller puts on a Job's pods.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// The largest prompt or ticket passed in the environment.
pub const MAX_ENV_VALUE_BYTES: usize = 64 * 1024;

/// Where and how agent Jobs run (the `executor:` section of robodev-config.yaml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSettings {
    /// The namespace of the Jobs.
    pub namespace: String,
    /// The pods' service account (its token is never mounted); `None`: the namespace default.
    pub service_account: Option<String>,
    /// How long a finished Job is kept before Kubernetes deletes it.
    pub ttl_after_finished: Duration,
    /// The pods' RuntimeClass (e.g. `gvisor`), if any.
    pub runtime_class: Option<String>,
    /// The engine's name, for the `robodev.io/engine` label.
    pub engine: String,
}

/// Why an attempt cannot be made into a Job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JobSpecError {
    /// The engine's spec names no image.
    #[error(
        "the engine's execution spec has no image; the kubernetes executor runs agents from images"
    )]
    NoImage,
    /// The engine's spec has no command.
    #[error("the engine's execution spec has an empty command")]
    NoCommand,
    /// Secrets came as values: a Job never holds a secret's value.
    #[error("the agent's secrets came as values; a Job takes secretKeyRefs only")]
    SecretValues,
    /// A secret variable without its reference.
    #[error("secret variable {0} has no secretKeyRef")]
    NoSecretRef(String),
    /// The prompt or the ticket is too large to pass in the environment.
    #[error("the {what} is {len} bytes; at most {MAX_ENV_VALUE_BYTES} pass to an agent Job")]
    TooLarge {
        /// `prompt` or `ticket`.
        what: &'static str,
        /// Its size.
        len: usize,
    },
    /// A resource quantity is not one.
    #[error("resource {what} {value:?} is not a Kubernetes quantity")]
    Quantity {
        /// e.g. `requests.cpu`.
        what: String,
        /// As written.
        value: String,
    },
}

/// The name of attempt `attempt` of task run `task_run_id`'s Job.
pub fn job_name(task_run_id: &str, attempt: u32) -> String {
    dns_label(&format!("robodev-{task_run_id}-{attempt}"))
}

/// The labels of the attempt's Job and pod.
pub fn labels(job: &AgentJob, engine: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (APP_LABEL.0.to_owned(), APP_LABEL.1.to_owned()),
        (TASK_RUN_LABEL.to_owned(), label_value(&job.task_run_id)),
        (ATTEMPT_LABEL.to_owned(), job.attempt.to_string()),
        (ENGINE_LABEL.to_owned(), label_value(engine)),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            "robodev".to_owned(),
        ),
    ])
}

fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.into()),
        ..Default::default()
    }
}

/// A quantity checked the way the API server would refuse it, so the error names the field.
fn quantity(what: String, value: &str) -> Result<Option<Quantity>, JobSpecError> {
    if value.is_empty() {
        return Ok(None);
    }
    let (number, suffix) = value.split_at(
        value
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(value.len()),
    );
    let suffixes = [
        "", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
    ];
    if number.is_empty() || number.parse::<f64>().is_err() || !suffixes.contains(&suffix) {
        return Err(JobSpecError::Quantity {
            what,
            value: value.to_owned(),
        });
    }
    Ok(Some(Quantity(value.to_owned())))
}

fn resources(
    kind: &str,
    r: Option<&robodev_core::engine::Resources>,
) -> Result<Option<BTreeMap<String, Quantity>>, JobSpecError> {
    let Some(r) = r else { return Ok(None) };
    let mut out = BTreeMap::new();
    for (name, value) in [("cpu", &r.cpu), ("memory", &r.memory)] {
        if let Some(q) = quantity(format!("{kind}.{name}"), value)? {
            out.insert(name.to_owned(), q);
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// The Job of `job` named `name` under `settings`.
pub fn build(settings: &JobSettings, job: &AgentJob, name: &str) -> Result<Job, JobSpecError> {
    let spec = &job.spec;
    if spec.image.is_empty() {
        return Err(JobSpecError::NoImage);
    }
    if spec.command.is_empty() {
        return Err(JobSpecError::NoCommand);
    }
    let ticket = serde_json::to_string(&job.ticket).unwrap_or_default();
    for (what, len) in [("prompt", job.prompt.len()), ("ticket", ticket.len())] {
        if len > MAX_ENV_VALUE_BYTES {
            return Err(JobSpecError::TooLarge { what, len });
        }
    }
    let mut env_vars: Vec<EnvVar> = spec.env.iter().map(|(k, v)| env(k, v)).collect();
    match &job.secret_env {
        SecretEnv::References(vars) => {
            for var in vars {
                let Some(r) = &var.secret_ref else {
                    return Err(JobSpecError::NoSecretRef(var.name.clone()));
                };
                env_vars.push(EnvVar {
                    name: var.name.clone(),
                    value_from: Some(EnvVarSource {
                        secret_key_ref: Some(SecretKeySelector {
                            name: r.name.clone(),
                            key: r.key.clone(),
                            optional: Some(false),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
            }
        }
        SecretEnv::Values(values) if values.is_empty() => {}
        SecretEnv::Values(_) => return Err(JobSpecError::SecretValues),
    }
    env_vars.extend([
        env("ROBODEV_TASK_RUN_ID", job.task_run_id.clone()),
        env("ROBODEV_ATTEMPT", job.attempt.to_string()),
        env("ROBODEV_WORKSPACE", WORKSPACE),
        env("ROBODEV_RESULT_FILE", RESULT_FILE),
        env("ROBODEV_PROMPT", job.prompt.clone()),
        env("ROBODEV_TICKET", ticket),
        env("HOME", "/home/robodev"),
    ]);

    let mut mounts = vec![
        ("workspace", WORKSPACE, false),
        ("home", "/home/robodev", false),
        ("tmp", "/tmp", false),
    ];
    for v in &spec.volumes {
        mounts.push((v.name.as_str(), v.mount_path.as_str(), v.read_only));
    }
    let volume_mounts = mounts
        .iter()
        .map(|(name, path, read_only)| VolumeMount {
            name: (*name).to_owned(),
            mount_path: (*path).to_owned(),
            read_only: read_only.then_some(true),
            ..Default::default()
        })
        .collect();
    let volumes = mounts
        .iter()
        .map(|(name, _, _)| Volume {
            name: (*name).to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        })
        .collect();

    let runtime_default = || SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        ..Default::default()
    };
    let container = Container {
        name: CONTAINER.to_owned(),
        image: Some(spec.image.clone()),
        command: Some(spec.command.clone()),
        env: Some(env_vars),
        working_dir: Some(WORKSPACE.to_owned()),
        resources: Some(ResourceRequirements {
            requests: resources("requests", spec.resource_requests.as_ref())?,
            limits: resources("limits", spec.resource_limits.as_ref())?,
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(AGENT_UID),
            run_as_group: Some(AGENT_UID),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Default::default()
            }),
            seccomp_profile: Some(runtime_default()),
            ..Default::default()
        }),
        termination_message_path: Some(RESULT_FILE.to_owned()),
        termination_message_policy: Some("File".to_owned()),
        volume_mounts: Some(volume_mounts),
        ..Default::default()
    };
    let labels = labels(job, &settings.engine);
    let annotations = BTreeMap::from([
        (TASK_RUN_ANNOTATION.to_owned(), job.task_run_id.clone()),
        ("robodev.io/ticket".to_owned(), job.ticket.id.clone()),
    ]);
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(settings.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(job.deadline.as_secs().max(1) as i64),
            ttl_seconds_after_finished: Some(
                i32::try_from(settings.ttl_after_finished.as_secs()).unwrap_or(i32::MAX),
            ),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_owned()),
                    automount_service_account_token: Some(false),
                    service_account_name: settings.service_account.clone(),
                    runtime_class_name: settings.runtime_class.clone(),
                    enable_service_links: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(AGENT_UID),
                        run_as_group: Some(AGENT_UID),
                        fs_group: Some(AGENT_UID),
                        seccomp_profile: Some(runtime_default()),
                        ..Default::default()
                    }),
                    tolerations: Some(vec![Toleration {
                        key: Some("robodev.io/agent".to_owned()),
                        operator: Some("Exists".to_owned()),
                        effect: Some("NoSchedule".to_owned()),
                        ..Default::default()
                    }]),
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use robodev_core::engine::{ExecutionSpec, Resources};
    use robodev_core::secrets::{EnvVar as CoreEnvVar, SecretKeyRef};

    fn attempt(task_run_id: &str) -> AgentJob {
        AgentJob {
            task_run_id: task_run_id.into(),
            attempt: 2,
            ticket: robodev_core::Ticket {
                id: "PROJ-7".into(),
                title: "Fix it".into(),
                ..Default::default()
            },
            spec: ExecutionSpec {
                image: "ghcr.io/acme/agent:1".into(),
                command: vec!["agent".into(), "--go".into()],
                env: BTreeMap::from([("MODE".into(), "fast".into())]),
                resource_requests: Some(Resources {
                    cpu: "500m".into(),
                    memory: "1Gi".into(),
                }),
                resource_limits: Some(Resources {
                    cpu: "2".into(),
                    memory: String::new(),
                }),
                ..Default::default()
            },
            prompt: "Fix PROJ-7".into(),
            secret_env: SecretEnv::References(vec![CoreEnvVar {
                name: "GITHUB_TOKEN".into(),
                value: String::new(),
                secret_ref: Some(SecretKeyRef {
                    name: "robodev-secrets".into(),
                    key: "github-token".into(),
                }),
            }]),
            deadline: Duration::from_secs(1800),
        }
    }

    fn settings() -> JobSettings {
        JobSettings {
            namespace: "agents".into(),
            service_account: Some("robodev-agent".into()),
            ttl_after_finished: Duration::from_secs(3600),
            runtime_class: None,
            engine: "claude-code".into(),
        }
    }

    #[test]
    fn the_job_follows_the_conventions_field_by_field() {
        let job = attempt("tr-PROJ-7");
        let name = job_name(&job.task_run_id, job.attempt);
        // Upper case is not allowed in a name: lowered, and told apart from `tr-proj-7` by a hash.
        let hash = name.strip_prefix("robodev-tr-proj-7-2-").unwrap();
        assert!(
            hash.len() == 8 && hash.chars().all(|c| c.is_ascii_hexdigit()),
            "{name}"
        );
        let built = build(&settings(), &job, &name).unwrap();
        let meta = &built.metadata;
        assert_eq!(meta.name.as_deref(), Some(name.as_str()));
        assert_eq!(meta.namespace.as_deref(), Some("agents"));
        let labels = meta.labels.as_ref().unwrap();
        assert_eq!(labels["app"], "robodev-agent");
        assert_eq!(labels[TASK_RUN_LABEL], "tr-PROJ-7");
        assert_eq!(labels[ATTEMPT_LABEL], "2");
        assert_eq!(labels[ENGINE_LABEL], "claude-code");
        assert_eq!(
            meta.annotations.as_ref().unwrap()[TASK_RUN_ANNOTATION],
            "tr-PROJ-7"
        );

        let spec = built.spec.as_ref().unwrap();
        assert_eq!(spec.backoff_limit, Some(0));
        assert_eq!(spec.active_deadline_seconds, Some(1800));
        assert_eq!(spec.ttl_seconds_after_finished, Some(3600));
        let template = &spec.template;
        assert_eq!(
            template.metadata.as_ref().unwrap().labels.as_ref(),
            Some(labels)
        );
        let pod = template.spec.as_ref().unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.automount_service_account_token, Some(false));
        assert_eq!(pod.service_account_name.as_deref(), Some("robodev-agent"));
        let toleration = &pod.tolerations.as_ref().unwrap()[0];
        assert_eq!(toleration.key.as_deref(), Some("robodev.io/agent"));
        assert_eq!(toleration.operator.as_deref(), Some("Exists"));
        assert_eq!(toleration.effect.as_deref(), Some("NoSchedule"));
        let pod_security = pod.security_context.as_ref().unwrap();
        assert_eq!(pod_security.run_as_non_root, Some(true));
        assert_eq!(
            pod_security.seccomp_profile.as_ref().unwrap().type_,
            "RuntimeDefault"
        );

        assert_eq!(pod.containers.len(), 1);
        let c = &pod.containers[0];
        assert_eq!(c.name, "agent");
        assert_eq!(c.image.as_deref(), Some("ghcr.io/acme/agent:1"));
        assert_eq!(c.command.as_ref().unwrap(), &["agent", "--go"]);
        let security = c.security_context.as_ref().unwrap();
        assert_eq!(security.run_as_non_root, Some(true));
        assert_eq!(security.run_as_user, Some(10000));
        assert_eq!(security.read_only_root_filesystem, Some(true));
        assert_eq!(security.allow_privilege_escalation, Some(false));
        assert_eq!(
            security
                .capabilities
                .as_ref()
                .unwrap()
                .drop
                .as_ref()
                .unwrap(),
            &["ALL"]
        );
        assert_eq!(
            security.seccomp_profile.as_ref().unwrap().type_,
            "RuntimeDefault"
        );
        assert_eq!(
            c.termination_message_path.as_deref(),
            Some("/dev/termination-log")
        );
        let resources = c.resources.as_ref().unwrap();
        assert_eq!(resources.requests.as_ref().unwrap()["cpu"].0, "500m");
        assert_eq!(resources.requests.as_ref().unwrap()["memory"].0, "1Gi");
        assert_eq!(resources.limits.as_ref().unwrap()["cpu"].0, "2");
        assert!(!resources.limits.as_ref().unwrap().contains_key("memory"));
        let mounts: Vec<(&str, &str)> = c
            .volume_mounts
            .as_ref()
            .unwrap()
            .iter()
            .map(|m| (m.name.as_str(), m.mount_path.as_str()))
            .collect();
        assert_eq!(
            mounts,
            [
                ("workspace", "/workspace"),
                ("home", "/home/robodev"),
                ("tmp", "/tmp")
            ]
        );
        for v in pod.volumes.as_ref().unwrap() {
            assert!(v.empty_dir.is_some(), "{v:?}");
        }

        // Plain env as values; secrets only as secretKeyRefs: no value in the Job.
        let env = c.env.as_ref().unwrap();
        let get = |n: &str| env.iter().find(|e| e.name == n).unwrap();
        assert_eq!(get("MODE").value.as_deref(), Some("fast"));
        let token = get("GITHUB_TOKEN");
        assert_eq!(token.value, None);
        let r = token
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(
            (r.name.as_str(), r.key.as_str()),
            ("robodev-secrets", "github-token")
        );
        assert_eq!(
            get("ROBODEV_RESULT_FILE").value.as_deref(),
            Some("/dev/termination-log")
        );
        assert_eq!(get("ROBODEV_PROMPT").value.as_deref(), Some("Fix PROJ-7"));
        let ticket: serde_json::Value =
            serde_json::from_str(get("ROBODEV_TICKET").value.as_deref().unwrap()).unwrap();
        assert_eq!(ticket["id"], "PROJ-7");
    }

    #[test]
    fn names_and_labels_stay_valid_for_any_ticket_id() {
        let long = format!("tr-{}", "ABC_def/ghi.".repeat(10));
        let job = attempt(&long);
        let name = job_name(&job.task_run_id, job.attempt);
        assert!(crate::names::is_dns_label(&name), "{name}");
        let labels = labels(&job, "an engine with spaces");
        for value in labels.values() {
            assert!(crate::names::is_label_value(value), "{value}");
        }
        // The id itself survives, whole, in the annotation.
        let built = build(&settings(), &job, &name).unwrap();
        assert_eq!(
            built.metadata.annotations.unwrap()[TASK_RUN_ANNOTATION],
            long
        );
    }

    #[test]
    fn what_cannot_run_as_a_job_is_refused_with_the_reason() {
        let mut job = attempt("tr-1");
        job.spec.image.clear();
        assert_eq!(build(&settings(), &job, "n"), Err(JobSpecError::NoImage));
        let mut job = attempt("tr-1");
        job.secret_env = SecretEnv::Values(BTreeMap::from([("T".into(), "v".into())]));
        assert_eq!(
            build(&settings(), &job, "n"),
            Err(JobSpecError::SecretValues)
        );
        let mut job = attempt("tr-1");
        job.spec.resource_limits = Some(Resources {
            cpu: "lots".into(),
            memory: String::new(),
        });
        assert_eq!(
            build(&settings(), &job, "n").unwrap_err().to_string(),
            r#"resource limits.cpu "lots" is not a Kubernetes quantity"#
        );
        let mut job = attempt("tr-1");
        job.prompt = "x".repeat(MAX_ENV_VALUE_BYTES + 1);
        assert!(matches!(
            build(&settings(), &job, "n"),
            Err(JobSpecError::TooLarge { what: "prompt", .. })
        ));
    }
}
