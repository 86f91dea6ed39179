//! The last step of every model: raw scores to probabilities or values. The ONNX exporter writes
//! the same operations, in the same float precision.

use serde::{Deserialize, Serialize};

use crate::metrics::TaskKind;

/// Turns raw scores into outputs for a task.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Head {
    /// The task.
    pub task: TaskKind,
    /// Regression targets are learned standardised: output = score * std + mean.
    pub target_mean: f32,
    /// See `target_mean`.
    pub target_std: f32,
}

impl Head {
    /// Scores per row the model produces: 1 for binary (a logit) and regression, k for k classes.
    pub fn raw_width(&self) -> usize {
        match self.task {
            TaskKind::Multiclass { classes } => classes,
            TaskKind::Binary | TaskKind::Regression => 1,
        }
    }

    /// Outputs for raw scores (row-major): `[1 - p, p]` per row for binary, softmax for
    /// multiclass, the de-standardised value for regression.
    pub fn outputs(&self, raw: &[f32]) -> Vec<f32> {
        match self.task {
            TaskKind::Binary => raw
                .iter()
                .flat_map(|&z| {
                    let p = sigmoid(z);
                    [1.0 - p, p]
                })
                .collect(),
            TaskKind::Multiclass { classes } => {
                let mut out = raw.to_vec();
                for row in out.chunks_mut(classes) {
                    softmax_in_place(row);
                }
                out
            }
            TaskKind::Regression => raw
                .iter()
                .map(|&z| z * self.target_std + self.target_mean)
                .collect(),
        }
    }
}

/// Logistic function.
pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Softmax of one row, shifted by its maximum so that large scores do not overflow.
pub fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in row.iter_mut() {
        *v /= sum;
    }
}
