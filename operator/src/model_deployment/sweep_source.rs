//! A model chosen from a TuningSweep's trials by a selection policy (`best`, `fastestWithin`,
//! `cheapestWithin`). Pure; the reconcile reads the sweep and its trials and passes them in.
//!
//! While the sweep runs, a deployment serves the choice among the trials finished so far and
//! keeps it (no rollout for every better trial); when the sweep finishes it chooses again
//! among all trials, once.

use kube::ResourceExt;
use lepton_crds::status::model_deployment::reasons;
use lepton_crds::v1alpha1::{
    SelectionPolicy, ServedModel, SweepModelSelection, TrainingJob, TuningSweep, TuningSweepPhase,
};
use lepton_tuning::pareto::{Candidate, Selection, select_within};

use super::source::{ModelRef, Resolution};
use crate::tuning_sweep::decide::PARETO_RESOLUTION;
use crate::tuning_sweep::trials::{self, TrialPhase};

/// The `status.model.source` of a model chosen from `sweep`: `tuningSweep/<sweep>/<trial>`.
pub fn source_name(sweep: &str, trial: &str) -> String {
    format!("tuningSweep/{sweep}/{trial}")
}

/// Resolves `selection` (the spec field `field`) given the sweep, its trials, and the model
/// the deployment serves now.
pub fn resolve(
    selection: &SweepModelSelection,
    field: &str,
    sweep: Option<&TuningSweep>,
    trial_jobs: &[TrainingJob],
    serving: Option<&ServedModel>,
) -> Resolution {
    let name = &selection.name;
    let Some(sweep) = sweep else {
        return Resolution::Waiting(format!(
            "waiting for TuningSweep {name} ({field}.tuningSweep), which does not exist yet"
        ));
    };
    let phase = sweep.status.as_ref().and_then(|s| s.phase);
    let finished = matches!(
        phase,
        Some(TuningSweepPhase::Succeeded | TuningSweepPhase::Failed)
    );
    let goal = trials::goal(&sweep.spec);
    let metric = sweep.spec.objective.metric.as_str();
    // Succeeded trials with an objective and a model, each read once.
    let usable: Vec<(&TrainingJob, trials::Trial)> = trial_jobs
        .iter()
        .filter_map(|tj| Some((tj, trials::read(tj, metric)?)))
        .filter(|(_, trial)| {
            trial.phase == TrialPhase::Succeeded
                && trial.objective.is_some()
                && trial.model_uri.is_some()
        })
        .collect();

    if !finished
        && let Some(serving) = serving
        && let Some(source) = &serving.source
        && let Some(trial) = source.strip_prefix(&format!("tuningSweep/{name}/"))
        && let Some((tj, _)) = usable.iter().find(|(tj, _)| tj.name_any() == trial)
    {
        return Resolution::Ready(model_of(name, tj));
    }
    if usable.is_empty() {
        return if finished {
            Resolution::Unavailable {
                reason: reasons::MODEL_UNAVAILABLE,
                message: format!(
                    "TuningSweep {name} finished without a successful trial with a model; fix \
                     the sweep (see its Failed condition) or point {field} at another model"
                ),
            }
        } else {
            let progress = sweep
                .status
                .as_ref()
                .and_then(|s| s.progress.clone())
                .unwrap_or_else(|| "0".to_owned());
            Resolution::Waiting(format!(
                "waiting for the first successful trial of TuningSweep {name} ({progress} \
                 trials finished)"
            ))
        };
    }
    let candidates: Vec<Candidate> = usable
        .iter()
        .map(|(_, trial)| Candidate {
            loss: trials::loss(goal, trial.objective.unwrap_or(f64::NAN)),
            latency_ms: trial.latency_ms,
            cost: trial.cost,
        })
        .collect();
    let tolerance = selection.tolerance.unwrap_or(0.0);
    let policy = match selection.select {
        SelectionPolicy::Best => Selection::Best,
        SelectionPolicy::FastestWithin => Selection::FastestWithin(tolerance),
        SelectionPolicy::CheapestWithin => Selection::CheapestWithin(tolerance),
    };
    match select_within(policy, &candidates, PARETO_RESOLUTION) {
        Some(i) => Resolution::Ready(model_of(name, usable[i].0)),
        None => Resolution::Waiting(format!("no trial of TuningSweep {name} can be chosen yet")),
    }
}

fn model_of(sweep: &str, tj: &TrainingJob) -> ModelRef {
    let model = tj
        .status
        .as_ref()
        .and_then(|s| s.model.clone())
        .unwrap_or_default();
    ModelRef {
        source: source_name(sweep, &tj.name_any()),
        uri: model.uri.unwrap_or_default(),
        sha256: model.sha256,
        family: model.family,
        s3: tj.spec.output.as_ref().and_then(|o| o.s3.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::meta;
    use crate::training_job::tests::training_job;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use lepton_crds::v1alpha1::{
        ModelArtifact, TrainingCost, TrainingJobPhase, TrainingJobStatus, TuningSweepSpec,
        TuningSweepStatus,
    };

    fn sweep(phase: TuningSweepPhase) -> TuningSweep {
        let spec: TuningSweepSpec = serde_json::from_value(serde_json::json!({
            "objective": {"metric": "auc"},
            "parameters": [{"name": "learningRate", "type": "double", "min": 0.001, "max": 0.1}],
            "template": {"spec": {"data": {"source": "https://example.com/d.csv", "target": "y"}}},
        }))
        .unwrap();
        TuningSweep {
            metadata: meta("s"),
            spec,
            status: Some(TuningSweepStatus {
                phase: Some(phase),
                progress: Some("3/20".into()),
                ..TuningSweepStatus::default()
            }),
        }
    }

    fn trial(index: u32, auc: f64, latency: f64, cost: f64) -> TrainingJob {
        let mut tj = training_job(&format!("s-t{index}"), "");
        tj.metadata.labels = Some(
            [
                ("lepton.ai/tuning-sweep".to_owned(), "s".to_owned()),
                ("lepton.ai/trial-index".to_owned(), index.to_string()),
            ]
            .into(),
        );
        tj.status = Some(TrainingJobStatus {
            phase: Some(TrainingJobPhase::Succeeded),
            metrics: [("auc".to_owned(), auc)].into(),
            cost: Some(TrainingCost {
                total: Some(cost),
                ..TrainingCost::default()
            }),
            model: Some(ModelArtifact {
                uri: Some(format!("file:///m/s-t{index}/model.onnx")),
                sha256: Some(format!("{index:064}")),
                latency_p50_ms: Some(latency),
                ..ModelArtifact::default()
            }),
            completion_time: Some(Time(jiff::Timestamp::UNIX_EPOCH)),
            ..TrainingJobStatus::default()
        });
        tj
    }

    fn choose(
        policy: &str,
        tolerance: Option<f64>,
        trials: &[TrainingJob],
        phase: TuningSweepPhase,
        serving: Option<&ServedModel>,
    ) -> Resolution {
        let selection = SweepModelSelection {
            name: "s".into(),
            select: serde_json::from_value(serde_json::json!(policy)).unwrap(),
            tolerance,
        };
        resolve(
            &selection,
            "spec.model",
            Some(&sweep(phase)),
            trials,
            serving,
        )
    }

    fn chosen(resolution: Resolution) -> String {
        match resolution {
            Resolution::Ready(model) => model.source,
            other => panic!("not ready: {other:?}"),
        }
    }

    #[test]
    fn each_policy_chooses_along_the_front() {
        let trials = [
            trial(0, 0.950, 2.0, 0.30),
            trial(1, 0.947, 0.5, 0.20),
            trial(2, 0.946, 1.0, 0.05),
            trial(3, 0.900, 0.1, 0.01),
        ];
        let done = TuningSweepPhase::Succeeded;
        assert_eq!(
            chosen(choose("best", None, &trials, done, None)),
            "tuningSweep/s/s-t0"
        );
        assert_eq!(
            chosen(choose("fastestWithin", Some(0.005), &trials, done, None)),
            "tuningSweep/s/s-t1"
        );
        assert_eq!(
            chosen(choose("cheapestWithin", Some(0.005), &trials, done, None)),
            "tuningSweep/s/s-t2"
        );
        assert_eq!(
            chosen(choose("fastestWithin", Some(0.0), &trials, done, None)),
            "tuningSweep/s/s-t0",
            "no tolerance is the best"
        );
    }

    #[test]
    fn a_running_sweep_keeps_what_is_served_and_a_finished_one_chooses_again() {
        let trials = [trial(0, 0.90, 1.0, 0.1), trial(1, 0.95, 1.0, 0.1)];
        let serving = ServedModel {
            source: Some("tuningSweep/s/s-t0".into()),
            ..ServedModel::default()
        };
        let running = TuningSweepPhase::Running;
        assert_eq!(
            chosen(choose("best", None, &trials, running, Some(&serving))),
            "tuningSweep/s/s-t0",
            "no rollout for every better trial"
        );
        assert_eq!(
            chosen(choose("best", None, &trials, running, None)),
            "tuningSweep/s/s-t1",
            "the best so far when nothing is served yet"
        );
        assert_eq!(
            chosen(choose(
                "best",
                None,
                &trials,
                TuningSweepPhase::Succeeded,
                Some(&serving)
            )),
            "tuningSweep/s/s-t1"
        );
    }

    #[test]
    fn waits_and_failures_say_what_to_do() {
        let selection = SweepModelSelection {
            name: "s".into(),
            select: SelectionPolicy::Best,
            tolerance: None,
        };
        let missing = resolve(&selection, "spec.model", None, &[], None);
        assert!(matches!(missing, Resolution::Waiting(m) if m.contains("does not exist yet")));
        let mut running = trial(0, 0.9, 1.0, 0.1);
        running.status.as_mut().unwrap().phase = Some(TrainingJobPhase::Running);
        let waiting = choose("best", None, &[running], TuningSweepPhase::Running, None);
        assert!(matches!(waiting, Resolution::Waiting(m) if m.contains("3/20")));
        let failed = choose("best", None, &[], TuningSweepPhase::Failed, None);
        assert!(matches!(
            failed,
            Resolution::Unavailable { reason: reasons::MODEL_UNAVAILABLE, message }
                if message.contains("without a successful trial")
        ));
    }
}
