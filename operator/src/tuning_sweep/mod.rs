//! The TuningSweep controller: runs a hyperparameter search with TrainingJobs as trials. The
//! reconcile lists the sweep's trials, asks [`decide::decide`] which to create and which to
//! stop, does it, and writes the status. Everything the search needs is read back from the
//! trials themselves, so a restarted operator resumes exactly where the last one stopped.

pub mod decide;
pub mod desired;
pub mod trials;

#[cfg(test)]
mod decide_tests;

use std::sync::Arc;

use jiff::Timestamp;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use lepton_crds::status::training_job::reasons as tj_reasons;
use lepton_crds::status::tuning_sweep::{reasons, types};
use lepton_crds::v1alpha1::{TrainingJob, TuningSweep};
use serde_json::json;

use crate::apply;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::events::{self, EventPolicy, Note};
use crate::names::{EARLY_STOPPED_ANNOTATION, STOP_ANNOTATION, TRIAL_INDEX_LABEL};
use decide::Decision;
use trials::Trial;

/// Name of this controller in metrics and logs.
pub const CONTROLLER: &str = "tuningsweep";

const EVENTS: EventPolicy = EventPolicy {
    warning_types: &[types::FAILED],
    warning_reasons: &[reasons::INVALID_SPEC],
};

/// Reconciles one TuningSweep.
pub async fn reconcile(sweep: Arc<TuningSweep>, ctx: Arc<Context>) -> Result<Action> {
    if sweep.metadata.deletion_timestamp.is_some() {
        // Trials go with it through their owner references.
        return Ok(Action::await_change());
    }
    let namespace = sweep.namespace().ok_or(Error::MissingField {
        kind: "TuningSweep",
        field: "metadata.namespace",
    })?;
    let api: Api<TrainingJob> = Api::namespaced(ctx.client.clone(), &namespace);
    let trials = list_trials(&api, &sweep).await?;
    let decision = decide::decide(&sweep, &trials, Timestamp::now());

    // Stop first: a finished sweep's trials must not run on because a later write failed.
    let mut notes = Vec::new();
    for stop in &decision.stop {
        let mut annotations = serde_json::Map::new();
        annotations.insert(STOP_ANNOTATION.into(), json!(stop.message));
        if stop.early {
            annotations.insert(EARLY_STOPPED_ANNOTATION.into(), json!(stop.message));
        }
        apply::merge(
            &api,
            &stop.name,
            &json!({"metadata": {"annotations": annotations}}),
        )
        .await?;
        tracing::info!(tuningsweep = %sweep.name_any(), %namespace, trial = %stop.name, message = %stop.message, "stopping a trial");
        notes.push(Note {
            warning: false,
            reason: if stop.early {
                tj_reasons::EARLY_STOPPED
            } else {
                tj_reasons::STOPPED_BY_SWEEP
            }
            .to_owned(),
            message: format!("stopped trial {}: {}", stop.name, stop.message),
            action: "StopTrial".to_owned(),
        });
    }
    // `kubectl describe ts` shows why each trial was stopped.
    if !notes.is_empty() {
        ctx.publish(&sweep.object_ref(&()), notes).await;
    }
    let mut decision = decision;
    for trial in &decision.create {
        match apply::create_once(&api, trial).await {
            Ok(true) => {
                tracing::info!(tuningsweep = %sweep.name_any(), %namespace, trial = %trial.name_any(), "created a trial");
            }
            Ok(false) => {}
            // The API server refuses the trial's spec (a parameter value outside what the
            // TrainingJob field allows): retrying cannot help, the sweep's spec must change.
            Err(Error::Kube(kube::Error::Api(status))) if status.code == 422 => {
                let message = format!(
                    "the API server rejected trial {}: {}; change spec.parameters or \
                     spec.template so that every trial is a valid TrainingJob",
                    trial.name_any(),
                    status.message
                );
                decision.status = decide::rejected(
                    decision.status.clone(),
                    message,
                    sweep.metadata.generation,
                    jiff::Timestamp::now(),
                );
                // The refused index was never used: the next try proposes it again.
                decision.status.next_trial_index = trial
                    .labels()
                    .get(TRIAL_INDEX_LABEL)
                    .and_then(|i| i.parse().ok());
                decision.requeue_after = None;
                break;
            }
            Err(error) => return Err(error),
        }
    }
    write_status(&ctx, &namespace, &sweep, &decision).await?;
    Ok(decision
        .requeue_after
        .map_or_else(Action::await_change, Action::requeue))
}

/// The sweep's trials, read from the API server rather than a cache: a trial created a moment
/// ago must be seen, or its index would be proposed again (harmless, since creation never
/// overwrites, but a wasted round).
async fn list_trials(api: &Api<TrainingJob>, sweep: &TuningSweep) -> Result<Vec<Trial>> {
    let uid = sweep.uid();
    let metric = sweep.spec.objective.metric.as_str();
    let mut trials: Vec<Trial> = api
        .list(&ListParams::default().labels(&desired::sweep_selector(sweep)))
        .await?
        .items
        .iter()
        .filter(|tj| {
            tj.owner_references()
                .iter()
                .any(|o| o.controller == Some(true) && Some(&o.uid) == uid.as_ref())
        })
        .filter_map(|tj| trials::read(tj, metric))
        .collect();
    trials.sort_by_key(|t| t.index);
    Ok(trials)
}

async fn write_status(
    ctx: &Context,
    namespace: &str,
    sweep: &TuningSweep,
    decision: &Decision,
) -> Result<()> {
    let old = sweep.status.clone().unwrap_or_default();
    if decision.status == old {
        return Ok(());
    }
    let api: Api<TuningSweep> = Api::namespaced(ctx.client.clone(), namespace);
    let body = apply::status_body::<TuningSweep>(&sweep.name_any(), &decision.status)?;
    apply::apply_status(&api, &sweep.name_any(), &body).await?;
    let notes = events::transitions(&old.conditions, &decision.status.conditions, &EVENTS);
    if !notes.is_empty() {
        ctx.publish(&sweep.object_ref(&()), notes).await;
    }
    Ok(())
}
