//! Lepton's runner as a library: training (`train`) and serving (`serve`). The `lepton-runner`
//! binary is a thin shell around it.

pub mod artifact;
pub mod cli;
pub mod dataset;
pub mod error;
pub mod metrics;
pub mod models;
pub mod onnx;
pub mod onnx_runtime;
pub mod parent_guard;
pub mod preprocess;
pub mod profile;
pub mod progress;
pub mod results;
pub mod rng;
pub mod serve;
pub mod source;
pub mod spec;
pub mod status_report;
pub mod table;
pub mod train;
pub mod verify;
