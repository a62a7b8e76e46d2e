//! The kubernetes executor against the real API server.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use robodev_controller::executor::{AgentJob, Ending, Executor, JobRef, Recovered, SecretEnv};
use robodev_core::Ticket;
use robodev_core::engine::ExecutionSpec;
use robodev_core::secrets::{EnvVar, SecretKeyRef};
use robodev_kube::{JobSettings, KubernetesExecutor};

use crate::support::{End, admin, finish, namespace};

fn attempt(task_run_id: &str, attempt: u32) -> AgentJob {
    AgentJob {
        task_run_id: task_run_id.into(),
        attempt,
        ticket: Ticket {
            id: "PROJ-1".into(),
            title: "Fix it".into(),
            ..Default::default()
        },
        spec: ExecutionSpec {
            image: "ghcr.io/acme/agent:1".into(),
            command: vec!["agent".into()],
            env: BTreeMap::from([("MODE".into(), "fast".into())]),
            ..Default::default()
        },
        prompt: "Fix PROJ-1".into(),
        secret_env: SecretEnv::References(vec![EnvVar {
            name: "TOKEN".into(),
            value: String::new(),
            secret_ref: Some(SecretKeyRef {
                name: "robodev".into(),
                key: "token".into(),
            }),
        }]),
        deadline: Duration::from_secs(600),
    }
}

async fn executor(namespace: &str) -> KubernetesExecutor {
    KubernetesExecutor::new(
        admin().await,
        JobSettings {
            namespace: namespace.into(),
            service_account: None,
            ttl_after_finished: Duration::from_secs(3600),
            runtime_class: None,
            engine: "local".into(),
        },
    )
}

fn name_of(at: &JobRef) -> String {
    match at {
        JobRef::Kubernetes { name, .. } => name.clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_attempt_is_a_job_its_result_the_termination_message() {
    let client = admin().await;
    let ns = namespace(&client, "exec-ok").await;
    let executor = executor(&ns).await;
    let job = attempt("tr-PROJ-1", 1);
    let at = executor.prepare(&job).await.unwrap();
    let name = name_of(&at);
    let started = executor.start(&at, &job).await.unwrap();
    // The Job as the API server stored it: RoboDev's conventions, no secret value.
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let stored = jobs.get(&name).await.unwrap();
    let spec = stored.spec.as_ref().unwrap();
    assert_eq!(spec.backoff_limit, Some(0));
    assert_eq!(spec.active_deadline_seconds, Some(600));
    assert_eq!(spec.ttl_seconds_after_finished, Some(3600));
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert_eq!(pod.automount_service_account_token, Some(false));
    let env = pod.containers[0].env.as_ref().unwrap();
    let token = env.iter().find(|e| e.name == "TOKEN").unwrap();
    assert_eq!(token.value, None);
    assert_eq!(
        token
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap()
            .key,
        "token"
    );
    assert_eq!(
        stored.metadata.labels.as_ref().unwrap()["robodev.io/task-run-id"],
        "tr-PROJ-1"
    );

    // The agent ends and writes its result; the executor was watching.
    let waiting = tokio::spawn(started.wait());
    tokio::time::sleep(Duration::from_millis(300)).await;
    finish(
        &client,
        &ns,
        &name,
        End::Complete(Some(
            r#"{"success":true,"summary":"fixed","branchName":"robodev/proj-1"}"#,
        )),
    )
    .await;
    let ending = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the watch sees the Job finish")
        .unwrap()
        .unwrap();
    let Ending::Finished { result, .. } = ending else {
        panic!("{ending:?}")
    };
    assert!(result.success);
    assert_eq!(result.summary, "fixed");
    assert_eq!(result.branch_name, "robodev/proj-1");

    // Removal deletes the Job and its pods.
    executor.remove(&at).await;
    assert!(jobs.get_opt(&name).await.unwrap().is_none());
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let left = pods
        .list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={name}")))
        .await
        .unwrap();
    assert!(left.items.is_empty(), "{:?}", left.items);
}

#[tokio::test]
async fn failures_time_outs_and_silent_agents_are_told_apart() {
    let client = admin().await;
    let ns = namespace(&client, "exec-fail").await;
    let executor = executor(&ns).await;
    let cases: [(&str, End<'_>, &str); 4] = [
        (
            "tr-silent",
            End::Complete(None),
            "completed but left no result",
        ),
        (
            "tr-garbled",
            End::Complete(Some("all good!")),
            "is not a TaskResult",
        ),
        (
            "tr-failed",
            End::Failed(
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                Some("tests fail"),
            ),
            "failed (BackoffLimitExceeded: Job has reached the specified backoff limit); its termination message: tests fail",
        ),
        (
            "tr-deadline",
            End::Failed(
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
                None,
            ),
            "",
        ),
    ];
    for (id, end, said) in cases {
        let job = attempt(id, 1);
        let at = executor.prepare(&job).await.unwrap();
        let started = executor.start(&at, &job).await.unwrap();
        finish(&client, &ns, &name_of(&at), end).await;
        let ending = tokio::time::timeout(Duration::from_secs(30), started.wait())
            .await
            .unwrap()
            .unwrap();
        match ending {
            Ending::Broken { reason } => assert!(reason.contains(said), "{id}: {reason}"),
            Ending::TimedOut { limit } => {
                assert_eq!(id, "tr-deadline");
                assert_eq!(limit, Duration::from_secs(600));
            }
            other => panic!("{id}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_restarted_robodev_adopts_jobs_and_never_runs_an_attempt_twice() {
    let client = admin().await;
    let ns = namespace(&client, "exec-adopt").await;
    let executor = executor(&ns).await;
    let job = attempt("tr-adopt", 1);
    let at = executor.prepare(&job).await.unwrap();
    let name = name_of(&at);
    drop(executor.start(&at, &job).await.unwrap());
    // Started again (robodev restarted between start and saving): adopted, not duplicated.
    let again = executor.start(&at, &job).await.unwrap();
    drop(again);
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let listed = jobs
        .list(&ListParams::default().labels("robodev.io/task-run-id=tr-adopt"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    // Another attempt's Job under this name is refused, never taken for this one.
    let other = attempt("tr-adopt", 2);
    let foreign = executor.start(&at, &other).await.unwrap_err();
    assert!(
        foreign
            .to_string()
            .contains("belongs to another task run or attempt"),
        "{foreign}"
    );

    // Recovery: still running, then it ends.
    let Recovered::Running(running) = executor.recover(&at).await.unwrap() else {
        panic!("the Job still runs")
    };
    finish(
        &client,
        &ns,
        &name,
        End::Complete(Some(r#"{"success":true}"#)),
    )
    .await;
    let ending = tokio::time::timeout(Duration::from_secs(30), running.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(ending, Ending::Finished { .. }), "{ending:?}");
    // A finished Job is read at once; a deleted one is lost.
    assert!(matches!(
        executor.recover(&at).await.unwrap(),
        Recovered::Ended(Ending::Finished { .. })
    ));
    executor.remove(&at).await;
    assert!(matches!(
        executor.recover(&at).await.unwrap(),
        Recovered::Lost(_)
    ));
}
