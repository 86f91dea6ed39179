//! What to do for a TuningSweep, decided from its spec, its status and its trials (child
//! TrainingJobs). Pure: the reconcile lists the trials, calls [`decide`], and carries out the
//! result.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use lepton_crds::status::tuning_sweep::{reasons, types};
use lepton_crds::status::{self, ConditionStatus, DesiredCondition, conditions};
use lepton_crds::v1alpha1::{
    AlgorithmType, ConcreteModelFamily, FidelityParameter, FinishReason, Goal, ParetoObjective,
    TrainingJob, TrialCounts, TrialSummary, TuningSweep, TuningSweepStatus,
};
use lepton_tuning::early_stop::{MedianStopRule, median_stop};
use lepton_tuning::pareto::{Point, bounded_front_within};
use lepton_tuning::search::{SearchConfig, Suggestion, grid_size, suggest};
use lepton_tuning::space::SearchSpace;
use lepton_tuning::trial::ObservedTrial;

use super::desired;
use super::trials::{self, Trial, TrialPhase};

/// Most trials kept in `status.paretoFront` (the schema's limit).
pub const PARETO_LIMIT: usize = 32;

/// How far apart two trials' cost, latency, size or training time must be, as a fraction of
/// the larger, for one to beat the other on the Pareto front. Each is measured (latency from a
/// few hundred timed inferences, cost and time from a run's seconds) and varies by a few
/// percent between runs of the same model; compared exactly, that noise alone put most trials
/// of a short sweep on the front.
pub const PARETO_RESOLUTION: f64 = 0.05;

/// A running trial to stop.
#[derive(Clone, Debug, PartialEq)]
pub struct Stop {
    /// Name of its TrainingJob.
    pub name: String,
    /// Why; becomes the trial's Stopped condition message.
    pub message: String,
    /// Stopped by the early-stopping rule (rather than because the sweep finished).
    pub early: bool,
}

/// The decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The status to write.
    pub status: TuningSweepStatus,
    /// Trials to create, in index order.
    pub create: Vec<TrainingJob>,
    /// Trials to stop.
    pub stop: Vec<Stop>,
    /// Reconcile again after this long even if nothing changes (the time budget's end).
    pub requeue_after: Option<Duration>,
}

/// Decides the next step for `sweep` given its `trials` at `now`.
pub fn decide(sweep: &TuningSweep, trials: &[Trial], now: Timestamp) -> Decision {
    let spec = &sweep.spec;
    let generation = sweep.metadata.generation;
    let time = Time(now);
    let mut status = sweep.status.clone().unwrap_or_default();
    let mut decision = Decision {
        status: TuningSweepStatus::default(),
        create: Vec::new(),
        stop: Vec::new(),
        requeue_after: None,
    };

    let space = match check(sweep) {
        Ok(space) => space,
        Err(message) => {
            summarise(&mut status, sweep, trials);
            decision.status = invalid(status, message, generation, &time);
            return decision;
        }
    };
    let config = SearchConfig::from_spec(spec);
    let goal = trials::goal(spec);
    let mut observed: Vec<ObservedTrial> = trials
        .iter()
        .map(|t| trials::observed(t, &space, goal))
        .collect();
    summarise(&mut status, sweep, trials);
    let counts = status.trials.clone();
    let active = counts.pending + counts.running;

    let mut next_index = trials
        .iter()
        .map(|t| t.index + 1)
        .max()
        .unwrap_or(0)
        .max(status.next_trial_index.unwrap_or(0).max(0) as u32);
    if status.start_time.is_none() && !trials.is_empty() {
        status.start_time = Some(time.clone());
    }

    let was_finished = status.finish_reason.is_some()
        && (conditions::is_true(&status.conditions, types::SUCCEEDED)
            || conditions::is_true(&status.conditions, types::FAILED));
    let limit = limit_reached(sweep, &status, &counts, now);
    let mut finish = match (was_finished, status.finish_reason) {
        // Reached for good: a later spec change cannot undo them.
        (
            true,
            Some(
                reason @ (FinishReason::GoalReached
                | FinishReason::TooManyFailedTrials
                | FinishReason::SearchSpaceExhausted),
            ),
        ) => Some(reason),
        // A limit that was raised (more trials, a bigger budget) lets the sweep go on.
        (true, Some(reason)) => limit.map(|_| reason),
        _ => limit,
    };

    let mut stops: Vec<Stop> = Vec::new();
    if finish.is_none()
        && let Some(rule) = &spec.early_stopping
    {
        let rule = MedianStopRule {
            min_trials: rule.median_stop.min_trials.max(1) as u32,
            start_step: rule.median_stop.start_step.max(1) as u32,
        };
        for (i, trial) in trials.iter().enumerate() {
            if trial.phase != TrialPhase::Running || trial.stop_requested {
                continue;
            }
            // The rule leaves the trial itself out of the others.
            if let Some(message) = median_stop(
                &rule,
                spec.objective.metric.as_str(),
                &observed[i],
                &observed,
            ) {
                stops.push(Stop {
                    name: trial.name.clone(),
                    message,
                    early: true,
                });
            }
        }
    }

    let mut exhausted = false;
    if finish.is_none() {
        let stopping = stops.len() as i32;
        let mut slots = spec.parallel_trials - (active - stopping);
        let mut remaining = spec.max_trials - counts.created;
        let fidelity_parameter = config.fidelity_parameter();
        while slots > 0 && remaining > 0 {
            match suggest(&config, &space, &observed, next_index) {
                Suggestion::Trial(proposal) => {
                    match desired::trial(sweep, next_index, &proposal, fidelity_parameter) {
                        Ok(tj) => decision.create.push(tj),
                        Err(message) => {
                            decision.status = invalid(status, message, generation, &time);
                            decision.stop = stops;
                            return decision;
                        }
                    }
                    observed.push(trials::proposed(next_index, &proposal));
                    next_index += 1;
                    slots -= 1;
                    remaining -= 1;
                }
                Suggestion::Wait => break,
                Suggestion::Exhausted => {
                    exhausted = true;
                    break;
                }
            }
        }
        if exhausted && active - stopping == 0 && decision.create.is_empty() {
            finish = Some(FinishReason::SearchSpaceExhausted);
        }
    }
    if !decision.create.is_empty() && status.start_time.is_none() {
        status.start_time = Some(time.clone());
    }
    status.next_trial_index = Some(next_index as i32);

    let mut desired_conditions = vec![DesiredCondition::new(
        types::CREATED,
        ConditionStatus::True,
        reasons::SWEEP_CREATED,
        created_message(sweep, &config, &space),
    )];
    if let Some(reason) = finish {
        // Whatever still runs is of no use to a finishing sweep.
        for trial in trials.iter().filter(|t| t.phase.is_active()) {
            if !trial.stop_requested && !stops.iter().any(|s| s.name == trial.name) {
                stops.push(Stop {
                    name: trial.name.clone(),
                    message: format!("the sweep finished ({})", reason_str(reason)),
                    early: false,
                });
            }
        }
    }
    match finish {
        // The outcome is known only once the stopped trials have ended: one may still finish
        // training and become the best.
        Some(reason) if active > 0 => {
            desired_conditions.push(DesiredCondition::new(
                types::RUNNING,
                ConditionStatus::True,
                reason_str(reason),
                format!(
                    "finishing ({}): waiting for {active} trial(s) to stop",
                    reason_str(reason)
                ),
            ));
        }
        Some(reason) => {
            status.finish_reason = Some(reason);
            if status.completion_time.is_none() || !was_finished {
                status.completion_time = Some(time.clone());
            }
            let summary = finish_message(sweep, reason, &status);
            desired_conditions.push(DesiredCondition::new(
                types::RUNNING,
                ConditionStatus::False,
                reason_str(reason),
                "the sweep finished",
            ));
            if reason == FinishReason::TooManyFailedTrials {
                desired_conditions.push(DesiredCondition::new(
                    types::FAILED,
                    ConditionStatus::True,
                    reasons::TOO_MANY_FAILED_TRIALS,
                    summary,
                ));
                desired_conditions.push(cleared(types::SUCCEEDED));
            } else if status.best_trial.is_none() {
                desired_conditions.push(DesiredCondition::new(
                    types::FAILED,
                    ConditionStatus::True,
                    reasons::NO_SUCCESSFUL_TRIAL,
                    summary,
                ));
                desired_conditions.push(cleared(types::SUCCEEDED));
            } else {
                desired_conditions.push(DesiredCondition::new(
                    types::SUCCEEDED,
                    ConditionStatus::True,
                    reason_str(reason),
                    summary,
                ));
                desired_conditions.push(cleared(types::FAILED));
            }
        }
        None => {
            status.finish_reason = None;
            status.completion_time = None;
            desired_conditions.push(DesiredCondition::new(
                types::RUNNING,
                ConditionStatus::True,
                reasons::TRIALS_RUNNING,
                running_message(sweep, &status, decision.create.len() as i32),
            ));
            if was_finished {
                desired_conditions.push(cleared(types::SUCCEEDED));
                desired_conditions.push(cleared(types::FAILED));
            }
            decision.requeue_after = budget_left(sweep, &status, now);
        }
    }
    status::apply(&mut status, &desired_conditions, generation, &time);
    decision.status = status;
    decision.stop = stops;
    decision
}

/// The status of a sweep whose spec cannot be acted on: `Created=False, InvalidSpec`, waiting
/// for the spec to change.
fn invalid(
    mut status: TuningSweepStatus,
    message: String,
    generation: Option<i64>,
    time: &Time,
) -> TuningSweepStatus {
    status::apply(
        &mut status,
        &[DesiredCondition::new(
            types::CREATED,
            ConditionStatus::False,
            reasons::INVALID_SPEC,
            message,
        )],
        generation,
        time,
    );
    status
}

/// `status` once the API server has refused a trial: `Created=False, InvalidSpec` with
/// `message`, and no longer Running.
pub fn rejected(
    status: TuningSweepStatus,
    message: String,
    generation: Option<i64>,
    now: Timestamp,
) -> TuningSweepStatus {
    let time = Time(now);
    let mut status = invalid(status, message, generation, &time);
    status::apply(
        &mut status,
        &[DesiredCondition::new(
            types::RUNNING,
            ConditionStatus::False,
            reasons::INVALID_SPEC,
            "a trial was rejected",
        )],
        generation,
        &time,
    );
    status
}

/// The search space, or what in the spec stops the sweep from starting (naming the field).
pub fn check(sweep: &TuningSweep) -> Result<SearchSpace, String> {
    let spec = &sweep.spec;
    let template_family = spec.template.spec.concrete_family();
    let space = SearchSpace::from_spec(&spec.parameters, template_family)
        .map_err(|e| format!("spec.{}", e.0))?;
    if let Some(metric) = spec.template.spec.model.metric
        && metric != spec.objective.metric
    {
        return Err(format!(
            "spec.template.spec.model.metric is {} but spec.objective.metric is {}: trials \
             are trained and compared on the objective, so remove the template's metric or make \
             them equal",
            metric.as_str(),
            spec.objective.metric.as_str()
        ));
    }
    if matches!(
        spec.algorithm.type_,
        AlgorithmType::Asha | AlgorithmType::Hyperband
    ) {
        let parameter = spec.algorithm.fidelity.parameter;
        let (name, fits): (&str, &[ConcreteModelFamily]) = match parameter {
            FidelityParameter::Epochs => (
                "epochs",
                &[ConcreteModelFamily::Linear, ConcreteModelFamily::Mlp],
            ),
            FidelityParameter::NumTrees => ("numTrees", &[ConcreteModelFamily::Gbdt]),
        };
        for family in space.families() {
            match family {
                None => {
                    return Err(
                        "spec.algorithm.fidelity: asha and hyperband need one model family per \
                         trial; set spec.template.spec.model.family or tune the family parameter"
                            .to_owned(),
                    );
                }
                Some(family) if !fits.contains(&family) => {
                    return Err(format!(
                        "spec.algorithm.fidelity.parameter {name} does not apply to family {}; \
                         use epochs for linear and mlp, numTrees for gbdt",
                        lepton_tuning::space::family_name(family)
                    ));
                }
                Some(_) => {}
            }
        }
    }
    Ok(space)
}

/// Counts, cost, best trial and Pareto front, all recomputed from the trials.
fn summarise(status: &mut TuningSweepStatus, sweep: &TuningSweep, trials: &[Trial]) {
    let mut counts = TrialCounts {
        created: trials.len() as i32,
        ..TrialCounts::default()
    };
    for trial in trials {
        match trial.phase {
            TrialPhase::Pending => counts.pending += 1,
            TrialPhase::Running => counts.running += 1,
            TrialPhase::Succeeded => counts.succeeded += 1,
            TrialPhase::Failed => counts.failed += 1,
            TrialPhase::EarlyStopped => counts.early_stopped += 1,
            TrialPhase::Stopped => counts.stopped += 1,
        }
    }
    let finished = counts.succeeded + counts.failed + counts.early_stopped + counts.stopped;
    status.progress = Some(format!("{finished}/{}", sweep.spec.max_trials));
    status.trials = counts;
    let total: f64 = trials.iter().filter_map(|t| t.cost).sum();
    status.total_cost = (total > 0.0).then_some(round(total));

    let goal = trials::goal(&sweep.spec);
    let usable: Vec<&Trial> = trials
        .iter()
        .filter(|t| t.phase == TrialPhase::Succeeded && t.objective.is_some())
        .collect();
    status.best_trial = usable
        .iter()
        .min_by(|a, b| {
            let la = trials::loss(goal, a.objective.unwrap_or(f64::NAN));
            let lb = trials::loss(goal, b.objective.unwrap_or(f64::NAN));
            la.total_cmp(&lb).then(a.index.cmp(&b.index))
        })
        .map(|t| t.summary());
    let points: Vec<Point> = usable
        .iter()
        .map(|t| Point {
            loss: trials::loss(goal, t.objective.unwrap_or(f64::NAN)),
            secondary: sweep
                .spec
                .pareto_objectives
                .iter()
                .map(|o| secondary(t, *o))
                .collect(),
        })
        .collect();
    status.pareto_front = bounded_front_within(&points, PARETO_LIMIT, PARETO_RESOLUTION)
        .into_iter()
        .map(|i| usable[i].summary())
        .collect();
}

/// A secondary objective's value; unknown counts as the worst.
fn secondary(trial: &Trial, objective: ParetoObjective) -> f64 {
    match objective {
        ParetoObjective::Cost => trial.cost,
        ParetoObjective::Latency => trial.latency_ms,
        ParetoObjective::ModelSize => trial.model_bytes.map(|b| b as f64),
        ParetoObjective::TrainingTime => trial.training_seconds,
    }
    .filter(|v| v.is_finite())
    .unwrap_or(f64::INFINITY)
}

/// A limit that ends the sweep now, checked in order of what a user most wants to hear.
fn limit_reached(
    sweep: &TuningSweep,
    status: &TuningSweepStatus,
    counts: &TrialCounts,
    now: Timestamp,
) -> Option<FinishReason> {
    let spec = &sweep.spec;
    let goal = trials::goal(spec);
    if let (Some(target), Some(best)) = (
        spec.objective.target_value,
        status.best_trial.as_ref().and_then(|b| b.objective),
    ) {
        let reached = match goal {
            Goal::Maximize => best >= target,
            Goal::Minimize => best <= target,
        };
        if reached {
            return Some(FinishReason::GoalReached);
        }
    }
    if counts.failed > spec.max_failed_trials {
        return Some(FinishReason::TooManyFailedTrials);
    }
    if let Some(budget) = &spec.budget {
        if let (Some(max), Some(spent)) = (budget.max_cost, status.total_cost)
            && spent >= max
        {
            return Some(FinishReason::CostBudgetExhausted);
        }
        if let (Some(seconds), Some(start)) = (budget.max_duration_seconds, &status.start_time)
            && start.0 + SignedDuration::from_secs(seconds) <= now
        {
            return Some(FinishReason::TimeBudgetExhausted);
        }
    }
    if counts.created >= spec.max_trials && counts.pending + counts.running == 0 {
        return Some(FinishReason::MaxTrialsReached);
    }
    None
}

/// Time until the wall-clock budget ends, so the sweep wakes to stop its trials.
fn budget_left(
    sweep: &TuningSweep,
    status: &TuningSweepStatus,
    now: Timestamp,
) -> Option<Duration> {
    let seconds = sweep.spec.budget.as_ref()?.max_duration_seconds?;
    let start = status.start_time.as_ref()?.0;
    let end = start + SignedDuration::from_secs(seconds);
    let left = end.duration_since(now);
    Some(Duration::from_secs_f64(left.as_secs_f64().max(0.0)) + Duration::from_millis(100))
}

fn cleared(type_: &'static str) -> DesiredCondition {
    DesiredCondition::new(type_, ConditionStatus::False, reasons::TRIALS_RUNNING, "")
}

/// The condition reason (and `finishReason` value) of a finish.
pub fn reason_str(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::GoalReached => reasons::GOAL_REACHED,
        FinishReason::MaxTrialsReached => reasons::MAX_TRIALS_REACHED,
        FinishReason::SearchSpaceExhausted => reasons::SEARCH_SPACE_EXHAUSTED,
        FinishReason::TimeBudgetExhausted => reasons::TIME_BUDGET_EXHAUSTED,
        FinishReason::CostBudgetExhausted => reasons::COST_BUDGET_EXHAUSTED,
        FinishReason::TooManyFailedTrials => reasons::TOO_MANY_FAILED_TRIALS,
    }
}

fn created_message(sweep: &TuningSweep, config: &SearchConfig, space: &SearchSpace) -> String {
    let algorithm = serde_json::to_value(sweep.spec.algorithm.type_)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut message = format!(
        "{} parameters, algorithm {algorithm} (seed {}), up to {} trials, {} at a time",
        space.dimensions.len(),
        sweep.spec.algorithm.seed,
        sweep.spec.max_trials,
        sweep.spec.parallel_trials
    );
    if let Some(size) = grid_size(config, space) {
        message.push_str(&format!("; the grid has {size} points"));
    }
    message
}

fn running_message(sweep: &TuningSweep, status: &TuningSweepStatus, creating: i32) -> String {
    let c = &status.trials;
    let mut message = format!(
        "{} running, {} pending, {} of {} finished",
        c.running,
        c.pending + creating,
        c.succeeded + c.failed + c.early_stopped + c.stopped,
        sweep.spec.max_trials
    );
    if let Some(best) = &status.best_trial {
        message.push_str(&format!("; best {}", best_text(sweep, best)));
    }
    message
}

fn finish_message(sweep: &TuningSweep, reason: FinishReason, status: &TuningSweepStatus) -> String {
    let c = &status.trials;
    let why = match reason {
        FinishReason::GoalReached => format!(
            "a trial reached the target {} {}",
            sweep.spec.objective.metric.as_str(),
            sweep.spec.objective.target_value.unwrap_or_default()
        ),
        FinishReason::MaxTrialsReached => format!("{} trials ran", c.created),
        FinishReason::SearchSpaceExhausted => "every point of the search space was tried".into(),
        FinishReason::TimeBudgetExhausted => format!(
            "the time budget of {} s ran out",
            sweep
                .spec
                .budget
                .as_ref()
                .and_then(|b| b.max_duration_seconds)
                .unwrap_or_default()
        ),
        FinishReason::CostBudgetExhausted => format!(
            "the cost budget of {} was spent ({} so far)",
            sweep
                .spec
                .budget
                .as_ref()
                .and_then(|b| b.max_cost)
                .unwrap_or_default(),
            status.total_cost.unwrap_or_default()
        ),
        FinishReason::TooManyFailedTrials => format!(
            "{} trials failed, more than maxFailedTrials {}; see the failed trials' Failed \
             conditions",
            c.failed, sweep.spec.max_failed_trials
        ),
    };
    let counts = format!(
        "{} succeeded, {} failed, {} early-stopped, {} stopped",
        c.succeeded, c.failed, c.early_stopped, c.stopped
    );
    match &status.best_trial {
        Some(best) => format!("{why} ({counts}); best {}", best_text(sweep, best)),
        None => format!("{why} ({counts}); no trial produced a model"),
    }
}

fn best_text(sweep: &TuningSweep, best: &TrialSummary) -> String {
    let parameters = best
        .parameters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{} {:.4} by {} ({parameters})",
        sweep.spec.objective.metric.as_str(),
        best.objective.unwrap_or_default(),
        best.name
    )
}

fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
