//! Leader election on a real Lease: one leader, takeover after the holder stops or vanishes.

use std::time::{Duration, Instant};

use robodev_kube::lease::{LeaseSettings, Role, campaign};
use tokio::sync::{oneshot, watch};

use crate::support::{admin, namespace};

fn settings(ns: &str, identity: &str) -> LeaseSettings {
    LeaseSettings {
        namespace: ns.into(),
        name: "robodev".into(),
        identity: identity.into(),
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(300),
    }
}

struct Candidate {
    role: watch::Receiver<Role>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

async fn candidate(ns: &str, identity: &str) -> Candidate {
    let (tx, role) = watch::channel(Role::Unknown);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(campaign(admin().await, settings(ns, identity), tx, async {
        let _ = stopped.await;
    }));
    Candidate {
        role,
        stop: Some(stop),
        task,
    }
}

async fn until(role: &mut watch::Receiver<Role>, want: Role) {
    tokio::time::timeout(Duration::from_secs(20), role.wait_for(|r| *r == want))
        .await
        .unwrap_or_else(|_| panic!("never {want:?}"))
        .unwrap();
}

#[tokio::test]
async fn one_leader_at_a_time_and_a_standby_takes_over() {
    let client = admin().await;
    let ns = namespace(&client, "lease").await;
    let mut a = candidate(&ns, "robodev-a").await;
    until(&mut a.role, Role::Leader).await;
    let mut b = candidate(&ns, "robodev-b").await;
    until(&mut b.role, Role::Standby).await;
    // Never two leaders: watched for a few renewals.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!(*a.role.borrow() == Role::Leader && *b.role.borrow() == Role::Leader));
        assert_eq!(*b.role.borrow(), Role::Standby);
    }
    // A leader that stops releases the lease: the standby leads (without waiting for the
    // lease to expire; how fast is measured in BENCHMARKS.md, not asserted here).
    let _ = a.stop.take().unwrap().send(());
    a.task.await.unwrap();
    until(&mut b.role, Role::Leader).await;

    // A leader that vanishes (no release): the other takes over after the lease duration.
    b.task.abort();
    let vanished = Instant::now();
    let mut c = candidate(&ns, "robodev-c").await;
    until(&mut c.role, Role::Leader).await;
    // Never before the vanished holder's lease can have expired (its last renewal was at most
    // one retry period before it vanished): two leaders at once would be possible otherwise.
    let took = vanished.elapsed();
    assert!(
        took >= Duration::from_secs(3) - Duration::from_millis(300),
        "took over after {took:?}, before the lease (3 s) could expire"
    );
    let _ = c.stop.take().unwrap().send(());
    c.task.await.unwrap();
}
