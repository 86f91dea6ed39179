//! The ModelDeployment controller: serves a model with `lepton-runner serve` behind a Service,
//! rolls to a new model without an unready window, runs a canary beside it, and keeps the
//! status in step with the pods' real readiness and live figures. The reconcile resolves the
//! model, applies the children, observes them, and asks [`decide::decide`] for the status.

pub mod decide;
pub mod desired;
pub mod scrape;
pub mod source;
pub mod sweep_source;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use lepton_crds::status::model_deployment::{reasons, types};
use lepton_crds::v1alpha1::{ModelDeployment, ModelSource, ServedModel, TrainingJob, TuningSweep};

use crate::apply;
use crate::config::OperatorConfig;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::events::{self, EventPolicy};
use crate::names::{MODEL_DEPLOYMENT_LABEL, TRACK_LABEL};
use decide::{Blocker, Inputs, Live};
use desired::Track;
use source::{Resolution, SweepView};

/// Name of this controller in metrics and logs.
pub const CONTROLLER: &str = "modeldeployment";

const EVENTS: EventPolicy = EventPolicy {
    warning_types: &[types::DEGRADED],
    warning_reasons: &[
        reasons::UNKNOWN_NODE_POOL,
        reasons::INVALID_SPEC,
        reasons::MODEL_UNAVAILABLE,
        reasons::DIGEST_MISMATCH,
        reasons::UNSUPPORTED_SOURCE,
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "Unschedulable",
    ],
};

/// Reconciles one ModelDeployment.
pub async fn reconcile(md: Arc<ModelDeployment>, ctx: Arc<Context>) -> Result<Action> {
    if md.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = md.namespace().ok_or(Error::MissingField {
        kind: "ModelDeployment",
        field: "metadata.namespace",
    })?;
    let config = ctx.config.current();
    let client = &ctx.client;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let services: Api<Service> = Api::namespaced(client.clone(), &namespace);
    let autoscalers: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), &namespace);

    let status = md.status.as_ref();
    let primary_model = resolve(
        &ctx,
        &namespace,
        &md.spec.model,
        "spec.model",
        status.and_then(|s| s.model.as_ref()),
    )
    .await?;
    let canary_model = match &md.spec.canary {
        Some(canary) => Some(
            resolve(
                &ctx,
                &namespace,
                &canary.model,
                "spec.canary.model",
                status
                    .and_then(|s| s.canary.as_ref())
                    .and_then(|c| c.model.as_ref()),
            )
            .await?,
        ),
        None => None,
    };
    let pool = config.pool(md.spec.resources.node_pool.as_deref());
    let mut blocker = pool
        .as_ref()
        .err()
        .map(|e| Blocker::UnknownPool(e.to_string()));

    if blocker.is_none() {
        let pool = pool.as_ref().ok();
        let build = |track, model| {
            desired::deployment(&md, track, model, &config, pool.expect("checked above"))
        };
        let service = desired::service(&md);
        apply::apply(&services, &desired::service_name(&md), &service).await?;
        if let Resolution::Ready(model) = &primary_model {
            match build(Track::Primary, model) {
                Ok(deployment) => {
                    apply::apply(
                        &deployments,
                        &desired::deployment_name(&md, Track::Primary),
                        &deployment,
                    )
                    .await?;
                }
                Err(problem) => blocker = Some(Blocker::Invalid(problem)),
            }
        }
        match (&canary_model, blocker.is_none()) {
            (Some(Resolution::Ready(model)), true) => match build(Track::Canary, model) {
                Ok(deployment) => {
                    apply::apply(
                        &deployments,
                        &desired::deployment_name(&md, Track::Canary),
                        &deployment,
                    )
                    .await?;
                }
                Err(problem) => blocker = Some(Blocker::Invalid(problem)),
            },
            (None, _) => {
                remove_if_present(&deployments, &desired::deployment_name(&md, Track::Canary))
                    .await?
            }
            _ => {}
        }
        match desired::autoscaler(&md) {
            Some(hpa) => {
                apply::apply(
                    &autoscalers,
                    &desired::deployment_name(&md, Track::Primary),
                    &hpa,
                )
                .await?;
            }
            None => {
                remove_if_present(&autoscalers, &desired::deployment_name(&md, Track::Primary))
                    .await?
            }
        }
    }

    let primary = deployments
        .get_opt(&desired::deployment_name(&md, Track::Primary))
        .await?;
    let service = services.get_opt(&desired::service_name(&md)).await?;
    let pods = pods_of(&ctx, &namespace, &md).await?;
    let live = if scrape_due(&md, &config, Timestamp::now()) {
        Some(read_live_figures(&ctx, &md, &pods).await)
    } else {
        None
    };
    let status = decide::decide(
        &md,
        Inputs {
            primary_model: &primary_model,
            canary_model: canary_model.as_ref(),
            blocker: blocker.as_ref(),
            primary: primary.as_ref(),
            service: service.as_ref(),
            pods: &pods,
            live: live.as_ref(),
            error_rate_threshold: config.serving.error_rate_threshold,
        },
        Timestamp::now(),
    );

    let old = md.status.clone().unwrap_or_default();
    if status != old {
        let api: Api<ModelDeployment> = Api::namespaced(client.clone(), &namespace);
        let body = apply::status_body::<ModelDeployment>(&md.name_any(), &status)?;
        apply::apply_status(&api, &md.name_any(), &body).await?;
        let notes = events::transitions(&old.conditions, &status.conditions, &EVENTS);
        if !notes.is_empty() {
            ctx.publish(&md.object_ref(&()), notes).await;
        }
    }
    // While pods serve, come back to read their figures; otherwise pod and job events wake
    // the controller.
    Ok(if status.ready_replicas.unwrap_or(0) > 0 {
        Action::requeue(scrape_interval(&config))
    } else {
        Action::await_change()
    })
}

async fn resolve(
    ctx: &Context,
    namespace: &str,
    source: &ModelSource,
    field: &str,
    serving: Option<&ServedModel>,
) -> Result<Resolution> {
    let jobs = Api::<TrainingJob>::namespaced(ctx.client.clone(), namespace);
    let training_job = match &source.training_job {
        Some(name) => jobs.get_opt(name).await?,
        None => None,
    };
    let (sweep, trials) = match &source.tuning_sweep {
        Some(selection) => {
            let sweep = Api::<TuningSweep>::namespaced(ctx.client.clone(), namespace)
                .get_opt(&selection.name)
                .await?;
            let trials = match &sweep {
                Some(sweep) => {
                    let uid = sweep.uid();
                    jobs.list(
                        &ListParams::default()
                            .labels(&crate::tuning_sweep::desired::sweep_selector(sweep)),
                    )
                    .await?
                    .items
                    .into_iter()
                    .filter(|tj| {
                        tj.owner_references()
                            .iter()
                            .any(|o| Some(&o.uid) == uid.as_ref())
                    })
                    .collect()
                }
                None => Vec::new(),
            };
            (sweep, trials)
        }
        None => (None, Vec::new()),
    };
    Ok(source::resolve(
        source,
        field,
        training_job.as_ref(),
        SweepView {
            sweep: sweep.as_ref(),
            trials: &trials,
            serving,
        },
    ))
}

async fn remove_if_present<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    if api.get_opt(name).await?.is_some() {
        apply::delete(api, name).await?;
    }
    Ok(())
}

async fn pods_of(ctx: &Context, namespace: &str, md: &ModelDeployment) -> Result<Vec<Pod>> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let label = desired::label_value(md);
    Ok(api
        .list(&ListParams::default().labels(&format!("{MODEL_DEPLOYMENT_LABEL}={label}")))
        .await?
        .items)
}

fn scrape_interval(config: &OperatorConfig) -> Duration {
    Duration::from_secs_f64(config.serving.scrape_interval_seconds)
}

/// Figures are read at most once per interval, whatever else wakes the controller; the status
/// remembers when they were last read.
fn scrape_due(md: &ModelDeployment, config: &OperatorConfig, now: Timestamp) -> bool {
    let last = md
        .status
        .as_ref()
        .and_then(|s| s.metrics.as_ref())
        .and_then(|m| m.updated_at.as_ref())
        .map(|t| t.0);
    match last {
        None => true,
        Some(last) => {
            let since = now.duration_since(last).as_secs_f64();
            since >= config.serving.scrape_interval_seconds * 0.9 || since < 0.0
        }
    }
}

async fn read_live_figures(ctx: &Context, md: &ModelDeployment, pods: &[Pod]) -> Live {
    let port = md.spec.runtime.port;
    let ready = |track: Track| -> Vec<&Pod> {
        pods.iter()
            .filter(|p| p.labels().get(TRACK_LABEL).map(String::as_str) == Some(track.as_str()))
            .filter(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .collect()
    };
    let metrics = ctx.metrics.clone();
    let record = move |ok| metrics.model_server_scraped(ok);
    let primary = scrape::scrape(&ctx.http, &ready(Track::Primary), port, &record).await;
    let canary = scrape::scrape(&ctx.http, &ready(Track::Canary), port, &record).await;
    let now = Timestamp::now();
    Live {
        primary: scrape::combine(&primary, now),
        canary: scrape::combine(&canary, now),
        provider: primary.iter().find_map(|p| p.execution_provider),
        fallback: primary
            .iter()
            .find_map(|p| p.execution_provider_fallback.clone()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::test_support::{merged, meta};
    use lepton_crds::v1alpha1::ModelDeployment;

    /// A ModelDeployment in namespace `ml` serving TrainingJob `credit`, with `spec_yaml` merged
    /// over that.
    pub fn model_deployment(name: &str, spec_yaml: &str) -> ModelDeployment {
        let spec = merged(
            serde_json::json!({"model": {"trainingJob": "credit"}}),
            spec_yaml,
        );
        ModelDeployment {
            metadata: meta(name),
            spec: serde_json::from_value(spec).unwrap(),
            status: None,
        }
    }
}
