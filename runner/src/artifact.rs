//! `model.json`: everything a consumer needs beside `model.onnx`: the input schema with types and
//! allowed categories, task and classes, metrics, the data report, the training profile that
//! drift detection compares live traffic with, and the ONNX file's digest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::preprocess::Preprocessor;

/// Version of the `model.json` layout.
pub const MODEL_CARD_VERSION: u32 = 1;

/// The contents of `model.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelCard {
    /// Layout version.
    pub format_version: u32,
    /// Name of the TrainingJob.
    pub name: String,
    /// Lepton version that trained the model.
    pub lepton_version: String,
    /// When training finished (RFC 3339).
    pub created_at: String,
    /// `binary`, `multiclass` or `regression`.
    pub task: String,
    /// Target column.
    pub target: String,
    /// Class labels in output order (classification).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// Model family.
    pub family: String,
    /// Objective metric and its validation value.
    pub objective: Objective,
    /// Validation metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Raw inputs the model takes, one per column.
    pub inputs: Vec<InputSchema>,
    /// Outputs it produces.
    pub outputs: Vec<OutputSchema>,
    /// The fitted preprocessing (also inside the graph).
    pub preprocessing: Preprocessor,
    /// What preprocessing did to the data.
    pub data_report: serde_json::Value,
    /// Distribution of each input in the training split, for drift detection.
    pub profile: Vec<FeatureProfile>,
    /// How the model was trained.
    pub training: serde_json::Value,
    /// The ONNX file.
    pub onnx: OnnxFile,
}

/// Objective metric and value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Objective {
    /// Metric name.
    pub metric: String,
    /// Value on the validation split.
    pub value: f64,
}

/// One raw input of the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputSchema {
    /// Column (and graph input) name.
    pub name: String,
    /// OIP datatype the graph input takes: `FP64` or `BYTES`.
    pub datatype: String,
    /// `numeric`, `boolean` or `categorical`.
    pub kind: String,
    /// Known values (boolean and categorical); others go to the `other` bucket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Shape, `[-1, 1]`.
    pub shape: Vec<i64>,
}

/// One output of the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputSchema {
    /// Output name.
    pub name: String,
    /// OIP datatype: `FP32` or `BYTES`.
    pub datatype: String,
    /// Shape with -1 for the batch.
    pub shape: Vec<i64>,
}

/// The training split's distribution of one input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum FeatureProfile {
    /// Numeric: share of rows per quantile bin (bin `i` is `(edges[i-1], edges[i]]`, the last bin
    /// is above the last edge) plus the share of missing cells.
    Numeric {
        /// Input name.
        name: String,
        /// Upper edges of all bins but the last.
        edges: Vec<f64>,
        /// Share of non-missing rows in each bin (`edges.len() + 1` values).
        proportions: Vec<f64>,
        /// Share of rows that were missing.
        missing: f64,
        /// Mean of the non-missing values.
        mean: f64,
        /// Standard deviation of the non-missing values.
        std: f64,
    },
    /// Text: share of rows per category (`__other__` for the rest).
    Categorical {
        /// Input name.
        name: String,
        /// Share of non-missing rows per category.
        proportions: BTreeMap<String, f64>,
        /// Share of rows that were missing.
        missing: f64,
    },
}

/// The ONNX file's facts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnnxFile {
    /// File name beside model.json.
    pub file: String,
    /// sha256 of the file, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Default-domain opset.
    pub opset: i64,
    /// Check against the trained model and latency measurement.
    pub verification: crate::verify::Verification,
}

/// Hex sha256 of `bytes`, as recorded in `model.json` and checked before serving.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::source::sigv4::sha256_hex(bytes)
}
