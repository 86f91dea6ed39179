//! Tier 1 (pure): every branch of the TrainingJob decision, from hand-built Jobs and pods.

use super::*;
use crate::config::OperatorConfig;
use crate::training_job::desired::spec_digest;
use crate::training_job::tests::training_job;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use lepton_crds::v1alpha1::TrainingJobPhase;
use serde_json::json;

fn t(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).unwrap()
}

fn rfc(second: i64) -> String {
    t(second).to_string()
}

fn config() -> OperatorConfig {
    OperatorConfig::parse(
        "currency: EUR\nnodePools: [{name: cpu, pricePerNodeHour: 0.5}, {name: gpu, pricePerGpuHour: 3.0}]",
    )
    .unwrap()
}

fn job(conditions: serde_json::Value, status: serde_json::Value, suspend: bool) -> Job {
    let mut status = status;
    status["conditions"] = conditions;
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "credit", "namespace": "ml", "uid": "job-uid",
            "ownerReferences": [{"apiVersion": "lepton.ai/v1alpha1", "kind": "TrainingJob",
                "name": "credit", "uid": "uid-credit", "controller": true}]},
        "spec": {"suspend": suspend, "backoffLimit": 1, "template": {"spec": {"containers": []}}},
        "status": status,
    }))
    .unwrap()
}

fn running_job() -> Job {
    job(json!([]), json!({"active": 1, "startTime": rfc(0)}), false)
}

fn pod(name: &str, state: serde_json::Value, phase: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "ml"},
        "status": {"phase": phase, "containerStatuses": [{
            "name": "runner", "ready": phase == "Running", "restartCount": 0,
            "image": "runner", "imageID": "", "state": state}]},
    }))
    .unwrap()
}

fn running_pod(started: i64) -> Pod {
    pod(
        "credit-a",
        json!({"running": {"startedAt": rfc(started)}}),
        "Running",
    )
}

fn terminated_pod(
    name: &str,
    exit: i32,
    started: i64,
    finished: i64,
    message: &str,
    reason: &str,
) -> Pod {
    pod(
        name,
        json!({"terminated": {"exitCode": exit, "reason": reason, "message": message,
            "startedAt": rfc(started), "finishedAt": rfc(finished)}}),
        if exit == 0 { "Succeeded" } else { "Failed" },
    )
}

const SUCCESS: &str = r#"{"phase":"Succeeded","objective":{"metric":"auc","value":0.9468},"metrics":{"auc":0.9468,"accuracy":0.973},"data":{"rowsRead":10000,"trainingRows":8000,"validationRows":2000,"features":4,"task":"binary"},"model":{"uri":"file:///m/credit/model.onnx","sha256":"aa","sizeBytes":2263,"family":"linear","latencyP50Ms":0.014},"durationSeconds":3.2}"#;

struct Case {
    tj: TrainingJob,
    config: OperatorConfig,
}

impl Case {
    fn new(spec: &str) -> Case {
        Case {
            tj: training_job("credit", spec),
            config: config(),
        }
    }

    fn decide(&self, job: Option<&Job>, pods: &[Pod], now: i64) -> Decision {
        let pool = self
            .config
            .pool(self.tj.spec.resources.node_pool.as_deref())
            .map_err(Blocker::UnknownPool);
        let pool_ref = pool.as_ref();
        decide(
            &self.tj,
            Observed {
                job,
                pods,
                pool: pool_ref,
                currency: &self.config.currency,
            },
            t(now),
        )
    }

    /// Decides, then makes the decided status the object's, as a write would.
    fn step(&mut self, job: Option<&Job>, pods: &[Pod], now: i64) -> Decision {
        let decision = self.decide(job, pods, now);
        self.tj.status = Some(decision.status.clone());
        decision
    }
}

fn condition<'a>(
    d: &'a Decision,
    type_: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    conditions::find(&d.status.conditions, type_).unwrap_or_else(|| panic!("no {type_}"))
}

#[test]
fn a_new_job_gets_its_job_created_and_is_pending() {
    let mut case = Case::new("resources: {nodePool: cpu}");
    let d = case.step(None, &[], 0);
    assert!(d.create_job);
    assert_eq!(d.status.phase, Some(TrainingJobPhase::Pending));
    assert_eq!(condition(&d, "Created").reason, "JobCreated");
    assert_eq!(condition(&d, "Running").reason, "PodPending");
    assert_eq!(d.status.observed_generation, Some(1));
    assert!(!d.revoke_runner_access);
}

#[test]
fn an_unknown_pool_is_a_condition_and_nothing_is_created() {
    let case = Case::new("resources: {nodePool: a100}");
    let d = case.decide(None, &[], 0);
    assert!(!d.create_job);
    let created = condition(&d, "Created");
    assert_eq!(created.status, "False");
    assert_eq!(created.reason, "UnknownNodePool");
    assert!(created.message.contains("a100") && created.message.contains("cpu, gpu"));
    assert_eq!(d.status.phase, Some(TrainingJobPhase::Pending));
    assert_eq!(
        d.requeue_after, None,
        "a config reload triggers the next reconcile"
    );
}

#[test]
fn an_invalid_spec_names_the_field() {
    let case = Case::new("");
    let problem = Blocker::Invalid(SpecProblem {
        field: "spec.resources.cpu".into(),
        message: "`lots` is not a quantity".into(),
    });
    let d = decide(
        &case.tj,
        Observed {
            job: None,
            pods: &[],
            pool: Err(&problem),
            currency: "EUR",
        },
        t(0),
    );
    assert!(!d.create_job);
    assert_eq!(condition(&d, "Created").reason, "InvalidSpec");
    assert!(
        condition(&d, "Created")
            .message
            .starts_with("spec.resources.cpu")
    );
}

#[test]
fn a_running_pod_is_running_with_a_growing_cost() {
    let mut case = Case::new("resources: {nodePool: cpu}");
    case.step(None, &[], 0);
    let job = running_job();
    let d = case.step(Some(&job), &[running_pod(10)], 3610);
    assert_eq!(d.status.phase, Some(TrainingJobPhase::Running));
    assert_eq!(condition(&d, "Running").reason, "Training");
    assert_eq!(d.requeue_after, Some(RUNNING_REFRESH));
    assert_eq!(d.status.start_time, Some(Time(t(10))));
    assert_eq!(d.status.attempts, Some(1));
    let cost = d.status.cost.clone().unwrap();
    assert_eq!(cost.pod_hours, Some(1.0));
    assert_eq!(cost.gpu_hours, None);
    assert_eq!(cost.price_per_hour, Some(0.5));
    assert_eq!(cost.total, Some(0.5));
    assert_eq!(cost.currency.as_deref(), Some("EUR"));
}

#[test]
fn gpu_pools_charge_per_gpu_hour() {
    let mut case = Case::new("resources: {nodePool: gpu, gpus: 2}");
    case.step(None, &[], 0);
    let job = running_job();
    let d = case.step(Some(&job), &[running_pod(0)], 1800);
    let cost = d.status.cost.unwrap();
    assert_eq!(cost.pod_hours, Some(0.5));
    assert_eq!(cost.gpu_hours, Some(1.0));
    assert_eq!(cost.total, Some(3.0));
}

#[test]
fn the_running_message_names_the_family_but_not_each_step() {
    let mut case = Case::new("");
    case.step(None, &[], 0);
    let mut status = case.tj.status.clone().unwrap();
    status.progress = Some(
        serde_json::from_value(json!({
        "family": "mlp", "step": 12, "totalSteps": 50, "metrics": {"auc": 0.93}}))
        .unwrap(),
    );
    case.tj.status = Some(status);
    let job = running_job();
    let d = case.step(Some(&job), &[running_pod(0)], 5);
    assert_eq!(
        condition(&d, "Running").message,
        "pod credit-a is training mlp"
    );
    // A later step alone changes nothing the operator writes.
    let before = d.status.clone();
    let mut status = case.tj.status.clone().unwrap();
    status.progress.as_mut().unwrap().step = Some(13);
    case.tj.status = Some(status);
    let d = case.decide(Some(&job), &[running_pod(0)], 6);
    assert_eq!(d.status.conditions, before.conditions);
    assert_eq!(d.status.cost, before.cost);
    assert!(d.status.progress.is_some(), "the runner's progress is kept");
}

#[test]
fn a_completed_job_succeeds_with_the_runners_results() {
    let mut case = Case::new("resources: {nodePool: cpu}");
    case.step(None, &[], 0);
    case.step(Some(&running_job()), &[running_pod(0)], 10);
    let done = job(
        json!([{"type": "Complete", "status": "True", "reason": "CompletionsReached"}]),
        json!({"succeeded": 1, "completionTime": rfc(3600)}),
        false,
    );
    let d = case.step(
        Some(&done),
        &[terminated_pod("credit-a", 0, 0, 3600, SUCCESS, "Completed")],
        3601,
    );
    assert_eq!(d.status.phase, Some(TrainingJobPhase::Succeeded));
    let succeeded = condition(&d, "Succeeded");
    assert_eq!(succeeded.reason, "TrainingCompleted");
    assert!(
        succeeded.message.contains("auc 0.9468"),
        "{}",
        succeeded.message
    );
    assert!(
        succeeded.message.contains("cost 0.5000 EUR"),
        "{}",
        succeeded.message
    );
    assert_eq!(condition(&d, "Running").status, "False");
    assert_eq!(d.status.objective.as_ref().unwrap().value, 0.9468);
    assert_eq!(d.status.metrics["accuracy"], 0.973);
    assert_eq!(
        d.status.model.as_ref().unwrap().sha256.as_deref(),
        Some("aa")
    );
    assert_eq!(d.status.data.as_ref().unwrap().rows_read, Some(10000));
    assert_eq!(d.status.completion_time, Some(Time(t(3600))));
    assert_eq!(d.status.cost.as_ref().unwrap().total, Some(0.5));
    assert!(d.revoke_runner_access);
}

#[test]
fn a_lost_status_update_loses_nothing_and_pushed_results_survive_a_short_message() {
    let mut case = Case::new("");
    case.step(None, &[], 0);
    // The runner pushed its results, with the full input schema.
    let mut status = case.tj.status.clone().unwrap();
    status.model = Some(lepton_crds::v1alpha1::ModelArtifact {
        input_schema: Some("income:double".into()),
        ..Default::default()
    });
    case.tj.status = Some(status);
    let done = job(
        json!([{"type": "Complete", "status": "True"}]),
        json!({"succeeded": 1}),
        false,
    );
    let d = case.step(
        Some(&done),
        &[terminated_pod("credit-a", 0, 0, 5, SUCCESS, "Completed")],
        6,
    );
    let model = d.status.model.unwrap();
    assert_eq!(model.sha256.as_deref(), Some("aa"));
    assert_eq!(model.input_schema.as_deref(), Some("income:double"));
}

#[test]
fn a_failing_runner_ends_failed_with_its_own_reason() {
    let mut case = Case::new("runPolicy: {backoffLimit: 1}");
    case.step(None, &[], 0);
    let failed = job(
        json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
            "message": "Job has reached the specified backoff limit"}]),
        json!({"failed": 2}),
        false,
    );
    let report = r#"{"phase":"Failed","reason":"UnknownColumn","message":"the target column `dflt` is not in the data; the columns are default, student, balance, income","durationSeconds":0.2}"#;
    let pods = [
        terminated_pod("credit-a", 1, 0, 5, report, "Error"),
        terminated_pod("credit-b", 1, 20, 25, report, "Error"),
    ];
    let d = case.step(Some(&failed), &pods, 30);
    assert_eq!(d.status.phase, Some(TrainingJobPhase::Failed));
    let failure = condition(&d, "Failed");
    assert_eq!(failure.reason, "UnknownColumn");
    assert!(failure.message.contains("`dflt`"), "{}", failure.message);
    assert!(
        failure.message.ends_with("(after 2 attempts)"),
        "{}",
        failure.message
    );
    assert_eq!(d.status.attempts, Some(2));
    assert_eq!(d.status.completion_time, Some(Time(t(30))));
    assert!(d.revoke_runner_access);
}

#[test]
fn the_deadline_and_memory_limit_have_their_own_reasons() {
    let mut case = Case::new("runPolicy: {activeDeadlineSeconds: 60}");
    case.step(None, &[], 0);
    let deadline = job(
        json!([{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]),
        json!({"failed": 1}),
        false,
    );
    let d = case.decide(Some(&deadline), &[], 70);
    assert_eq!(condition(&d, "Failed").reason, "DeadlineExceeded");
    assert!(
        condition(&d, "Failed")
            .message
            .contains("activeDeadlineSeconds (60 s)")
    );

    let backoff = job(
        json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]),
        json!({"failed": 1}),
        false,
    );
    let oom = terminated_pod("credit-a", 137, 0, 5, "", "OOMKilled");
    let d = case.decide(Some(&backoff), &[oom], 10);
    assert_eq!(condition(&d, "Failed").reason, "OutOfMemory");
    assert!(
        condition(&d, "Failed")
            .message
            .contains("spec.resources.memory")
    );

    let crash = terminated_pod("credit-a", 101, 0, 5, "thread 'main' panicked", "Error");
    let d = case.decide(Some(&backoff), &[crash], 10);
    assert_eq!(condition(&d, "Failed").reason, "BackoffLimitExceeded");
    assert!(
        condition(&d, "Failed")
            .message
            .contains("exited with code 101: thread 'main' panicked")
    );
}

#[test]
fn a_deleted_job_is_lost_and_never_recreated() {
    let mut case = Case::new("");
    case.step(None, &[], 0);
    let d = case.step(None, &[], 10);
    assert!(!d.create_job);
    assert_eq!(d.status.phase, Some(TrainingJobPhase::Failed));
    assert_eq!(condition(&d, "Failed").reason, "JobLost");
    let again = case.step(None, &[], 20);
    assert!(!again.create_job, "terminal states stay terminal");
    assert_eq!(again.status, d.status);
}

#[test]
fn a_finished_job_never_starts_again_and_its_job_goes_after_the_ttl() {
    let mut case = Case::new("runPolicy: {ttlSecondsAfterFinished: 100}");
    case.step(None, &[], 0);
    let done = job(
        json!([{"type": "Complete", "status": "True"}]),
        json!({"succeeded": 1, "completionTime": rfc(50)}),
        false,
    );
    let d = case.step(
        Some(&done),
        &[terminated_pod("credit-a", 0, 0, 50, SUCCESS, "Completed")],
        50,
    );
    assert_eq!(d.requeue_after, Some(Duration::from_secs(100)));
    let d = case.step(Some(&done), &[], 120);
    assert!(!d.delete_job);
    assert_eq!(d.requeue_after, Some(Duration::from_secs(30)));
    assert_eq!(d.status.phase, Some(TrainingJobPhase::Succeeded));
    let d = case.step(Some(&done), &[], 151);
    assert!(d.delete_job);
    let d = case.step(None, &[], 200);
    assert!(!d.create_job && !d.delete_job);
    assert_eq!(d.status.phase, Some(TrainingJobPhase::Succeeded));
}

#[test]
fn suspending_and_resuming_follow_the_spec() {
    let mut case = Case::new("");
    case.step(None, &[], 0);
    case.tj.spec.run_policy.suspend = true;
    let d = case.step(Some(&running_job()), &[running_pod(0)], 10);
    assert_eq!(d.change_job.as_ref().unwrap().suspend, Some(true));
    assert_eq!(d.status.phase, Some(TrainingJobPhase::Suspended));
    assert_eq!(condition(&d, "Suspended").reason, "SuspendedBySpec");

    case.tj.spec.run_policy.suspend = false;
    let suspended = job(json!([]), json!({}), true);
    let d = case.step(Some(&suspended), &[], 20);
    assert_eq!(d.change_job.as_ref().unwrap().suspend, Some(false));
    assert_eq!(condition(&d, "Suspended").status, "False");
    assert_eq!(condition(&d, "Suspended").reason, "Resumed");
    assert_eq!(d.status.phase, Some(TrainingJobPhase::Pending));
}

#[test]
fn kueue_resumes_queued_jobs_not_the_operator() {
    let mut case = Case::new("");
    case.tj.metadata.labels = Some(
        [(
            crate::names::KUEUE_QUEUE_LABEL.to_owned(),
            "team".to_owned(),
        )]
        .into(),
    );
    case.step(None, &[], 0);
    let queued = job(json!([]), json!({}), true);
    let d = case.step(Some(&queued), &[], 5);
    assert_eq!(d.change_job, None);
    assert_eq!(condition(&d, "Suspended").reason, "Queued");
    let admitted = running_job();
    let d = case.step(Some(&admitted), &[running_pod(6)], 10);
    assert_eq!(d.change_job, None);
    assert_eq!(d.status.phase, Some(TrainingJobPhase::Running));
}

#[test]
fn a_deadline_change_reaches_the_job() {
    let mut case = Case::new("");
    case.step(None, &[], 0);
    case.tj.spec.run_policy.active_deadline_seconds = Some(900);
    let d = case.decide(Some(&running_job()), &[], 1);
    assert_eq!(
        d.change_job.unwrap().active_deadline_seconds,
        Some(Some(900))
    );
}

#[test]
fn a_job_of_someone_else_is_not_adopted() {
    let mut case = Case::new("");
    case.tj.metadata.uid = Some("a-new-uid".into());
    let d = case.decide(Some(&running_job()), &[], 0);
    assert!(!d.create_job);
    assert_eq!(condition(&d, "Created").reason, "JobNameConflict");
}

#[test]
fn pending_pods_say_why() {
    let mut case = Case::new("");
    case.step(None, &[], 0);
    let waiting = pod(
        "credit-a",
        json!({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"runner:x\""}}),
        "Pending",
    );
    let d = case.decide(Some(&running_job()), &[waiting], 5);
    let running = condition(&d, "Running");
    assert_eq!(running.reason, "PodPending");
    assert!(
        running.message.contains("ImagePullBackOff"),
        "{}",
        running.message
    );
}

#[test]
fn deciding_again_changes_nothing_and_transition_times_stay() {
    let mut case = Case::new("resources: {nodePool: cpu}");
    case.step(None, &[], 0);
    let job = running_job();
    let first = case.step(Some(&job), &[running_pod(0)], 10);
    let second = case.decide(Some(&job), &[running_pod(0)], 10);
    assert_eq!(first.status, second.status);
    let later = case.decide(Some(&job), &[running_pod(0)], 70);
    assert_eq!(
        condition(&later, "Running").last_transition_time,
        condition(&first, "Running").last_transition_time
    );
}

#[test]
fn cost_never_decreases_when_pods_are_deleted() {
    let mut case = Case::new("resources: {nodePool: cpu}");
    case.step(None, &[], 0);
    case.step(Some(&running_job()), &[running_pod(0)], 7200);
    let d = case.step(Some(&running_job()), &[], 7300);
    assert_eq!(d.status.cost.unwrap().pod_hours, Some(2.0));
    assert_eq!(d.status.attempts, Some(1));
}

#[test]
fn spec_changes_a_job_cannot_follow_are_named() {
    let mut case = Case::new("");
    case.step(None, &[], 0);
    let mut built = running_job();
    built.metadata.annotations = Some(
        [
            (
                crate::names::SPEC_DIGEST_ANNOTATION.to_owned(),
                spec_digest(&case.tj),
            ),
            (
                crate::names::SPEC_GENERATION_ANNOTATION.to_owned(),
                "1".to_owned(),
            ),
        ]
        .into(),
    );
    let d = case.decide(Some(&built), &[], 1);
    assert_eq!(condition(&d, "Created").message, "created Job credit");
    // A deadline is followed; a new learning rate is not.
    case.tj.spec.run_policy.active_deadline_seconds = Some(60);
    let d = case.decide(Some(&built), &[], 2);
    assert_eq!(condition(&d, "Created").message, "created Job credit");
    case.tj.spec.model.hyperparameters.learning_rate = Some(0.5);
    case.tj.metadata.generation = Some(2);
    let d = case.decide(Some(&built), &[], 3);
    let message = &condition(&d, "Created").message;
    assert!(
        message.contains("from generation 1") && message.contains("create a new TrainingJob"),
        "{message}"
    );
}

#[test]
fn a_short_run_is_charged_its_measured_duration() {
    let mut case = Case::new("resources: {nodePool: cpu}");
    case.step(None, &[], 0);
    let done = job(
        json!([{"type": "Complete", "status": "True"}]),
        json!({"succeeded": 1}),
        false,
    );
    // Started and finished within one kubelet second; the runner measured 3.2 s.
    let d = case.step(
        Some(&done),
        &[terminated_pod("credit-a", 0, 5, 5, SUCCESS, "Completed")],
        6,
    );
    let cost = d.status.cost.unwrap();
    assert_eq!(cost.pod_hours, Some(round(3.2 / 3600.0)));
    assert!(cost.total.unwrap() > 0.0);
}

fn annotate(case: &mut Case, key: &str, value: &str) {
    case.tj
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(key.into(), value.into());
}

#[test]
fn a_stop_request_deletes_the_running_job_and_ends_stopped_for_good() {
    let mut case = Case::new("resources: {nodePool: cpu}");
    case.step(None, &[], 0);
    case.step(Some(&running_job()), &[running_pod(0)], 30);
    annotate(&mut case, "lepton.ai/stop", "no longer needed");
    let d = case.step(Some(&running_job()), &[running_pod(0)], 200);
    assert!(d.delete_job, "the Job goes");
    assert!(!d.create_job);
    assert!(d.revoke_runner_access);
    assert_eq!(d.status.phase, Some(TrainingJobPhase::Stopped));
    let stopped = condition(&d, "Stopped");
    assert_eq!(stopped.reason, "StopRequested");
    assert_eq!(stopped.message, "no longer needed");
    assert_eq!(condition(&d, "Running").status, "False");
    assert!(
        d.status.cost.as_ref().and_then(|c| c.total).unwrap_or(0.0) > 0.0,
        "the time it ran is paid for"
    );
    // Once the Job is gone it stays stopped and nothing is recreated.
    let again = case.step(None, &[], 300);
    assert!(!again.create_job && !again.delete_job);
    assert_eq!(again.status.phase, Some(TrainingJobPhase::Stopped));
}

#[test]
fn a_trial_stopped_by_its_sweep_says_so_and_one_never_started_is_never_created() {
    let mut case = Case::new("");
    case.tj
        .metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert("lepton.ai/tuning-sweep".into(), "credit".into());
    annotate(
        &mut case,
        "lepton.ai/stop",
        "medianStop: best auc 0.70 at step 5 is worse than the median 0.90",
    );
    let d = case.step(None, &[], 0);
    assert!(
        !d.create_job,
        "a job asked to stop before it started never starts"
    );
    assert_eq!(d.status.phase, Some(TrainingJobPhase::Stopped));
    assert_eq!(condition(&d, "Stopped").reason, "StoppedBySweep");
    assert!(condition(&d, "Stopped").message.starts_with("medianStop"));
}

#[test]
fn a_job_that_finished_before_its_stop_was_seen_keeps_its_outcome() {
    let mut case = Case::new("");
    case.step(None, &[], 0);
    annotate(&mut case, "lepton.ai/stop", "");
    let done = job(
        json!([{"type": "Complete", "status": "True"}]),
        json!({"succeeded": 1, "completionTime": rfc(50)}),
        false,
    );
    let d = case.step(
        Some(&done),
        &[terminated_pod("credit-a", 0, 0, 50, SUCCESS, "Completed")],
        60,
    );
    assert_eq!(d.status.phase, Some(TrainingJobPhase::Succeeded));
    assert!(!d.delete_job);
}

#[test]
fn a_finished_pod_keeps_the_job_running_until_the_job_completes() {
    let mut case = Case::new("resources: {nodePool: cpu}");
    case.step(None, &[], 0);
    case.step(Some(&running_job()), &[running_pod(0)], 10);
    let d = case.step(
        Some(&running_job()),
        &[terminated_pod("credit-a", 0, 0, 20, SUCCESS, "Completed")],
        21,
    );
    assert_eq!(d.status.phase, Some(TrainingJobPhase::Running));
    let running = condition(&d, "Running");
    assert_eq!(running.reason, "Training");
    assert!(
        running.message.contains("credit-a has finished"),
        "{}",
        running.message
    );
}

#[test]
fn a_run_across_a_kubelet_second_is_charged_what_the_runner_measured() {
    let mut case = Case::new("resources: {nodePool: cpu}");
    case.step(None, &[], 0);
    let done = job(
        json!([{"type": "Complete", "status": "True"}]),
        json!({"succeeded": 1}),
        false,
    );
    // The kubelet saw seconds 5 to 6 (whole seconds); the runner measured 0.3 s.
    let short = SUCCESS.replace("\"durationSeconds\":3.2", "\"durationSeconds\":0.3");
    let d = case.step(
        Some(&done),
        &[terminated_pod("credit-a", 0, 5, 6, &short, "Completed")],
        7,
    );
    assert_eq!(d.status.cost.unwrap().pod_hours, Some(round(0.3 / 3600.0)));
}
