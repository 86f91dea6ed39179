//! A ModelDeployment's status, decided from the resolved models and the observed Deployments,
//! Service, pods and live figures. Pure: readiness comes from the pods themselves, failures
//! carry the pod's own reason, and figures persist between scrapes.

use std::borrow::Cow;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use lepton_crds::runner::RunResults;
use lepton_crds::status::model_deployment::{reasons, types};
use lepton_crds::status::{self, ConditionStatus, DesiredCondition, is_valid_reason};
use lepton_crds::v1alpha1::{
    CanaryStatus, ExecutionProvider, ModelDeployment, ModelDeploymentStatus, ServingMetrics,
};

use super::desired::{MODEL_DIGEST_ANNOTATION, MODEL_URI_ANNOTATION, Track, selector};
use super::scrape::LOCAL_ADDRESS;
use super::source::{ModelRef, Resolution};
use crate::names::TRACK_LABEL;
use crate::pod_spec::SpecProblem;

/// Why nothing can be deployed.
#[derive(Clone, Debug, PartialEq)]
pub enum Blocker {
    /// `resources.nodePool` is not configured (the message lists the pools).
    UnknownPool(String),
    /// A field cannot be turned into a pod.
    Invalid(SpecProblem),
}

/// Figures read from the pods just now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Live {
    /// The primary pods' combined figures.
    pub primary: Option<ServingMetrics>,
    /// The canary pods' combined figures.
    pub canary: Option<ServingMetrics>,
    /// The execution provider the primary pods use.
    pub provider: Option<ExecutionProvider>,
    /// Why they fell back to CPU, if they did.
    pub fallback: Option<String>,
}

/// Everything the decision looks at.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The primary model.
    pub primary_model: &'a Resolution,
    /// The canary model, when a canary is configured.
    pub canary_model: Option<&'a Resolution>,
    /// Why nothing can be deployed, if so.
    pub blocker: Option<&'a Blocker>,
    /// The primary Deployment.
    pub primary: Option<&'a Deployment>,
    /// The Service.
    pub service: Option<&'a Service>,
    /// All pods of the deployment (both tracks).
    pub pods: &'a [Pod],
    /// Figures scraped in this reconcile.
    pub live: Option<&'a Live>,
    /// Error rate above which the deployment is Degraded.
    pub error_rate_threshold: f64,
}

/// The status `md` should have.
pub fn decide(md: &ModelDeployment, inputs: Inputs<'_>, now: Timestamp) -> ModelDeploymentStatus {
    let mut status = md.status.clone().unwrap_or_default();
    let primary_pods = track_pods(inputs.pods, Track::Primary);
    let canary_pods = track_pods(inputs.pods, Track::Canary);
    let ready_primary = primary_pods.iter().filter(|p| is_ready(p)).count();
    let desired_replicas = desired_replicas(md, inputs.primary);

    let mut desired = vec![model_loaded(&inputs, &primary_pods, &mut status)];
    desired.push(rollout(
        md,
        &inputs,
        &primary_pods,
        &canary_pods,
        desired_replicas,
    ));
    status.url = url(md, inputs.service);
    status.canary = canary_status(
        md,
        &inputs,
        &canary_pods,
        ready_primary,
        status.canary.take(),
    );
    desired.push(ready(
        md,
        &status,
        &primary_pods,
        ready_primary,
        desired_replicas,
        inputs.service.is_some(),
    ));

    if let Some(live) = inputs.live {
        if live.primary.is_some() {
            status.metrics.clone_from(&live.primary);
        }
        if live.provider.is_some() {
            status.execution_provider = live.provider;
        }
    }
    desired.push(degraded(
        md,
        &status,
        inputs.live,
        inputs.error_rate_threshold,
        ready_primary,
    ));

    status.replicas = Some(primary_pods.len() as i32);
    status.ready_replicas = Some(ready_primary as i32);
    status.selector = Some(
        selector(md, Track::Primary)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    );
    status::apply(&mut status, &desired, md.metadata.generation, &Time(now));
    status
}

fn track_pods(pods: &[Pod], track: Track) -> Vec<&Pod> {
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| p.labels().get(TRACK_LABEL).map(String::as_str) == Some(track.as_str()))
        .filter(|p| !matches!(phase(p), Some("Succeeded" | "Failed")))
        .collect()
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref()?.phase.as_deref()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Whether `pod` runs `model` (its template was made for it).
fn serves(pod: &Pod, model: &ModelRef) -> bool {
    let annotations = pod.annotations();
    annotations.get(MODEL_URI_ANNOTATION) == Some(&model.uri)
        && annotations.get(MODEL_DIGEST_ANNOTATION).map(String::as_str)
            == Some(model.sha256.as_deref().unwrap_or("unverified"))
}

fn desired_replicas(md: &ModelDeployment, primary: Option<&Deployment>) -> usize {
    let from_spec = match &md.spec.autoscaling {
        Some(scaling) => primary
            .and_then(|d| d.spec.replicas)
            .unwrap_or(scaling.min_replicas),
        None => md.spec.replicas.unwrap_or(1),
    };
    from_spec.max(0) as usize
}

fn model_loaded(
    inputs: &Inputs<'_>,
    primary_pods: &[&Pod],
    status: &mut ModelDeploymentStatus,
) -> DesiredCondition {
    let condition = |s, reason: Cow<'static, str>, message: String| {
        DesiredCondition::new(types::MODEL_LOADED, s, reason, message)
    };
    if let Some(blocker) = inputs.blocker {
        return match blocker {
            Blocker::UnknownPool(message) => condition(
                ConditionStatus::False,
                reasons::UNKNOWN_NODE_POOL.into(),
                message.clone(),
            ),
            Blocker::Invalid(problem) => condition(
                ConditionStatus::False,
                reasons::INVALID_SPEC.into(),
                problem.to_string(),
            ),
        };
    }
    let model = match inputs.primary_model {
        Resolution::Ready(model) => model,
        Resolution::Waiting(message) => {
            return condition(
                ConditionStatus::False,
                reasons::WAITING_FOR_MODEL.into(),
                message.clone(),
            );
        }
        Resolution::Unavailable { reason, message } => {
            return condition(ConditionStatus::False, (*reason).into(), message.clone());
        }
    };
    let serving: Vec<&&Pod> = primary_pods.iter().filter(|p| serves(p, model)).collect();
    if serving.iter().any(|p| is_ready(p)) {
        status.model = Some(model.served());
        let digest = model
            .sha256
            .as_deref()
            .map_or("unverified".to_owned(), |d| {
                format!("sha256 {}", &d[..d.len().min(12)])
            });
        return condition(
            ConditionStatus::True,
            reasons::MODEL_LOADED.into(),
            format!("serving {} ({digest})", model.source),
        );
    }
    for pod in &serving {
        if let Some((reason, message)) = load_failure(pod) {
            return condition(
                ConditionStatus::False,
                reason.into(),
                format!("pod {}: {message}", pod.name_any()),
            );
        }
    }
    condition(
        ConditionStatus::False,
        reasons::LOADING_MODEL.into(),
        format!(
            "{} serving pod(s) are starting with {}",
            serving.len(),
            model.source
        ),
    )
}

/// A server that refused to start leaves a failed [`RunResults`] in its termination log.
fn load_failure(pod: &Pod) -> Option<(&'static str, String)> {
    let container = pod.status.as_ref()?.container_statuses.as_ref()?.first()?;
    let terminated = container
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| container.last_state.as_ref()?.terminated.as_ref())?;
    let report = RunResults::from_termination_message(terminated.message.as_deref()?)?;
    let reason = report.reason.as_deref()?;
    let message = report.message.as_deref().unwrap_or("");
    let ours = if reason == "ChecksumMismatch" {
        reasons::DIGEST_MISMATCH
    } else {
        reasons::MODEL_UNAVAILABLE
    };
    Some((ours, format!("{reason}: {message}")))
}

fn rollout(
    md: &ModelDeployment,
    inputs: &Inputs<'_>,
    primary_pods: &[&Pod],
    canary_pods: &[&Pod],
    desired_replicas: usize,
) -> DesiredCondition {
    let condition = |s, reason, message: String| {
        DesiredCondition::new(types::ROLLOUT_COMPLETE, s, reason, message)
    };
    let Resolution::Ready(model) = inputs.primary_model else {
        return condition(
            ConditionStatus::Unknown,
            reasons::WAITING_FOR_MODEL,
            "no model to roll out yet".to_owned(),
        );
    };
    let (new_ready, old) = count_rollout(primary_pods, model);
    let mut pending = Vec::new();
    if new_ready < desired_replicas || old > 0 {
        pending.push(format!(
            "{new_ready} of {desired_replicas} pod(s) ready with the new model, {old} old pod(s) left"
        ));
    }
    if let (Some(canary), Some(Resolution::Ready(model))) = (&md.spec.canary, inputs.canary_model) {
        let (new_ready, old) = count_rollout(canary_pods, model);
        let want = canary.replicas.max(0) as usize;
        if new_ready < want || old > 0 {
            pending.push(format!(
                "canary: {new_ready} of {want} pod(s) ready, {old} old pod(s) left"
            ));
        }
    }
    if pending.is_empty() {
        condition(
            ConditionStatus::True,
            reasons::ROLLOUT_COMPLETE,
            format!("{desired_replicas} pod(s) serve {}", model.source),
        )
    } else {
        condition(
            ConditionStatus::False,
            reasons::ROLLING_OUT,
            pending.join("; "),
        )
    }
}

fn count_rollout(pods: &[&Pod], model: &ModelRef) -> (usize, usize) {
    let new_ready = pods
        .iter()
        .filter(|p| serves(p, model) && is_ready(p))
        .count();
    let old = pods.iter().filter(|p| !serves(p, model)).count();
    (new_ready, old)
}

fn ready(
    md: &ModelDeployment,
    status: &ModelDeploymentStatus,
    primary_pods: &[&Pod],
    ready_primary: usize,
    desired_replicas: usize,
    has_service: bool,
) -> DesiredCondition {
    let condition = |s, reason: Cow<'static, str>, message: String| {
        DesiredCondition::new(types::READY, s, reason, message)
    };
    if ready_primary > 0 && has_service {
        return condition(
            ConditionStatus::True,
            reasons::ENDPOINT_READY.into(),
            format!(
                "{ready_primary} of {desired_replicas} pod(s) ready at {}{}",
                status.url.as_deref().unwrap_or("the Service"),
                canary_share_note(md, status)
            ),
        );
    }
    if let Some((reason, message)) = primary_pods.iter().find_map(|p| pod_problem(p)) {
        return condition(ConditionStatus::False, reason, message);
    }
    condition(
        ConditionStatus::False,
        reasons::REPLICAS_UNAVAILABLE.into(),
        format!("0 of {desired_replicas} pod(s) ready"),
    )
}

/// The pod's own reason for not running: a waiting container's (CrashLoopBackOff,
/// ImagePullBackOff, ...) with its last termination message, or the scheduler's.
fn pod_problem(pod: &Pod) -> Option<(Cow<'static, str>, String)> {
    let status = pod.status.as_ref()?;
    for container in status.container_statuses.iter().flatten() {
        let Some(waiting) = container.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let Some(reason) = waiting
            .reason
            .clone()
            .filter(|r| r != "ContainerCreating" && is_valid_reason(r))
        else {
            continue;
        };
        let last = container
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.message.as_deref())
            .map(|m| format!("; last exit: {}", m.trim()))
            .unwrap_or_default();
        return Some((
            reason.clone().into(),
            format!(
                "pod {}: {reason}: {}{last}",
                pod.name_any(),
                waiting.message.as_deref().unwrap_or("")
            ),
        ));
    }
    let unschedulable = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")?;
    Some((
        "Unschedulable".into(),
        format!(
            "pod {} cannot be scheduled: {}",
            pod.name_any(),
            unschedulable.message.as_deref().unwrap_or("no node fits")
        ),
    ))
}

fn degraded(
    md: &ModelDeployment,
    status: &ModelDeploymentStatus,
    live: Option<&Live>,
    error_threshold: f64,
    ready_primary: usize,
) -> DesiredCondition {
    let condition =
        |s, reason, message: String| DesiredCondition::new(types::DEGRADED, s, reason, message);
    if ready_primary == 0 {
        return condition(
            ConditionStatus::False,
            reasons::HEALTHY,
            "no pod is serving yet".to_owned(),
        );
    }
    let monitoring = &md.spec.monitoring;
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    if md.spec.runtime.execution_provider == ExecutionProvider::Cuda
        && status.execution_provider == Some(ExecutionProvider::Cpu)
    {
        let why = live
            .and_then(|l| l.fallback.clone())
            .unwrap_or_else(|| "no usable GPU".to_owned());
        problems.push((
            reasons::CUDA_UNAVAILABLE,
            format!("serving on CPU instead of CUDA: {why}"),
        ));
    }
    let Some(metrics) = &status.metrics else {
        return match problems.pop() {
            Some((reason, message)) => condition(ConditionStatus::True, reason, message),
            None => condition(
                ConditionStatus::False,
                reasons::HEALTHY,
                "no live figures yet".to_owned(),
            ),
        };
    };
    if let Some(score) = metrics.drift_score
        && score > monitoring.drift_threshold
    {
        problems.push((
            reasons::DRIFT_DETECTED,
            format!(
                "drift score {score:.3}{} is above monitoring.driftThreshold {}",
                metrics
                    .most_drifted_column
                    .as_deref()
                    .map(|c| format!(" (column {c})"))
                    .unwrap_or_default(),
                monitoring.drift_threshold
            ),
        ));
    }
    if let (Some(p99), Some(slo)) = (metrics.latency_p99_ms, monitoring.latency_slo_ms)
        && p99 > slo
    {
        problems.push((
            reasons::LATENCY_SLO_VIOLATED,
            format!("p99 latency {p99:.3} ms is above monitoring.latencySloMs {slo}"),
        ));
    }
    if let Some(rate) = metrics.error_rate
        && rate > error_threshold
        && metrics.requests_per_second.unwrap_or(0.0) > 0.0
    {
        problems.push((
            reasons::HIGH_ERROR_RATE,
            format!(
                "{:.1}% of requests fail (threshold {:.1}%)",
                rate * 100.0,
                error_threshold * 100.0
            ),
        ));
    }
    match problems.first() {
        Some((reason, _)) => condition(
            ConditionStatus::True,
            reason,
            problems
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        None => condition(
            ConditionStatus::False,
            reasons::HEALTHY,
            format!(
                "p99 {} ms, error rate {}, drift {} over the last {} s",
                fmt(metrics.latency_p99_ms),
                fmt(metrics.error_rate),
                fmt(metrics.drift_score),
                monitoring.window_seconds
            ),
        ),
    }
}

fn fmt(value: Option<f64>) -> String {
    value.map_or("n/a".to_owned(), |v| format!("{v:.3}"))
}

/// Replica weighting cannot give every share: say so when the canary's measured share is more
/// than 5 points from the one asked for, and how to get closer.
fn canary_share_note(md: &ModelDeployment, status: &ModelDeploymentStatus) -> String {
    let (Some(canary), Some(measured)) = (
        md.spec.canary.as_ref(),
        status.canary.as_ref().and_then(|c| c.traffic_percent),
    ) else {
        return String::new();
    };
    if status.canary.as_ref().and_then(|c| c.ready_replicas) == Some(0)
        || (measured - canary.traffic_percent).abs() <= 5
    {
        return String::new();
    }
    format!(
        "; the canary gets {measured}% of requests, not the {}% asked for: requests are spread \
         over ready pods, so set replicas and canary.replicas in that ratio",
        canary.traffic_percent
    )
}

fn canary_status(
    md: &ModelDeployment,
    inputs: &Inputs<'_>,
    canary_pods: &[&Pod],
    ready_primary: usize,
    previous: Option<CanaryStatus>,
) -> Option<CanaryStatus> {
    md.spec.canary.as_ref()?;
    let ready = canary_pods.iter().filter(|p| is_ready(p)).count();
    let total = ready + ready_primary;
    let previous = previous.unwrap_or_default();
    Some(CanaryStatus {
        model: match inputs.canary_model {
            Some(Resolution::Ready(model)) => Some(model.served()),
            _ => previous.model,
        },
        // The Service spreads requests evenly over ready pods.
        traffic_percent: Some(if total == 0 {
            0
        } else {
            ((ready * 100) as f64 / total as f64).round() as i32
        }),
        ready_replicas: Some(ready as i32),
        metrics: inputs
            .live
            .and_then(|l| l.canary.clone())
            .or(previous.metrics),
    })
}

/// The endpoint: the Service's local address in local mode, else its cluster DNS name.
fn url(md: &ModelDeployment, service: Option<&Service>) -> Option<String> {
    let service = service?;
    if let Some(local) = service.annotations().get(LOCAL_ADDRESS) {
        return Some(format!("http://{local}"));
    }
    Some(format!(
        "http://{}.{}.svc.cluster.local",
        service.name_any(),
        md.namespace().unwrap_or_default()
    ))
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
