//! Lepton's runner as a library: training (`train`) and serving (`serve`). The `lepton-runner`
//! binary is a thin shell around it.

pub mod dataset;
pub mod error;
pub mod metrics;
pub mod models;
pub mod preprocess;
pub mod progress;
pub mod rng;
pub mod source;
pub mod table;
