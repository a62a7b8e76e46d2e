//! `robodev run --once` with the kubernetes executor, end to end against the real API server
//! (robodev-test-support's kube): a ticket becomes a Job, the test plays the Job controller
//! and the kubelet (the agent's result in its termination message), robodev reports to the
//! ticketing backend and the notification channels, and removes the Job.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams};
use robodev_test_support::kube::{End, admin, cluster, finish, namespace};

use crate::{code, robodev_command, stderr};

/// `robodev run --once --config CONFIG` against the API server of `kubeconfig`, its output
/// captured.
fn run_once(
    d: &std::path::Path,
    config: &std::path::Path,
    kubeconfig: &std::path::Path,
    env: &[(&str, &str)],
) -> std::process::Child {
    robodev_command(d, &["run", "--once", "--config", config.to_str().unwrap()])
        .env("KUBECONFIG", kubeconfig)
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Creates `crd` (one another test of this process created already is fine) and waits until
/// the API server serves it (Established).
async fn apply_crd(
    client: &kube::Client,
    crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    match crds.create(&kube::api::PostParams::default(), &crd).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("{e}"),
    }
    let name = crd.metadata.name.unwrap();
    for _ in 0..100 {
        let now = crds.get(&name).await.unwrap();
        let established = now.status.and_then(|s| s.conditions).is_some_and(|c| {
            c.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        });
        if established {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("CRD {name} was not Established within 10 s");
}

/// The state of each TaskRun in `ns`, as `kubectl get taskruns` shows it (read as plain
/// objects: what the cluster stores, not what robodev's types make of it).
async fn task_run_states(client: &kube::Client, ns: &str) -> Vec<String> {
    let taskruns: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "robodev.dev",
            "v1alpha1",
            "TaskRun",
        )),
    );
    let listed = taskruns.list(&ListParams::default()).await.unwrap();
    listed
        .items
        .iter()
        .map(|o| {
            o.data["status"]["state"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// The first agent Job to appear in `jobs`.
async fn first_job(jobs: &Api<Job>) -> Job {
    for _ in 0..600 {
        let listed = jobs
            .list(&ListParams::default().labels("app=robodev-agent"))
            .await
            .unwrap();
        if let Some(job) = listed.items.into_iter().next() {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("robodev created no Job in 60 s")
}

#[test]
fn a_ticket_runs_as_a_job_and_its_result_is_reported() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(admin());
    let ns = runtime.block_on(namespace(&client, "cli-run"));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("tickets.yaml"),
        "tickets:\n  - { id: K-1, title: Fix the build, ticket_type: bug_fix, labels: [robodev], repo_url: https://git.example/acme/api }\n",
    )
    .unwrap();
    let config = d.join("robodev-config.yaml");
    std::fs::write(
        &config,
        format!(
            "state_dir: state\n\
             ticketing: {{ backend: local, config: {{ file: tickets.yaml }}, labels: [robodev] }}\n\
             notifications: {{ channels: [ {{ backend: log }} ] }}\n\
             engines: {{ default: local, local: {{ image: ghcr.io/acme/agent:1, command: [agent, --go], timeout_seconds: 900 }} }}\n\
             executor: {{ kind: kubernetes, namespace: {ns}, ttl_after_finished: 10m }}\n"
        ),
    )
    .unwrap();
    let robodev = run_once(d, &config, &cluster().kubeconfig, &[]);

    // The Job robodev creates for the ticket's first attempt, as the API server stores it.
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let job = runtime.block_on(first_job(&jobs));
    let name = job.metadata.name.clone().unwrap();
    let labels = job.metadata.labels.clone().unwrap();
    assert_eq!(labels["robodev.io/task-run-id"], "tr-K-1");
    assert_eq!(labels["robodev.io/attempt"], "1");
    assert_eq!(labels["robodev.io/engine"], "local");
    let spec = job.spec.as_ref().unwrap();
    assert_eq!(spec.backoff_limit, Some(0));
    assert_eq!(spec.active_deadline_seconds, Some(900));
    assert_eq!(spec.ttl_seconds_after_finished, Some(600));
    let container = &spec.template.spec.as_ref().unwrap().containers[0];
    assert_eq!(container.image.as_deref(), Some("ghcr.io/acme/agent:1"));
    assert_eq!(container.command.as_ref().unwrap(), &["agent", "--go"]);

    // The agent succeeds and says so in its termination message.
    runtime.block_on(finish(
        &client,
        &ns,
        &name,
        End::Complete(Some(
            r#"{"success":true,"summary":"fixed the build","branchName":"robodev/K-1"}"#,
        )),
    ));
    let out = robodev.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("K-1")
            && summary.contains("Succeeded")
            && summary.contains("fixed the build"),
        "{summary}"
    );
    // The log channel was told the outcome, the ticket got the result, the Job is gone.
    let log = stderr(&out);
    assert!(
        log.contains("agents run as Kubernetes Jobs in namespace"),
        "{log}"
    );
    assert!(log.contains("succeeded"), "{log}");
    let state =
        std::fs::read_to_string(d.join("state/ticketing-local/state.json")).unwrap_or_default();
    assert!(state.contains("fixed the build"), "{state}");
    assert!(runtime.block_on(jobs.get_opt(&name)).unwrap().is_none());
}

/// The chart's CRD, ServiceAccount and Role, applied to the API server as `helm install` would,
/// are enough for robodev: it runs a ticket with that identity (Jobs and their pods, the task
/// run as a TaskRun object, the k8s secrets backend reading the admin token, leader election
/// on a Lease) and nothing is forbidden.
#[test]
fn the_charts_role_is_all_robodev_needs() {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    use kube::api::{ObjectMeta, PostParams};

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(admin());
    let ns = runtime.block_on(namespace(&client, "chart-rbac"));
    let repo = robodev_test_support::repo::repo_root();

    // `helm template` of the chart for this namespace: its ServiceAccounts, Role, RoleBinding.
    let helm = repo.join("target/tools/bin/helm");
    if !helm.exists() {
        robodev_test_support::repo::run_script("build-helm", &[]);
    }
    let rendered = std::process::Command::new(&helm)
        .args(["template", "robodev", "--include-crds"])
        .arg(repo.join("charts/robodev"))
        .args(["--namespace", &ns])
        .output()
        .unwrap();
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let text = String::from_utf8(rendered.stdout).unwrap();
    let mut account = None;
    runtime.block_on(async {
        for doc in text.split("\n---") {
            let value: serde_norway::Value = match serde_norway::from_str(doc) {
                Ok(v) => v,
                Err(_) => continue,
            };
            let kind = value
                .get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or_default();
            let pp = PostParams::default();
            match kind {
                "CustomResourceDefinition" => {
                    apply_crd(&client, serde_norway::from_value(value).unwrap()).await;
                }
                "ServiceAccount" => {
                    let sa: ServiceAccount = serde_norway::from_value(value).unwrap();
                    Api::<ServiceAccount>::namespaced(client.clone(), &ns)
                        .create(&pp, &sa)
                        .await
                        .unwrap();
                }
                "Role" => {
                    let role: Role = serde_norway::from_value(value).unwrap();
                    Api::<Role>::namespaced(client.clone(), &ns)
                        .create(&pp, &role)
                        .await
                        .unwrap();
                }
                "RoleBinding" => {
                    let binding: RoleBinding = serde_norway::from_value(value).unwrap();
                    account = binding
                        .subjects
                        .as_ref()
                        .unwrap()
                        .first()
                        .map(|s| s.name.clone());
                    Api::<RoleBinding>::namespaced(client.clone(), &ns)
                        .create(&pp, &binding)
                        .await
                        .unwrap();
                }
                _ => {}
            }
        }
    });
    let account = account.expect("the chart binds its Role to a ServiceAccount");

    // A token of that ServiceAccount (what its pod would mount), in a kubeconfig.
    let token = runtime.block_on(async {
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns);
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                audiences: Some(vec!["https://kubernetes.default.svc.cluster.local".into()]),
                expiration_seconds: Some(3600),
                ..Default::default()
            }),
            ..Default::default()
        };
        accounts
            .create_token_request(&account, &PostParams::default(), &request)
            .await
            .unwrap()
            .status
            .unwrap()
            .token
            .expect("a token")
    });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let admin_config = std::fs::read_to_string(&cluster().kubeconfig).unwrap();
    let admin_token = admin_config
        .lines()
        .find_map(|l| l.trim().strip_prefix("token:"))
        .unwrap()
        .trim()
        .trim_matches('"')
        .to_owned();
    let kubeconfig = d.join("kubeconfig");
    std::fs::write(&kubeconfig, admin_config.replace(&admin_token, &token)).unwrap();

    // The Secret the admin API's token comes from (the k8s secrets backend reads it).
    runtime.block_on(async {
        Api::<Secret>::namespaced(client.clone(), &ns)
            .create(
                &PostParams::default(),
                &Secret {
                    metadata: ObjectMeta {
                        name: Some("robodev-secrets".into()),
                        ..Default::default()
                    },
                    data: Some([("admin-token".to_owned(), ByteString(b"t0ken".to_vec()))].into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        d.join("tickets.yaml"),
        "tickets:\n  - { id: R-1, title: t, ticket_type: bug_fix, labels: [robodev], repo_url: https://git.example/acme/api }\n",
    )
    .unwrap();
    let config = d.join("robodev-config.yaml");
    std::fs::write(
        &config,
        format!(
            "state_dir: state\n\
             ticketing: {{ backend: local, config: {{ file: tickets.yaml }}, labels: [robodev] }}\n\
             secrets: {{ backend: k8s, config: {{ namespace: {ns}, secret: robodev-secrets }} }}\n\
             admin: {{ listen: \"127.0.0.1:{port}\", token_secret: admin-token }}\n\
             engines: {{ default: local, local: {{ image: ghcr.io/acme/agent:1, command: [agent] }} }}\n\
             executor: {{ kind: kubernetes, namespace: {ns}, service_account: robodev-agent }}\n\
             task_runs: {{ store: kubernetes, namespace: {ns} }}\n\
             leader_election: {{ enabled: true, namespace: {ns} }}\n"
        ),
    )
    .unwrap();
    let robodev = run_once(
        d,
        &config,
        &kubeconfig,
        &[("ROBODEV_POD_NAME", "robodev-test-0")],
    );
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let name = runtime.block_on(first_job(&jobs)).metadata.name.unwrap();
    runtime.block_on(finish(
        &client,
        &ns,
        &name,
        End::Complete(Some(r#"{"success":true,"summary":"done"}"#)),
    ));
    let out = robodev.wait_with_output().unwrap();
    let log = stderr(&out);
    assert_eq!(code(&out), 0, "{log}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Succeeded"),
        "{log}"
    );
    assert!(log.contains("this replica leads"), "{log}");
    // The API server's refusals say "forbidden" (HTTP 403 Forbidden).
    assert!(
        !log.to_lowercase().contains("forbidden"),
        "the Role lacks something: {log}"
    );
    // It removed the Job with the Role's rights, and the run is a TaskRun in the cluster.
    assert!(runtime.block_on(jobs.get_opt(&name)).unwrap().is_none());
    let stored = runtime.block_on(task_run_states(&client, &ns));
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0], "Succeeded");
}

/// What a running robodev wrote on stderr, each line with when it was read.
struct Lines(std::sync::Arc<std::sync::Mutex<Vec<(std::time::Instant, String)>>>);

impl Lines {
    fn follow(child: &mut std::process::Child) -> Lines {
        use std::io::BufRead;
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().unwrap().push((std::time::Instant::now(), line));
            }
        });
        Lines(lines)
    }

    /// When a line containing `text` was first read, waiting up to `limit` for it.
    fn wait_for(&self, text: &str, limit: Duration) -> std::time::Instant {
        let start = std::time::Instant::now();
        loop {
            if let Some((at, _)) = self
                .0
                .lock()
                .unwrap()
                .iter()
                .find(|(_, l)| l.contains(text))
            {
                return *at;
            }
            assert!(
                start.elapsed() < limit,
                "no {text:?} within {limit:?}: {}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn text(&self) -> String {
        let lines = self.0.lock().unwrap();
        lines
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Kills a child when dropped (a failing test leaves no robodev behind).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Replicas of robodev with leader election on one namespace (the TaskRun CRD applied, one
/// ticket `ticket`, a log channel, Jobs and TaskRuns in the cluster), each started with its
/// own pod name and state directory.
struct Replicas {
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
    ns: String,
    dir: tempfile::TempDir,
}

impl Replicas {
    /// `lease`: the leader_election timings (`lease_duration: 4s, ...`).
    fn new(prefix: &str, ticket: &str, lease: &str) -> Replicas {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let client = runtime.block_on(admin());
        let ns = runtime.block_on(namespace(&client, prefix));
        let repo = robodev_test_support::repo::repo_root();
        let crd =
            std::fs::read_to_string(repo.join("charts/robodev/crds/taskruns.robodev.dev.yaml"))
                .unwrap();
        runtime.block_on(apply_crd(&client, serde_norway::from_str(&crd).unwrap()));
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("tickets.yaml"),
            format!("tickets:\n  - {{ id: {ticket}, title: t, ticket_type: bug_fix, labels: [robodev], repo_url: https://git.example/acme/api }}\n"),
        )
        .unwrap();
        std::fs::write(
            d.join("robodev-config.yaml"),
            format!(
                "poll_interval: 1s\n\
                 ticketing: {{ backend: local, config: {{ file: tickets.yaml }}, labels: [robodev] }}\n\
                 notifications: {{ channels: [ {{ backend: log }} ] }}\n\
                 engines: {{ default: local, local: {{ image: ghcr.io/acme/agent:1, command: [agent] }} }}\n\
                 executor: {{ kind: kubernetes, namespace: {ns} }}\n\
                 task_runs: {{ store: kubernetes, namespace: {ns} }}\n\
                 leader_election: {{ enabled: true, namespace: {ns}, {lease} }}\n"
            ),
        )
        .unwrap();
        Replicas {
            runtime,
            client,
            ns,
            dir,
        }
    }

    /// `robodev run` as pod `who`, its stderr followed.
    fn start(&self, who: &str) -> (Killed, Lines) {
        let d = self.dir.path();
        let config = d.join("robodev-config.yaml");
        let mut child = robodev_command(d, &["run", "--config", config.to_str().unwrap()])
            .env("KUBECONFIG", &cluster().kubeconfig)
            .env("ROBODEV_POD_NAME", who)
            .env("ROBODEV_STATE_DIR", d.join(format!("state-{who}")))
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Lines::follow(&mut child);
        (Killed(child), lines)
    }
}

/// Two robodevs with leader election: the leader is SIGKILLed while its agent's Job runs; the
/// standby takes over once the lease has expired (never before: two leaders never act at
/// once), resumes the run from its TaskRun, adopts the Job rather than starting the attempt
/// again, and finishes it.
#[test]
fn a_standby_takes_over_a_killed_leaders_run_without_running_it_twice() {
    let replicas = Replicas::new(
        "takeover",
        "H-1",
        "lease_duration: 4s, renew_deadline: 3s, retry_period: 500ms",
    );
    let (runtime, client, ns) = (&replicas.runtime, &replicas.client, &replicas.ns);
    let start = |who: &str| replicas.start(who);
    let (mut a, a_lines) = start("robodev-a");
    a_lines.wait_for("this replica leads", Duration::from_secs(60));
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let job = runtime.block_on(first_job(&jobs));
    let name = job.metadata.name.unwrap();
    let (b, b_lines) = start("robodev-b");
    b_lines.wait_for("standing by", Duration::from_secs(60));

    // The leader dies mid-run, without a chance to release its lease.
    a.0.kill().unwrap();
    let killed = std::time::Instant::now();
    let _ = a.0.wait();
    let led = b_lines.wait_for("this replica leads", Duration::from_secs(60));
    let took = led.duration_since(killed);
    // Not before the lease could have expired (its last renewal was at most one retry period
    // before the kill): never two leaders acting at once.
    assert!(
        took >= Duration::from_millis(3500),
        "the standby led {took:?} after the kill, before the 4 s lease could expire"
    );
    eprintln!("takeover after {took:?} (lease 4 s, retry 0.5 s)");
    b_lines.wait_for("resuming: waiting for", Duration::from_secs(30));

    // The agent finishes; the new leader reports it.
    runtime.block_on(finish(
        client,
        ns,
        &name,
        End::Complete(Some(r#"{"success":true,"summary":"done under b"}"#)),
    ));
    b_lines.wait_for("Running -> Succeeded", Duration::from_secs(30));
    // One Job for the ticket's one attempt: the standby adopted it, never started another.
    let listed = runtime
        .block_on(jobs.list(&ListParams::default().labels("robodev.io/task-run-id=tr-H-1")))
        .unwrap();
    assert!(listed.items.len() <= 1, "{:?}", listed.items);
    let log_b = b_lines.text();
    assert!(
        !log_b.contains("agent Job created"),
        "b created a Job: {log_b}"
    );
    drop(b);
}

/// A leader stopped with SIGTERM while its agent's Job runs does not wait for the agent (the
/// Job keeps running without it): it hands the run over at once, Running on its TaskRun, and
/// releases its lease; the next robodev leads at once, adopts the Job and finishes the run.
#[test]
fn a_stopped_leader_hands_its_running_job_over_at_once() {
    let replicas = Replicas::new(
        "handover",
        "S-1",
        "lease_duration: 30s, renew_deadline: 20s, retry_period: 500ms",
    );
    let (runtime, client, ns) = (&replicas.runtime, &replicas.client, &replicas.ns);
    let start = |who: &str| replicas.start(who);
    let (mut a, a_lines) = start("robodev-a");
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let name = runtime.block_on(first_job(&jobs)).metadata.name.unwrap();
    // The channel hears of the start once the Job exists, not before.
    let created = a_lines.wait_for("agent Job created", Duration::from_secs(30));
    let told = a_lines.wait_for("started ticket S-1", Duration::from_secs(30));
    assert!(told >= created, "{}", a_lines.text());

    let status = std::process::Command::new("kill")
        .args(["-TERM", &a.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // It exits without waiting for the agent (which the test never finishes before this).
    let exited = std::time::Instant::now();
    let code = loop {
        if let Some(status) = a.0.try_wait().unwrap() {
            break status.code();
        }
        assert!(
            exited.elapsed() < Duration::from_secs(20),
            "robodev still runs 20 s after SIGTERM: {}",
            a_lines.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0), "{}", a_lines.text());
    a_lines.wait_for("handed over while its agent runs", Duration::from_secs(5));
    // The Job is left running, the TaskRun says Running.
    assert!(runtime.block_on(jobs.get_opt(&name)).unwrap().is_some());
    let stored = runtime.block_on(task_run_states(client, ns));
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0], "Running");

    // The next robodev leads at once (the lease was released, not left to expire after 30 s),
    // adopts the Job and finishes the run when the agent ends; no second Job, no second start
    // notification.
    let (b, b_lines) = start("robodev-b");
    b_lines.wait_for("this replica leads", Duration::from_secs(20));
    b_lines.wait_for("resuming: waiting for", Duration::from_secs(30));
    runtime.block_on(finish(
        client,
        ns,
        &name,
        End::Complete(Some(
            r#"{"success":true,"summary":"done after the hand-over"}"#,
        )),
    ));
    b_lines.wait_for("Running -> Succeeded", Duration::from_secs(30));
    let log_b = b_lines.text();
    assert!(!log_b.contains("agent Job created"), "{log_b}");
    assert!(!log_b.contains("started ticket S-1"), "{log_b}");
    drop(b);
}
