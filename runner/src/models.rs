//! The model families: dense networks (linear models are networks without hidden layers) and
//! gradient-boosted trees, behind one fit/predict interface.

pub mod dense;
#[cfg(feature = "cuda")]
pub mod dense_gpu;
pub mod gbdt;
mod head;

use std::collections::BTreeMap;
use std::time::Instant;

use lepton_crds::v1alpha1::{ConcreteModelFamily, EarlyStopping, Metric};
use serde::Serialize;

pub use head::Head;

use crate::error::TrainError;
use crate::metrics::{self, Targets, TaskKind};
use crate::preprocess::Features;
use crate::progress::{Progress, Reporter, Stage};

/// Rows a model learns from, with per-row weights (class weights, or 1).
pub struct TrainingSet<'a> {
    /// Features.
    pub x: &'a Features,
    /// Targets.
    pub y: &'a Targets,
    /// Weight of each row in the loss.
    pub weights: &'a [f32],
}

/// Rows a model is scored on while it trains.
pub struct ValidationSet<'a> {
    /// Features.
    pub x: &'a Features,
    /// Targets.
    pub y: &'a Targets,
}

/// Settings shared by every family's training loop.
pub struct FitContext<'a> {
    /// The task and its output transformation.
    pub head: Head,
    /// Metric for early stopping and model choice.
    pub metric: Metric,
    /// Early stopping settings.
    pub early_stopping: EarlyStopping,
    /// Seed of every random choice.
    pub seed: u64,
    /// Training stops, keeping the best model so far, when this instant passes.
    pub deadline: Option<Instant>,
    /// Where progress goes.
    pub reporter: &'a dyn Reporter,
}

impl FitContext<'_> {
    /// Validation metrics of `outputs` (model outputs for the validation rows).
    pub fn score(&self, validation: &ValidationSet, outputs: &[f32]) -> BTreeMap<String, f64> {
        metrics::evaluate(self.head.task, validation.y, outputs)
    }

    pub(crate) fn report_step(
        &self,
        family: ConcreteModelFamily,
        step: u64,
        total: u64,
        metrics: &BTreeMap<String, f64>,
    ) {
        self.reporter.report(&Progress {
            stage: Stage::Training,
            family: Some(family_name(family)),
            step: Some(step),
            total_steps: Some(total),
            metrics: metrics.clone(),
            objective: Some(self.metric.as_str()),
            message: None,
        });
    }

    pub(crate) fn out_of_time(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// A trained model.
#[derive(Clone, Debug)]
pub enum Model {
    /// A dense network (linear or MLP).
    Dense(dense::DenseNetwork),
    /// Boosted trees.
    Gbdt(gbdt::Forest),
}

impl Model {
    /// Outputs for every row of `x`: class probabilities (row-major) or values.
    pub fn predict(&self, head: &Head, x: &Features) -> Vec<f32> {
        let raw = match self {
            Model::Dense(n) => n.raw_scores(x),
            Model::Gbdt(f) => f.raw_scores(x),
        };
        head.outputs(&raw)
    }

    /// The family.
    pub fn family(&self) -> ConcreteModelFamily {
        match self {
            Model::Dense(n) if n.is_linear() => ConcreteModelFamily::Linear,
            Model::Dense(_) => ConcreteModelFamily::Mlp,
            Model::Gbdt(_) => ConcreteModelFamily::Gbdt,
        }
    }

    /// Number of learned parameters (weights and biases, or tree nodes).
    pub fn parameter_count(&self) -> usize {
        match self {
            Model::Dense(n) => n.parameter_count(),
            Model::Gbdt(f) => f.node_count(),
        }
    }
}

/// Validation metrics after one epoch (or round of trees).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepMetrics {
    /// Epoch or number of trees.
    pub step: u64,
    /// Metrics.
    pub metrics: BTreeMap<String, f64>,
}

/// Why training ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StopReason {
    /// All epochs or trees ran.
    Completed,
    /// The validation metric stopped improving.
    EarlyStopped,
    /// The time budget ran out.
    Deadline,
}

/// A trained model and how it got there.
#[derive(Clone, Debug)]
pub struct Fitted {
    /// The model (the best step's, when early stopping kept an earlier one).
    pub model: Model,
    /// Metrics per evaluation.
    pub history: Vec<StepMetrics>,
    /// Step whose model was kept.
    pub best_step: u64,
    /// Why it stopped.
    pub stop_reason: StopReason,
}

/// The manifest name of a family.
pub fn family_name(family: ConcreteModelFamily) -> &'static str {
    match family {
        ConcreteModelFamily::Linear => "linear",
        ConcreteModelFamily::Mlp => "mlp",
        ConcreteModelFamily::Gbdt => "gbdt",
    }
}

/// The validation history of one training run: reports each evaluation, keeps a snapshot of
/// the best model, and decides when to stop (no improvement for `patience` evaluations, or the
/// deadline).
pub(crate) struct Evaluations<'c, 'r, T> {
    ctx: &'c FitContext<'r>,
    family: ConcreteModelFamily,
    total: u64,
    settings: EarlyStopping,
    best_value: Option<f64>,
    since_best: u32,
    best: Option<(u64, T)>,
    history: Vec<StepMetrics>,
    stop_reason: StopReason,
}

impl<'c, 'r, T> Evaluations<'c, 'r, T> {
    pub(crate) fn new(ctx: &'c FitContext<'r>, family: ConcreteModelFamily, total: u64) -> Self {
        Self {
            ctx,
            family,
            total,
            settings: ctx.early_stopping.clone(),
            best_value: None,
            since_best: 0,
            best: None,
            history: Vec::new(),
            stop_reason: StopReason::Completed,
        }
    }

    /// Records the validation metrics after `step`; `snapshot` is taken only when the step is
    /// the best so far. Returns true when training should stop.
    pub(crate) fn record(
        &mut self,
        step: u64,
        metrics: BTreeMap<String, f64>,
        snapshot: impl FnOnce() -> T,
    ) -> bool {
        self.ctx
            .report_step(self.family, step, self.total, &metrics);
        let metric = self.ctx.metric;
        let value = metrics.get(metric.as_str()).copied().unwrap_or(f64::NAN);
        if metrics::improves(metric, value, self.best_value, self.settings.min_delta) {
            self.best_value = Some(value);
            self.since_best = 0;
            self.best = Some((step, snapshot()));
        } else {
            self.since_best += 1;
        }
        self.history.push(StepMetrics { step, metrics });
        if self.settings.enabled && self.since_best >= self.settings.patience {
            self.stop_reason = StopReason::EarlyStopped;
        } else if self.ctx.out_of_time() {
            self.stop_reason = StopReason::Deadline;
        } else {
            return false;
        }
        true
    }

    /// The fitted model built from the best snapshot, or an error when no evaluation gave a
    /// finite metric.
    pub(crate) fn finish(self, model: impl FnOnce(T) -> Model) -> Result<Fitted, TrainError> {
        let Some((best_step, snapshot)) = self.best else {
            return Err(TrainError::TrainingDiverged {
                family: family_name(self.family),
                detail: format!(
                    "the validation {} was never a finite number",
                    self.ctx.metric.as_str()
                ),
            });
        };
        Ok(Fitted {
            model: model(snapshot),
            history: self.history,
            best_step,
            stop_reason: self.stop_reason,
        })
    }
}

/// Class weights as per-row weights: balanced weights each class by n / (k * n_class).
pub fn row_weights(task: TaskKind, y: &Targets, balanced: bool) -> Vec<f32> {
    match (task, y) {
        (TaskKind::Binary | TaskKind::Multiclass { .. }, Targets::Classes(c)) if balanced => {
            let k = task.outputs();
            let mut counts = vec![0usize; k];
            for &class in c {
                counts[class] += 1;
            }
            let n = c.len() as f64;
            let per_class: Vec<f32> = counts
                .iter()
                .map(|&m| {
                    if m == 0 {
                        0.0
                    } else {
                        (n / (k as f64 * m as f64)) as f32
                    }
                })
                .collect();
            c.iter().map(|&class| per_class[class]).collect()
        }
        _ => vec![1.0; y.len()],
    }
}
