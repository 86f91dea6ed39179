//! When a local run is over, and how it went: a pure judgement of the resources as last
//! seen. A run is over when every resource it applied has settled: a TrainingJob or sweep in a
//! terminal phase, a ModelDeployment Ready, or anything that cannot go on without a change of
//! its spec (an invalid spec, a failed model source, a suspended job).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use lepton_crds::v1alpha1::{
    ModelDeployment, ModelDeploymentPhase, TrainingJob, TrainingJobPhase, TuningSweep,
    TuningSweepPhase,
};

use crate::manifests::Kind;

/// The resources of the run's namespace, as last read.
#[derive(Debug, Default, Clone)]
pub struct Observed {
    /// TrainingJobs, sweep trials included.
    pub jobs: Vec<TrainingJob>,
    /// TuningSweeps.
    pub sweeps: Vec<TuningSweep>,
    /// ModelDeployments.
    pub deployments: Vec<ModelDeployment>,
}

/// Something in the run that failed or cannot go on.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// `kind/name`, as kubectl writes it.
    pub resource: String,
    /// The condition reason (or a short word).
    pub reason: String,
    /// What happened, from the resource's condition.
    pub message: String,
}

/// The judgement.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Verdict {
    /// Every applied resource has settled.
    pub settled: bool,
    /// What failed; empty when the run succeeded (so far).
    pub problems: Vec<Problem>,
}

enum Settled {
    No,
    Fine,
    Problem(Problem),
}

/// Judges the run. `waited_out`: the training side has been settled longer than a
/// deployment may take to turn Ready, so a deployment that is still not Ready has failed.
pub fn assess(applied: &[(Kind, String)], observed: &Observed, waited_out: bool) -> Verdict {
    judge(applied, observed, waited_out, false)
}

/// Judges a run that reached its time limit: whatever has not settled has failed.
pub fn assess_at_deadline(applied: &[(Kind, String)], observed: &Observed) -> Verdict {
    judge(applied, observed, true, true)
}

fn judge(
    applied: &[(Kind, String)],
    observed: &Observed,
    waited_out: bool,
    deadline: bool,
) -> Verdict {
    let mut verdict = Verdict {
        settled: true,
        problems: Vec::new(),
    };
    for (kind, name) in applied {
        let settled = match kind {
            Kind::TrainingJob => job(observed, name),
            Kind::TuningSweep => sweep(observed, name),
            Kind::ModelDeployment => deployment(observed, name, waited_out),
        };
        match settled {
            Settled::No if deadline => verdict.problems.push(Problem {
                resource: format!("{}/{name}", kind.resource()),
                reason: "TimedOut".into(),
                message: "still working when the run reached its --timeout".into(),
            }),
            Settled::No => verdict.settled = false,
            Settled::Fine => {}
            Settled::Problem(p) => verdict.problems.push(p),
        }
    }
    verdict
}

/// Whether every TrainingJob and sweep of the run has settled (deployments aside).
pub fn training_settled(applied: &[(Kind, String)], observed: &Observed) -> bool {
    applied.iter().all(|(kind, name)| match kind {
        Kind::TrainingJob => !matches!(job(observed, name), Settled::No),
        Kind::TuningSweep => !matches!(sweep(observed, name), Settled::No),
        Kind::ModelDeployment => true,
    })
}

fn find<'a, K: ResourceExt>(items: &'a [K], name: &str) -> Option<&'a K> {
    items.iter().find(|k| k.name_any() == name)
}

fn problem(kind: Kind, name: &str, condition: Option<&Condition>, fallback: &str) -> Settled {
    Settled::Problem(Problem {
        resource: format!("{}/{name}", kind.resource()),
        reason: condition.map_or_else(|| fallback.to_owned(), |c| c.reason.clone()),
        message: condition.map(|c| c.message.clone()).unwrap_or_default(),
    })
}

fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Reasons that leave a resource where it is until its spec changes.
const NEEDS_A_CHANGE: [&str; 4] = [
    "InvalidSpec",
    "UnknownNodePool",
    "UnsupportedSource",
    "DigestMismatch",
];

fn blocked(conditions: &[Condition]) -> Option<&Condition> {
    conditions
        .iter()
        .find(|c| c.status == "False" && NEEDS_A_CHANGE.contains(&c.reason.as_str()))
}

fn job(observed: &Observed, name: &str) -> Settled {
    let Some(status) = find(&observed.jobs, name).and_then(|j| j.status.as_ref()) else {
        return Settled::No;
    };
    let conditions = &status.conditions;
    match status.phase {
        Some(TrainingJobPhase::Succeeded) => Settled::Fine,
        Some(TrainingJobPhase::Failed) => problem(
            Kind::TrainingJob,
            name,
            condition(conditions, "Failed").or_else(|| blocked(conditions)),
            "Failed",
        ),
        Some(TrainingJobPhase::Stopped) => problem(
            Kind::TrainingJob,
            name,
            condition(conditions, "Stopped"),
            "Stopped",
        ),
        Some(TrainingJobPhase::Suspended) => problem(
            Kind::TrainingJob,
            name,
            condition(conditions, "Suspended"),
            "Suspended",
        ),
        _ => match blocked(conditions) {
            Some(c) => problem(Kind::TrainingJob, name, Some(c), ""),
            None => Settled::No,
        },
    }
}

fn sweep(observed: &Observed, name: &str) -> Settled {
    let Some(status) = find(&observed.sweeps, name).and_then(|s| s.status.as_ref()) else {
        return Settled::No;
    };
    let conditions = &status.conditions;
    match status.phase {
        Some(TuningSweepPhase::Succeeded) => Settled::Fine,
        Some(TuningSweepPhase::Failed) => problem(
            Kind::TuningSweep,
            name,
            condition(conditions, "Failed").or_else(|| blocked(conditions)),
            "Failed",
        ),
        _ => match blocked(conditions) {
            Some(c) => problem(Kind::TuningSweep, name, Some(c), ""),
            None => Settled::No,
        },
    }
}

fn deployment(observed: &Observed, name: &str, waited_out: bool) -> Settled {
    let Some(md) = find(&observed.deployments, name) else {
        return Settled::No;
    };
    let Some(status) = md.status.as_ref() else {
        return Settled::No;
    };
    let conditions = &status.conditions;
    let ready = condition(conditions, "Ready");
    if ready.is_some_and(|c| c.status == "True") {
        return Settled::Fine;
    }
    if status.phase == Some(ModelDeploymentPhase::Failed) {
        return problem(Kind::ModelDeployment, name, ready, "Failed");
    }
    if let Some(c) = blocked(conditions) {
        return problem(Kind::ModelDeployment, name, Some(c), "");
    }
    if let Some(reason) = failed_source(observed, md) {
        return Settled::Problem(Problem {
            resource: format!("{}/{name}", Kind::ModelDeployment.resource()),
            reason: "ModelSourceFailed".into(),
            message: reason,
        });
    }
    if waited_out {
        return problem(Kind::ModelDeployment, name, ready, "NotReady");
    }
    Settled::No
}

/// Why the deployment's model will never come: its TrainingJob ended without a model, or
/// its sweep failed.
fn failed_source(observed: &Observed, md: &ModelDeployment) -> Option<String> {
    let model = &md.spec.model;
    if let Some(job_name) = &model.training_job {
        let phase = find(&observed.jobs, job_name)
            .and_then(|j| j.status.as_ref())
            .and_then(|s| s.phase);
        if let Some(phase @ (TrainingJobPhase::Failed | TrainingJobPhase::Stopped)) = phase {
            return Some(format!(
                "its model's TrainingJob {job_name} ended {phase:?} without a model"
            ));
        }
    }
    if let Some(selection) = &model.tuning_sweep {
        let status = find(&observed.sweeps, &selection.name).and_then(|s| s.status.as_ref());
        if let Some(status) = status
            && status.phase == Some(TuningSweepPhase::Failed)
            && status.trials.succeeded == 0
        {
            return Some(format!(
                "its model's TuningSweep {} failed without a model to serve",
                selection.name
            ));
        }
    }
    None
}

#[cfg(test)]
#[path = "outcome_tests.rs"]
mod tests;
