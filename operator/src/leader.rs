//! Leader election with a coordination.k8s.io/v1 Lease, so that of several operator replicas
//! exactly one reconciles. The holder renews the lease every `renew_period`; another replica
//! takes over only once the lease has not been renewed for `lease_duration`. A leader that
//! cannot renew within its deadline stops its controllers before anyone else may take over.

use std::future::Future;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};

/// Settings of the election.
#[derive(Clone, Debug)]
pub struct LeaseSettings {
    /// Name of the Lease object.
    pub name: String,
    /// Namespace of the Lease object (the operator's own).
    pub namespace: String,
    /// This replica's identity, unique among the replicas (pod name plus a random part).
    pub identity: String,
    /// How long a lease is valid after its last renewal.
    pub lease_duration: Duration,
    /// How often the holder renews, and how often a candidate retries.
    pub renew_period: Duration,
}

impl LeaseSettings {
    /// 15 s leases renewed every 5 s: a crashed leader is replaced within about 20 s.
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> LeaseSettings {
        LeaseSettings {
            name: "lepton-operator".to_owned(),
            namespace: namespace.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_period: Duration::from_secs(5),
        }
    }

    /// A new identity from the pod name (`HOSTNAME`) and a random part, so that a restarted pod
    /// with the same name is not mistaken for the old holder.
    pub fn identity_from_environment() -> String {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "lepton-operator".to_owned());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!("{host}_{:08x}", nanos ^ std::process::id().rotate_left(16))
    }
}

/// What a replica does with the lease it sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseDecision {
    /// There is no lease: create it, holding it.
    Create,
    /// This replica holds it: renew it.
    Renew,
    /// Its holder let it expire (or released it): take it over.
    TakeOver,
    /// Someone else holds a valid lease: wait.
    Wait,
}

/// Decides from the observed lease. Pure, so every case is unit-tested.
pub fn decide(lease: Option<&Lease>, identity: &str, now: Timestamp) -> LeaseDecision {
    let Some(lease) = lease else {
        return LeaseDecision::Create;
    };
    let spec = lease.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder == identity {
        return LeaseDecision::Renew;
    }
    if holder.is_empty() {
        return LeaseDecision::TakeOver;
    }
    let duration = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(15)));
    let renewed = spec
        .renew_time
        .or(spec.acquire_time)
        .map(|t| t.0)
        .unwrap_or(Timestamp::UNIX_EPOCH);
    if renewed + duration < now {
        LeaseDecision::TakeOver
    } else {
        LeaseDecision::Wait
    }
}

/// The lease to write for `decision`, from the observed one.
fn next_lease(
    observed: Option<&Lease>,
    settings: &LeaseSettings,
    decision: &LeaseDecision,
    now: Timestamp,
) -> Lease {
    let mut lease = observed.cloned().unwrap_or_else(|| Lease {
        metadata: ObjectMeta {
            name: Some(settings.name.clone()),
            namespace: Some(settings.namespace.clone()),
            ..ObjectMeta::default()
        },
        spec: None,
    });
    let mut spec = lease.spec.take().unwrap_or_else(LeaseSpec::default);
    if *decision != LeaseDecision::Renew {
        spec.acquire_time = Some(MicroTime(now));
        spec.lease_transitions = Some(
            spec.lease_transitions.unwrap_or(0) + i32::from(*decision == LeaseDecision::TakeOver),
        );
    }
    spec.holder_identity = Some(settings.identity.clone());
    spec.lease_duration_seconds = Some(settings.lease_duration.as_secs().max(1) as i32);
    spec.renew_time = Some(MicroTime(now));
    lease.spec = Some(spec);
    lease
}

/// Campaigns for the lease and runs `work` while holding it. When the lease is lost, the work
/// future is dropped (its controllers stop) and the campaign starts again. Returns when `work`
/// returns (after a graceful shutdown it started itself), releasing the lease so that another
/// replica can take over at once. `on_change(true|false)` is told whenever leadership changes.
pub async fn run_while_leading<W, F>(
    api: Api<Lease>,
    settings: LeaseSettings,
    mut work: W,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    on_change: impl Fn(bool),
) where
    W: FnMut() -> F,
    F: Future<Output = ()>,
{
    loop {
        tokio::select! {
            acquired = acquire(&api, &settings) => { let () = acquired; }
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        tracing::info!(identity = %settings.identity, lease = %settings.name, "became the leader");
        on_change(true);
        let finished = tokio::select! {
            () = work() => true,
            () = keep_renewing(&api, &settings) => false,
        };
        on_change(false);
        if finished {
            release(&api, &settings).await;
            return;
        }
        tracing::error!(identity = %settings.identity, "lost the leader lease; controllers stopped");
    }
}

async fn acquire(api: &Api<Lease>, settings: &LeaseSettings) {
    loop {
        match try_acquire(api, settings).await {
            Ok(true) => return,
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "leader lease not acquired; retrying"),
        }
        tokio::time::sleep(settings.renew_period).await;
    }
}

/// One attempt; `Ok(true)` when this replica now holds the lease.
async fn try_acquire(api: &Api<Lease>, settings: &LeaseSettings) -> Result<bool, kube::Error> {
    let observed = api.get_opt(&settings.name).await?;
    let now = Timestamp::now();
    let decision = decide(observed.as_ref(), &settings.identity, now);
    let lease = next_lease(observed.as_ref(), settings, &decision, now);
    let written = match decision {
        LeaseDecision::Wait => return Ok(false),
        LeaseDecision::Create => api.create(&PostParams::default(), &lease).await,
        // The resourceVersion of the observed lease makes this a compare-and-swap: of two
        // replicas taking over at once, one gets 409 Conflict.
        LeaseDecision::Renew | LeaseDecision::TakeOver => {
            api.replace(&settings.name, &PostParams::default(), &lease)
                .await
        }
    };
    match written {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(error) => Err(error),
    }
}

/// Renews until the lease is lost: another holder appears, or no renewal succeeds within two
/// thirds of the lease duration (so this replica stops before any other may start).
async fn keep_renewing(api: &Api<Lease>, settings: &LeaseSettings) {
    let deadline = settings.lease_duration * 2 / 3;
    let mut last_renewal = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(settings.renew_period).await;
        match try_acquire(api, settings).await {
            Ok(true) => last_renewal = tokio::time::Instant::now(),
            Ok(false) => return,
            Err(error) => tracing::warn!(%error, "leader lease not renewed"),
        }
        if last_renewal.elapsed() > deadline {
            return;
        }
    }
}

async fn release(api: &Api<Lease>, settings: &LeaseSettings) {
    let Ok(Some(mut lease)) = api.get_opt(&settings.name).await else {
        return;
    };
    let Some(spec) = lease.spec.as_mut() else {
        return;
    };
    if spec.holder_identity.as_deref() != Some(settings.identity.as_str()) {
        return;
    }
    spec.holder_identity = None;
    match api
        .replace(&settings.name, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => tracing::info!(identity = %settings.identity, "released the leader lease"),
        Err(error) => tracing::warn!(%error, "leader lease not released; it will expire"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: Option<&str>, renewed_at: i64, duration: i32) -> Lease {
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_owned),
                renew_time: Some(MicroTime(Timestamp::from_second(renewed_at).unwrap())),
                lease_duration_seconds: Some(duration),
                ..LeaseSpec::default()
            }),
        }
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    #[test]
    fn decisions() {
        assert_eq!(decide(None, "a", at(100)), LeaseDecision::Create);
        assert_eq!(
            decide(Some(&lease(Some("a"), 0, 15)), "a", at(100)),
            LeaseDecision::Renew
        );
        assert_eq!(
            decide(Some(&lease(Some("b"), 90, 15)), "a", at(100)),
            LeaseDecision::Wait
        );
        assert_eq!(
            decide(Some(&lease(Some("b"), 80, 15)), "a", at(100)),
            LeaseDecision::TakeOver
        );
        assert_eq!(
            decide(Some(&lease(None, 99, 15)), "a", at(100)),
            LeaseDecision::TakeOver
        );
    }

    #[test]
    fn taking_over_counts_a_transition_and_renewing_keeps_the_acquire_time() {
        let settings = LeaseSettings::new("ns", "a");
        let old = lease(Some("b"), 0, 15);
        let taken = next_lease(Some(&old), &settings, &LeaseDecision::TakeOver, at(100));
        let spec = taken.spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
        assert_eq!(spec.lease_transitions, Some(1));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(100))));
        let held = lease(Some("a"), 100, 15);
        let renewed = next_lease(Some(&held), &settings, &LeaseDecision::Renew, at(105));
        let spec = renewed.spec.unwrap();
        assert_eq!(spec.renew_time, Some(MicroTime(at(105))));
        assert_eq!(spec.acquire_time, None);
        let created = next_lease(None, &settings, &LeaseDecision::Create, at(1));
        assert_eq!(created.metadata.name.as_deref(), Some("lepton-operator"));
        assert_eq!(created.spec.unwrap().lease_transitions, Some(0));
    }

    #[test]
    fn identities_differ() {
        let a = LeaseSettings::identity_from_environment();
        std::thread::sleep(Duration::from_millis(2));
        assert_ne!(a, LeaseSettings::identity_from_environment());
    }
}
