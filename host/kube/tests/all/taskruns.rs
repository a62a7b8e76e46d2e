//! The TaskRun store against the real API server, on the chart's own CRD.

use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use robodev_controller::executor::JobRef;
use robodev_controller::runs::{RunStore, StoreError, TaskRun, TaskState};
use robodev_core::{TaskResult, Ticket};
use robodev_kube::names::{is_dns_label, is_label_value};
use robodev_kube::taskruns::{
    CrdStore, TICKET_LABEL, TICKETING_LABEL, TaskRunObject, TaskRunSpec, object_name,
};

use crate::support::{admin, namespace};

const CRD_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../charts/robodev/crds/taskruns.robodev.dev.yaml"
);

/// The chart's CRD, applied (server-side, so every test of the process may do it) and
/// Established.
async fn install_crd(client: &kube::Client) -> CustomResourceDefinition {
    let crd: CustomResourceDefinition =
        serde_norway::from_str(&std::fs::read_to_string(CRD_FILE).unwrap()).unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = crd.metadata.name.clone().unwrap();
    crds.patch(
        &name,
        &PatchParams::apply("robodev-tests").force(),
        &Patch::Apply(&crd),
    )
    .await
    .unwrap();
    let start = Instant::now();
    loop {
        let now = crds.get(&name).await.unwrap();
        let established = now
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
        if established {
            return now;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the CRD never became Established"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ticket(id: &str) -> Ticket {
    Ticket {
        id: id.into(),
        title: "Fix it".into(),
        repo_url: "https://github.com/acme/app".into(),
        labels: vec!["robodev".into()],
        ..Default::default()
    }
}

/// `run` as the store gives it back (the revision is the store's, not part of the record).
fn without_revision(mut run: TaskRun) -> TaskRun {
    run.revision = None;
    run
}

#[tokio::test]
async fn the_crd_shows_runs_as_kubectl_get_does() {
    let client = admin().await;
    let crd = install_crd(&client).await;
    let version = &crd.spec.versions[0];
    assert_eq!(
        (crd.spec.group.as_str(), version.name.as_str()),
        ("robodev.dev", "v1alpha1")
    );
    let columns: Vec<(&str, &str)> = version
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| (c.name.as_str(), c.json_path.as_str()))
        .collect();
    assert_eq!(
        columns,
        [
            ("Ticket", ".spec.ticketId"),
            ("State", ".status.state"),
            ("Attempts", ".status.attempts"),
            ("Engine", ".spec.engine"),
            ("Age", ".metadata.creationTimestamp"),
        ]
    );
    assert!(
        version
            .subresources
            .as_ref()
            .is_some_and(|s| s.status.is_some())
    );
    // The columns' paths hold values on what the store writes.
    let ns = namespace(&client, "taskruns-columns").await;
    let store = CrdStore::new(client.clone(), &ns);
    let mut run = TaskRun::new("jira", ticket("PROJ-7"), "claude-code");
    store.put(&mut run).await.unwrap();
    let object = serde_json::to_value(
        Api::<TaskRunObject>::namespaced(client, &ns)
            .get(&object_name("jira", "PROJ-7"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(object["spec"]["ticketId"], "PROJ-7");
    assert_eq!(object["status"]["state"], "Queued");
    assert_eq!(object["status"]["attempts"], 0);
    assert_eq!(object["spec"]["engine"], "claude-code");
    assert!(object["metadata"]["creationTimestamp"].is_string());
}

#[tokio::test]
async fn runs_round_trip_refuse_conflicting_writes_and_survive_a_new_leader() {
    let client = admin().await;
    install_crd(&client).await;
    let ns = namespace(&client, "taskruns").await;
    let first = CrdStore::new(client.clone(), &ns);
    assert_eq!(first.get("jira", "PROJ_12/x").await.unwrap(), None);
    assert_eq!(first.all().await.unwrap(), Vec::new());

    // A ticket id that is no DNS name: the object's name is made one, the labels valid.
    let mut run = TaskRun::new("jira", ticket("PROJ_12/x"), "claude-code");
    first.put(&mut run).await.unwrap();
    let name = object_name("jira", "PROJ_12/x");
    assert!(is_dns_label(&name), "{name}");
    let object = Api::<TaskRunObject>::namespaced(client.clone(), &ns)
        .get(&name)
        .await
        .unwrap();
    let labels = object.metadata.labels.clone().unwrap();
    assert_eq!(labels[TICKETING_LABEL], "jira");
    assert!(is_label_value(&labels[TICKET_LABEL]));
    assert_eq!(
        object.spec,
        TaskRunSpec {
            ticketing: "jira".into(),
            ticket_id: "PROJ_12/x".into(),
            engine: "claude-code".into(),
            ticket: ticket("PROJ_12/x"),
        }
    );

    // Every field of the record survives the spec/status split.
    run.attempts = 1;
    run.steps.marked_in_progress = true;
    run.steps.start_notified_to = vec!["log".into()];
    run.approval_request = Some("req-1".into());
    run.approved_by = Some("alice".into());
    run.job = Some(JobRef::Kubernetes {
        namespace: ns.clone(),
        name: "robodev-tr-proj-12-1".into(),
    });
    run.transition(TaskState::Running, "attempt 1: agent started");
    first.put(&mut run).await.unwrap();
    run.result = Some(TaskResult {
        success: true,
        summary: "done".into(),
        branch_name: "robodev/PROJ-12".into(),
        ..Default::default()
    });
    run.transition(TaskState::Succeeded, "the agent succeeded: done");
    first.put(&mut run).await.unwrap();
    let back = first.get("jira", "PROJ_12/x").await.unwrap().unwrap();
    assert_eq!(back.revision, run.revision);
    assert_eq!(without_revision(back), without_revision(run.clone()));

    // A second replica read the same version; the first writes again; the second's write of
    // what it read is refused, not applied over the first's.
    let second = CrdStore::new(admin().await, &ns);
    let mut stale = second.get("jira", "PROJ_12/x").await.unwrap().unwrap();
    run.steps.reported = true;
    first.put(&mut run).await.unwrap();
    stale.steps.complete_notified = true;
    let refused = second.put(&mut stale).await.unwrap_err();
    assert!(
        matches!(&refused, StoreError::Conflict { ticket, .. } if ticket == "PROJ_12/x"),
        "{refused:?}"
    );
    let now = second.get("jira", "PROJ_12/x").await.unwrap().unwrap();
    assert!(now.steps.reported && !now.steps.complete_notified);
    // A new run for a ticket that has one is refused too (another replica created it).
    let mut twin = TaskRun::new("jira", ticket("PROJ_12/x"), "claude-code");
    assert!(matches!(
        second.put(&mut twin).await,
        Err(StoreError::Conflict { .. })
    ));

    // All runs, oldest first.
    let mut other = TaskRun::new("jira", ticket("PROJ-13"), "claude-code");
    other.history[0].at += 10;
    first.put(&mut other).await.unwrap();
    let all: Vec<TaskRun> = first
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(without_revision)
        .collect();
    assert_eq!(
        all,
        [
            without_revision(now.clone()),
            without_revision(other.clone())
        ]
    );

    // A new leader (a store of its own, a client of its own) reads what the first wrote and
    // carries the runs on; the old one can no longer write over it.
    let leader = CrdStore::new(admin().await, &ns);
    let mut resumed = leader.get("jira", "PROJ_12/x").await.unwrap().unwrap();
    assert_eq!(resumed.state, TaskState::Succeeded);
    assert_eq!(
        resumed.result.as_ref().unwrap().branch_name,
        "robodev/PROJ-12"
    );
    resumed.steps.complete_notified = true;
    leader.put(&mut resumed).await.unwrap();
    assert!(resumed.is_settled());
    assert!(matches!(
        first.put(&mut run).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        leader
            .all()
            .await
            .unwrap()
            .iter()
            .map(|r| (r.ticket.id.as_str(), r.is_settled()))
            .collect::<Vec<_>>(),
        [("PROJ_12/x", true), ("PROJ-13", false)]
    );
}

#[tokio::test]
async fn what_a_taskrun_cannot_hold_is_refused_and_a_run_without_status_is_queued() {
    let client = admin().await;
    install_crd(&client).await;
    let ns = namespace(&client, "taskruns-edges").await;
    let store = CrdStore::new(client.clone(), &ns);
    // A local workspace does not follow a run to another replica.
    let mut run = TaskRun::new("jira", ticket("PROJ-1"), "claude-code");
    run.job = Some(JobRef::Local {
        workspace: "/tmp/ws".into(),
    });
    assert!(matches!(
        store.put(&mut run).await,
        Err(StoreError::Invalid { .. })
    ));
    // Created, then stopped before the first status write: a run that has done nothing.
    let object = TaskRunObject::new(
        &object_name("jira", "PROJ-2"),
        TaskRunSpec {
            ticketing: "jira".into(),
            ticket_id: "PROJ-2".into(),
            engine: "claude-code".into(),
            ticket: ticket("PROJ-2"),
        },
    );
    Api::<TaskRunObject>::namespaced(client, &ns)
        .create(&PostParams::default(), &object)
        .await
        .unwrap();
    let mut found = store.get("jira", "PROJ-2").await.unwrap().unwrap();
    assert_eq!(found.state, TaskState::Queued);
    assert_eq!(found.id, "tr-PROJ-2");
    assert_eq!(found.history.len(), 1);
    // It is written on from where it is.
    found.transition(TaskState::Running, "attempt 1: agent started");
    store.put(&mut found).await.unwrap();
    assert_eq!(
        store.get("jira", "PROJ-2").await.unwrap().unwrap().state,
        TaskState::Running
    );
}
