//! The record rearranged the way the page reads: sweeps with their trials, the jobs that
//! belong to no sweep, and deployments with their samples.

mod deployments;
mod jobs;
mod sweeps;

use std::collections::BTreeSet;

pub(crate) use deployments::{Deployment, Served};
pub(crate) use jobs::{Job, State};
pub(crate) use sweeps::{Sweep, compare, direction};

use crate::RunRecord;

/// Everything the page shows, read once from the record.
#[derive(Clone, Debug)]
pub(crate) struct View {
    pub(crate) title: String,
    pub(crate) generated_at: String,
    pub(crate) sweeps: Vec<Sweep>,
    /// TrainingJobs that are not trials of a sweep in the record.
    pub(crate) jobs: Vec<Job>,
    pub(crate) deployments: Vec<Deployment>,
}

impl View {
    /// Reads `record`.
    pub(crate) fn read(record: &RunRecord) -> View {
        let mut deployments: Vec<Deployment> = record
            .model_deployments
            .iter()
            .map(|md| Deployment::read(md, &record.serving_samples))
            .collect();
        let mut seen: BTreeSet<String> = deployments.iter().map(|d| d.name.clone()).collect();
        for sample in &record.serving_samples {
            if seen.insert(sample.deployment.clone()) {
                deployments.push(Deployment::unlisted(
                    &sample.deployment,
                    &record.serving_samples,
                ));
            }
        }
        let sweep_names: BTreeSet<String> = record
            .tuning_sweeps
            .iter()
            .filter_map(|s| s.metadata.name.clone())
            .collect();
        let sweep_of = |tj: &lepton_crds::v1alpha1::TrainingJob| {
            tj.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(jobs::SWEEP_LABEL))
                .filter(|s| sweep_names.contains(*s))
                .cloned()
        };
        let sweeps = record
            .tuning_sweeps
            .iter()
            .map(|sweep| {
                let trials: Vec<_> = record
                    .training_jobs
                    .iter()
                    .filter(|tj| sweep_of(tj).is_some() && sweep_of(tj) == sweep.metadata.name)
                    .collect();
                Sweep::read(sweep, &trials, &deployments)
            })
            .collect();
        // A trial whose sweep is missing from the record still has a curve worth showing.
        let jobs = record
            .training_jobs
            .iter()
            .filter(|tj| sweep_of(tj).is_none())
            .map(|tj| Job::read(tj, None))
            .collect();
        View {
            title: record.title.clone(),
            generated_at: record.generated_at.clone(),
            sweeps,
            jobs,
            deployments,
        }
    }

    /// The deployment serving the standalone job `name`, if any.
    pub(crate) fn deployment_of_job(&self, name: &str) -> Option<&Deployment> {
        self.deployments
            .iter()
            .find(|d| matches!(&d.served, Some(Served::Job(j)) if j == name))
    }
}
