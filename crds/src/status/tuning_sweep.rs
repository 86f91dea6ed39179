//! TuningSweep condition types, reasons and phase.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::conditions::is_true;
use crate::v1alpha1::TuningSweepPhase;

/// Condition types of a TuningSweep.
pub mod types {
    /// The sweep was accepted and its search space checked.
    pub const CREATED: &str = "Created";
    /// Trials are running or about to.
    pub const RUNNING: &str = "Running";
    /// The sweep finished with at least one successful trial.
    pub const SUCCEEDED: &str = "Succeeded";
    /// The sweep failed.
    pub const FAILED: &str = "Failed";
}

/// Reasons of TuningSweep conditions. The reasons of a finished sweep match
/// `status.finishReason`.
pub mod reasons {
    /// The search space was checked and the first trials are being created.
    pub const SWEEP_CREATED: &str = "SweepCreated";
    /// Trials are running.
    pub const TRIALS_RUNNING: &str = "TrialsRunning";
    /// A trial reached the objective's target value.
    pub const GOAL_REACHED: &str = "GoalReached";
    /// `maxTrials` trials finished.
    pub const MAX_TRIALS_REACHED: &str = "MaxTrialsReached";
    /// Every point of the search space was tried.
    pub const SEARCH_SPACE_EXHAUSTED: &str = "SearchSpaceExhausted";
    /// The wall-clock budget ran out.
    pub const TIME_BUDGET_EXHAUSTED: &str = "TimeBudgetExhausted";
    /// The cost budget ran out.
    pub const COST_BUDGET_EXHAUSTED: &str = "CostBudgetExhausted";
    /// More than `maxFailedTrials` trials failed.
    pub const TOO_MANY_FAILED_TRIALS: &str = "TooManyFailedTrials";
    /// The sweep ended without any successful trial.
    pub const NO_SUCCESSFUL_TRIAL: &str = "NoSuccessfulTrial";
    /// The spec cannot be acted on (the message names the field).
    pub const INVALID_SPEC: &str = "InvalidSpec";
}

/// The phase a TuningSweep's conditions describe: Failed, then Succeeded, then Running,
/// otherwise Pending.
pub fn phase(conditions: &[Condition]) -> TuningSweepPhase {
    if is_true(conditions, types::FAILED) {
        TuningSweepPhase::Failed
    } else if is_true(conditions, types::SUCCEEDED) {
        TuningSweepPhase::Succeeded
    } else if is_true(conditions, types::RUNNING) {
        TuningSweepPhase::Running
    } else {
        TuningSweepPhase::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{ConditionStatus, DesiredCondition, apply};
    use crate::v1alpha1::TuningSweepStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn phase_of(set: &[(&'static str, ConditionStatus)]) -> Option<TuningSweepPhase> {
        let mut status = TuningSweepStatus::default();
        let desired: Vec<_> = set
            .iter()
            .map(|(t, s)| DesiredCondition::new(t, *s, reasons::TRIALS_RUNNING, ""))
            .collect();
        apply(
            &mut status,
            &desired,
            Some(1),
            &Time(Timestamp::from_second(0).unwrap()),
        );
        status.phase
    }

    #[test]
    fn phases_follow_the_conditions() {
        use ConditionStatus::{False, True};
        assert_eq!(phase_of(&[]), Some(TuningSweepPhase::Pending));
        assert_eq!(
            phase_of(&[(types::CREATED, True)]),
            Some(TuningSweepPhase::Pending)
        );
        assert_eq!(
            phase_of(&[(types::RUNNING, True)]),
            Some(TuningSweepPhase::Running)
        );
        assert_eq!(
            phase_of(&[(types::RUNNING, False), (types::SUCCEEDED, True)]),
            Some(TuningSweepPhase::Succeeded)
        );
        assert_eq!(
            phase_of(&[(types::SUCCEEDED, True), (types::FAILED, True)]),
            Some(TuningSweepPhase::Failed)
        );
    }
}
