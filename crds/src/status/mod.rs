//! Status helpers shared by all controllers: condition bookkeeping, the condition types and
//! reasons of each kind, and the one place where each kind's phase is derived from its
//! conditions.

pub mod conditions;
pub mod model_deployment;
pub mod training_job;
pub mod tuning_sweep;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub use conditions::{ConditionStatus, DesiredCondition};

/// A Lepton status with conditions, an observed generation and a phase derived from them.
pub trait ConditionedStatus {
    /// The conditions, in the order they were first set.
    fn conditions(&self) -> &[Condition];
    /// Mutable access to the conditions.
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    /// The `observedGeneration` field.
    fn observed_generation(&self) -> Option<i64>;
    /// Sets the `observedGeneration` field.
    fn set_observed_generation(&mut self, generation: Option<i64>);
    /// Recomputes `phase` from the conditions; returns whether it changed.
    fn refresh_phase(&mut self) -> bool;
}

/// Applies a controller's decided conditions to a status: each condition is set with the API's
/// transition rules, `observedGeneration` is set to `generation`, and the phase is derived again.
/// Returns whether the status changed.
pub fn apply<S: ConditionedStatus>(
    status: &mut S,
    desired: &[DesiredCondition],
    generation: Option<i64>,
    now: &Time,
) -> bool {
    let mut changed = false;
    for condition in desired {
        changed |= conditions::set(status.conditions_mut(), condition, generation, now);
    }
    if status.observed_generation() != generation {
        status.set_observed_generation(generation);
        changed = true;
    }
    changed | status.refresh_phase()
}

/// Whether `reason` has the form the API requires of a condition reason (CamelCase, starting
/// with a letter, at most 1024 characters).
pub fn is_valid_reason(reason: &str) -> bool {
    let mut chars = reason.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    starts_with_letter
        && reason.len() <= 1024
        && reason
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ',' | ':'))
        && !reason.ends_with([',', ':'])
}

macro_rules! conditioned_status {
    ($status:ty, $derive:path) => {
        impl $crate::status::ConditionedStatus for $status {
            fn conditions(&self) -> &[Condition] {
                &self.conditions
            }
            fn conditions_mut(&mut self) -> &mut Vec<Condition> {
                &mut self.conditions
            }
            fn observed_generation(&self) -> Option<i64> {
                self.observed_generation
            }
            fn set_observed_generation(&mut self, generation: Option<i64>) {
                self.observed_generation = generation;
            }
            fn refresh_phase(&mut self) -> bool {
                let phase = Some($derive(&self.conditions));
                let changed = self.phase != phase;
                self.phase = phase;
                changed
            }
        }
    };
}

conditioned_status!(crate::v1alpha1::TrainingJobStatus, training_job::phase);
conditioned_status!(crate::v1alpha1::TuningSweepStatus, tuning_sweep::phase);
conditioned_status!(
    crate::v1alpha1::ModelDeploymentStatus,
    model_deployment::phase
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_form() {
        assert!(is_valid_reason("TrainingCompleted"));
        assert!(is_valid_reason("Latency_SLO:p99"));
        for bad in ["", "1Bad", "Has space", "Trailing:", "dash-ed"] {
            assert!(!is_valid_reason(bad), "{bad}");
        }
    }

    #[test]
    fn every_reason_and_condition_type_has_the_api_form() {
        use model_deployment::{reasons as md, types as mdt};
        use training_job::{reasons as tj, types as tjt};
        use tuning_sweep::{reasons as ts, types as tst};
        let all = [
            tjt::CREATED,
            tjt::RUNNING,
            tjt::SUCCEEDED,
            tjt::FAILED,
            tjt::SUSPENDED,
            tj::JOB_CREATED,
            tj::POD_PENDING,
            tj::TRAINING,
            tj::TRAINING_COMPLETED,
            tj::BACKOFF_LIMIT_EXCEEDED,
            tj::DEADLINE_EXCEEDED,
            tj::DATA_ERROR,
            tj::INVALID_SPEC,
            tj::UNKNOWN_NODE_POOL,
            tj::SUSPENDED_BY_SPEC,
            tj::RESUMED,
            tj::STOPPED_BY_SWEEP,
            tj::EARLY_STOPPED,
            tj::STOP_REQUESTED,
            tj::JOB_LOST,
            tj::QUEUED,
            tj::JOB_NAME_CONFLICT,
            tj::OUT_OF_MEMORY,
            tst::CREATED,
            tst::RUNNING,
            tst::SUCCEEDED,
            tst::FAILED,
            ts::SWEEP_CREATED,
            ts::TRIALS_RUNNING,
            ts::GOAL_REACHED,
            ts::MAX_TRIALS_REACHED,
            ts::SEARCH_SPACE_EXHAUSTED,
            ts::TIME_BUDGET_EXHAUSTED,
            ts::COST_BUDGET_EXHAUSTED,
            ts::TOO_MANY_FAILED_TRIALS,
            ts::NO_SUCCESSFUL_TRIAL,
            ts::INVALID_SPEC,
            mdt::READY,
            mdt::MODEL_LOADED,
            mdt::ROLLOUT_COMPLETE,
            mdt::DEGRADED,
            md::WAITING_FOR_MODEL,
            md::MODEL_UNAVAILABLE,
            md::DIGEST_MISMATCH,
            md::MODEL_LOADED,
            md::LOADING_MODEL,
            md::UNSUPPORTED_SOURCE,
            md::ROLLING_OUT,
            md::ROLLOUT_COMPLETE,
            md::ENDPOINT_READY,
            md::REPLICAS_UNAVAILABLE,
            md::DRIFT_DETECTED,
            md::LATENCY_SLO_VIOLATED,
            md::HIGH_ERROR_RATE,
            md::CUDA_UNAVAILABLE,
            md::HEALTHY,
            md::UNKNOWN_NODE_POOL,
            md::INVALID_SPEC,
        ];
        for reason in all {
            assert!(is_valid_reason(reason), "{reason}");
        }
    }

    /// A finished sweep's condition reason repeats `status.finishReason`, so the two can be
    /// compared by name.
    #[test]
    fn finish_reasons_match_condition_reasons() {
        use crate::v1alpha1::FinishReason;
        use tuning_sweep::reasons;
        for (finish, reason) in [
            (FinishReason::GoalReached, reasons::GOAL_REACHED),
            (FinishReason::MaxTrialsReached, reasons::MAX_TRIALS_REACHED),
            (
                FinishReason::SearchSpaceExhausted,
                reasons::SEARCH_SPACE_EXHAUSTED,
            ),
            (
                FinishReason::TimeBudgetExhausted,
                reasons::TIME_BUDGET_EXHAUSTED,
            ),
            (
                FinishReason::CostBudgetExhausted,
                reasons::COST_BUDGET_EXHAUSTED,
            ),
            (
                FinishReason::TooManyFailedTrials,
                reasons::TOO_MANY_FAILED_TRIALS,
            ),
        ] {
            assert_eq!(serde_json::to_value(finish).unwrap(), reason);
        }
    }
}
