//! How a sweep's trial is described to a person: its searched parameters, and for ASHA and
//! Hyperband its budget (epochs or trees) and the trial it was promoted from, without which
//! a promoted trial looks like a copy of its parent.

use std::collections::BTreeMap;

use kube::ResourceExt;
use lepton_crds::v1alpha1::{TrainingJob, TuningSweep};

use lepton_operator::names::{
    TRIAL_FIDELITY_ANNOTATION, TRIAL_PARAMETERS_ANNOTATION, TRIAL_PROMOTED_FROM_ANNOTATION,
};

use crate::format;

/// `name=value` pairs of `parameters`, numbers shortened, plus the trial's fidelity and
/// promotion when `job` (the trial's TrainingJob) carries them.
pub fn describe(
    sweep: &TuningSweep,
    parameters: &BTreeMap<String, String>,
    job: Option<&TrainingJob>,
) -> String {
    let mut parts: Vec<String> = parameters
        .iter()
        .map(|(k, v)| format!("{k}={}", format::parameter(v)))
        .collect();
    if let Some(job) = job {
        let annotations = job.annotations();
        if let Some(fidelity) = annotations.get(TRIAL_FIDELITY_ANNOTATION) {
            let name = serde_json::to_value(sweep.spec.algorithm.fidelity.parameter)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "budget".into());
            parts.push(format!("{name}={fidelity}"));
        }
        if let Some(from) = annotations.get(TRIAL_PROMOTED_FROM_ANNOTATION) {
            parts.push(format!("(promoted from t{from})"));
        }
    }
    parts.join(" ")
}

/// The parameters a trial's TrainingJob was created with (its annotation).
pub fn parameters_of(job: &TrainingJob) -> BTreeMap<String, String> {
    job.annotations()
        .get(TRIAL_PARAMETERS_ANNOTATION)
        .and_then(|p| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(p).ok())
        .map(|m| {
            m.into_iter()
                .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_promoted_trial_shows_its_budget_and_parent() {
        let sweep: TuningSweep = serde_json::from_value(json!({
            "apiVersion": "lepton.ai/v1alpha1", "kind": "TuningSweep",
            "metadata": {"name": "s"},
            "spec": {
                "objective": {"metric": "auc"},
                "algorithm": {"type": "asha", "fidelity": {"parameter": "epochs", "minResource": 3, "maxResource": 27}},
                "parameters": [{"name": "learningRate", "type": "double", "min": 0.001, "max": 0.1}],
                "maxTrials": 3,
                "template": {"spec": {"data": {"source": "file:///d.csv", "target": "y"}}},
            },
        }))
        .unwrap();
        let job: TrainingJob = serde_json::from_value(json!({
            "apiVersion": "lepton.ai/v1alpha1", "kind": "TrainingJob",
            "metadata": {"name": "s-t5", "annotations": {
                "lepton.ai/trial-parameters": "{\"learningRate\":\"0.0037550191821790696\",\"family\":\"mlp\"}",
                "lepton.ai/trial-fidelity": "9",
                "lepton.ai/trial-promoted-from": "1"}},
            "spec": {"data": {"source": "file:///d.csv", "target": "y"}},
        }))
        .unwrap();
        let parameters = parameters_of(&job);
        assert_eq!(
            describe(&sweep, &parameters, Some(&job)),
            "family=mlp learningRate=0.003755 epochs=9 (promoted from t1)"
        );
        assert_eq!(
            describe(&sweep, &parameters, None),
            "family=mlp learningRate=0.003755"
        );
    }
}
