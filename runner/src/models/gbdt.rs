//! Gradient-boosted decision trees (histogram based).

use serde::{Deserialize, Serialize};

use crate::preprocess::Features;

/// A trained forest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    /// Trees.
    pub trees: Vec<Tree>,
    /// Starting score per output.
    pub base_scores: Vec<f32>,
}

/// One tree; node 0 is the root.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Output (score column) this tree adds to.
    pub output: usize,
    /// Nodes.
    pub nodes: Vec<Node>,
}

/// A split (`feature <= threshold` goes left) or a leaf.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Node {
    /// An internal node.
    Split {
        /// Feature index.
        feature: usize,
        /// Threshold.
        threshold: f32,
        /// Node index when `x[feature] <= threshold`.
        left: usize,
        /// Node index otherwise.
        right: usize,
    },
    /// A leaf.
    Leaf {
        /// Value added to the score.
        value: f32,
    },
}

impl Forest {
    /// Raw scores for every row.
    pub fn raw_scores(&self, x: &Features) -> Vec<f32> {
        let width = self.base_scores.len();
        let mut out = Vec::with_capacity(x.rows * width);
        for r in 0..x.rows {
            let row = x.row(r);
            let mut scores: Vec<f64> = self.base_scores.iter().map(|&b| f64::from(b)).collect();
            for tree in &self.trees {
                scores[tree.output] += f64::from(tree.leaf_value(row));
            }
            out.extend(scores.iter().map(|&s| s as f32));
        }
        out
    }

    /// Nodes in all trees.
    pub fn node_count(&self) -> usize {
        self.trees.iter().map(|t| t.nodes.len()).sum()
    }
}

impl Tree {
    /// Value of the leaf `row` falls in.
    pub fn leaf_value(&self, row: &[f32]) -> f32 {
        let mut i = 0;
        loop {
            match self.nodes.get(i) {
                Some(Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                }) => {
                    i = if row[*feature] <= *threshold {
                        *left
                    } else {
                        *right
                    };
                }
                Some(Node::Leaf { value }) => return *value,
                None => return 0.0,
            }
        }
    }
}

/// Hyperparameters of a boosted forest.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GbdtConfig {
    /// Boosting rounds (one tree per output per round).
    pub num_trees: u32,
    /// Deepest split level.
    pub max_depth: u32,
    /// Fewest training rows in a leaf.
    pub min_samples_leaf: u32,
    /// Shrinkage of each tree's values.
    pub learning_rate: f32,
    /// L2 penalty on leaf values.
    pub l2: f64,
    /// Share of rows each round sees.
    pub subsample: f64,
    /// Share of features each round may split on.
    pub feature_fraction: f64,
    /// Histogram bins per feature.
    pub max_bins: usize,
}

/// Trees are evaluated on the validation rows every this many rounds.
pub const EVALUATION_INTERVAL: u64 = 10;
/// Smallest hessian sum a child may have, so leaf values stay bounded.
const MIN_CHILD_HESSIAN: f64 = 1e-3;
/// Splits must gain at least this much.
const MIN_SPLIT_GAIN: f64 = 1e-9;

mod binning;
mod grow;

pub use binning::Bins;

use super::{Evaluations, FitContext, Fitted, Model, TrainingSet, ValidationSet};
use crate::error::TrainError;
use crate::metrics::{Targets, TaskKind};
use crate::rng::Rng;
use lepton_crds::v1alpha1::ConcreteModelFamily;

/// Trains a boosted forest.
pub fn fit(
    config: &GbdtConfig,
    ctx: &FitContext,
    train: &TrainingSet,
    validation: &ValidationSet,
) -> Result<Fitted, TrainError> {
    let n = train.x.rows;
    let width = ctx.head.raw_width();
    let bins = Bins::new(train.x, config.max_bins.max(2));
    let targets = output_targets(ctx, train.y);
    let base_scores = base_scores(ctx.head.task, &targets, train.weights, width);
    let mut scores: Vec<f64> = (0..n).flat_map(|_| base_scores.iter().copied()).collect();
    let mut validation_scores: Vec<f64> = (0..validation.x.rows)
        .flat_map(|_| base_scores.iter().copied())
        .collect();
    let mut forest = Forest {
        trees: Vec::new(),
        base_scores: base_scores.iter().map(|&b| b as f32).collect(),
    };
    let mut rng = Rng::new(ctx.seed);
    let mut gradients = vec![0f64; n * width];
    let mut hessians = vec![0f64; n * width];
    let all_rows: Vec<u32> = (0..n as u32).collect();
    let features: Vec<usize> = (0..train.x.cols).collect();
    let total = u64::from(config.num_trees);
    let mut evaluations = Evaluations::new(ctx, ConcreteModelFamily::Gbdt, total);

    for round in 1..=total {
        compute_gradients(
            ctx.head.task,
            &scores,
            &targets,
            train.weights,
            width,
            &mut gradients,
            &mut hessians,
        );
        let rows = sample(&all_rows, config.subsample, &mut rng);
        let round_features = sample(&features, config.feature_fraction, &mut rng);
        for output in 0..width {
            let g: Vec<f64> = (0..n).map(|r| gradients[r * width + output]).collect();
            let h: Vec<f64> = (0..n).map(|r| hessians[r * width + output]).collect();
            let tree = grow::grow_tree(&grow::GrowInput {
                bins: &bins,
                gradients: &g,
                hessians: &h,
                rows: &rows,
                features: &round_features,
                config,
                output,
            });
            for r in 0..n {
                scores[r * width + output] += f64::from(tree.leaf_value(train.x.row(r)));
            }
            for r in 0..validation.x.rows {
                validation_scores[r * width + output] +=
                    f64::from(tree.leaf_value(validation.x.row(r)));
            }
            forest.trees.push(tree);
        }
        let last = round == total || ctx.out_of_time();
        if round % EVALUATION_INTERVAL == 0 || last {
            let raw: Vec<f32> = validation_scores.iter().map(|&s| s as f32).collect();
            let metrics = ctx.score(validation, &ctx.head.outputs(&raw));
            if evaluations.record(round, metrics, || round) {
                break;
            }
        }
    }
    evaluations.finish(|best_rounds| {
        forest.trees.truncate(best_rounds as usize * width);
        Model::Gbdt(forest)
    })
}

/// Targets per row and output: 0/1 indicators for classes, standardised values for regression.
fn output_targets(ctx: &FitContext, y: &Targets) -> Vec<f64> {
    match (ctx.head.task, y) {
        (TaskKind::Binary, Targets::Classes(c)) => c.iter().map(|&k| k as f64).collect(),
        (TaskKind::Multiclass { classes }, Targets::Classes(c)) => c
            .iter()
            .flat_map(|&k| (0..classes).map(move |j| f64::from(u8::from(j == k))))
            .collect(),
        (_, Targets::Values(v)) => v
            .iter()
            .map(|&t| (t - f64::from(ctx.head.target_mean)) / f64::from(ctx.head.target_std))
            .collect(),
        (_, Targets::Classes(c)) => c.iter().map(|&k| k as f64).collect(),
    }
}

fn base_scores(task: TaskKind, targets: &[f64], weights: &[f32], width: usize) -> Vec<f64> {
    let total: f64 = weights
        .iter()
        .map(|&w| f64::from(w))
        .sum::<f64>()
        .max(f64::MIN_POSITIVE);
    let mean = |k: usize| {
        targets
            .chunks(width)
            .zip(weights)
            .map(|(t, &w)| t[k] * f64::from(w))
            .sum::<f64>()
            / total
    };
    match task {
        TaskKind::Binary => {
            let p = mean(0).clamp(1e-6, 1.0 - 1e-6);
            vec![(p / (1.0 - p)).ln()]
        }
        TaskKind::Multiclass { .. } => (0..width).map(|k| mean(k).max(1e-6).ln()).collect(),
        TaskKind::Regression => vec![mean(0)],
    }
}

fn compute_gradients(
    task: TaskKind,
    scores: &[f64],
    targets: &[f64],
    weights: &[f32],
    width: usize,
    g: &mut [f64],
    h: &mut [f64],
) {
    for (r, &w) in weights.iter().enumerate() {
        let w = f64::from(w);
        let s = &scores[r * width..(r + 1) * width];
        let t = &targets[r * width..(r + 1) * width];
        match task {
            TaskKind::Binary => {
                let p = 1.0 / (1.0 + (-s[0]).exp());
                g[r] = (p - t[0]) * w;
                h[r] = (p * (1.0 - p)).max(1e-16) * w;
            }
            TaskKind::Multiclass { .. } => {
                let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = s.iter().map(|v| (v - max).exp()).sum();
                for k in 0..width {
                    let p = (s[k] - max).exp() / sum;
                    g[r * width + k] = (p - t[k]) * w;
                    h[r * width + k] = (p * (1.0 - p)).max(1e-16) * w;
                }
            }
            TaskKind::Regression => {
                g[r] = (s[0] - t[0]) * w;
                h[r] = w;
            }
        }
    }
}

/// A random `fraction` of `items` (all of them when the fraction is 1), in their original order.
fn sample<T: Copy>(items: &[T], fraction: f64, rng: &mut Rng) -> Vec<T> {
    if fraction >= 1.0 {
        return items.to_vec();
    }
    let keep = ((items.len() as f64 * fraction).round() as usize).clamp(1, items.len());
    let mut picked: Vec<usize> = (0..items.len()).collect();
    rng.shuffle(&mut picked);
    picked.truncate(keep);
    picked.sort_unstable();
    picked.into_iter().map(|i| items[i]).collect()
}

#[cfg(test)]
mod tests;
