//! A real Kubernetes API server (kube-apiserver and etcd, built from source by
//! `scripts/build-kube`) on loopback, one per test process, started by `scripts/kube-up` the
//! first time a test asks for it and stopped by a watcher when the test process ends. There
//! is no kubelet and no controller-manager: tests play those (Job status, pods' termination
//! messages) through the API.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateTerminated, ContainerStatus, Namespace, Pod, PodSpec,
    PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::repo::repo_root;

/// The running API server.
#[derive(Debug)]
pub struct Cluster {
    /// Its directory (certificates, tokens, logs).
    pub dir: PathBuf,
    /// `https://127.0.0.1:PORT`.
    pub server: String,
    /// A kubeconfig with the admin token (group system:masters).
    pub kubeconfig: PathBuf,
    /// A kubeconfig with the token of user `robodev-test`, who has no rights until a test
    /// grants some by RBAC.
    pub user_kubeconfig: PathBuf,
    /// The user's name in RBAC subjects.
    pub user: &'static str,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// The API server of this test process (started, and built if needed, the first time).
///
/// # Panics
/// When it cannot be built or started (the error says why; the logs are in its directory).
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(start)
}

fn run(script: &str, args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts").join(script))
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run scripts/{script}: {e}"));
    assert!(out.status.success(), "scripts/{script} {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn start() -> Cluster {
    run("build-kube", &["--quiet"]);
    let dir = std::env::temp_dir().join(format!("robodev-kube-{}", std::process::id()));
    let dir_text = dir.display().to_string();
    let env = run("kube-up", &[&dir_text]);
    // Stopped when this process ends, however it ends.
    let reaper = format!(
        "while kill -0 {} 2>/dev/null; do sleep 1; done; exec bash '{}' --rm '{}' >/dev/null 2>&1",
        std::process::id(),
        repo_root().join("scripts/kube-down").display(),
        dir_text
    );
    // `setsid -f` forks the reaper off and returns at once: waited for here, it outlives us.
    let status = Command::new("setsid")
        .args(["-f", "bash", "-c", &reaper])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("cannot start the API server's reaper");
    assert!(
        status.success(),
        "cannot start the API server's reaper: {status}"
    );
    let value = |key: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|v| v.trim_matches(['"', '\'']).to_owned())
            .unwrap_or_else(|| panic!("scripts/kube-up printed no {key}: {env}"))
    };
    let server = value("KUBE_SERVER");
    let kubeconfig = PathBuf::from(value("KUBECONFIG"));
    let user_token = value("KUBE_USER_TOKEN");
    let admin = std::fs::read_to_string(&kubeconfig).expect("the kubeconfig kube-up wrote");
    let admin_token = value("KUBE_TOKEN");
    let user_kubeconfig = dir.join("user-kubeconfig");
    std::fs::write(&user_kubeconfig, admin.replace(&admin_token, &user_token))
        .expect("cannot write the user's kubeconfig");
    Cluster {
        dir,
        server,
        kubeconfig,
        user_kubeconfig,
        user: "robodev-test",
    }
}

/// The label the Job controller puts on a Job's pods.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";

/// A client with the identity of `kubeconfig`.
pub async fn client_of(kubeconfig: &Path) -> kube::Client {
    // As robodev's main does: ring for the whole process (an error: one is installed).
    let _ = rustls::crypto::ring::default_provider().install_default();
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
                labels: Some([(JOB_NAME_LABEL.to_owned(), name.to_owned())].into()),
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
