//! The TrainingJob controller: runs `lepton-runner train` as a batch/v1 Job on the job's node
//! pool and keeps the TrainingJob's status in step with it. The reconcile reads the Job and its
//! pods, asks [`decide::decide`] what to do, and does it.

pub mod decide;
pub mod desired;
pub mod report;

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use lepton_crds::status::training_job::{reasons, types};
use lepton_crds::v1alpha1::{TrainingJob, TrainingJobStatus};
use serde_json::json;

use crate::apply;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::events::{self, EventPolicy};
use crate::names::TRAINING_JOB_LABEL;
use decide::{Blocker, Decision, Observed};

/// Name of this controller in metrics and logs.
pub const CONTROLLER: &str = "trainingjob";

const EVENTS: EventPolicy = EventPolicy {
    warning_types: &[types::FAILED],
    warning_reasons: &[
        reasons::UNKNOWN_NODE_POOL,
        reasons::INVALID_SPEC,
        reasons::JOB_NAME_CONFLICT,
        reasons::JOB_LOST,
    ],
};

/// Reconciles one TrainingJob.
pub async fn reconcile(tj: Arc<TrainingJob>, ctx: Arc<Context>) -> Result<Action> {
    if tj.metadata.deletion_timestamp.is_some() {
        // Children go with it through their owner references.
        return Ok(Action::await_change());
    }
    let namespace = tj.namespace().ok_or(Error::MissingField {
        kind: "TrainingJob",
        field: "metadata.namespace",
    })?;
    let config = ctx.config.current();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = desired::job_name(&tj);

    // Read straight from the API server rather than a cache: a Job this controller has just
    // created must never look missing (which would mean "lost").
    let job = jobs.get_opt(&name).await?;
    let pods = match &job {
        Some(job) => pods_of(&ctx, &namespace, &tj, job).await?,
        None => Vec::new(),
    };
    let pool = config
        .pool(tj.spec.resources.node_pool.as_deref())
        .map_err(Blocker::UnknownPool);
    let desired_job = pool
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|pool| desired::job(&tj, &config, pool).map_err(Blocker::Invalid));
    let blocker = desired_job.as_ref().err();
    let observed = Observed {
        job: job.as_ref(),
        pods: &pods,
        pool: match (&pool, blocker) {
            (Ok(pool), None) => Ok(pool),
            (_, Some(blocker)) => Err(blocker),
            (Err(unknown), None) => Err(unknown),
        },
        currency: &config.currency,
    };
    let decision = decide::decide(&tj, observed, Timestamp::now());

    if decision.create_job
        && let Ok(job) = &desired_job
    {
        grant_runner_access(&ctx, &namespace, &tj).await?;
        apply::apply(&jobs, &name, job).await?;
        tracing::info!(trainingjob = %tj.name_any(), %namespace, job = %name, "created the training Job");
    }
    if let Some(change) = &decision.change_job {
        let mut spec = serde_json::Map::new();
        if let Some(suspend) = change.suspend {
            spec.insert("suspend".into(), json!(suspend));
        }
        if let Some(deadline) = change.active_deadline_seconds {
            spec.insert("activeDeadlineSeconds".into(), json!(deadline));
        }
        apply::merge(&jobs, &name, &json!({ "spec": spec })).await?;
    }
    let newly_terminal = decision.revoke_runner_access
        && !tj
            .status
            .as_ref()
            .and_then(|s| s.phase)
            .is_some_and(lepton_crds::status::training_job::is_terminal);
    if newly_terminal {
        revoke_runner_access(&ctx, &namespace, &tj).await?;
    }
    if decision.delete_job {
        apply::delete(&jobs, &name).await?;
        tracing::info!(trainingjob = %tj.name_any(), %namespace, job = %name, "deleted the Job (stopped, or ttlSecondsAfterFinished passed)");
    }
    write_status(&ctx, &namespace, &tj, &decision).await?;
    Ok(decision
        .requeue_after
        .map_or_else(Action::await_change, Action::requeue))
}

async fn pods_of(ctx: &Context, namespace: &str, tj: &TrainingJob, job: &Job) -> Result<Vec<Pod>> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let label = &desired::labels(tj)[TRAINING_JOB_LABEL];
    let job_uid = job.uid();
    let pods = api
        .list(&ListParams::default().labels(&format!("{TRAINING_JOB_LABEL}={label}")))
        .await?
        .items;
    Ok(pods
        .into_iter()
        .filter(|p| {
            p.owner_references()
                .iter()
                .any(|o| Some(&o.uid) == job_uid.as_ref())
        })
        .collect())
}

async fn grant_runner_access(ctx: &Context, namespace: &str, tj: &TrainingJob) -> Result<()> {
    let (account, role, binding) = desired::runner_access(tj);
    let name = desired::runner_access_name(tj);
    if let Some(account) = account {
        let api: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), namespace);
        apply::apply(&api, &name, &account).await?;
    }
    let api: Api<Role> = Api::namespaced(ctx.client.clone(), namespace);
    apply::apply(&api, &name, &role).await?;
    let api: Api<RoleBinding> = Api::namespaced(ctx.client.clone(), namespace);
    apply::apply(&api, &name, &binding).await?;
    Ok(())
}

/// Once the job has finished its runner has nothing left to write.
async fn revoke_runner_access(ctx: &Context, namespace: &str, tj: &TrainingJob) -> Result<()> {
    let name = desired::runner_access_name(tj);
    apply::delete(
        &Api::<RoleBinding>::namespaced(ctx.client.clone(), namespace),
        &name,
    )
    .await?;
    apply::delete(
        &Api::<Role>::namespaced(ctx.client.clone(), namespace),
        &name,
    )
    .await?;
    if desired::service_account(tj) == name {
        apply::delete(
            &Api::<ServiceAccount>::namespaced(ctx.client.clone(), namespace),
            &name,
        )
        .await?;
    }
    Ok(())
}

async fn write_status(
    ctx: &Context,
    namespace: &str,
    tj: &TrainingJob,
    decision: &Decision,
) -> Result<()> {
    let old = tj.status.clone().unwrap_or_default();
    if decision.status == old {
        return Ok(());
    }
    // The runner owns `progress`; applying it here would take it over with a stale value.
    let owned = TrainingJobStatus {
        progress: None,
        ..decision.status.clone()
    };
    let api: Api<TrainingJob> = Api::namespaced(ctx.client.clone(), namespace);
    let body = apply::status_body::<TrainingJob>(&tj.name_any(), &owned)?;
    apply::apply_status(&api, &tj.name_any(), &body).await?;
    let notes = events::transitions(&old.conditions, &decision.status.conditions, &EVENTS);
    if !notes.is_empty() {
        ctx.publish(&tj.object_ref(&()), notes).await;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::test_support::{merged, meta};
    use lepton_crds::v1alpha1::TrainingJob;

    /// A TrainingJob in namespace `ml` on Default.csv, with `spec_yaml` merged over a minimal
    /// spec.
    pub fn training_job(name: &str, spec_yaml: &str) -> TrainingJob {
        let spec = merged(
            serde_json::json!({
                "data": {"source": "https://example.com/Default.csv", "target": "default"},
            }),
            spec_yaml,
        );
        TrainingJob {
            metadata: meta(name),
            spec: serde_json::from_value(spec).unwrap(),
            status: None,
        }
    }
}
