//! Tier 2: the TuningSweep controller against the embedded API server, with the local
//! executor running every trial's real `lepton-runner train` on ISLP's Default.csv.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use lepton_crds::v1alpha1::{
    FinishReason, ModelDeployment, TrainingJob, TrainingJobPhase, TuningSweep, TuningSweepPhase,
};
use lepton_operator::config::{ConfigWatch, OperatorConfig};
use support::{Harness, TempDir, condition_true, events_about, test_config};

const LONG: Duration = Duration::from_secs(300);

fn sweep(name: &str, spec: serde_json::Value) -> TuningSweep {
    let ort = support::common::ort_library();
    let mut spec = spec;
    spec["template"]["spec"]["data"] = serde_json::json!({
        "source": support::common::example_data("Default.csv"), "target": "default"});
    spec["template"]["spec"]["runner"] = serde_json::json!({
        "env": [{"name": "LEPTON_ORT_LIB", "value": ort.display().to_string()}]});
    serde_json::from_value(serde_json::json!({
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TuningSweep",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }))
    .expect("a valid TuningSweep")
}

fn finished(ts: &TuningSweep) -> bool {
    ts.status.as_ref().is_some_and(|s| {
        condition_true(&s.conditions, "Succeeded") || condition_true(&s.conditions, "Failed")
    })
}

async fn trials_of(harness: &Harness, sweep: &str) -> Vec<TrainingJob> {
    Api::<TrainingJob>::namespaced(harness.client.clone(), "default")
        .list(&ListParams::default().labels(&format!("lepton.ai/tuning-sweep={sweep}")))
        .await
        .expect("trials listed")
        .items
}

/// Runs kubectl against the embedded server; `None` when kubectl is not installed (the
/// conditions themselves are checked through the API).
async fn kubectl(harness: &Harness, args: &[&str]) -> Option<String> {
    if std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_err()
    {
        eprintln!("kubectl is not installed: skipping the kubectl checks");
        return None;
    }
    let kubeconfig = harness.work.0.join("kubeconfig");
    let output = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(args)
        .output()
        .await
        .expect("kubectl runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(stdout)
}

/// A tiny deterministic generator for the crash points (xorshift), so a failure names a
/// sequence that can be replayed.
struct Points(u64);

impl Points {
    fn next_millis(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_twenty_trial_sweep_survives_operator_crashes_and_deploys_its_choice() {
    let harness = Harness::start().await;
    harness
        .create(&sweep(
            "credit",
            serde_json::json!({
                "objective": {"metric": "auc"},
                "algorithm": {"type": "tpe", "seed": 11, "tpe": {"startupTrials": 6}},
                "parameters": [
                    {"name": "learningRate", "type": "double", "min": 0.0005, "max": 0.5, "scale": "log"},
                    {"name": "weightDecay", "type": "double", "min": 0.000001, "max": 0.1, "scale": "log"},
                    {"name": "batchSize", "type": "categorical", "values": ["64", "256", "1024"]},
                ],
                "maxTrials": 20,
                "parallelTrials": 4,
                "template": {"spec": {"model": {"family": "linear", "hyperparameters": {"epochs": 30}}}},
            }),
        ))
        .await;

    // Crash the operator at random points until the sweep is done, checking after each crash
    // that every trial keeps the parameters it was created with.
    let seed = std::env::var("LEPTON_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_u64);
    let mut points = Points(seed);
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut crashes = 0;
    let api = Api::<TuningSweep>::namespaced(harness.client.clone(), "default");
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        let operator = harness.operator();
        tokio::time::sleep(Duration::from_millis(points.next_millis(100, 900))).await;
        let done = api
            .get("credit")
            .await
            .map(|ts| finished(&ts))
            .unwrap_or(false);
        if done {
            operator.stop().await;
            break;
        }
        operator.kill();
        crashes += 1;
        for tj in trials_of(&harness, "credit").await {
            let parameters = tj.annotations()["lepton.ai/trial-parameters"].clone();
            let first = seen
                .entry(tj.name_any())
                .or_insert_with(|| parameters.clone());
            assert_eq!(
                *first,
                parameters,
                "{} changed parameters (seed {seed:#x})",
                tj.name_any()
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweep did not finish within {LONG:?} with crashes (seed {seed:#x})"
        );
    }
    eprintln!("the operator crashed {crashes} times during the sweep (seed {seed:#x})");
    assert!(
        crashes >= 3,
        "the operator crashed only {crashes} times (seed {seed:#x})"
    );

    let ts = api.get("credit").await.unwrap();
    let status = ts.status.clone().unwrap();
    assert_eq!(
        status.phase,
        Some(TuningSweepPhase::Succeeded),
        "{status:#?}"
    );
    assert_eq!(status.finish_reason, Some(FinishReason::MaxTrialsReached));
    assert_eq!(status.trials.created, 20);
    assert_eq!(status.trials.succeeded, 20, "{:?}", status.trials);
    assert_eq!(status.progress.as_deref(), Some("20/20"));

    // No trial lost, none doubled: indices 0..20 once each, one Job and one attempt each.
    let trials = trials_of(&harness, "credit").await;
    let indices: BTreeSet<u32> = trials
        .iter()
        .map(|tj| tj.labels()["lepton.ai/trial-index"].parse().unwrap())
        .collect();
    assert_eq!(indices, (0..20).collect::<BTreeSet<u32>>());
    assert_eq!(trials.len(), 20);
    let jobs = Api::<Job>::namespaced(harness.client.clone(), "default")
        .list(&ListParams::default().labels("lepton.ai/training-job"))
        .await
        .unwrap()
        .items;
    assert_eq!(jobs.len(), 20, "one Job per trial");
    let mut aucs: Vec<(f64, String)> = Vec::new();
    for tj in &trials {
        let s = tj.status.as_ref().unwrap();
        assert_eq!(s.phase, Some(TrainingJobPhase::Succeeded));
        assert_eq!(s.attempts, Some(1), "{} ran twice", tj.name_any());
        aucs.push((s.metrics["auc"], tj.name_any()));
    }
    aucs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let best = status.best_trial.clone().unwrap();
    assert_eq!(best.objective, Some(aucs[0].0));
    assert!(best.objective.unwrap() > 0.9, "{best:?}");
    assert_eq!(best.parameters.len(), 3);
    assert!(!status.pareto_front.is_empty() && status.pareto_front.len() <= 20);
    assert_eq!(status.pareto_front[0].objective, best.objective);
    // Nothing on the front is dominated by another trial on AUC, cost and latency, cost and
    // latency compared at the front's 5 % resolution.
    let below = |a: f64, b: f64| a < b - 0.05 * a.abs().max(b.abs());
    for member in &status.pareto_front {
        for other in &trials {
            let s = other.status.as_ref().unwrap();
            let (auc, cost, latency) = (
                s.metrics["auc"],
                s.cost.as_ref().and_then(|c| c.total).unwrap(),
                s.model.as_ref().and_then(|m| m.latency_p50_ms).unwrap(),
            );
            let (m_cost, m_latency) = (member.cost.unwrap(), member.latency_p50_ms.unwrap());
            let no_worse = auc >= member.objective.unwrap()
                && !below(m_cost, cost)
                && !below(m_latency, latency);
            let better =
                auc > member.objective.unwrap() || below(cost, m_cost) || below(latency, m_latency);
            assert!(
                !(no_worse && better),
                "{} dominates {}",
                other.name_any(),
                member.name
            );
        }
    }

    // A deployment of the fastest trial within 0.005 AUC of the best.
    let operator = harness.operator();
    let ort = support::common::ort_library();
    let md: ModelDeployment = serde_json::from_value(serde_json::json!({
        "apiVersion": "lepton.ai/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": "credit", "namespace": "default"},
        "spec": {
            "model": {"tuningSweep": {"name": "credit", "select": "fastestWithin", "tolerance": 0.005}},
            "runner": {"env": [{"name": "LEPTON_ORT_LIB", "value": ort.display().to_string()}]},
        },
    }))
    .unwrap();
    harness.create(&md).await;
    let md = harness
        .wait_for::<ModelDeployment>("credit", LONG, |md| {
            md.status
                .as_ref()
                .is_some_and(|s| condition_true(&s.conditions, "Ready"))
        })
        .await;
    let served = md.status.unwrap().model.unwrap();
    let within: Vec<&TrainingJob> = trials
        .iter()
        .filter(|tj| tj.status.as_ref().unwrap().metrics["auc"] >= aucs[0].0 - 0.005)
        .collect();
    // The fastest, where latencies within 5 % of the lowest tie and the higher AUC (then the
    // lower trial index) wins the tie.
    let latency = |tj: &TrainingJob| {
        tj.status
            .as_ref()
            .unwrap()
            .model
            .as_ref()
            .unwrap()
            .latency_p50_ms
            .unwrap()
    };
    let auc = |tj: &TrainingJob| tj.status.as_ref().unwrap().metrics["auc"];
    let index = |tj: &TrainingJob| -> u32 { tj.labels()["lepton.ai/trial-index"].parse().unwrap() };
    let lowest = within
        .iter()
        .map(|tj| latency(tj))
        .min_by(f64::total_cmp)
        .unwrap();
    let fastest = within
        .iter()
        .filter(|tj| lowest >= latency(tj) - 0.05 * latency(tj).max(lowest))
        .min_by(|a, b| auc(b).total_cmp(&auc(a)).then(index(a).cmp(&index(b))))
        .unwrap();
    assert_eq!(
        served.source.as_deref(),
        Some(format!("tuningSweep/credit/{}", fastest.name_any()).as_str())
    );
    assert_eq!(
        served.sha256,
        fastest
            .status
            .as_ref()
            .unwrap()
            .model
            .as_ref()
            .unwrap()
            .sha256
    );
    operator.stop().await;
    harness.shutdown().await;
}

/// A pool priced so that every trial costs about as much as the whole budget.
async fn expensive_harness() -> Harness {
    let work = TempDir::new("operator");
    let text = test_config(&work).replace("pricePerNodeHour: 0.5", "pricePerNodeHour: 36000");
    let config = OperatorConfig::parse(&text).expect("valid config");
    Harness::start_with(work, ConfigWatch::fixed(config)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cost_budget_stops_the_sweep_with_its_reason() {
    let harness = expensive_harness().await;
    let operator = harness.operator();
    harness
        .create(&sweep(
            "budget",
            serde_json::json!({
                "objective": {"metric": "auc"},
                "parameters": [{"name": "learningRate", "type": "double", "min": 0.001, "max": 0.3, "scale": "log"}],
                "maxTrials": 12,
                "parallelTrials": 1,
                "budget": {"maxCost": 1.0},
                "template": {"spec": {"model": {"family": "linear", "hyperparameters": {"epochs": 5}}}},
            }),
        ))
        .await;
    let ts = harness
        .wait_for::<TuningSweep>("budget", LONG, finished)
        .await;
    let status = ts.status.unwrap();
    if status.phase != Some(TuningSweepPhase::Succeeded) {
        let trials = trials_of(&harness, "budget").await;
        panic!(
            "{status:#?}\n{:#?}",
            trials.iter().map(|t| &t.status).collect::<Vec<_>>()
        );
    }
    assert_eq!(
        status.finish_reason,
        Some(FinishReason::CostBudgetExhausted),
        "{status:#?}"
    );
    assert_eq!(
        status.phase,
        Some(TuningSweepPhase::Succeeded),
        "{status:#?}"
    );
    assert!(status.total_cost.unwrap() >= 1.0, "{status:#?}");
    assert!(status.trials.created < 12, "{:?}", status.trials);
    let succeeded = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Succeeded")
        .unwrap();
    assert_eq!(succeeded.reason, "CostBudgetExhausted");
    assert!(
        succeeded.message.contains("cost budget of 1"),
        "{}",
        succeeded.message
    );
    operator.stop().await;
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_median_rule_stops_a_hopeless_trial_and_its_job() {
    let harness = Harness::start().await;
    let operator = harness.operator();
    // A fixed order (grid, one at a time): three good learning rates train to the end, then a
    // hopeless one is stopped by the rule while it trains.
    harness
        .create(&sweep(
            "median",
            serde_json::json!({
                "objective": {"metric": "logLoss"},
                "algorithm": {"type": "grid"},
                "earlyStopping": {"medianStop": {"minTrials": 3, "startStep": 5}},
                "parameters": [{"name": "learningRate", "type": "categorical",
                    "values": ["0.05", "0.02", "0.01", "0.0000001"]}],
                "maxTrials": 4,
                "parallelTrials": 1,
                "template": {"spec": {"model": {
                    "family": "linear",
                    "hyperparameters": {"epochs": 3000},
                    "earlyStopping": {"enabled": false},
                }}},
            }),
        ))
        .await;
    let ts = harness
        .wait_for::<TuningSweep>("median", LONG, finished)
        .await;
    let status = ts.status.unwrap();
    assert_eq!(status.trials.succeeded, 3, "{:?}", status.trials);
    assert_eq!(status.trials.early_stopped, 1, "{:?}", status.trials);
    let hopeless = harness
        .wait_for::<TrainingJob>("median-t3", LONG, |tj| {
            tj.status.as_ref().and_then(|s| s.phase) == Some(TrainingJobPhase::Stopped)
        })
        .await;
    let stopped = hopeless
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .find(|c| c.type_ == "Stopped")
        .cloned()
        .unwrap();
    assert_eq!(stopped.reason, "EarlyStopped");
    assert!(
        stopped.message.starts_with("medianStop"),
        "{}",
        stopped.message
    );
    eprintln!("the rule's message: {}", stopped.message);
    // `kubectl describe ts median` shows why.
    let is_stop = |e: &Event| {
        e.reason.as_deref() == Some("EarlyStopped")
            && e.note.as_deref().is_some_and(|n| n.contains("median-t3"))
    };
    let events = events_about(&harness.client, "median", |events| {
        events.iter().any(is_stop)
    })
    .await;
    assert!(
        events.iter().any(is_stop),
        "no EarlyStopped event on the sweep"
    );
    let progress = hopeless.status.unwrap().progress.unwrap();
    assert!(
        progress.step.unwrap() < 3000,
        "stopped before the end: {progress:?}"
    );
    // Its Job goes (the executor stops the process with it).
    let jobs = Api::<Job>::namespaced(harness.client.clone(), "default");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while jobs.get_opt("median-t3").await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Job is still there"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    operator.stop().await;
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn asha_promotes_the_best_configurations_to_more_epochs() {
    let harness = Harness::start().await;
    let operator = harness.operator();
    harness
        .create(&sweep(
            "asha",
            serde_json::json!({
                "objective": {"metric": "auc"},
                "algorithm": {"type": "asha", "seed": 5,
                    "fidelity": {"parameter": "epochs", "minResource": 1, "maxResource": 9, "reductionFactor": 3}},
                "parameters": [{"name": "learningRate", "type": "double", "min": 0.0001, "max": 0.3, "scale": "log"}],
                "maxTrials": 12,
                "parallelTrials": 3,
                "template": {"spec": {"model": {"family": "linear"}}},
            }),
        ))
        .await;
    // The real kubectl, when installed, waits on the sweep's condition.
    if let Some(waited) = kubectl(
        &harness,
        &[
            "wait",
            "--for=condition=Succeeded",
            "ts/asha",
            "--timeout=300s",
        ],
    )
    .await
    {
        assert!(waited.contains("condition met"), "{waited}");
    }
    let ts = harness
        .wait_for::<TuningSweep>("asha", LONG, finished)
        .await;
    let status = ts.status.unwrap();
    assert_eq!(
        status.phase,
        Some(TuningSweepPhase::Succeeded),
        "{status:#?}"
    );
    assert_eq!(status.trials.created, 12);

    let trials = trials_of(&harness, "asha").await;
    let by_index: BTreeMap<u32, &TrainingJob> = trials
        .iter()
        .map(|tj| (tj.labels()["lepton.ai/trial-index"].parse().unwrap(), tj))
        .collect();
    let mut promoted = 0;
    for tj in &trials {
        let epochs = tj.spec.model.hyperparameters.epochs.unwrap();
        assert_eq!(
            tj.annotations()["lepton.ai/trial-fidelity"],
            epochs.to_string()
        );
        assert!([1, 3, 9].contains(&epochs), "{epochs}");
        if let Some(from) = tj.annotations().get("lepton.ai/trial-promoted-from") {
            promoted += 1;
            // A promotion continues a finished configuration at the next rung, with the same
            // parameters.
            let parent = by_index[&from.parse::<u32>().unwrap()];
            assert_eq!(
                parent.spec.model.hyperparameters.epochs.unwrap() * 3,
                epochs
            );
            assert_eq!(
                parent.annotations()["lepton.ai/trial-parameters"],
                tj.annotations()["lepton.ai/trial-parameters"]
            );
            assert_eq!(
                parent.status.as_ref().and_then(|s| s.phase),
                Some(TrainingJobPhase::Succeeded)
            );
        } else {
            assert_eq!(epochs, 1, "new configurations start at the lowest rung");
        }
    }
    assert!(promoted >= 2, "{promoted} promotions in 12 trials");
    operator.stop().await;
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reaching_the_goal_stops_the_running_trials_and_finishes() {
    let harness = Harness::start().await;
    let operator = harness.operator();
    // Four trials at once: one short one reaches the target while three long ones still train.
    harness
        .create(&sweep(
            "goal",
            serde_json::json!({
                "objective": {"metric": "auc", "targetValue": 0.9},
                "algorithm": {"type": "grid"},
                "parameters": [{"name": "epochs", "type": "categorical",
                    "values": ["3", "9000", "9001", "9002"]}],
                "maxTrials": 4,
                "parallelTrials": 4,
                "template": {"spec": {"model": {
                    "family": "linear",
                    "earlyStopping": {"enabled": false},
                }}},
            }),
        ))
        .await;
    let ts = harness
        .wait_for::<TuningSweep>("goal", LONG, finished)
        .await;
    let status = ts.status.unwrap();
    assert_eq!(
        status.finish_reason,
        Some(FinishReason::GoalReached),
        "{status:#?}"
    );
    assert_eq!(status.phase, Some(TuningSweepPhase::Succeeded));
    assert_eq!(status.best_trial.as_ref().unwrap().name, "goal-t0");
    assert_eq!(
        status.trials.running + status.trials.pending,
        0,
        "{:?}",
        status.trials
    );
    assert!(status.trials.stopped >= 1, "{:?}", status.trials);
    assert_eq!(
        status.trials.succeeded + status.trials.stopped,
        4,
        "{:?}",
        status.trials
    );
    for tj in trials_of(&harness, "goal").await {
        let s = tj.status.unwrap();
        if s.phase == Some(TrainingJobPhase::Stopped) {
            let stopped = s.conditions.iter().find(|c| c.type_ == "Stopped").unwrap();
            assert_eq!(stopped.reason, "StoppedBySweep");
            assert!(
                stopped.message.contains("GoalReached"),
                "{}",
                stopped.message
            );
        }
    }
    operator.stop().await;
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_trial_the_api_server_refuses_is_named_on_the_sweep() {
    let harness = Harness::start().await;
    let operator = harness.operator();
    // 20000 epochs is more than a TrainingJob allows (10000): the CRD's schema refuses it.
    harness
        .create(&sweep(
            "refused",
            serde_json::json!({
                "objective": {"metric": "auc"},
                "algorithm": {"type": "grid"},
                "parameters": [{"name": "epochs", "type": "categorical", "values": ["20000"]}],
                "maxTrials": 1,
                "parallelTrials": 1,
                "template": {"spec": {"model": {"family": "linear"}}},
            }),
        ))
        .await;
    let ts = harness
        .wait_for::<TuningSweep>("refused", LONG, |ts| {
            ts.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Created" && c.reason == "InvalidSpec")
            })
        })
        .await;
    let created = ts
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Created")
        .unwrap();
    assert_eq!(created.status, "False");
    assert!(
        created.message.contains("refused-t0"),
        "{}",
        created.message
    );
    assert!(created.message.contains("epochs"), "{}", created.message);
    assert!(trials_of(&harness, "refused").await.is_empty());
    operator.stop().await;
    harness.shutdown().await;
}
