//! Preprocessing learned on the training split: imputation, missing indicators, quantile
//! clipping, one-hot encoding with an `other` bucket, standardisation. The same arithmetic is
//! exported into the ONNX graph (see `onnx::preprocessing`), so [`Preprocessor::transform`] and
//! the served model agree bit for bit on the features.

use std::collections::BTreeMap;

use lepton_crds::v1alpha1::{NumericImputation, Preprocessing};
use serde::{Deserialize, Serialize};

use crate::dataset::{ColumnKind, ColumnPlan, Dataset};
use crate::error::TrainError;
use crate::table::ColumnData;

/// Name of the one-hot column that takes rare and unseen categories.
pub const OTHER_BUCKET: &str = "__other__";

/// How one raw input column becomes feature columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum InputEncoder {
    /// A numeric column: fill, indicate, clip, scale.
    Numeric {
        /// Column name.
        name: String,
        /// Value that replaces a missing cell.
        fill: f64,
        /// Whether a 0/1 "was missing" feature follows the value.
        indicator: bool,
        /// Lower and upper clipping bounds.
        clip: Option<(f64, f64)>,
        /// Mean and standard deviation subtracted and divided by.
        scale: Option<(f64, f64)>,
    },
    /// A two-valued text column encoded as one 0/1 feature.
    Boolean {
        /// Column name.
        name: String,
        /// Value encoded as 0.
        negative: String,
        /// Value encoded as 1.
        positive: String,
        /// Encoding of a missing or unknown value (the training split's most frequent value).
        fallback: u8,
    },
    /// A text column one-hot encoded; the last feature is the `other` bucket.
    Categorical {
        /// Column name.
        name: String,
        /// Kept categories, in feature order.
        categories: Vec<String>,
        /// Index that a missing value takes (the most frequent category, or `other`).
        missing_index: usize,
    },
}

impl InputEncoder {
    /// Raw column name.
    pub fn name(&self) -> &str {
        match self {
            InputEncoder::Numeric { name, .. }
            | InputEncoder::Boolean { name, .. }
            | InputEncoder::Categorical { name, .. } => name,
        }
    }

    /// Number of feature columns this input produces.
    pub fn width(&self) -> usize {
        match self {
            InputEncoder::Numeric { indicator, .. } => 1 + usize::from(*indicator),
            InputEncoder::Boolean { .. } => 1,
            InputEncoder::Categorical { categories, .. } => categories.len() + 1,
        }
    }

    /// Whether the served model takes this input as text.
    pub fn is_text(&self) -> bool {
        !matches!(self, InputEncoder::Numeric { .. })
    }
}

/// The fitted preprocessing of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preprocessor {
    /// Encoders, one per input column, in input order.
    pub inputs: Vec<InputEncoder>,
    /// Text values that mean "missing" (besides the empty string).
    pub null_values: Vec<String>,
}

/// A dense feature matrix, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    /// Values, `rows * cols`.
    pub values: Vec<f32>,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
}

impl Features {
    /// Row `r`.
    pub fn row(&self, r: usize) -> &[f32] {
        &self.values[r * self.cols..(r + 1) * self.cols]
    }
}

impl Preprocessor {
    /// Number of feature columns.
    pub fn width(&self) -> usize {
        self.inputs.iter().map(InputEncoder::width).sum()
    }

    /// Names of the feature columns, e.g. `balance`, `balance__missing`, `ethnicity=Asian`.
    pub fn feature_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.width());
        for input in &self.inputs {
            match input {
                InputEncoder::Numeric {
                    name, indicator, ..
                } => {
                    names.push(name.clone());
                    if *indicator {
                        names.push(format!("{name}__missing"));
                    }
                }
                InputEncoder::Boolean { name, positive, .. } => {
                    names.push(format!("{name}={positive}"))
                }
                InputEncoder::Categorical {
                    name, categories, ..
                } => {
                    names.extend(categories.iter().map(|c| format!("{name}={c}")));
                    names.push(format!("{name}={OTHER_BUCKET}"));
                }
            }
        }
        names
    }

    /// Learns the preprocessing from the `train` rows of `dataset` for the kept columns of `plans`.
    pub fn fit(
        dataset: &Dataset,
        plans: &[ColumnPlan],
        train: &[usize],
        settings: &Preprocessing,
        null_values: &[String],
    ) -> Result<Self, TrainError> {
        let mut inputs = Vec::new();
        for (feature, plan) in dataset.features.iter().zip(plans) {
            if !settings.imputation.enabled
                && plan.missing > 0
                && !matches!(plan.kind, ColumnKind::Dropped(_))
            {
                let row = first_missing(&feature.data).unwrap_or(0);
                return Err(TrainError::MissingValue {
                    column: feature.name.clone(),
                    row: dataset.source_rows[row],
                });
            }
            let encoder = match (&plan.kind, &feature.data) {
                (ColumnKind::Numeric, ColumnData::Numeric(values)) => {
                    fit_numeric(&feature.name, values, train, settings)
                }
                (ColumnKind::Boolean { negative, positive }, ColumnData::Text(values)) => {
                    let positives = train
                        .iter()
                        .filter(|&&r| values[r].as_deref() == Some(positive.as_str()))
                        .count();
                    let negatives = train
                        .iter()
                        .filter(|&&r| values[r].as_deref() == Some(negative.as_str()))
                        .count();
                    InputEncoder::Boolean {
                        name: feature.name.clone(),
                        negative: negative.clone(),
                        positive: positive.clone(),
                        fallback: u8::from(positives > negatives),
                    }
                }
                (ColumnKind::Categorical, ColumnData::Text(values)) => {
                    fit_categorical(&feature.name, values, train, settings)
                }
                _ => continue,
            };
            inputs.push(encoder);
        }
        Ok(Self {
            inputs,
            null_values: null_values.to_vec(),
        })
    }

    /// Features of `rows` of `dataset` (whose columns are those `fit` saw, kept or not).
    pub fn transform(&self, dataset: &Dataset, rows: &[usize]) -> Features {
        let columns: BTreeMap<&str, &ColumnData> = dataset
            .features
            .iter()
            .map(|f| (f.name.as_str(), &f.data))
            .collect();
        let cols = self.width();
        let mut values = vec![0f32; rows.len() * cols];
        let mut offset = 0;
        for input in &self.inputs {
            let Some(data) = columns.get(input.name()) else {
                continue;
            };
            for (i, &r) in rows.iter().enumerate() {
                let out = &mut values[i * cols + offset..i * cols + offset + input.width()];
                match (input, data) {
                    (InputEncoder::Numeric { .. }, ColumnData::Numeric(v)) => {
                        encode_numeric(input, v[r], out)
                    }
                    (_, ColumnData::Text(v)) => {
                        encode_text(input, v[r].as_deref(), &self.null_values, out)
                    }
                    // A numeric column encoded as text cannot come out of `fit`.
                    _ => {}
                }
            }
            offset += input.width();
        }
        Features {
            values,
            rows: rows.len(),
            cols,
        }
    }
}

/// Writes the features of one numeric cell (NaN = missing) in the order and precision the ONNX
/// graph computes them: double arithmetic, then one rounding to float.
pub fn encode_numeric(input: &InputEncoder, x: f64, out: &mut [f32]) {
    if let InputEncoder::Numeric {
        fill,
        indicator,
        clip,
        scale,
        ..
    } = input
    {
        let missing = x.is_nan();
        let mut v = if missing { *fill } else { x };
        if let Some((lo, hi)) = clip {
            v = v.max(*lo).min(*hi);
        }
        if let Some((mean, std)) = scale {
            v = (v - mean) / std;
        }
        out[0] = v as f32;
        if *indicator {
            out[1] = if missing { 1.0 } else { 0.0 };
        }
    }
}

/// Writes the features of one text cell.
pub fn encode_text(
    input: &InputEncoder,
    cell: Option<&str>,
    null_values: &[String],
    out: &mut [f32],
) {
    let cell = cell.filter(|s| !s.is_empty() && !null_values.iter().any(|n| n == s));
    match input {
        InputEncoder::Boolean {
            negative,
            positive,
            fallback,
            ..
        } => {
            let values = [negative.as_str(), positive.as_str()];
            out[0] = match cell.and_then(|s| value_index(s, &values)) {
                Some(i) => i as f32,
                None => f32::from(*fallback),
            };
        }
        InputEncoder::Categorical {
            categories,
            missing_index,
            ..
        } => {
            let index = match cell {
                None => *missing_index,
                Some(s) => value_index(s, categories).unwrap_or(categories.len()),
            };
            out.fill(0.0);
            out[index] = 1.0;
        }
        InputEncoder::Numeric { .. } => {}
    }
}

/// Index of the training value a served value stands for: an exact match first, otherwise a
/// training value that equals it once its surrounding whitespace is trimmed, so that `" Male"`
/// in a file and `"Male"` in a request are the same category. The ONNX graph's lookup table
/// holds exactly these keys, in this precedence.
pub fn value_index<S: AsRef<str>>(served: &str, trained: &[S]) -> Option<usize> {
    trained
        .iter()
        .position(|t| t.as_ref() == served)
        .or_else(|| trained.iter().position(|t| t.as_ref().trim() == served))
}

fn first_missing(data: &ColumnData) -> Option<usize> {
    match data {
        ColumnData::Numeric(v) => v.iter().position(|x| x.is_nan()),
        ColumnData::Text(v) => v.iter().position(Option::is_none),
    }
}

fn fit_numeric(
    name: &str,
    values: &[f64],
    train: &[usize],
    settings: &Preprocessing,
) -> InputEncoder {
    let mut present: Vec<f64> = train
        .iter()
        .map(|&r| values[r])
        .filter(|x| !x.is_nan())
        .collect();
    present.sort_by(f64::total_cmp);
    let missing_in_train = train.len() - present.len();
    let fill = match settings.imputation.numeric {
        _ if present.is_empty() => 0.0,
        NumericImputation::Median => quantile(&present, 0.5),
        NumericImputation::Mean => present.iter().sum::<f64>() / present.len() as f64,
        NumericImputation::Zero => 0.0,
    };
    let clip = (settings.outliers.enabled && !present.is_empty()).then(|| {
        (
            quantile(&present, settings.outliers.lower_quantile),
            quantile(&present, settings.outliers.upper_quantile),
        )
    });
    let scale = settings.standardize.then(|| {
        // Statistics of the values the model will see: filled and clipped.
        let seen: Vec<f64> = train
            .iter()
            .map(|&r| {
                let v = if values[r].is_nan() { fill } else { values[r] };
                clip.map_or(v, |(lo, hi)| v.max(lo).min(hi))
            })
            .collect();
        let n = seen.len().max(1) as f64;
        let mean = seen.iter().sum::<f64>() / n;
        let var = seen.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let std = var.sqrt();
        (mean, if std > 1e-12 { std } else { 1.0 })
    });
    InputEncoder::Numeric {
        name: name.to_string(),
        fill,
        indicator: settings.imputation.enabled
            && settings.imputation.missing_indicator
            && missing_in_train > 0,
        clip,
        scale,
    }
}

fn fit_categorical(
    name: &str,
    values: &[Option<Box<str>>],
    train: &[usize],
    settings: &Preprocessing,
) -> InputEncoder {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for &r in train {
        if let Some(s) = values[r].as_deref() {
            *counts.entry(s).or_insert(0) += 1;
        }
    }
    let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
    // Most frequent first; ties by name so the order does not depend on the data's row order.
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let keep = (settings.categorical.max_categories as usize)
        .saturating_sub(1)
        .max(1);
    let min_frequency = settings.categorical.min_frequency as usize;
    let categories: Vec<String> = by_count
        .iter()
        .filter(|(_, n)| *n >= min_frequency)
        .take(keep)
        .map(|(c, _)| c.to_string())
        .collect();
    let missing_index = by_count
        .first()
        .and_then(|(mode, _)| categories.iter().position(|c| c == mode))
        .unwrap_or(categories.len());
    InputEncoder::Categorical {
        name: name.to_string(),
        categories,
        missing_index,
    }
}

/// Quantile `q` of sorted `values` with linear interpolation (numpy's default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests;
