//! `robodev run --once` with the kubernetes executor, end to end against the real API server
//! (robodev-test-support's kube): a ticket becomes a Job, the test plays the Job controller
//! and the kubelet (the agent's result in its termination message), robodev reports to the
//! ticketing backend and the notification channels, and removes the Job.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams};
use robodev_test_support::kube::{End, admin, cluster, finish, namespace};

use crate::{code, robodev_command, stderr};

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
    let robodev = robodev_command(d, &["run", "--once", "--config", config.to_str().unwrap()])
        .env("KUBECONFIG", &cluster().kubeconfig)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    // The Job robodev creates for the ticket's first attempt, as the API server stores it.
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let job = runtime.block_on(async {
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
    });
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
