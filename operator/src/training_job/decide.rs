//! What to do for a TrainingJob, decided from its spec, its status and the observed Job and
//! pods. Pure: the reconcile reads the cluster, calls [`decide`], and carries out the result.

use std::borrow::Cow;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use lepton_crds::status::training_job::{is_terminal, reasons, types};
use lepton_crds::status::{self, ConditionStatus, DesiredCondition, conditions, is_valid_reason};
use lepton_crds::v1alpha1::{TrainingCost, TrainingJob, TrainingJobPhase, TrainingJobStatus};

use super::desired::{is_queued, job_name, spec_digest};
use super::report::{self, RunResults};
use crate::config::{NodePool, Price, UnknownPool};
use crate::names::{
    EARLY_STOPPED_ANNOTATION, SPEC_DIGEST_ANNOTATION, SPEC_GENERATION_ANNOTATION, STOP_ANNOTATION,
    TUNING_SWEEP_LABEL,
};
use crate::pod_spec::SpecProblem;

/// How often a running job's status is refreshed without any event, so that its cost grows
/// visibly while it trains.
pub const RUNNING_REFRESH: Duration = Duration::from_secs(60);

/// Why the Job cannot be built.
#[derive(Clone, Debug, PartialEq)]
pub enum Blocker {
    /// `resources.nodePool` is not configured.
    UnknownPool(UnknownPool),
    /// A field cannot be turned into a pod.
    Invalid(SpecProblem),
}

/// What the cluster holds for one TrainingJob.
#[derive(Clone, Copy, Debug)]
pub struct Observed<'a> {
    /// The Job named after it, if one exists.
    pub job: Option<&'a Job>,
    /// The Job's pods.
    pub pods: &'a [Pod],
    /// The pool the job runs on, or why there is none.
    pub pool: Result<&'a NodePool, &'a Blocker>,
    /// Currency of the prices.
    pub currency: &'a str,
}

/// A change to the Job's mutable fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobChange {
    /// New `spec.suspend`.
    pub suspend: Option<bool>,
    /// New `spec.activeDeadlineSeconds` (`Some(None)` removes it).
    pub active_deadline_seconds: Option<Option<i64>>,
}

/// The decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The status to write (its `progress` is the runner's and is never written back).
    pub status: TrainingJobStatus,
    /// Create the runner's access and the Job.
    pub create_job: bool,
    /// Patch the existing Job.
    pub change_job: Option<JobChange>,
    /// The job has finished: remove the runner's permission to write its status.
    pub revoke_runner_access: bool,
    /// Delete the Job and its pods: `ttlSecondsAfterFinished` has passed, or the job was asked
    /// to stop.
    pub delete_job: bool,
    /// Reconcile again after this long even if nothing changes.
    pub requeue_after: Option<Duration>,
}

/// Decides the next step for `tj` at `now`.
pub fn decide(tj: &TrainingJob, observed: Observed<'_>, now: Timestamp) -> Decision {
    let generation = tj.metadata.generation;
    let mut status = tj.status.clone().unwrap_or_default();
    let was_terminal = status.phase.is_some_and(is_terminal);
    let mut decision = Decision {
        status: TrainingJobStatus::default(),
        create_job: false,
        change_job: None,
        revoke_runner_access: false,
        delete_job: false,
        requeue_after: None,
    };
    let time = Time(now);

    if was_terminal {
        // Terminal states stay terminal: only clean-up from here on.
        decision.revoke_runner_access = true;
        if let (Some(job), Some(ttl)) =
            (observed.job, tj.spec.run_policy.ttl_seconds_after_finished)
        {
            let finished = status.completion_time.as_ref().map_or(now, |t| t.0);
            let due = finished + SignedDuration::from_secs(i64::from(ttl));
            if job.metadata.deletion_timestamp.is_none() {
                if due <= now {
                    decision.delete_job = true;
                } else {
                    decision.requeue_after = Some(unsigned(due.duration_since(now)));
                }
            }
        }
        status::apply(&mut status, &[], generation, &time);
        decision.status = status;
        return decision;
    }

    account(&mut status, tj, observed, now);
    let mut desired: Vec<DesiredCondition> = Vec::new();
    match observed.job {
        None if stop_request(tj).is_some() => {
            let (reason, message) = stop_request(tj).unwrap_or_default();
            desired.push(DesiredCondition::new(
                types::STOPPED,
                ConditionStatus::True,
                reason,
                message,
            ));
            desired.push(not_running(reason, "stopped before training started"));
            status.completion_time = Some(time.clone());
        }
        None => {
            if conditions::is_true(&status.conditions, types::CREATED) {
                desired.push(DesiredCondition::new(
                    types::FAILED,
                    ConditionStatus::True,
                    reasons::JOB_LOST,
                    format!(
                        "the Job {} was deleted before it finished; create the TrainingJob again \
                         to retrain",
                        job_name(tj)
                    ),
                ));
                desired.push(not_running(reasons::JOB_LOST, "the Job was deleted"));
                status.completion_time = Some(time.clone());
                decision.revoke_runner_access = true;
            } else {
                match observed.pool {
                    Err(Blocker::UnknownPool(unknown)) => desired.push(DesiredCondition::new(
                        types::CREATED,
                        ConditionStatus::False,
                        reasons::UNKNOWN_NODE_POOL,
                        unknown.to_string(),
                    )),
                    Err(Blocker::Invalid(problem)) => desired.push(DesiredCondition::new(
                        types::CREATED,
                        ConditionStatus::False,
                        reasons::INVALID_SPEC,
                        problem.to_string(),
                    )),
                    Ok(_) => {
                        decision.create_job = true;
                        desired.push(DesiredCondition::new(
                            types::CREATED,
                            ConditionStatus::True,
                            reasons::JOB_CREATED,
                            format!("created Job {}", job_name(tj)),
                        ));
                        if tj.spec.run_policy.suspend {
                            desired.push(suspended(tj, true));
                        } else {
                            desired.push(not_running(
                                reasons::POD_PENDING,
                                "waiting for the training pod to start",
                            ));
                        }
                    }
                }
            }
        }
        Some(job) if !owned_by(job, tj) => desired.push(DesiredCondition::new(
            types::CREATED,
            ConditionStatus::False,
            reasons::JOB_NAME_CONFLICT,
            format!(
                "a Job named {} already exists and does not belong to this TrainingJob (a \
                 previous TrainingJob of the same name may still be being deleted); delete that \
                 Job or rename the TrainingJob",
                job_name(tj)
            ),
        )),
        Some(job) if stop_request(tj).is_some() && !job_finished(job) => {
            let (reason, message) = stop_request(tj).unwrap_or_default();
            desired.push(DesiredCondition::new(
                types::STOPPED,
                ConditionStatus::True,
                reason,
                message.clone(),
            ));
            desired.push(not_running(reason, "training was stopped"));
            status.completion_time = Some(time.clone());
            decision.delete_job = job.metadata.deletion_timestamp.is_none();
        }
        Some(job) => {
            desired.push(DesiredCondition::new(
                types::CREATED,
                ConditionStatus::True,
                reasons::JOB_CREATED,
                created_message(tj, job),
            ));
            follow_job(
                tj,
                job,
                observed.pods,
                &mut status,
                &mut desired,
                &mut decision,
                &time,
            );
        }
    }

    status::apply(&mut status, &desired, generation, &time);
    if status.phase.is_some_and(is_terminal) {
        decision.revoke_runner_access = true;
        if status.completion_time.is_none() {
            status.completion_time = Some(time);
        }
        if tj.spec.run_policy.ttl_seconds_after_finished.is_some() && observed.job.is_some() {
            decision.requeue_after = Some(Duration::from_secs(
                tj.spec
                    .run_policy
                    .ttl_seconds_after_finished
                    .unwrap_or(0)
                    .max(0) as u64,
            ));
        }
    } else if status.phase == Some(TrainingJobPhase::Running) {
        decision.requeue_after = Some(RUNNING_REFRESH);
    }
    decision.status = status;
    decision
}

fn follow_job(
    tj: &TrainingJob,
    job: &Job,
    pods: &[Pod],
    status: &mut TrainingJobStatus,
    desired: &mut Vec<DesiredCondition>,
    decision: &mut Decision,
    now: &Time,
) {
    let job_spec = job.spec.clone().unwrap_or_default();
    let job_status = job.status.clone().unwrap_or_default();
    let job_condition = |type_: &str| {
        job_status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == type_ && c.status == "True")
            .cloned()
    };

    if job_condition("Complete").is_some() {
        let report = report::success(pods);
        if let Some(report) = &report {
            copy_results(status, report);
        }
        status.completion_time = job_status.completion_time.clone().or(Some(now.clone()));
        let message = success_message(status, report.is_some());
        desired.push(DesiredCondition::new(
            types::SUCCEEDED,
            ConditionStatus::True,
            reasons::TRAINING_COMPLETED,
            message,
        ));
        desired.push(not_running(
            reasons::TRAINING_COMPLETED,
            "training finished",
        ));
        return;
    }
    if let Some(failed) = job_condition("Failed") {
        let (reason, message) = failure(tj, &failed.reason, &failed.message, pods, status);
        desired.push(DesiredCondition::new(
            types::FAILED,
            ConditionStatus::True,
            reason.clone(),
            message,
        ));
        desired.push(not_running(reason, "training stopped"));
        status.completion_time = Some(now.clone());
        return;
    }

    // Kueue resumes a queued job by unsuspending its Job, so the operator leaves a queued
    // Job's suspension alone.
    let mut change = JobChange::default();
    let job_suspended = job_spec.suspend.unwrap_or(false);
    if !is_queued(tj) && job_suspended != tj.spec.run_policy.suspend {
        change.suspend = Some(tj.spec.run_policy.suspend);
    }
    if job_spec.active_deadline_seconds != tj.spec.run_policy.active_deadline_seconds {
        change.active_deadline_seconds = Some(tj.spec.run_policy.active_deadline_seconds);
    }
    let suspended_now = change.suspend.unwrap_or(job_suspended);
    if change != JobChange::default() {
        decision.change_job = Some(change);
    }

    if suspended_now {
        desired.push(suspended(tj, true));
        desired.push(not_running(
            if tj.spec.run_policy.suspend {
                reasons::SUSPENDED_BY_SPEC
            } else {
                reasons::QUEUED
            },
            "the job is suspended",
        ));
        return;
    }
    if conditions::is_true(&status.conditions, types::SUSPENDED) {
        desired.push(suspended(tj, false));
    }
    let in_phase =
        |p: &Pod, phase: &str| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(phase);
    let running = pods.iter().find(|p| in_phase(p, "Running"));
    // Between the pod's exit and the Job controller's Complete condition the job is still
    // finishing its run, not waiting for a pod: it stays Running rather than flip to Pending.
    let finished = pods.iter().find(|p| in_phase(p, "Succeeded"));
    match (running, finished) {
        (Some(pod), _) => desired.push(DesiredCondition::new(
            types::RUNNING,
            ConditionStatus::True,
            reasons::TRAINING,
            progress_message(status, pod),
        )),
        (None, Some(pod)) => desired.push(DesiredCondition::new(
            types::RUNNING,
            ConditionStatus::True,
            reasons::TRAINING,
            format!(
                "the training pod {} has finished; waiting for its Job to complete",
                pod.name_any()
            ),
        )),
        (None, None) => desired.push(not_running(reasons::POD_PENDING, &pending_message(pods))),
    }
}

/// Says so when the spec changed after the Job was built, since a Job's pod template cannot
/// change.
fn created_message(tj: &TrainingJob, job: &Job) -> String {
    let annotations = job.annotations();
    let built_from = annotations
        .get(SPEC_GENERATION_ANNOTATION)
        .cloned()
        .unwrap_or_default();
    match annotations.get(SPEC_DIGEST_ANNOTATION) {
        Some(digest) if *digest != spec_digest(tj) => format!(
            "created Job {} from generation {built_from}; later spec changes other than \
             runPolicy.suspend, activeDeadlineSeconds and ttlSecondsAfterFinished do not reach \
             it: create a new TrainingJob to train with them",
            job.name_any()
        ),
        _ => format!("created Job {}", job.name_any()),
    }
}

fn not_running(reason: impl Into<Cow<'static, str>>, message: &str) -> DesiredCondition {
    DesiredCondition::new(types::RUNNING, ConditionStatus::False, reason, message)
}

fn suspended(tj: &TrainingJob, yes: bool) -> DesiredCondition {
    if !yes {
        return DesiredCondition::new(
            types::SUSPENDED,
            ConditionStatus::False,
            reasons::RESUMED,
            "the job was resumed",
        );
    }
    if tj.spec.run_policy.suspend {
        DesiredCondition::new(
            types::SUSPENDED,
            ConditionStatus::True,
            reasons::SUSPENDED_BY_SPEC,
            "spec.runPolicy.suspend is true; set it to false to start training",
        )
    } else {
        DesiredCondition::new(
            types::SUSPENDED,
            ConditionStatus::True,
            reasons::QUEUED,
            "waiting for Kueue to admit the job from its queue",
        )
    }
}

/// The Stopped condition's reason and message when the job is asked to stop: `EarlyStopped`
/// when its TuningSweep's rule stopped it, `StoppedBySweep` when the sweep finished, and
/// `StopRequested` when anyone else asked.
fn stop_request(tj: &TrainingJob) -> Option<(&'static str, String)> {
    let why = tj.annotations().get(STOP_ANNOTATION)?;
    let reason = if tj.annotations().contains_key(EARLY_STOPPED_ANNOTATION) {
        reasons::EARLY_STOPPED
    } else if tj.labels().contains_key(TUNING_SWEEP_LABEL) {
        reasons::STOPPED_BY_SWEEP
    } else {
        reasons::STOP_REQUESTED
    };
    let message = if why.trim().is_empty() {
        format!("stopped on request (annotation {STOP_ANNOTATION})")
    } else {
        why.clone()
    };
    Some((reason, message))
}

/// Whether the Job has completed or failed: a job that finished before its stop request was
/// seen keeps its real outcome.
fn job_finished(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
}

fn owned_by(job: &Job, tj: &TrainingJob) -> bool {
    let uid = tj.uid();
    job.owner_references()
        .iter()
        .any(|r| r.controller == Some(true) && Some(&r.uid) == uid.as_ref())
}

fn copy_results(status: &mut TrainingJobStatus, report: &RunResults) {
    if report.objective.is_some() {
        status.objective.clone_from(&report.objective);
    }
    if !report.metrics.is_empty() {
        status.metrics.clone_from(&report.metrics);
    }
    if report.data.is_some() {
        status.data.clone_from(&report.data);
    }
    if let Some(model) = &report.model {
        // The termination message may have dropped the long input schema to fit; keep the
        // one the runner pushed.
        let pushed_schema = status.model.as_ref().and_then(|m| m.input_schema.clone());
        let mut model = model.clone();
        if model.input_schema.is_none() {
            model.input_schema = pushed_schema;
        }
        status.model = Some(model);
    }
}

fn success_message(status: &TrainingJobStatus, reported: bool) -> String {
    let mut parts = Vec::new();
    if let Some(objective) = &status.objective {
        parts.push(format!(
            "validation {} {:.4}",
            objective.metric.as_str(),
            objective.value
        ));
    }
    if let Some(model) = &status.model {
        if let Some(family) = model.family {
            parts.push(format!("model {}", serde_plain(&family)));
        }
        if let Some(p50) = model.latency_p50_ms {
            parts.push(format!("p50 {p50:.3} ms"));
        }
    }
    if let Some(cost) = &status.cost
        && let (Some(total), Some(currency)) = (cost.total, &cost.currency)
    {
        parts.push(format!("cost {total:.4} {currency}"));
    }
    if !reported && status.metrics.is_empty() {
        parts.push("the runner's results were not found (no termination message)".to_owned());
    }
    if parts.is_empty() {
        "the model was trained and exported".to_owned()
    } else {
        format!("trained: {}", parts.join(", "))
    }
}

fn serde_plain<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The reason and message of a failed Job: the deadline, else the runner's own reason from its
/// last failed pod, else the container's (OOMKilled, Error), else the Job's.
fn failure(
    tj: &TrainingJob,
    job_reason: &Option<String>,
    job_message: &Option<String>,
    pods: &[Pod],
    status: &TrainingJobStatus,
) -> (Cow<'static, str>, String) {
    let attempts = status.attempts.unwrap_or(0);
    if job_reason.as_deref() == Some("DeadlineExceeded") {
        return (
            reasons::DEADLINE_EXCEEDED.into(),
            format!(
                "training ran longer than spec.runPolicy.activeDeadlineSeconds ({} s) and was \
                 stopped; raise the deadline or train less (fewer epochs or trees, a smaller \
                 model)",
                tj.spec.run_policy.active_deadline_seconds.unwrap_or(0)
            ),
        );
    }
    let tries = if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    };
    if let Some(last) = report::last_failure(pods) {
        if let Some(report) = last
            .message
            .as_deref()
            .and_then(RunResults::from_termination_message)
            && let Some(reason) = report.reason.filter(|r| is_valid_reason(r))
        {
            let message = report.message.unwrap_or_default();
            return (reason.into(), format!("{message}{tries}"));
        }
        if last.reason.as_deref() == Some("OOMKilled") {
            return (
                reasons::OUT_OF_MEMORY.into(),
                format!(
                    "the training container ran out of memory (limit {}){tries}; raise \
                     spec.resources.memory or use a smaller model or batch",
                    tj.spec
                        .resources
                        .memory
                        .as_ref()
                        .map_or("the operator's default".to_owned(), |m| m.0.clone())
                ),
            );
        }
        let tail = last
            .message
            .as_deref()
            .map(|m| format!(": {}", m.trim()))
            .unwrap_or_default();
        return (
            reasons::BACKOFF_LIMIT_EXCEEDED.into(),
            format!(
                "the training container exited with code {}{tail}{tries}",
                last.exit_code
            ),
        );
    }
    (
        reasons::BACKOFF_LIMIT_EXCEEDED.into(),
        job_message
            .clone()
            .unwrap_or_else(|| "the training Job failed".to_owned()),
    )
}

/// Names the pod and the family being trained, not the step: the step is in `status.progress`,
/// and repeating it here would make every progress write of the runner a status write of the
/// operator as well.
fn progress_message(status: &TrainingJobStatus, pod: &Pod) -> String {
    match status.progress.as_ref().and_then(|p| p.family) {
        Some(family) => format!(
            "pod {} is training {}",
            pod.name_any(),
            serde_plain(&family)
        ),
        None => format!("pod {} is running", pod.name_any()),
    }
}

/// Why no pod runs yet: a waiting container's reason (ImagePullBackOff, ...) or the scheduler's.
fn pending_message(pods: &[Pod]) -> String {
    for pod in pods {
        let Some(status) = pod.status.as_ref() else {
            continue;
        };
        for container in status.container_statuses.iter().flatten() {
            if let Some(waiting) = container.state.as_ref().and_then(|s| s.waiting.as_ref())
                && let Some(reason) = &waiting.reason
                && reason != "ContainerCreating"
            {
                return format!(
                    "pod {}: {reason}: {}",
                    pod.name_any(),
                    waiting.message.as_deref().unwrap_or("")
                );
            }
        }
        for condition in status.conditions.iter().flatten() {
            if condition.type_ == "PodScheduled" && condition.status == "False" {
                return format!(
                    "pod {} cannot be scheduled: {}",
                    pod.name_any(),
                    condition.message.as_deref().unwrap_or("no node fits")
                );
            }
        }
    }
    "waiting for the training pod to start".to_owned()
}

/// Attempts, start time and cost from the pods; none of them ever decreases, since finished
/// pods may be deleted.
fn account(
    status: &mut TrainingJobStatus,
    tj: &TrainingJob,
    observed: Observed<'_>,
    now: Timestamp,
) {
    let job_status = observed
        .job
        .and_then(|j| j.status.clone())
        .unwrap_or_default();
    let counted = job_status.active.unwrap_or(0)
        + job_status.succeeded.unwrap_or(0)
        + job_status.failed.unwrap_or(0);
    let attempts = counted.max(observed.pods.len() as i32);
    if attempts > 0 {
        status.attempts = Some(status.attempts.unwrap_or(0).max(attempts));
    }

    let mut hours = 0.0;
    let mut first_start: Option<Timestamp> = None;
    for pod in observed.pods {
        let Some(pod_status) = pod.status.as_ref() else {
            continue;
        };
        for container in pod_status.container_statuses.iter().flatten() {
            let state = container.state.as_ref();
            let (start, end) = if let Some(running) = state.and_then(|s| s.running.as_ref()) {
                let start = running.started_at.as_ref().map(|t| t.0);
                (start, start.map(|start| whole_refreshes(start, now)))
            } else if let Some(done) = state.and_then(|s| s.terminated.as_ref()) {
                let start = done.started_at.as_ref().map(|t| t.0);
                // The kubelet keeps whole seconds; the runner's own measure is finer.
                let measured = done
                    .message
                    .as_deref()
                    .and_then(RunResults::from_termination_message)
                    .map(|r| r.duration_seconds)
                    .filter(|d| d.is_finite() && *d > 0.0);
                let end = done.finished_at.as_ref().map(|t| t.0);
                let end = match (start, end, measured) {
                    (Some(start), Some(end), Some(seconds)) => {
                        let measured_end = start + SignedDuration::from_secs_f64(seconds);
                        // Both kubelet times are cut to whole seconds, so they bound the run
                        // only to within a second either way: a measure inside that bound is
                        // the better figure (a 0.3 s run is not charged 1 s because it crossed
                        // a second boundary); one outside it cannot undercut the kubelet.
                        let whole = end.duration_since(start).as_secs_f64();
                        if (seconds - whole).abs() < 1.0 {
                            Some(measured_end)
                        } else {
                            Some(end.max(measured_end))
                        }
                    }
                    (_, end, _) => end,
                };
                (start, end)
            } else {
                (None, None)
            };
            if let (Some(start), Some(end)) = (start, end) {
                hours += end.duration_since(start).as_secs_f64().max(0.0) / 3600.0;
                first_start = Some(first_start.map_or(start, |f| f.min(start)));
            }
        }
    }
    if status.start_time.is_none() {
        status.start_time = first_start.map(Time);
    }
    if first_start.is_none() && status.cost.is_none() {
        return;
    }
    let previous = status.cost.clone().unwrap_or_default();
    let pod_hours = previous.pod_hours.unwrap_or(0.0).max(hours);
    let gpus = f64::from(tj.spec.resources.gpus);
    let gpu_hours = pod_hours * gpus;
    let price = observed.pool.ok().and_then(NodePool::price);
    let (price_per_hour, total) = match price {
        Some(Price::PerGpuHour(p)) => (Some(p), Some(gpu_hours * p)),
        Some(Price::PerNodeHour(p)) => (Some(p), Some(pod_hours * p)),
        None => (None, None),
    };
    status.cost = Some(TrainingCost {
        gpu_hours: (gpus > 0.0).then_some(round(gpu_hours)),
        pod_hours: Some(round(pod_hours)),
        price_per_hour,
        total: total.map(round),
        currency: price.map(|_| observed.currency.to_owned()),
    });
}

/// Nine significant digits: enough for a cost, and stable so that an unchanged status is not
/// rewritten because of float noise.
fn round(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(8 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// `now`, moved back to a whole number of [`RUNNING_REFRESH`] periods after `start`: a running
/// pod's cost then changes once per period, not at every reconcile (the runner's progress
/// writes wake the controller every few seconds).
fn whole_refreshes(start: Timestamp, now: Timestamp) -> Timestamp {
    let period = RUNNING_REFRESH.as_secs() as i64;
    let elapsed = (now.as_second() - start.as_second()).max(0);
    start + SignedDuration::from_secs(elapsed / period * period)
}

fn unsigned(d: SignedDuration) -> Duration {
    Duration::try_from(d).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
