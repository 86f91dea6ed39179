//! Tier 1 (pure): the TuningSweep decision from hand-built trials.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use lepton_crds::status::conditions;
use lepton_crds::v1alpha1::{
    FinishReason, TrainingJobStatus, TuningSweep, TuningSweepPhase, TuningSweepSpec,
};

use super::decide::{Decision, decide};
use super::trials::{self, Trial, TrialPhase};
use crate::test_support::{merged, meta};

fn t(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).unwrap()
}

fn sweep(extra: &str) -> TuningSweep {
    let spec = merged(
        serde_json::json!({
            "objective": {"metric": "auc"},
            "algorithm": {"type": "random", "seed": 7},
            "parameters": [
                {"name": "learningRate", "type": "double", "min": 0.001, "max": 0.1, "scale": "log"},
                {"name": "hiddenLayers", "type": "categorical", "values": ["16", "64,32"]},
            ],
            "maxTrials": 6,
            "parallelTrials": 2,
            "template": {"spec": {
                "data": {"source": "https://example.com/Default.csv", "target": "default"},
                "model": {"family": "mlp"},
            }},
        }),
        extra,
    );
    let spec: TuningSweepSpec = serde_json::from_value(spec).unwrap();
    TuningSweep {
        metadata: meta("credit"),
        spec,
        status: None,
    }
}

/// Runs a decision and keeps its status, as a status write would.
fn step(sweep: &mut TuningSweep, trials: &[Trial], now: i64) -> Decision {
    let d = decide(sweep, trials, t(now));
    sweep.status = Some(d.status.clone());
    d
}

/// The trials a decision created, as they read back once running.
fn created(d: &Decision, phase: TrialPhase) -> Vec<Trial> {
    d.create
        .iter()
        .map(|tj| {
            let mut trial = trials::read(tj, "auc").expect("a trial");
            trial.phase = phase;
            trial
        })
        .collect()
}

fn finish(trial: &mut Trial, auc: f64, cost: f64, latency: f64) {
    trial.phase = TrialPhase::Succeeded;
    trial.objective = Some(auc);
    trial.cost = Some(cost);
    trial.latency_ms = Some(latency);
}

fn condition<'a>(
    d: &'a Decision,
    type_: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    conditions::find(&d.status.conditions, type_).unwrap_or_else(|| panic!("no {type_}"))
}

#[test]
fn a_new_sweep_starts_parallel_trials_with_named_parameters_in_range() {
    let mut ts = sweep("");
    let d = step(&mut ts, &[], 0);
    assert_eq!(d.create.len(), 2);
    let names: Vec<String> = d.create.iter().map(|tj| tj.name_any()).collect();
    assert_eq!(names, ["credit-t0", "credit-t1"]);
    for tj in &d.create {
        let hp = &tj.spec.model.hyperparameters;
        let lr = hp.learning_rate.unwrap();
        assert!((0.001..=0.1).contains(&lr), "{lr}");
        assert!(matches!(
            hp.hidden_layers.as_deref(),
            Some([16]) | Some([64, 32])
        ));
        assert_eq!(
            tj.spec.model.metric,
            Some(lepton_crds::v1alpha1::Metric::Auc),
            "trials report the sweep's objective"
        );
        assert_eq!(tj.labels()["lepton.ai/tuning-sweep"], "credit");
        let owner = &tj.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.controller),
            ("TuningSweep", Some(true))
        );
        let parameters: BTreeMap<String, String> =
            serde_json::from_str(&tj.annotations()["lepton.ai/trial-parameters"]).unwrap();
        assert_eq!(parameters.len(), 2);
    }
    assert_eq!(d.status.phase, Some(TuningSweepPhase::Running));
    assert_eq!(d.status.next_trial_index, Some(2));
    assert!(d.status.start_time.is_some());
    assert_eq!(d.status.progress.as_deref(), Some("0/6"));
}

#[test]
fn the_same_trials_give_the_same_decision_so_a_restart_resumes_exactly() {
    let ts = sweep("algorithm: {type: tpe, seed: 3, tpe: {startupTrials: 2}}");
    let first = decide(&ts, &[], t(0));
    let mut running = created(&first, TrialPhase::Running);
    finish(&mut running[0], 0.93, 0.01, 0.2);
    finish(&mut running[1], 0.91, 0.01, 0.2);
    let a = decide(&ts, &running, t(10));
    let b = decide(&ts, &running, t(20));
    assert_eq!(a.create, b.create);
    assert_eq!(a.create.len(), 2);
    assert_eq!(a.create[0].name_any(), "credit-t2");
}

#[test]
fn slots_and_max_trials_bound_creation_and_indices_never_repeat() {
    let mut ts = sweep("");
    let d = step(&mut ts, &[], 0);
    let mut trials = created(&d, TrialPhase::Running);
    let d = step(&mut ts, &trials, 5);
    assert!(d.create.is_empty(), "both slots are taken");
    finish(&mut trials[0], 0.9, 0.01, 0.1);
    let d = step(&mut ts, &trials, 10);
    assert_eq!(d.create.len(), 1);
    assert_eq!(d.create[0].name_any(), "credit-t2");
    // A deleted trial's index is not reused: the status remembers the next one.
    trials.remove(0);
    let d = step(&mut ts, &trials, 12);
    assert_eq!(d.create[0].name_any(), "credit-t3");
}

#[test]
fn max_trials_finishes_with_the_best_trial_and_the_pareto_front() {
    let mut ts = sweep("maxTrials: 4\nparallelTrials: 4");
    let d = step(&mut ts, &[], 0);
    let mut trials = created(&d, TrialPhase::Running);
    finish(&mut trials[0], 0.95, 0.30, 2.0); // best
    finish(&mut trials[1], 0.94, 0.10, 1.0); // cheaper and faster
    finish(&mut trials[2], 0.93, 0.20, 3.0); // dominated by t1
    trials[3].phase = TrialPhase::Failed;
    let d = step(&mut ts, &trials, 100);
    assert!(d.create.is_empty());
    assert_eq!(d.status.phase, Some(TuningSweepPhase::Succeeded));
    assert_eq!(d.status.finish_reason, Some(FinishReason::MaxTrialsReached));
    assert_eq!(condition(&d, "Succeeded").reason, "MaxTrialsReached");
    assert!(
        condition(&d, "Succeeded")
            .message
            .contains("best auc 0.9500 by credit-t0")
    );
    let best = d.status.best_trial.as_ref().unwrap();
    assert_eq!(best.name, "credit-t0");
    let front: Vec<&str> = d
        .status
        .pareto_front
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(front, ["credit-t0", "credit-t1"]);
    assert_eq!(d.status.trials.succeeded, 3);
    assert_eq!(d.status.trials.failed, 1);
    assert_eq!(d.status.total_cost, Some(0.6));
    assert_eq!(d.status.progress.as_deref(), Some("4/4"));
    assert!(d.status.completion_time.is_some());
}

#[test]
fn raising_max_trials_resumes_a_finished_sweep_and_keeps_its_trials() {
    let mut ts = sweep("maxTrials: 2");
    let d = step(&mut ts, &[], 0);
    let mut trials = created(&d, TrialPhase::Running);
    finish(&mut trials[0], 0.9, 0.1, 1.0);
    finish(&mut trials[1], 0.8, 0.1, 1.0);
    let d = step(&mut ts, &trials, 10);
    assert_eq!(d.status.phase, Some(TuningSweepPhase::Succeeded));
    ts.spec.max_trials = 5;
    ts.spec.parallel_trials = 3;
    ts.metadata.generation = Some(2);
    let d = step(&mut ts, &trials, 20);
    assert_eq!(d.status.phase, Some(TuningSweepPhase::Running));
    assert_eq!(d.status.finish_reason, None);
    let names: Vec<String> = d.create.iter().map(|tj| tj.name_any()).collect();
    assert_eq!(names, ["credit-t2", "credit-t3", "credit-t4"]);
    assert!(d.stop.is_empty());
    assert_eq!(d.status.trials.succeeded, 2, "finished trials are kept");
}

#[test]
fn the_goal_stops_running_trials_and_finishes_once_they_have_stopped() {
    let mut ts = sweep("objective: {metric: auc, targetValue: 0.95}");
    let d = step(&mut ts, &[], 0);
    let mut trials = created(&d, TrialPhase::Running);
    finish(&mut trials[0], 0.951, 0.1, 1.0);
    let d = step(&mut ts, &trials, 10);
    assert!(d.create.is_empty());
    assert_eq!(d.stop.len(), 1);
    assert_eq!(d.stop[0].name, "credit-t1");
    assert!(!d.stop[0].early);
    assert!(d.stop[0].message.contains("GoalReached"));
    assert_eq!(
        d.status.finish_reason, None,
        "not before the stopped trial has ended"
    );
    assert_eq!(condition(&d, "Running").reason, "GoalReached");
    assert!(
        condition(&d, "Running")
            .message
            .contains("waiting for 1 trial")
    );
    // Once the stop is asked for it is not asked again.
    trials[1].stop_requested = true;
    let d = step(&mut ts, &trials, 12);
    assert!(d.stop.is_empty());
    trials[1].phase = TrialPhase::Stopped;
    let d = step(&mut ts, &trials, 15);
    assert_eq!(d.status.finish_reason, Some(FinishReason::GoalReached));
    assert_eq!(d.status.phase, Some(TuningSweepPhase::Succeeded));
    assert_eq!(d.status.trials.stopped, 1);
    // The goal stays reached for good, even if the target is raised.
    ts.spec.objective.target_value = Some(0.99);
    let d = step(&mut ts, &trials, 20);
    assert_eq!(d.status.finish_reason, Some(FinishReason::GoalReached));
    assert!(d.create.is_empty());
}

#[test]
fn too_many_failures_fail_the_sweep() {
    let mut ts = sweep("maxFailedTrials: 1");
    let d = step(&mut ts, &[], 0);
    let mut trials = created(&d, TrialPhase::Failed);
    trials.truncate(2);
    let d = step(&mut ts, &trials, 10);
    assert_eq!(d.status.phase, Some(TuningSweepPhase::Failed));
    assert_eq!(condition(&d, "Failed").reason, "TooManyFailedTrials");
    assert!(condition(&d, "Failed").message.contains("2 trials failed"));
}

#[test]
fn budgets_stop_the_sweep_with_their_reason() {
    let mut ts = sweep("budget: {maxCost: 0.5}");
    let d = step(&mut ts, &[], 0);
    let mut trials = created(&d, TrialPhase::Running);
    finish(&mut trials[0], 0.9, 0.3, 1.0);
    trials[1].cost = Some(0.25);
    let d = step(&mut ts, &trials, 10);
    assert_eq!(d.stop.len(), 1);
    assert!(d.create.is_empty());
    trials[1].phase = TrialPhase::Stopped;
    let d = step(&mut ts, &trials, 11);
    assert_eq!(
        d.status.finish_reason,
        Some(FinishReason::CostBudgetExhausted)
    );
    assert_eq!(d.status.phase, Some(TuningSweepPhase::Succeeded));

    let mut ts = sweep("budget: {maxDurationSeconds: 600}");
    let d = step(&mut ts, &[], 0);
    let mut trials = created(&d, TrialPhase::Running);
    let d = step(&mut ts, &trials, 300);
    assert_eq!(d.status.phase, Some(TuningSweepPhase::Running));
    let wake = d.requeue_after.expect("wakes when the budget ends");
    assert!(
        wake >= Duration::from_secs(299) && wake <= Duration::from_secs(301),
        "{wake:?}"
    );
    let d = step(&mut ts, &trials, 601);
    assert_eq!(d.stop.len(), 2);
    for trial in &mut trials {
        trial.phase = TrialPhase::Stopped;
    }
    let d = step(&mut ts, &trials, 602);
    assert_eq!(
        d.status.finish_reason,
        Some(FinishReason::TimeBudgetExhausted)
    );
    assert_eq!(
        d.status.phase,
        Some(TuningSweepPhase::Failed),
        "no trial produced a model"
    );
    assert_eq!(condition(&d, "Failed").reason, "NoSuccessfulTrial");
}

#[test]
fn the_median_rule_stops_a_trial_behind_the_others() {
    let mut ts = sweep(
        "maxTrials: 10\nparallelTrials: 4\nearlyStopping: {medianStop: {minTrials: 3, startStep: 3}}",
    );
    let d = step(&mut ts, &[], 0);
    let mut trials = created(&d, TrialPhase::Running);
    let good: Vec<(u32, f64)> = (1..=10).map(|s| (s, 0.90 + 0.001 * f64::from(s))).collect();
    for trial in trials.iter_mut().take(3) {
        trial.curve = good.clone();
    }
    trials[3].curve = (1..=5).map(|s| (s, 0.60)).collect();
    let d = step(&mut ts, &trials, 10);
    assert_eq!(d.stop.len(), 1, "{:?}", d.stop);
    assert_eq!(d.stop[0].name, "credit-t3");
    assert!(d.stop[0].early);
    assert!(
        d.stop[0].message.starts_with("medianStop"),
        "{}",
        d.stop[0].message
    );
    assert_eq!(
        d.create.len(),
        1,
        "the stopped trial's slot is used at once"
    );
}

#[test]
fn a_grid_finishes_when_its_points_are_tried() {
    let mut ts = sweep(
        "algorithm: {type: grid}\nparameters: [{name: hiddenLayers, type: categorical, values: ['16', '32']}]\nmaxTrials: 10",
    );
    let d = step(&mut ts, &[], 0);
    let mut trials = created(&d, TrialPhase::Running);
    assert_eq!(trials.len(), 2);
    finish(&mut trials[0], 0.9, 0.1, 1.0);
    finish(&mut trials[1], 0.8, 0.1, 1.0);
    let d = step(&mut ts, &trials, 10);
    assert!(d.create.is_empty());
    assert_eq!(
        d.status.finish_reason,
        Some(FinishReason::SearchSpaceExhausted)
    );
    assert!(
        condition(&d, "Created")
            .message
            .contains("the grid has 2 points")
    );
}

#[test]
fn asha_sets_the_fidelity_of_each_trial() {
    let mut ts = sweep(
        "algorithm: {type: asha, fidelity: {minResource: 1, maxResource: 9, reductionFactor: 3}}\nparallelTrials: 3",
    );
    let d = step(&mut ts, &[], 0);
    for tj in &d.create {
        assert_eq!(tj.spec.model.hyperparameters.epochs, Some(1));
        assert_eq!(tj.annotations()["lepton.ai/trial-fidelity"], "1");
    }
}

#[test]
fn specs_a_sweep_cannot_run_name_the_field() {
    let mut ts = sweep("template: {spec: {model: {family: mlp, metric: rmse}}}");
    let d = step(&mut ts, &[], 0);
    assert!(d.create.is_empty());
    let created = condition(&d, "Created");
    assert_eq!(
        (created.status.as_str(), created.reason.as_str()),
        ("False", "InvalidSpec")
    );
    assert!(
        created.message.contains("spec.template.spec.model.metric"),
        "{}",
        created.message
    );

    let mut ts = sweep(
        "algorithm: {type: asha, fidelity: {parameter: epochs}}\ntemplate: {spec: {model: {family: gbdt}}}",
    );
    let d = step(&mut ts, &[], 0);
    assert!(d.create.is_empty());
    let message = &condition(&d, "Created").message;
    assert!(
        message.contains("spec.algorithm.fidelity.parameter epochs"),
        "{message}"
    );
    assert!(message.contains("gbdt"), "{message}");

    let mut ts = sweep("parameters: [{name: hiddenLayers, type: categorical, values: ['wide']}]");
    let d = step(&mut ts, &[], 0);
    assert!(d.create.is_empty());
    let message = &condition(&d, "Created").message;
    assert!(
        message.contains("hiddenLayers") && message.contains("wide"),
        "{message}"
    );
}

#[test]
fn a_trial_reads_back_from_its_training_job() {
    let ts = sweep("");
    let d = decide(&ts, &[], t(0));
    let mut tj = d.create[0].clone();
    tj.status = Some(TrainingJobStatus {
        phase: Some(lepton_crds::v1alpha1::TrainingJobPhase::Succeeded),
        objective: Some(lepton_crds::v1alpha1::ObjectiveValue {
            metric: lepton_crds::v1alpha1::Metric::Auc,
            value: 0.94,
        }),
        start_time: Some(Time(t(0))),
        completion_time: Some(Time(t(30))),
        ..TrainingJobStatus::default()
    });
    let trial = trials::read(&tj, "auc").unwrap();
    assert_eq!(trial.index, 0);
    assert_eq!(trial.phase, TrialPhase::Succeeded);
    assert_eq!(trial.objective, Some(0.94));
    assert_eq!(trial.training_seconds, Some(30.0));
    assert_eq!(trial.parameters.len(), 2);
    // The parameters parse back into the search space.
    let space = super::decide::check(&ts).unwrap();
    let observed = trials::observed(&trial, &space, trials::goal(&ts.spec));
    assert_eq!(observed.assignment.len(), 2);
    assert_eq!(observed.loss, Some(-0.94));
}
