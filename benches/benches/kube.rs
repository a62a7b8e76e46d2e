//! What robodev's Kubernetes work costs, against the test API server (kube-apiserver and etcd
//! built from source and started on loopback by robodev-test-support's `kube`; etcd runs
//! without fsync, as in the tests). Issue 12's targets:
//!
//! - **a poll cycle with 1,000 task runs in the cluster ≤ 1 s**: `Controller::pass` with 1,000
//!   TaskRuns stored and every polled ticket already handled (the worst case: each polled
//!   ticket is checked against the runs), TaskRun store and Jobs in the cluster;
//! - **controller RSS ≤ 150 MB**: this process's peak resident set after the poll cycles (an
//!   upper bound of the controller's: it also holds criterion and the bench's own setup);
//! - **Job created ≤ 50 ms after its ticket is claimed**: one new ticket per iteration, timed
//!   from the end of the pass that claimed and recorded it (the pass returns right after) to
//!   the moment the API server answered the Job's create; also from the start of the pass (list,
//!   poll, claim, record) and, for 20 tickets polled at once, to the last of their Jobs. The
//!   runs are deleted after each iteration (untimed), so every pass lists an empty store.
//!
//! The executor is the real `KubernetesExecutor`, wrapped only to note when its `start`
//! returned (the Job is created then) and to end the attempt at once (succeeded) instead of
//! waiting for an agent no node will run; the run then settles as the controller settles any
//! succeeded run (ticket marked, channel told, Job deleted), untimed, before the next iteration.
//!
//! `cargo bench -p robodev-benches --bench kube` (builds the API server first if needed).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{Criterion, criterion_group};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use robodev_controller::config::Config;
use robodev_controller::controller::Controller;
use robodev_controller::executor::{
    AgentJob, Ending, Executor, ExecutorError, JobRef, Recovered, SecretDelivery, Started,
};
use robodev_controller::runs::{RunStore, TaskRun, TaskState};
use robodev_core::{TaskResult, Ticket};
use robodev_kube::taskruns::{CrdStore, TaskRunObject};
use robodev_kube::{JobSettings, KubernetesExecutor};
use robodev_registry::{LoadOptions, Registry};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Task runs stored for the poll-cycle bench.
const STORED_RUNS: usize = 1000;
/// Tickets polled at once in the concurrent Job-creation bench.
const AT_ONCE: usize = 20;

/// The real executor, noting when each Job was created and ending the attempt right there.
#[derive(Debug)]
struct Timed {
    inner: KubernetesExecutor,
    created: mpsc::UnboundedSender<Instant>,
}

#[derive(Debug)]
struct EndsAtOnce;

#[async_trait]
impl Started for EndsAtOnce {
    async fn wait(self: Box<Self>) -> Result<Ending, ExecutorError> {
        Ok(Ending::Finished {
            result: TaskResult {
                success: true,
                summary: "bench: the attempt ends when its Job exists".into(),
                ..TaskResult::default()
            },
            diff: String::new(),
        })
    }
}

#[async_trait]
impl Executor for Timed {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn secret_delivery(&self) -> SecretDelivery {
        self.inner.secret_delivery()
    }

    async fn prepare(&self, job: &AgentJob) -> Result<JobRef, ExecutorError> {
        self.inner.prepare(job).await
    }

    async fn start(&self, at: &JobRef, job: &AgentJob) -> Result<Box<dyn Started>, ExecutorError> {
        let started = self.inner.start(at, job).await?;
        // Sent before anything else happens, so the instant is the create's answer.
        let _ = self.created.send(Instant::now());
        drop(started);
        Ok(Box::new(EndsAtOnce))
    }

    async fn recover(&self, at: &JobRef) -> Result<Recovered, ExecutorError> {
        self.inner.recover(at).await
    }

    async fn remove(&self, at: &JobRef) {
        self.inner.remove(at).await;
    }
}

fn ticket_line(id: &str) -> String {
    format!(
        "  - {{ id: {id}, title: t, ticket_type: bug_fix, labels: [robodev], repo_url: https://git.example/acme/api }}\n"
    )
}

fn write_tickets(dir: &Path, ids: impl Iterator<Item = String>) {
    let lines: String = ids.map(|id| ticket_line(&id)).collect();
    std::fs::write(dir.join("tickets.yaml"), format!("tickets:\n{lines}")).expect("tickets");
}

/// A controller of built-ins (local ticketing and engine, a log channel) with the real
/// executor (timed) and TaskRuns in `namespace`.
async fn controller(
    dir: &Path,
    client: &kube::Client,
    namespace: &str,
    extra: &str,
) -> (Arc<Controller>, Registry, mpsc::UnboundedReceiver<Instant>) {
    let text = format!(
        "state_dir: state\n\
         ticketing: {{ backend: local, config: {{ file: tickets.yaml }}, labels: [robodev], max_results: 20 }}\n\
         notifications: {{ channels: [ {{ backend: log }} ] }}\n\
         engines: {{ default: local, local: {{ image: ghcr.io/acme/agent:1, command: [agent] }} }}\n\
         executor: {{ kind: kubernetes, namespace: {namespace} }}\n\
         task_runs: {{ store: kubernetes, namespace: {namespace} }}\n{extra}"
    );
    let config = Config::parse(&text, &dir.join("robodev-config.yaml")).expect("config");
    let options = LoadOptions::no_compile_cache();
    let registry = Registry::load(&config.host(), options)
        .await
        .expect("plugins");
    let (tx, rx) = mpsc::unbounded_channel();
    let executor = Timed {
        inner: KubernetesExecutor::new(
            client.clone(),
            JobSettings {
                namespace: namespace.to_owned(),
                service_account: None,
                ttl_after_finished: Duration::from_secs(600),
                runtime_class: None,
                engine: "local".into(),
            },
        ),
        created: tx,
    };
    let controller = Controller::new(Arc::new(config), &registry)
        .expect("controller")
        .with_executor(Arc::new(executor))
        .with_runs(Arc::new(CrdStore::new(client.clone(), namespace)));
    (Arc::new(controller), registry, rx)
}

/// The chart's CRD, created once and waited for until the API server serves it.
async fn apply_crd(client: &kube::Client) {
    let repo = robodev_test_support::repo::repo_root();
    let text = std::fs::read_to_string(repo.join("charts/robodev/crds/taskruns.robodev.dev.yaml"))
        .expect("the chart's CRD");
    let crd: CustomResourceDefinition = serde_norway::from_str(&text).expect("CRD yaml");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    match crds.create(&PostParams::default(), &crd).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("creating the CRD: {e}"),
    }
    let name = crd.metadata.name.expect("named");
    for _ in 0..200 {
        let now = crds.get(&name).await.expect("CRD");
        if now.status.and_then(|s| s.conditions).is_some_and(|c| {
            c.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        }) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the CRD was not Established in 10 s");
}

/// Stores `n` settled task runs for tickets `P-0`.. in `store`, 16 writes at a time.
async fn store_settled(store: Arc<CrdStore>, n: usize) {
    let mut writes = JoinSet::new();
    for i in 0..n {
        while writes.len() >= 16 {
            writes.join_next().await.expect("a write").expect("joined");
        }
        let store = store.clone();
        writes.spawn(async move {
            let ticket = Ticket {
                id: format!("P-{i}"),
                title: "t".into(),
                ticket_type: "bug_fix".into(),
                labels: vec!["robodev".into()],
                repo_url: "https://git.example/acme/api".into(),
                ..Ticket::default()
            };
            let mut run = TaskRun::new("local", ticket, "local");
            run.attempts = 1;
            run.result = Some(TaskResult {
                success: true,
                summary: "fixed".into(),
                ..TaskResult::default()
            });
            run.transition(TaskState::Succeeded, "stored by the bench");
            run.steps.reported = true;
            run.steps.complete_notified = true;
            store.put(&mut run).await.expect("stored");
        });
    }
    while let Some(done) = writes.join_next().await {
        done.expect("joined");
    }
}

/// A `/proc/PID/status` figure in MB (`VmRSS`, `VmHWM`: the peak).
fn status_mb(pid: &str, key: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| {
        l.strip_prefix(key)
            .is_some_and(|rest| rest.starts_with(':'))
    })?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Poll cycles `robodev run` makes over the stored runs before its memory is read.
const RSS_CYCLES: usize = 10;

/// The real controller's memory: `robodev run` (the bench-profile binary beside this bench,
/// `cargo build --profile bench -p robodev-cli`) over the same 1,000 TaskRuns and tickets,
/// polling every second; its resident set after RSS_CYCLES poll cycles.
fn controller_rss(dir: &Path, namespace: &str) {
    let Some(robodev) = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("robodev")))
        .filter(|path| path.exists())
    else {
        eprintln!(
            "kube bench: robodev run's RSS not measured: no robodev binary beside this bench; \
             build it first with `cargo build --profile bench -p robodev-cli`"
        );
        return;
    };
    let config = dir.join("robodev-run.yaml");
    std::fs::write(
        &config,
        format!(
            "state_dir: run-state\n\
             poll_interval: 1s\n\
             ticketing: {{ backend: local, config: {{ file: tickets.yaml }}, labels: [robodev], max_results: 20 }}\n\
             notifications: {{ channels: [ {{ backend: log }} ] }}\n\
             engines: {{ default: local, local: {{ image: ghcr.io/acme/agent:1, command: [agent] }} }}\n\
             executor: {{ kind: kubernetes, namespace: {namespace} }}\n\
             task_runs: {{ store: kubernetes, namespace: {namespace} }}\n"
        ),
    )
    .expect("config");
    let log = dir.join("robodev-run.log");
    let mut child = std::process::Command::new(&robodev)
        .args(["run", "--config"])
        .arg(&config)
        .env(
            "KUBECONFIG",
            &robodev_test_support::kube::cluster().kubeconfig,
        )
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("robodev run");
    let pid = child.id().to_string();
    let began = Instant::now();
    let mut cycles = 0;
    while began.elapsed() < Duration::from_secs(120) {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        cycles = text.matches("polled local: 20 ready ticket(s)").count();
        if cycles >= RSS_CYCLES || child.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let rss = status_mb(&pid, "VmRSS");
    let peak = status_mb(&pid, "VmHWM");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        cycles >= RSS_CYCLES
            && !text.contains("already handled (Queued)")
            && !text.contains("agent Job created"),
        "robodev run did not make {RSS_CYCLES} poll cycles over the stored runs: {text}"
    );
    match (rss, peak) {
        (Some(rss), Some(peak)) => eprintln!(
            "kube bench: robodev run ({}) after {cycles} poll cycles over {STORED_RUNS} TaskRuns: RSS {rss:.0} MB, peak {peak:.0} MB",
            robodev.display()
        ),
        _ => eprintln!("kube bench: robodev run's memory unknown (no /proc/{pid}/status)"),
    }
}

fn kube(c: &mut Criterion) {
    let rt = Runtime::new().expect("runtime");
    let _cluster = robodev_test_support::kube::cluster();
    let client = rt.block_on(robodev_test_support::kube::admin());
    rt.block_on(apply_crd(&client));

    // A poll cycle with 1,000 task runs stored and 20 tickets polled (max_results), all handled.
    {
        let ns = rt.block_on(robodev_test_support::kube::namespace(&client, "bench-poll"));
        let dir = tempfile::tempdir().expect("tempdir");
        write_tickets(dir.path(), (0..STORED_RUNS).map(|i| format!("P-{i}")));
        let (controller, _registry, _rx) = rt.block_on(controller(dir.path(), &client, &ns, ""));
        let began = Instant::now();
        rt.block_on(store_settled(
            Arc::new(CrdStore::new(client.clone(), &ns)),
            STORED_RUNS,
        ));
        eprintln!(
            "kube bench: {STORED_RUNS} task runs stored in {:.1} s",
            began.elapsed().as_secs_f64()
        );
        let mut group = c.benchmark_group("kube");
        group.sample_size(20);
        group.bench_function("poll cycle, 1000 task runs in the cluster", |b| {
            b.to_async(&rt).iter(|| async {
                let mut tasks = JoinSet::new();
                let report = controller.pass(&mut tasks).await.expect("pass");
                assert!(tasks.is_empty() && report.dispatched.is_empty());
                assert_eq!(report.already_handled.len(), 20, "{report:?}");
                report
            });
        });
        group.finish();
        match status_mb("self", "VmHWM") {
            Some(mb) => eprintln!("kube bench: peak RSS of this process {mb:.0} MB"),
            None => eprintln!("kube bench: peak RSS unknown (no /proc/self/status)"),
        }
        controller_rss(dir.path(), &ns);
    }

    // Job creation: one new ticket per iteration, and AT_ONCE at a time.
    for (at_once, label) in [(1, "1 ticket"), (AT_ONCE, "20 tickets at once")] {
        let ns = rt.block_on(robodev_test_support::kube::namespace(&client, "bench-job"));
        let dir = tempfile::tempdir().expect("tempdir");
        write_tickets(dir.path(), std::iter::empty());
        let extra = format!("guardrails: {{ max_concurrent_jobs: {at_once} }}\n");
        let (controller, _registry, mut created) =
            rt.block_on(controller(dir.path(), &client, &ns, &extra));
        let taskruns: Api<TaskRunObject> = Api::namespaced(client.clone(), &ns);
        let mut next = 0_usize;
        let mut group = c.benchmark_group("kube job created");
        group.sample_size(20);
        group.measurement_time(Duration::from_secs(15));
        // Whole pass (list, poll, claim, record) to the last Job; pass end to the last Job.
        for from_pass_start in [false, true] {
            let name = if from_pass_start {
                format!("{label}, from the pass's start")
            } else {
                format!("{label}, from the claim")
            };
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        // Only the new tickets are ready; earlier ones are settled.
                        write_tickets(dir.path(), (next..next + at_once).map(|i| format!("J-{i}")));
                        next += at_once;
                        total += rt.block_on(async {
                            let mut tasks = JoinSet::new();
                            let pass_start = Instant::now();
                            let report = controller.pass(&mut tasks).await.expect("pass");
                            let claimed = Instant::now();
                            assert_eq!(report.dispatched.len(), at_once, "{report:?}");
                            let mut last = claimed;
                            for _ in 0..at_once {
                                last = created.recv().await.expect("a Job");
                            }
                            // The runs settle (untimed) before the next iteration, and are
                            // deleted, so that every pass lists the same (empty) store.
                            while let Some(run) = tasks.join_next().await {
                                let run = run.expect("joined");
                                assert_eq!(run.state, TaskState::Succeeded, "{:?}", run.reason);
                            }
                            taskruns
                                .delete_collection(&DeleteParams::default(), &ListParams::default())
                                .await
                                .expect("TaskRuns deleted");
                            last - if from_pass_start { pass_start } else { claimed }
                        });
                    }
                    total
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, kube);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
