//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leader election does
//! it: one holder at a time, taken over only once the holder's claim has not changed for the
//! lease's duration by this candidate's own clock, every write conditional on the resource version read (so two candidates cannot
//! both win a race). A leader renews every retry period; one that has not renewed for the renew
//! deadline (shorter than the lease duration) stops acting, so it has stopped before anyone can
//! take the lease over.
//!
//! Why not a crate: kube-rs has no leader election of its own, and the crates that do
//! (kube-lease-manager, kubert) decide on renewal failures by their own grace rules; robodev's
//! guarantee ("stops acting before its lease can pass") needs the renew deadline to be the
//! rule, checked against robodev's own clock, which is a few dozen lines over the Lease API.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::watch;

use crate::executor::KubeError;

/// How a lease is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseSettings {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// Who this candidate is (the pod's name).
    pub identity: String,
    /// How long a holder's claim lasts after its last renewal.
    pub lease_duration: Duration,
    /// How long a leader keeps acting without a successful renewal (less than the duration).
    pub renew_deadline: Duration,
    /// How often a leader renews and a candidate tries to take the lease.
    pub retry_period: Duration,
}

/// Whether this candidate leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Not (yet) known: the Lease has not been read.
    Unknown,
    /// Another candidate holds the lease.
    Standby,
    /// This candidate holds the lease.
    Leader,
    /// This candidate held the lease and could not renew it in time: it must stop acting.
    Lost,
}

fn now() -> MicroTime {
    MicroTime(jiff::Timestamp::now())
}

/// Campaigns for the lease until it is held, then keeps renewing it; `role` tells the caller
/// where it stands. Returns only when the lease was lost (after setting [`Role::Lost`]) or
/// `stop` resolved (then a held lease is released so that a standby takes over at once).
pub async fn campaign(
    client: kube::Client,
    settings: LeaseSettings,
    role: watch::Sender<Role>,
    stop: impl Future<Output = ()>,
) {
    tokio::pin!(stop);
    let leases: Api<Lease> = Api::namespaced(client, &settings.namespace);
    let mut last_renewed: Option<Instant> = None;
    let mut observed: Option<Observed> = None;
    loop {
        let attempt_started = Instant::now();
        match try_hold(&leases, &settings, &mut observed).await {
            Ok(true) => {
                last_renewed = Some(attempt_started);
                if *role.borrow() != Role::Leader {
                    tracing::info!(lease = %settings.name, identity = %settings.identity, "leader election: this replica leads");
                    role.send_replace(Role::Leader);
                }
            }
            Ok(false) => {
                if *role.borrow() == Role::Leader {
                    // Someone else holds it now: stop at once.
                    tracing::error!(lease = %settings.name, "leader election: the lease was taken over; stopping");
                    role.send_replace(Role::Lost);
                    return;
                }
                if *role.borrow() == Role::Unknown {
                    tracing::info!(lease = %settings.name, "leader election: standing by (another replica leads)");
                    role.send_replace(Role::Standby);
                }
            }
            Err(e) => tracing::warn!(lease = %settings.name, "leader election: {e}"),
        }
        if *role.borrow() == Role::Leader
            && last_renewed.is_none_or(|t| t.elapsed() >= settings.renew_deadline)
        {
            tracing::error!(
                lease = %settings.name,
                "leader election: could not renew the lease within {:?}; stopping",
                settings.renew_deadline
            );
            role.send_replace(Role::Lost);
            return;
        }
        // A leader must try again before its renew deadline passes, whatever the period.
        let wait = match last_renewed.filter(|_| *role.borrow() == Role::Leader) {
            Some(t) => settings
                .retry_period
                .min(settings.renew_deadline.saturating_sub(t.elapsed())),
            None => settings.retry_period,
        };
        tokio::select! {
            () = &mut stop => {
                if *role.borrow() == Role::Leader {
                    release(&leases, &settings).await;
                }
                return;
            }
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Another holder's claim as this candidate last saw it, and when (by this candidate's clock):
/// a claim is expired once it has not changed for the lease duration, measured here, so the
/// clocks of the holder and the API server do not matter (as client-go does it).
#[derive(Debug, Clone, PartialEq)]
struct Observed {
    holder: String,
    renew_time: Option<MicroTime>,
    seen: Instant,
}

/// One attempt to take or renew the lease: `Ok(true)` when this candidate holds it now.
async fn try_hold(
    leases: &Api<Lease>,
    settings: &LeaseSettings,
    observed: &mut Option<Observed>,
) -> Result<bool, KubeError> {
    let api = |what: &str| {
        let what = format!("{what} Lease {}/{}", settings.namespace, settings.name);
        move |source| KubeError::Api { what, source }
    };
    let duration = i32::try_from(settings.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
    let Some(mut lease) = leases
        .get_opt(&settings.name)
        .await
        .map_err(api("reading"))?
    else {
        let fresh = Lease {
            metadata: ObjectMeta {
                name: Some(settings.name.clone()),
                namespace: Some(settings.namespace.clone()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(settings.identity.clone()),
                lease_duration_seconds: Some(duration),
                acquire_time: Some(now()),
                renew_time: Some(now()),
                lease_transitions: Some(0),
                ..Default::default()
            }),
        };
        return match leases.create(&PostParams::default(), &fresh).await {
            Ok(_) => Ok(true),
            // Another candidate created it first.
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(api("creating")(e)),
        };
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let mine = holder == settings.identity;
    if !mine && !holder.is_empty() {
        let held_for =
            Duration::from_secs(spec.lease_duration_seconds.unwrap_or(duration).max(0) as u64);
        let claim = (holder.clone(), spec.renew_time.clone());
        let unchanged_since = match observed.as_ref() {
            Some(o) if (o.holder.clone(), o.renew_time.clone()) == claim => o.seen,
            _ => {
                // A claim seen for the first time (or renewed since): its duration starts now.
                *observed = Some(Observed {
                    holder: claim.0,
                    renew_time: claim.1,
                    seen: Instant::now(),
                });
                return Ok(false);
            }
        };
        if unchanged_since.elapsed() < held_for {
            return Ok(false);
        }
    }
    if !mine {
        spec.holder_identity = Some(settings.identity.clone());
        spec.acquire_time = Some(now());
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.renew_time = Some(now());
    spec.lease_duration_seconds = Some(duration);
    // Conditional on the resourceVersion read: a concurrent writer makes this a 409.
    match leases
        .replace(&settings.name, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(api("updating")(e)),
    }
}

/// Gives the lease up (holder cleared), so that a standby takes over without waiting for it
/// to expire.
async fn release(leases: &Api<Lease>, settings: &LeaseSettings) {
    let Ok(Some(mut lease)) = leases.get_opt(&settings.name).await else {
        return;
    };
    let Some(spec) = lease.spec.as_mut() else {
        return;
    };
    if spec.holder_identity.as_deref() != Some(settings.identity.as_str()) {
        return;
    }
    spec.holder_identity = None;
    spec.renew_time = None;
    match leases
        .replace(&settings.name, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => tracing::info!(lease = %settings.name, "leader election: lease released"),
        Err(e) => {
            tracing::warn!(lease = %settings.name, "leader election: cannot release the lease: {e}")
        }
    }
}
