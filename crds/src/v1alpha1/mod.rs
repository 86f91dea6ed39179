//! Version `v1alpha1` of the `lepton.ai` API.

mod common;
mod model_deployment;
mod training_job;
mod tuning_sweep;

pub use common::*;
pub use model_deployment::*;
pub use training_job::*;
pub use tuning_sweep::*;
