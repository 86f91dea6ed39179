//! A TuningSweep with its trials gathered, and the deployments that picked one of them.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use lepton_crds::v1alpha1::{Goal, Metric, TrialCounts, TuningSweep};

use super::deployments::{Deployment, Served};
use super::jobs::{Job, finite};

/// A deployment's pick from a sweep.
#[derive(Clone, Debug)]
pub(crate) struct Choice {
    pub(crate) deployment: String,
    pub(crate) trial: String,
    /// How it chose, for example `fastestWithin 0.01`.
    pub(crate) policy: Option<String>,
}

/// A sweep as the report draws it.
#[derive(Clone, Debug)]
pub(crate) struct Sweep {
    pub(crate) name: String,
    pub(crate) metric: Metric,
    pub(crate) goal: Goal,
    pub(crate) phase: Option<String>,
    pub(crate) finish_reason: Option<String>,
    pub(crate) counts: TrialCounts,
    pub(crate) max_trials: i32,
    pub(crate) total_cost: Option<f64>,
    /// Every trial, by index then name.
    pub(crate) trials: Vec<Job>,
    pub(crate) best: Option<String>,
    /// Names of the Pareto front's members, as the sweep reported them.
    pub(crate) front: BTreeSet<String>,
    pub(crate) choices: Vec<Choice>,
}

impl Sweep {
    /// Gathers `sweep`'s trials from `jobs` (those labelled with its name) and the
    /// deployments serving one of them.
    pub(crate) fn read(
        sweep: &TuningSweep,
        jobs: &[&lepton_crds::v1alpha1::TrainingJob],
        deployments: &[Deployment],
    ) -> Sweep {
        let name = sweep
            .metadata
            .name
            .clone()
            .unwrap_or_else(|| "(unnamed)".to_owned());
        let metric = sweep.spec.objective.metric;
        let goal = sweep.spec.objective.goal.unwrap_or_else(|| metric.goal());
        let status = sweep.status.clone().unwrap_or_default();
        let mut trials: Vec<Job> = jobs.iter().map(|tj| Job::read(tj, Some(metric))).collect();
        let summaries = status.best_trial.iter().chain(status.pareto_front.iter());
        for summary in summaries {
            match trials.iter_mut().find(|t| t.name == summary.name) {
                Some(trial) => trial.fill_from(summary),
                None => trials.push(Job::from_summary(summary, metric)),
            }
        }
        trials.sort_by(|a, b| {
            (a.index.is_none(), a.index, &a.name).cmp(&(b.index.is_none(), b.index, &b.name))
        });
        let choices = deployments
            .iter()
            .filter_map(|d| match &d.served {
                Some(Served::Trial { sweep, trial }) if *sweep == name => Some(Choice {
                    deployment: d.name.clone(),
                    trial: trial.clone(),
                    policy: d.policy.clone(),
                }),
                _ => None,
            })
            .collect();
        Sweep {
            metric,
            goal,
            phase: status.phase.map(|p| format!("{p:?}")),
            finish_reason: status.finish_reason.map(|r| format!("{r:?}")),
            counts: status.trials.clone(),
            max_trials: sweep.spec.max_trials,
            total_cost: finite(status.total_cost),
            best: status.best_trial.as_ref().map(|t| t.name.clone()),
            front: status.pareto_front.iter().map(|t| t.name.clone()).collect(),
            trials,
            choices,
            name,
        }
    }

    /// The currency the trials' costs are in, when they name one.
    pub(crate) fn currency(&self) -> Option<&str> {
        self.trials.iter().find_map(|t| t.currency.as_deref())
    }

    /// The deployment choice of `trial`, if one serves it.
    pub(crate) fn choice_of(&self, trial: &str) -> Option<&Choice> {
        self.choices.iter().find(|c| c.trial == trial)
    }

    /// Trials ordered best objective first; those without one last, by name.
    pub(crate) fn ranked(&self) -> Vec<&Job> {
        let mut ranked: Vec<&Job> = self.trials.iter().collect();
        ranked.sort_by(|a, b| match (a.objective, b.objective) {
            (Some(x), Some(y)) => compare(self.goal, x, y).then_with(|| a.name.cmp(&b.name)),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => a.name.cmp(&b.name),
        });
        ranked
    }
}

/// Orders `a` before `b` when `a` is the better value under `goal`.
pub(crate) fn compare(goal: Goal, a: f64, b: f64) -> Ordering {
    match goal {
        Goal::Maximize => b.total_cmp(&a),
        Goal::Minimize => a.total_cmp(&b),
    }
}

/// How the page says which way is better.
pub(crate) fn direction(goal: Goal) -> &'static str {
    match goal {
        Goal::Maximize => "higher is better",
        Goal::Minimize => "lower is better",
    }
}
