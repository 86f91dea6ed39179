//! Lepton's run report: a self-contained HTML page (and SVG images) of a local run or a
//! cluster namespace.

use lepton_crds::v1alpha1::{ModelDeployment, ServingMetrics, TrainingJob, TuningSweep};
use serde::{Deserialize, Serialize};

/// Everything a report is drawn from: the resources as last seen, and the serving figures
/// sampled while the run went on (the resources hold only the latest ones).
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// The page's title, for example the manifest file that was run.
    pub title: String,
    /// When the record was taken (RFC 3339).
    pub generated_at: String,
    /// Every TrainingJob, sweep trials included.
    #[serde(default)]
    pub training_jobs: Vec<TrainingJob>,
    /// Every TuningSweep.
    #[serde(default)]
    pub tuning_sweeps: Vec<TuningSweep>,
    /// Every ModelDeployment.
    #[serde(default)]
    pub model_deployments: Vec<ModelDeployment>,
    /// Serving figures over time, oldest first.
    #[serde(default)]
    pub serving_samples: Vec<ServingSample>,
}

/// One reading of a deployment's live serving figures.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServingSample {
    /// The ModelDeployment's name.
    pub deployment: String,
    /// Seconds since the run started.
    pub seconds: f64,
    /// The figures of `status.metrics` at that moment.
    pub metrics: ServingMetrics,
}
