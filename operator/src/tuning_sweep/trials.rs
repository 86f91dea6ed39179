//! A sweep's trials as the cluster records them: each is a child TrainingJob whose labels and
//! annotations say which trial it is and with which parameters, and whose status holds its
//! results. Nothing about trials is kept in the sweep's own status beyond counts, so reading
//! the children is how a (restarted) operator knows where the sweep stands.

use std::collections::BTreeMap;

use kube::ResourceExt;
use lepton_crds::v1alpha1::{Goal, TrainingJob, TrainingJobPhase, TrialSummary, TuningSweepSpec};
use lepton_tuning::search::Proposal;
use lepton_tuning::space::SearchSpace;
use lepton_tuning::trial::{ObservedTrial, TrialState};

use crate::names::{
    EARLY_STOPPED_ANNOTATION, STOP_ANNOTATION, TRIAL_BRACKET_ANNOTATION, TRIAL_FIDELITY_ANNOTATION,
    TRIAL_INDEX_LABEL, TRIAL_PARAMETERS_ANNOTATION, TRIAL_PROMOTED_FROM_ANNOTATION,
};

/// Where a trial stands, as the sweep counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrialPhase {
    /// Created, not yet training.
    Pending,
    /// Training.
    Running,
    /// Trained and exported a model.
    Succeeded,
    /// Failed for good.
    Failed,
    /// Stopped by the sweep's early-stopping rule.
    EarlyStopped,
    /// Stopped because the sweep finished (budget or goal) while it ran.
    Stopped,
}

impl TrialPhase {
    /// Whether the trial still occupies a slot of `parallelTrials`.
    pub fn is_active(self) -> bool {
        matches!(self, TrialPhase::Pending | TrialPhase::Running)
    }
}

/// One trial, read from its TrainingJob.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    /// Name of the TrainingJob.
    pub name: String,
    /// Index within the sweep.
    pub index: u32,
    /// Parameter values as written on the trial (strings).
    pub parameters: BTreeMap<String, String>,
    /// Where it stands.
    pub phase: TrialPhase,
    /// Whether a stop was already asked for.
    pub stop_requested: bool,
    /// Final value of the sweep's objective metric.
    pub objective: Option<f64>,
    /// All final validation metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Training cost so far.
    pub cost: Option<f64>,
    /// Median single-row latency of the exported model, in milliseconds.
    pub latency_ms: Option<f64>,
    /// Size of `model.onnx`.
    pub model_bytes: Option<i64>,
    /// Seconds from the pod's start to completion.
    pub training_seconds: Option<f64>,
    /// ASHA/Hyperband fidelity.
    pub fidelity: Option<u32>,
    /// ASHA/Hyperband: the trial this one continues at a higher fidelity.
    pub promoted_from: Option<u32>,
    /// Hyperband bracket.
    pub bracket: Option<u32>,
    /// The objective by step, as the runner last pushed it.
    pub curve: Vec<(u32, f64)>,
    /// Model location and digest, for serving it.
    pub model_uri: Option<String>,
}

impl Trial {
    /// The trial's results in the sweep's status form.
    pub fn summary(&self) -> TrialSummary {
        TrialSummary {
            name: self.name.clone(),
            parameters: self.parameters.clone(),
            objective: self.objective,
            metrics: self.metrics.clone(),
            cost: self.cost,
            latency_p50_ms: self.latency_ms,
            model_size_bytes: self.model_bytes,
            training_seconds: self.training_seconds,
        }
    }
}

/// Reads a child TrainingJob; `None` when it carries no trial index (not made by a sweep).
pub fn read(tj: &TrainingJob, metric: &str) -> Option<Trial> {
    let index = tj.labels().get(TRIAL_INDEX_LABEL)?.parse().ok()?;
    let annotations = tj.annotations();
    let number = |key: &str| annotations.get(key).and_then(|v| v.parse().ok());
    let parameters: BTreeMap<String, String> = annotations
        .get(TRIAL_PARAMETERS_ANNOTATION)
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default();
    let status = tj.status.clone().unwrap_or_default();
    let phase = match status.phase {
        Some(TrainingJobPhase::Running) => TrialPhase::Running,
        Some(TrainingJobPhase::Succeeded) => TrialPhase::Succeeded,
        Some(TrainingJobPhase::Failed) => TrialPhase::Failed,
        Some(TrainingJobPhase::Stopped) if annotations.contains_key(EARLY_STOPPED_ANNOTATION) => {
            TrialPhase::EarlyStopped
        }
        Some(TrainingJobPhase::Stopped) => TrialPhase::Stopped,
        Some(TrainingJobPhase::Pending | TrainingJobPhase::Suspended) | None => TrialPhase::Pending,
    };
    let objective = status
        .objective
        .as_ref()
        .filter(|o| o.metric.as_str() == metric)
        .map(|o| o.value)
        .or_else(|| status.metrics.get(metric).copied())
        .filter(|v| v.is_finite());
    let training_seconds = match (&status.start_time, &status.completion_time) {
        (Some(start), Some(end)) => Some(end.0.duration_since(start.0).as_secs_f64().max(0.0)),
        _ => None,
    };
    let curve = status
        .progress
        .as_ref()
        .map(|p| {
            p.objective_curve
                .iter()
                .filter(|point| point.value.is_finite())
                .filter_map(|point| Some((u32::try_from(point.step).ok()?, point.value)))
                .collect()
        })
        .unwrap_or_default();
    Some(Trial {
        name: tj.name_any(),
        index,
        parameters,
        phase,
        stop_requested: annotations.contains_key(STOP_ANNOTATION),
        objective,
        metrics: status.metrics.clone(),
        cost: status.cost.as_ref().and_then(|c| c.total),
        latency_ms: status.model.as_ref().and_then(|m| m.latency_p50_ms),
        model_bytes: status.model.as_ref().and_then(|m| m.size_bytes),
        training_seconds,
        fidelity: number(TRIAL_FIDELITY_ANNOTATION),
        promoted_from: number(TRIAL_PROMOTED_FROM_ANNOTATION),
        bracket: number(TRIAL_BRACKET_ANNOTATION),
        curve,
        model_uri: status.model.as_ref().and_then(|m| m.uri.clone()),
    })
}

/// The direction of the sweep's objective.
pub fn goal(spec: &TuningSweepSpec) -> Goal {
    spec.objective
        .goal
        .unwrap_or_else(|| spec.objective.metric.goal())
}

/// `value` as a loss: smaller is better whatever the metric's direction.
pub fn loss(goal: Goal, value: f64) -> f64 {
    match goal {
        Goal::Maximize => -value,
        Goal::Minimize => value,
    }
}

/// The trial as the search algorithm sees it. A trial whose parameters no longer parse (the
/// search space was edited) is still counted, with no parameters, so its index is not reused.
pub fn observed(trial: &Trial, space: &SearchSpace, goal: Goal) -> ObservedTrial {
    let state = match trial.phase {
        TrialPhase::Pending => TrialState::Pending,
        TrialPhase::Running => TrialState::Running,
        TrialPhase::Succeeded if trial.objective.is_some() => TrialState::Succeeded,
        // A success without a usable objective teaches the search nothing.
        TrialPhase::Succeeded | TrialPhase::Failed => TrialState::Failed,
        TrialPhase::EarlyStopped | TrialPhase::Stopped => TrialState::EarlyStopped,
    };
    ObservedTrial {
        index: trial.index,
        assignment: space.parse(&trial.parameters).unwrap_or_default(),
        state,
        loss: trial.objective.map(|v| loss(goal, v)),
        fidelity: trial.fidelity,
        promoted_from: trial.promoted_from,
        bracket: trial.bracket,
        curve: trial
            .curve
            .iter()
            .map(|&(step, value)| (step, loss(goal, value)))
            .collect(),
    }
}

/// A trial about to be created, as the algorithm will see it until its TrainingJob is read
/// back: several trials can be proposed in one reconcile, and each must know of the others.
pub fn proposed(index: u32, proposal: &Proposal) -> ObservedTrial {
    ObservedTrial {
        index,
        assignment: proposal.assignment.clone(),
        state: TrialState::Pending,
        loss: None,
        fidelity: proposal.fidelity,
        promoted_from: proposal.promoted_from,
        bracket: proposal.bracket,
        curve: Vec::new(),
    }
}
