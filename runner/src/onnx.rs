//! Writing trained models as ONNX graphs that take raw rows: the preprocessing, the model and
//! its output head are all operators of one graph (opset 17, `ai.onnx.ml` 3).

mod export;
mod graph;
pub mod proto;

pub use export::{ExportInfo, OUTPUT_LABEL, OUTPUT_PROBABILITIES, OUTPUT_VALUE, export_model};

/// Default-domain opset the graphs use.
pub const OPSET: i64 = 17;
/// `ai.onnx.ml` opset (LabelEncoder, TreeEnsembleRegressor).
pub const ML_OPSET: i64 = 3;
/// IR version matching [`OPSET`].
pub const IR_VERSION: i64 = 8;
