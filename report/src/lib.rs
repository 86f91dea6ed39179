//! Lepton's run report: a self-contained HTML page (and SVG images) of a local run or a
//! cluster namespace.
//!
//! The page shows, from a [`RunRecord`]: one card per resource; the learning curves of every
//! sweep's trials and of standalone jobs; each sweep's objective against training cost and
//! against inference latency, with its Pareto front, best trial and the model a deployment
//! chose; a table of trials; and each deployment's latency and drift over time against its
//! limits. It has no script and loads nothing: the charts are inline SVG.
//!
//! Charts are drawn with plotters' SVG backend, which needs no font files: without its `ttf`
//! feature it writes text as SVG `<text>` elements in a CSS font stack and the viewer
//! renders them. The data layer of each chart (lines, markers, labels, hover titles) is
//! written as SVG directly on top of plotters' frame, since the backend has no dashes,
//! titles or classes.

#![deny(missing_docs)]

mod charts;
mod error;
mod escape;
mod format;
mod html;
mod model;
mod style;

use std::fs;
use std::path::{Path, PathBuf};

use lepton_crds::v1alpha1::{ModelDeployment, ServingMetrics, TrainingJob, TuningSweep};
use serde::{Deserialize, Serialize};

pub use error::ReportError;

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

/// The report of `record` as one self-contained HTML page (inline CSS and SVG, no script, no
/// external resource). Missing, partial or non-finite figures give notes, never a panic.
pub fn html(record: &RunRecord) -> String {
    html::render(record).html
}

/// Writes the report into `dir` (created if needed): `report.html` and each chart as its own
/// `.svg` file, named after its subject. Returns the paths written, the page first.
pub fn write(record: &RunRecord, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let page = html::render(record);
    fs::create_dir_all(dir).map_err(|source| ReportError::io(dir, source))?;
    let mut written = Vec::with_capacity(page.charts.len() + 1);
    let index = dir.join("report.html");
    fs::write(&index, &page.html).map_err(|source| ReportError::io(&index, source))?;
    written.push(index);
    for chart in &page.charts {
        let path = dir.join(format!("{}.svg", chart.stem));
        fs::write(&path, &chart.svg).map_err(|source| ReportError::io(&path, source))?;
        written.push(path);
    }
    Ok(written)
}
