//! The stand-in for the batch/v1 Job controller: pods from the template (`parallelism`,
//! `completions`), retries with exponential back-off up to `backoffLimit`,
//! `activeDeadlineSeconds`, `suspend`, `ttlSecondsAfterFinished`, and the status a Job gets
//! (`startTime`, `active`/`ready`/`succeeded`/`failed`/`terminating`, `completionTime`, and
//! the conditions `SuccessCriteriaMet` + `Complete` or `FailureTarget` + `Failed`, or
//! `Suspended`).

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::ExecutorConfig;
use crate::meta;

const MANAGER: &str = "lepton-local-job-controller";
/// Label every pod of a Job carries, as the Job controller sets it.
pub(crate) const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
const JOB_NAME: &str = "batch.kubernetes.io/job-name";

struct Context {
    client: kube::Client,
    config: Arc<ExecutorConfig>,
}

/// Runs the Job controller until the task is aborted.
pub(crate) async fn run(client: kube::Client, config: Arc<ExecutorConfig>) {
    let (jobs, pods): (Api<Job>, Api<Pod>) = match &config.namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let context = Arc::new(Context { client, config });
    Controller::new(jobs, watcher::Config::default())
        .owns(pods, watcher::Config::default())
        .run(reconcile, error_policy, context)
        .for_each(|outcome| async move {
            if let Err(error) = outcome {
                tracing::debug!(%error, "job reconcile failed");
            }
        })
        .await;
}

fn error_policy(_: Arc<Job>, _: &kube::Error, _: Arc<Context>) -> Action {
    Action::requeue(Duration::from_millis(200))
}

fn seconds_since(time: &str) -> f64 {
    time.parse::<jiff::Timestamp>()
        .map(|t| (jiff::Timestamp::now().as_millisecond() - t.as_millisecond()) as f64 / 1e3)
        .unwrap_or_default()
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// When a pod finished, from its container's terminated state.
fn finished_at(pod: &Pod) -> Option<String> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let terminated = statuses.first()?.state.as_ref()?.terminated.as_ref()?;
    terminated
        .finished_at
        .as_ref()
        .map(|t| meta::format_time(t.0))
}

/// A condition, keeping the transition time of an unchanged one.
fn condition(old: &[Value], kind: &str, status: &str, reason: &str, message: &str) -> Value {
    super::condition(old, "lastProbeTime", kind, status, reason, message)
}

async fn reconcile(job: Arc<Job>, ctx: Arc<Context>) -> Result<Action, kube::Error> {
    if job.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = job.namespace().unwrap_or_default();
    let uid = job.uid().unwrap_or_default();
    let spec = job.spec.clone().unwrap_or_default();
    let old_status =
        serde_json::to_value(job.status.clone().unwrap_or_default()).unwrap_or_default();
    let old_conditions: Vec<Value> = old_status["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let finished = old_conditions
        .iter()
        .any(|c| (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True");
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    if finished {
        return expire(&jobs, &job, &spec, &old_status).await;
    }

    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let pods: Vec<Pod> = pods_api
        .list(&ListParams::default().labels(&format!("{CONTROLLER_UID}={uid}")))
        .await?
        .items
        .into_iter()
        .filter(|p| {
            p.owner_references()
                .iter()
                .any(|r| r.uid == uid && r.controller == Some(true))
        })
        .collect();
    let active: Vec<&Pod> = pods
        .iter()
        .filter(|p| {
            p.metadata.deletion_timestamp.is_none() && !matches!(phase(p), "Succeeded" | "Failed")
        })
        .collect();
    let old_count = |field: &str| old_status[field].as_i64().unwrap_or_default();
    let succeeded = (pods.iter().filter(|p| phase(p) == "Succeeded").count() as i64)
        .max(old_count("succeeded"));
    let failed =
        (pods.iter().filter(|p| phase(p) == "Failed").count() as i64).max(old_count("failed"));
    let completions = i64::from(spec.completions.unwrap_or(1));
    let parallelism = i64::from(spec.parallelism.unwrap_or(1));
    let backoff_limit = i64::from(spec.backoff_limit.unwrap_or(6));

    let mut status = json!({
        "active": active.len(),
        "ready": active.iter().filter(|p| is_ready(p)).count(),
        "succeeded": succeeded,
        "failed": failed,
        "terminating": pods.iter().filter(|p| p.metadata.deletion_timestamp.is_some()).count(),
    });
    let mut conditions: Vec<Value> = Vec::new();

    if spec.suspend == Some(true) {
        delete_pods(&pods_api, &active).await;
        status["active"] = json!(0);
        status["ready"] = json!(0);
        conditions.push(condition(
            &old_conditions,
            "Suspended",
            "True",
            "JobSuspended",
            "Job suspended",
        ));
        status["conditions"] = Value::Array(conditions);
        write_status(&jobs, &job, status).await?;
        return Ok(Action::await_change());
    }
    if old_conditions.iter().any(|c| c["type"] == "Suspended") {
        conditions.push(condition(
            &old_conditions,
            "Suspended",
            "False",
            "JobResumed",
            "Job resumed",
        ));
    }
    let start = old_status["startTime"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(meta::now);
    status["startTime"] = Value::from(start.clone());

    let deadline = spec.active_deadline_seconds.map(|s| s as f64);
    let failure = if deadline.is_some_and(|d| seconds_since(&start) >= d) {
        Some((
            "DeadlineExceeded",
            "Job was active longer than specified deadline",
        ))
    } else if failed > backoff_limit {
        Some((
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        ))
    } else {
        None
    };
    if let Some((reason, message)) = failure {
        delete_pods(&pods_api, &active).await;
        status["active"] = json!(0);
        status["ready"] = json!(0);
        conditions.push(condition(
            &old_conditions,
            "FailureTarget",
            "True",
            reason,
            message,
        ));
        conditions.push(condition(
            &old_conditions,
            "Failed",
            "True",
            reason,
            message,
        ));
        status["conditions"] = Value::Array(conditions);
        write_status(&jobs, &job, status).await?;
        return Ok(Action::await_change());
    }
    if succeeded >= completions {
        delete_pods(&pods_api, &active).await;
        status["active"] = json!(0);
        status["ready"] = json!(0);
        let message = "Reached expected number of succeeded pods";
        conditions.push(condition(
            &old_conditions,
            "SuccessCriteriaMet",
            "True",
            "CompletionsReached",
            message,
        ));
        conditions.push(condition(
            &old_conditions,
            "Complete",
            "True",
            "CompletionsReached",
            message,
        ));
        status["completionTime"] = Value::from(meta::now());
        status["conditions"] = Value::Array(conditions);
        write_status(&jobs, &job, status).await?;
        return Ok(Action::await_change());
    }

    let wanted = parallelism.min(completions - succeeded).max(0) as usize;
    let mut requeue =
        deadline.map(|d| Duration::from_secs_f64((d - seconds_since(&start)).max(0.05)));
    if active.len() < wanted {
        let wait = retry_wait(&ctx.config, &pods, failed);
        if wait.is_zero() {
            for _ in active.len()..wanted {
                pods_api
                    .create(&PostParams::default(), &pod_for(&job))
                    .await?;
            }
        } else {
            requeue = Some(requeue.map_or(wait, |r| r.min(wait)));
        }
    }
    if !conditions.is_empty() {
        status["conditions"] = Value::Array(conditions);
    }
    write_status(&jobs, &job, status).await?;
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// How long to wait before replacing failed pods: the batch/v1 back-off (base × 2^(failures-1),
/// at most six minutes) from the last failure, with the base from the executor's settings.
fn retry_wait(config: &ExecutorConfig, pods: &[Pod], failed: i64) -> Duration {
    if failed == 0 {
        return Duration::ZERO;
    }
    let delay = config
        .job_backoff
        .saturating_mul(2u32.saturating_pow((failed - 1).clamp(0, 16) as u32))
        .min(Duration::from_secs(360));
    let since_last = pods
        .iter()
        .filter(|p| phase(p) == "Failed")
        .filter_map(finished_at)
        .map(|t| seconds_since(&t))
        .fold(f64::INFINITY, f64::min);
    if !since_last.is_finite() {
        return Duration::ZERO;
    }
    delay.saturating_sub(Duration::from_secs_f64(since_last.max(0.0)))
}

/// A new pod from the Job's template, labelled and owned as the Job controller does it.
fn pod_for(job: &Job) -> Pod {
    let template = job
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let template_meta = template.metadata.unwrap_or_default();
    let name = job.name_any();
    let uid = job.uid().unwrap_or_default();
    let mut labels: BTreeMap<String, String> = template_meta.labels.unwrap_or_default();
    labels.insert(CONTROLLER_UID.into(), uid.clone());
    labels.insert(JOB_NAME.into(), name.clone());
    labels.insert("controller-uid".into(), uid);
    labels.insert("job-name".into(), name.clone());
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            labels: Some(labels),
            annotations: template_meta.annotations,
            owner_references: job.controller_owner_ref(&()).map(|r| vec![r]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        ..Pod::default()
    }
}

async fn delete_pods(api: &Api<Pod>, pods: &[&Pod]) {
    for pod in pods {
        if let Err(error) = api
            .delete(&pod.name_any(), &DeleteParams::background())
            .await
        {
            tracing::debug!(%error, pod = %pod.name_any(), "pod not deleted");
        }
    }
}

async fn write_status(api: &Api<Job>, job: &Job, status: Value) -> Result<(), kube::Error> {
    let body = json!({"apiVersion": "batch/v1", "kind": "Job", "status": status});
    api.patch_status(
        &job.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map(|_| ())
}

/// `ttlSecondsAfterFinished`: deletes a finished Job (and, in the background, its pods) once
/// its time is up.
async fn expire(
    api: &Api<Job>,
    job: &Job,
    spec: &k8s_openapi::api::batch::v1::JobSpec,
    status: &Value,
) -> Result<Action, kube::Error> {
    let Some(ttl) = spec.ttl_seconds_after_finished else {
        return Ok(Action::await_change());
    };
    let finished = status["completionTime"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            status["conditions"]
                .as_array()?
                .iter()
                .find(|c| c["type"] == "Failed")?["lastTransitionTime"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(meta::now);
    let left = f64::from(ttl) - seconds_since(&finished);
    if left > 0.0 {
        return Ok(Action::requeue(Duration::from_secs_f64(left)));
    }
    match api
        .delete(&job.name_any(), &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Action::await_change()),
        Err(e) => Err(e),
    }
}
