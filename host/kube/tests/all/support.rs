//! Clients of the test API server, fresh namespaces, and the kubelet's and Job controller's
//! parts played by hand.

use std::path::Path;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateTerminated, ContainerStatus, Namespace, Pod, PodSpec,
    PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

pub use robodev_test_support::kube::cluster;

/// A client with the identity of `kubeconfig`.
pub async fn client_of(kubeconfig: &Path) -> kube::Client {
    // As robodev's main does: ring for the whole process.
    robodev_oci::tls::install_default_provider();
    let config = kube::Config::from_custom_kubeconfig(
        Kubeconfig::read_from(kubeconfig).unwrap(),
        &KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// An admin client.
pub async fn admin() -> kube::Client {
    client_of(&cluster().kubeconfig).await
}

/// A new namespace of its own for one test.
pub async fn namespace(client: &kube::Client, prefix: &str) -> String {
    let name = format!("{prefix}-{}", std::process::id() as u64 * 1000 + fastrand());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    name
}

fn fastrand() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn now() -> Time {
    Time(jiff::Timestamp::now())
}

/// How the played Job controller ends Job `name`.
pub enum End<'a> {
    /// Complete, the agent's termination message as given (`None`: it wrote nothing).
    Complete(Option<&'a str>),
    /// Failed with this reason and message, the termination message as given.
    Failed(&'a str, &'a str, Option<&'a str>),
}

/// Plays the kubelet and the Job controller: a pod for Job `name` whose `agent` container
/// terminated with `message`, then the Job's final conditions.
pub async fn finish(client: &kube::Client, namespace: &str, name: &str, end: End<'_>) {
    let (complete, reason, text, message) = match end {
        End::Complete(m) => (true, "", "", m),
        End::Failed(r, t, m) => (false, r, t, m),
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod_name = format!("{name}-pod");
    pods.create(
        &PostParams::default(),
        &Pod {
            metadata: ObjectMeta {
                name: Some(pod_name.clone()),
                labels: Some(
                    [(
                        robodev_kube::job::JOB_NAME_LABEL.to_owned(),
                        name.to_owned(),
                    )]
                    .into(),
                ),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "agent".into(),
                    image: Some("agent:test".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut pod = pods.get(&pod_name).await.unwrap();
    pod.status = Some(PodStatus {
        phase: Some(if complete { "Succeeded" } else { "Failed" }.into()),
        container_statuses: Some(vec![ContainerStatus {
            name: "agent".into(),
            image: "agent:test".into(),
            image_id: "sha256:0".into(),
            ready: false,
            restart_count: 0,
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: i32::from(!complete),
                    message: message.map(str::to_owned),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ..Default::default()
    });
    pods.replace_status(&pod_name, &PostParams::default(), &pod)
        .await
        .unwrap();

    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    let mut job = jobs.get(name).await.unwrap();
    let condition = |type_: &str, reason: &str, message: &str| JobCondition {
        type_: type_.into(),
        status: "True".into(),
        reason: (!reason.is_empty()).then(|| reason.to_owned()),
        message: (!message.is_empty()).then(|| message.to_owned()),
        last_transition_time: Some(now()),
        last_probe_time: Some(now()),
    };
    // What the API server's validation wants beside the final condition.
    job.status = Some(if complete {
        JobStatus {
            start_time: Some(now()),
            completion_time: Some(now()),
            succeeded: Some(1),
            conditions: Some(vec![
                condition("SuccessCriteriaMet", "CompletionsReached", ""),
                condition("Complete", "CompletionsReached", ""),
            ]),
            ..Default::default()
        }
    } else {
        JobStatus {
            start_time: Some(now()),
            failed: Some(1),
            conditions: Some(vec![
                condition("FailureTarget", reason, text),
                condition("Failed", reason, text),
            ]),
            ..Default::default()
        }
    });
    jobs.replace_status(name, &PostParams::default(), &job)
        .await
        .unwrap();
}
