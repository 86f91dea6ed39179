//! After export, the runner loads the ONNX file with ONNX Runtime, feeds it the validation rows
//! as raw cells (exactly what a client would send) and checks its outputs against the trained
//! model's own; then it times single-row inference.

use std::path::Path;
use std::time::Instant;

use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::TrainError;
use crate::metrics::TaskKind;
use crate::models::Head;
use crate::onnx::{OUTPUT_PROBABILITIES, OUTPUT_VALUE};
use crate::onnx_runtime::{SessionError, cpu_session};
use crate::preprocess::{InputEncoder, Preprocessor};
use crate::table::ColumnData;

/// Largest difference allowed between ONNX Runtime's outputs and the trained model's:
/// absolute for probabilities, in units of the target's standard deviation for regression.
pub const TOLERANCE: f64 = 1e-5;
/// Single-row runs timed after warm-up.
const TIMED_RUNS: usize = 300;
const WARMUP_RUNS: usize = 30;

/// What the check found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// Validation rows compared.
    pub rows: usize,
    /// Largest absolute difference (probabilities, or values scaled by the target's std).
    pub max_abs_diff: f64,
    /// The allowed difference.
    pub tolerance: f64,
    /// Median single-row latency, milliseconds.
    pub latency_p50_ms: f64,
    /// 99th percentile single-row latency, milliseconds.
    pub latency_p99_ms: f64,
    /// Intra-op threads used for the timing.
    pub threads: usize,
    /// ONNX file size in bytes.
    pub size_bytes: u64,
}

/// Checks `model_bytes` against `expected` (the trained model's outputs on `rows` of
/// `dataset`) and measures latency.
pub fn verify(
    model_bytes: &[u8],
    preprocessor: &Preprocessor,
    head: &Head,
    dataset: &Dataset,
    rows: &[usize],
    expected: &[f32],
    library: Option<&Path>,
) -> Result<Verification, TrainError> {
    let mut session = cpu_session(model_bytes, 1, library).map_err(|e| match e {
        SessionError::Runtime(e) => TrainError::OnnxRuntime(e.0),
        SessionError::Model(message) => TrainError::Export(message),
    })?;
    let outputs = run(&mut session, preprocessor, dataset, rows, head)?;
    let scale = match head.task {
        TaskKind::Regression => f64::from(head.target_std).max(1.0),
        _ => 1.0,
    };
    let (mut max_abs_diff, mut worst) = (0.0f64, 0usize);
    let width = expected.len() / rows.len().max(1);
    for (i, (a, b)) in outputs.iter().zip(expected).enumerate() {
        let d = (f64::from(*a) - f64::from(*b)).abs() / scale;
        if d > max_abs_diff || d.is_nan() {
            max_abs_diff = d;
            worst = i / width.max(1);
        }
    }
    if outputs.len() != expected.len() || max_abs_diff.is_nan() || max_abs_diff > TOLERANCE {
        return Err(TrainError::ExportMismatch {
            max_abs_diff,
            row: worst,
            tolerance: TOLERANCE,
        });
    }

    let one_row = &rows[..1.min(rows.len())];
    let mut timings = Vec::with_capacity(TIMED_RUNS);
    for i in 0..WARMUP_RUNS + TIMED_RUNS {
        let start = Instant::now();
        run(&mut session, preprocessor, dataset, one_row, head)?;
        if i >= WARMUP_RUNS {
            timings.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    timings.sort_by(f64::total_cmp);
    Ok(Verification {
        rows: rows.len(),
        max_abs_diff,
        tolerance: TOLERANCE,
        latency_p50_ms: percentile(&timings, 0.50),
        latency_p99_ms: percentile(&timings, 0.99),
        threads: 1,
        size_bytes: model_bytes.len() as u64,
    })
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Runs the session on raw cells of `rows`; returns the probabilities or values, row-major.
fn run(
    session: &mut Session,
    preprocessor: &Preprocessor,
    dataset: &Dataset,
    rows: &[usize],
    head: &Head,
) -> Result<Vec<f32>, TrainError> {
    let fail = |e: &dyn std::fmt::Display| {
        TrainError::OnnxRuntime(format!(
            "ONNX Runtime failed to run the exported model: {e}"
        ))
    };
    let n = rows.len();
    let mut inputs: Vec<(String, SessionInputValue)> = Vec::new();
    for input in &preprocessor.inputs {
        let Some(column) = dataset.features.iter().find(|f| f.name == input.name()) else {
            return Err(TrainError::Export(format!(
                "input `{}` has no column",
                input.name()
            )));
        };
        let value: SessionInputValue = match (&column.data, input) {
            (ColumnData::Numeric(v), InputEncoder::Numeric { .. }) => {
                let cells: Vec<f64> = rows.iter().map(|&r| v[r]).collect();
                Tensor::from_array(([n, 1], cells))
                    .map_err(|e| fail(&e))?
                    .into()
            }
            (ColumnData::Text(v), _) => {
                let cells: Vec<String> = rows
                    .iter()
                    .map(|&r| v[r].as_deref().unwrap_or("").to_string())
                    .collect();
                Tensor::from_string_array(([n, 1], cells.as_slice()))
                    .map_err(|e| fail(&e))?
                    .into()
            }
            _ => {
                return Err(TrainError::Export(format!(
                    "input `{}` changed type",
                    input.name()
                )));
            }
        };
        inputs.push((input.name().to_string(), value));
    }
    let outputs = session.run(inputs).map_err(|e| fail(&e))?;
    let name = match head.task {
        TaskKind::Regression => OUTPUT_VALUE,
        _ => OUTPUT_PROBABILITIES,
    };
    let value = outputs
        .get(name)
        .ok_or_else(|| TrainError::Export(format!("the graph has no output `{name}`")))?;
    let (_, data) = value.try_extract_tensor::<f32>().map_err(|e| fail(&e))?;
    Ok(data.to_vec())
}
