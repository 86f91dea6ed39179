use super::*;
use serde_json::json;

fn job(name: &str, status: serde_json::Value) -> TrainingJob {
    serde_json::from_value(json!({
        "apiVersion": "lepton.ai/v1alpha1", "kind": "TrainingJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"data": {"source": "file:///d.csv", "target": "y"}},
        "status": status,
    }))
    .unwrap()
}

fn sweep(name: &str, status: serde_json::Value) -> TuningSweep {
    serde_json::from_value(json!({
        "apiVersion": "lepton.ai/v1alpha1", "kind": "TuningSweep",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "objective": {"metric": "auc", "goal": "maximize"},
            "algorithm": {"type": "random"},
            "parameters": [{"name": "learningRate", "type": "double", "min": 0.001, "max": 0.1}],
            "maxTrials": 3,
            "template": {"spec": {"data": {"source": "file:///d.csv", "target": "y"}}},
        },
        "status": status,
    }))
    .unwrap()
}

fn deployment(name: &str, model: serde_json::Value, status: serde_json::Value) -> ModelDeployment {
    serde_json::from_value(json!({
        "apiVersion": "lepton.ai/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"model": model},
        "status": status,
    }))
    .unwrap()
}

fn cond(type_: &str, status: &str, reason: &str, message: &str) -> serde_json::Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
           "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

fn applied() -> Vec<(Kind, String)> {
    vec![
        (Kind::TrainingJob, "train".into()),
        (Kind::TuningSweep, "sweep".into()),
        (Kind::ModelDeployment, "serve".into()),
    ]
}

fn serve_of_sweep(status: serde_json::Value) -> ModelDeployment {
    deployment(
        "serve",
        json!({"tuningSweep": {"name": "sweep", "select": "best"}}),
        status,
    )
}

#[test]
fn nothing_seen_yet_is_not_settled() {
    let verdict = assess(&applied(), &Observed::default(), false);
    assert!(!verdict.settled);
    assert!(verdict.problems.is_empty());
}

#[test]
fn a_pipeline_is_over_when_jobs_and_sweeps_are_done_and_deployments_ready() {
    let mut observed = Observed {
        jobs: vec![job("train", json!({"phase": "Succeeded"}))],
        sweeps: vec![sweep("sweep", json!({"phase": "Running"}))],
        deployments: vec![serve_of_sweep(json!({"phase": "Progressing",
            "conditions": [cond("Ready", "False", "WaitingForModel", "waiting")]}))],
    };
    assert!(!assess(&applied(), &observed, false).settled);
    assert!(!training_settled(&applied(), &observed));
    observed.sweeps = vec![sweep("sweep", json!({"phase": "Succeeded"}))];
    assert!(training_settled(&applied(), &observed));
    assert!(!assess(&applied(), &observed, false).settled);
    observed.deployments = vec![serve_of_sweep(json!({"phase": "Ready",
        "conditions": [cond("Ready", "True", "EndpointReady", "")]}))];
    assert_eq!(
        assess(&applied(), &observed, false),
        Verdict {
            settled: true,
            problems: vec![]
        }
    );
}

#[test]
fn failures_carry_the_condition_reason_and_message() {
    let observed = Observed {
        jobs: vec![job(
            "train",
            json!({"phase": "Failed", "conditions": [
            cond("Failed", "True", "DataError", "column `default` is not in the data")]}),
        )],
        sweeps: vec![sweep(
            "sweep",
            json!({"phase": "Failed", "trials": {"failed": 2}, "conditions": [
            cond("Failed", "True", "TooManyFailedTrials", "2 trials failed")]}),
        )],
        deployments: vec![serve_of_sweep(json!({"phase": "Pending"}))],
    };
    let verdict = assess(&applied(), &observed, false);
    assert!(verdict.settled);
    let reasons: Vec<(&str, &str)> = verdict
        .problems
        .iter()
        .map(|p| (p.resource.as_str(), p.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("trainingjob/train", "DataError"),
            ("tuningsweep/sweep", "TooManyFailedTrials"),
            ("modeldeployment/serve", "ModelSourceFailed"),
        ]
    );
    assert!(verdict.problems[0].message.contains("column `default`"));
    assert!(
        verdict.problems[2]
            .message
            .contains("TuningSweep sweep failed")
    );
}

#[test]
fn a_failed_sweep_with_a_good_trial_can_still_be_served() {
    let observed = Observed {
        jobs: vec![job("train", json!({"phase": "Succeeded"}))],
        sweeps: vec![sweep(
            "sweep",
            json!({"phase": "Failed", "trials": {"failed": 2, "succeeded": 1}}),
        )],
        deployments: vec![serve_of_sweep(json!({"phase": "Progressing"}))],
    };
    assert!(!assess(&applied(), &observed, false).settled);
    let late = assess(&applied(), &observed, true);
    assert!(late.settled);
    assert_eq!(late.problems.last().unwrap().reason, "NotReady");
}

#[test]
fn a_spec_the_controller_refuses_settles_at_once() {
    let only = vec![(Kind::ModelDeployment, "serve".to_owned())];
    let observed = Observed {
        deployments: vec![deployment(
            "serve",
            json!({"trainingJob": "train"}),
            json!({
            "phase": "Pending",
            "conditions": [cond("Ready", "False", "UnknownNodePool", "node pool `big` is not configured")]}),
        )],
        ..Observed::default()
    };
    let verdict = assess(&only, &observed, false);
    assert!(verdict.settled);
    assert_eq!(verdict.problems[0].reason, "UnknownNodePool");
}

#[test]
fn a_deployment_of_a_failed_job_fails_and_a_suspended_job_is_reported() {
    let only = vec![
        (Kind::TrainingJob, "train".to_owned()),
        (Kind::ModelDeployment, "serve".to_owned()),
    ];
    let observed = Observed {
        jobs: vec![job(
            "train",
            json!({"phase": "Suspended", "conditions": [
            cond("Suspended", "True", "SuspendedBySpec", "spec.runPolicy.suspend is true")]}),
        )],
        deployments: vec![deployment(
            "serve",
            json!({"trainingJob": "train"}),
            json!({"phase": "Pending"}),
        )],
        ..Observed::default()
    };
    let verdict = assess(&only, &observed, false);
    assert!(
        !verdict.settled,
        "the deployment still waits for a resumable job"
    );
    assert_eq!(verdict.problems[0].reason, "SuspendedBySpec");
    let mut failed = observed.clone();
    failed.jobs = vec![job("train", json!({"phase": "Failed"}))];
    let verdict = assess(&only, &failed, false);
    assert!(verdict.settled);
    assert!(
        verdict.problems[1]
            .message
            .contains("TrainingJob train ended Failed")
    );
}

#[test]
fn at_the_deadline_whatever_still_works_has_failed() {
    let observed = Observed {
        jobs: vec![job("train", json!({"phase": "Running"}))],
        sweeps: vec![sweep("sweep", json!({"phase": "Succeeded"}))],
        deployments: vec![serve_of_sweep(json!({"phase": "Ready",
            "conditions": [cond("Ready", "True", "EndpointReady", "")]}))],
    };
    assert!(!assess(&applied(), &observed, false).settled);
    let verdict = assess_at_deadline(&applied(), &observed);
    assert!(verdict.settled);
    assert_eq!(verdict.problems.len(), 1);
    assert_eq!(verdict.problems[0].resource, "trainingjob/train");
    assert_eq!(verdict.problems[0].reason, "TimedOut");
}
