//! TrainingJobs as the report sees them: one flat record of what a reader compares.

use std::collections::BTreeMap;

use lepton_crds::v1alpha1::{
    ConcreteModelFamily, Metric, TrainingJob, TrainingJobPhase, TrialSummary,
};

/// Label the operator puts on every trial, naming its sweep.
pub(crate) const SWEEP_LABEL: &str = "lepton.ai/tuning-sweep";
/// Label with a trial's index within its sweep.
const TRIAL_INDEX_LABEL: &str = "lepton.ai/trial-index";
/// Annotation with a trial's parameters, a JSON object of strings.
const TRIAL_PARAMETERS_ANNOTATION: &str = "lepton.ai/trial-parameters";
/// Annotation with an ASHA or Hyperband trial's budget (epochs or trees).
const TRIAL_FIDELITY_ANNOTATION: &str = "lepton.ai/trial-fidelity";
/// Annotation with the index of the trial a promoted trial continues.
const TRIAL_PROMOTED_FROM_ANNOTATION: &str = "lepton.ai/trial-promoted-from";
/// Annotation the operator adds when the sweep's early-stopping rule (rather than the end of
/// the sweep) stopped a trial.
const EARLY_STOPPED_ANNOTATION: &str = "lepton.ai/early-stopped";

/// Where a job stands, with the sweep's distinction between a trial its rule gave up on and
/// one cut short because the sweep ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Pending,
    Running,
    Succeeded,
    Failed,
    EarlyStopped,
    Stopped,
    Suspended,
}

impl State {
    /// The word shown on the page.
    pub(crate) fn label(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Running => "running",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::EarlyStopped => "early-stopped",
            State::Stopped => "stopped",
            State::Suspended => "suspended",
        }
    }

    /// Whether the job ended without a model: its curve is drawn muted and dashed.
    pub(crate) fn cut_short(self) -> bool {
        matches!(self, State::EarlyStopped | State::Stopped | State::Failed)
    }
}

/// One TrainingJob (or a trial known only from its sweep's status).
#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub(crate) name: String,
    pub(crate) index: Option<i64>,
    pub(crate) state: State,
    /// Why it failed or stopped, from the matching condition.
    pub(crate) reason: Option<String>,
    /// The metric `objective` and `curve` measure.
    pub(crate) metric: Option<Metric>,
    pub(crate) objective: Option<f64>,
    pub(crate) cost: Option<f64>,
    pub(crate) currency: Option<String>,
    pub(crate) latency_ms: Option<f64>,
    pub(crate) size_bytes: Option<i64>,
    pub(crate) family: Option<ConcreteModelFamily>,
    pub(crate) parameters: BTreeMap<String, String>,
    /// (step, value) with non-finite values left out.
    pub(crate) curve: Vec<(f64, f64)>,
}

impl Job {
    /// Reads a TrainingJob; `metric` overrides the job's own objective metric (a sweep's
    /// trials are judged on the sweep's metric).
    pub(crate) fn read(tj: &TrainingJob, metric: Option<Metric>) -> Job {
        let meta = &tj.metadata;
        let labels = meta.labels.clone().unwrap_or_default();
        let annotations = meta.annotations.clone().unwrap_or_default();
        let status = tj.status.clone().unwrap_or_default();
        let state = match status.phase {
            None | Some(TrainingJobPhase::Pending) => State::Pending,
            Some(TrainingJobPhase::Running) => State::Running,
            Some(TrainingJobPhase::Succeeded) => State::Succeeded,
            Some(TrainingJobPhase::Failed) => State::Failed,
            Some(TrainingJobPhase::Suspended) => State::Suspended,
            Some(TrainingJobPhase::Stopped)
                if annotations.contains_key(EARLY_STOPPED_ANNOTATION) =>
            {
                State::EarlyStopped
            }
            Some(TrainingJobPhase::Stopped) => State::Stopped,
        };
        let reason = status
            .conditions
            .iter()
            .find(|c| c.status == "True" && matches!(c.type_.as_str(), "Failed" | "Stopped"))
            .map(|c| c.reason.clone())
            .filter(|r| !r.is_empty());
        let metric = metric
            .or(status.objective.as_ref().map(|o| o.metric))
            .or(tj.spec.model.metric);
        let objective = match (metric, &status.objective) {
            (Some(m), Some(o)) if o.metric == m => Some(o.value),
            (Some(m), _) => status.metrics.get(m.as_str()).copied(),
            (None, o) => o.as_ref().map(|o| o.value),
        };
        let curve = status
            .progress
            .as_ref()
            .map(|p| {
                p.objective_curve
                    .iter()
                    .map(|point| (point.step as f64, point.value))
                    .filter(|(s, v)| s.is_finite() && v.is_finite())
                    .collect()
            })
            .unwrap_or_default();
        let model = status.model.clone().unwrap_or_default();
        let cost = status.cost.clone().unwrap_or_default();
        Job {
            name: meta.name.clone().unwrap_or_else(|| "(unnamed)".to_owned()),
            index: labels.get(TRIAL_INDEX_LABEL).and_then(|v| v.parse().ok()),
            state,
            reason,
            metric,
            objective: finite(objective),
            cost: finite(cost.total),
            currency: cost.currency,
            latency_ms: finite(model.latency_p50_ms),
            size_bytes: model.size_bytes,
            family: model
                .family
                .or(status.progress.as_ref().and_then(|p| p.family))
                .or(tj.spec.concrete_family()),
            parameters: trial_parameters(tj),
            curve,
        }
    }

    /// A trial the sweep's status names but whose TrainingJob is not in the record (deleted,
    /// or not listed): it finished, and the summary is all there is.
    pub(crate) fn from_summary(summary: &TrialSummary, metric: Metric) -> Job {
        let mut job = Job {
            name: summary.name.clone(),
            index: None,
            state: State::Succeeded,
            reason: None,
            metric: Some(metric),
            objective: None,
            cost: None,
            currency: None,
            latency_ms: None,
            size_bytes: None,
            family: None,
            parameters: BTreeMap::new(),
            curve: Vec::new(),
        };
        job.fill_from(summary);
        job
    }

    /// Fills what the TrainingJob did not report from the sweep's summary of it.
    pub(crate) fn fill_from(&mut self, summary: &TrialSummary) {
        self.objective = self.objective.or(finite(summary.objective));
        self.cost = self.cost.or(finite(summary.cost));
        self.latency_ms = self.latency_ms.or(finite(summary.latency_p50_ms));
        self.size_bytes = self.size_bytes.or(summary.model_size_bytes);
        if self.parameters.is_empty() {
            self.parameters = summary.parameters.clone();
        }
    }
}

/// A trial's searched parameters, plus, for ASHA and Hyperband, its budget and the trial it
/// was promoted from: without them a promoted trial reads as a copy of its parent.
fn trial_parameters(tj: &TrainingJob) -> BTreeMap<String, String> {
    let empty = BTreeMap::new();
    let annotations = tj.metadata.annotations.as_ref().unwrap_or(&empty);
    let mut parameters: BTreeMap<String, String> = annotations
        .get(TRIAL_PARAMETERS_ANNOTATION)
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default();
    if let Some(budget) = annotations.get(TRIAL_FIDELITY_ANNOTATION) {
        let hyper = &tj.spec.model.hyperparameters;
        let name = if hyper.num_trees.map(|n| n.to_string()).as_ref() == Some(budget) {
            "numTrees"
        } else {
            "epochs"
        };
        parameters.insert(name.to_owned(), budget.clone());
    }
    if let Some(from) = annotations.get(TRIAL_PROMOTED_FROM_ANNOTATION) {
        parameters.insert("promotedFrom".to_owned(), format!("t{from}"));
    }
    parameters
}

/// `value` when it is a number a chart can place.
pub(crate) fn finite(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_promoted_trial_shows_its_budget_and_parent() {
        let tj: TrainingJob = serde_json::from_value(serde_json::json!({
            "apiVersion": "lepton.ai/v1alpha1", "kind": "TrainingJob",
            "metadata": {"name": "s-t5", "annotations": {
                "lepton.ai/trial-parameters": "{\"learningRate\":\"0.01\"}",
                "lepton.ai/trial-fidelity": "9",
                "lepton.ai/trial-promoted-from": "1"}},
            "spec": {"data": {"source": "file:///d.csv", "target": "y"},
                     "model": {"hyperparameters": {"epochs": 9}}},
        }))
        .unwrap();
        let parameters = trial_parameters(&tj);
        assert_eq!(parameters["learningRate"], "0.01");
        assert_eq!(parameters["epochs"], "9");
        assert_eq!(parameters["promotedFrom"], "t1");
    }
}
