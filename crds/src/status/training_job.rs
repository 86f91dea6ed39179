//! TrainingJob condition types, reasons and phase.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::conditions::is_true;
use crate::v1alpha1::TrainingJobPhase;

/// Condition types of a TrainingJob.
pub mod types {
    /// The training Job was created.
    pub const CREATED: &str = "Created";
    /// A training pod is running.
    pub const RUNNING: &str = "Running";
    /// A model was trained and exported.
    pub const SUCCEEDED: &str = "Succeeded";
    /// The job failed for good.
    pub const FAILED: &str = "Failed";
    /// The job is suspended.
    pub const SUSPENDED: &str = "Suspended";
    /// The job was stopped before it finished, on request (annotation `lepton.ai/stop`).
    pub const STOPPED: &str = "Stopped";
}

/// Reasons of TrainingJob conditions.
pub mod reasons {
    /// The batch/v1 Job was created.
    pub const JOB_CREATED: &str = "JobCreated";
    /// Waiting for the pod to be scheduled or its image to be pulled.
    pub const POD_PENDING: &str = "PodPending";
    /// The runner is training.
    pub const TRAINING: &str = "Training";
    /// The runner exported the model.
    pub const TRAINING_COMPLETED: &str = "TrainingCompleted";
    /// The pod failed more than `runPolicy.backoffLimit` times.
    pub const BACKOFF_LIMIT_EXCEEDED: &str = "BackoffLimitExceeded";
    /// `runPolicy.activeDeadlineSeconds` passed.
    pub const DEADLINE_EXCEEDED: &str = "DeadlineExceeded";
    /// The runner could not read or use the data (the message names the column or row).
    pub const DATA_ERROR: &str = "DataError";
    /// The spec cannot be acted on (the message names the field).
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// `resources.nodePool` names no pool of the operator's configuration.
    pub const UNKNOWN_NODE_POOL: &str = "UnknownNodePool";
    /// `runPolicy.suspend` is true.
    pub const SUSPENDED_BY_SPEC: &str = "SuspendedBySpec";
    /// The job was resumed.
    pub const RESUMED: &str = "Resumed";
    /// The job was stopped by its TuningSweep because the sweep finished (a budget or its
    /// goal) while it ran.
    pub const STOPPED_BY_SWEEP: &str = "StoppedBySweep";
    /// The job was stopped by its TuningSweep's early-stopping rule (the message names the rule
    /// and its numbers).
    pub const EARLY_STOPPED: &str = "EarlyStopped";
    /// Someone asked for the job to stop (annotation `lepton.ai/stop`; the message is its value).
    pub const STOP_REQUESTED: &str = "StopRequested";
    /// The training Job disappeared before finishing.
    pub const JOB_LOST: &str = "JobLost";
    /// The job waits in a Kueue queue for admission.
    pub const QUEUED: &str = "Queued";
    /// A Job with the TrainingJob's name exists and belongs to something else.
    pub const JOB_NAME_CONFLICT: &str = "JobNameConflict";
    /// The training container used more memory than its limit.
    pub const OUT_OF_MEMORY: &str = "OutOfMemory";
}

/// The phase a TrainingJob's conditions describe. Terminal conditions win: Failed over
/// Succeeded (a job is never both, but a stale Succeeded must not hide a failure) over Stopped,
/// then Suspended, then Running; otherwise Pending.
pub fn phase(conditions: &[Condition]) -> TrainingJobPhase {
    if is_true(conditions, types::FAILED) {
        TrainingJobPhase::Failed
    } else if is_true(conditions, types::SUCCEEDED) {
        TrainingJobPhase::Succeeded
    } else if is_true(conditions, types::STOPPED) {
        TrainingJobPhase::Stopped
    } else if is_true(conditions, types::SUSPENDED) {
        TrainingJobPhase::Suspended
    } else if is_true(conditions, types::RUNNING) {
        TrainingJobPhase::Running
    } else {
        TrainingJobPhase::Pending
    }
}

/// Whether the phase is final: a Succeeded, Failed or Stopped job never starts again by itself.
pub fn is_terminal(phase: TrainingJobPhase) -> bool {
    matches!(
        phase,
        TrainingJobPhase::Succeeded | TrainingJobPhase::Failed | TrainingJobPhase::Stopped
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{ConditionStatus, ConditionedStatus, DesiredCondition, apply};
    use crate::v1alpha1::TrainingJobStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn now() -> Time {
        Time(Timestamp::from_second(1_800_000_000).unwrap())
    }

    fn status_with(set: &[(&'static str, ConditionStatus)]) -> TrainingJobStatus {
        let mut status = TrainingJobStatus::default();
        let desired: Vec<_> = set
            .iter()
            .map(|(t, s)| DesiredCondition::new(t, *s, reasons::TRAINING, ""))
            .collect();
        apply(&mut status, &desired, Some(1), &now());
        status
    }

    #[test]
    fn no_conditions_is_pending() {
        assert_eq!(phase(&[]), TrainingJobPhase::Pending);
    }

    #[test]
    fn created_but_not_running_is_pending() {
        let s = status_with(&[(types::CREATED, ConditionStatus::True)]);
        assert_eq!(s.phase, Some(TrainingJobPhase::Pending));
    }

    #[test]
    fn running_is_running() {
        let s = status_with(&[
            (types::CREATED, ConditionStatus::True),
            (types::RUNNING, ConditionStatus::True),
        ]);
        assert_eq!(s.phase, Some(TrainingJobPhase::Running));
    }

    #[test]
    fn suspended_wins_over_running() {
        let s = status_with(&[
            (types::RUNNING, ConditionStatus::True),
            (types::SUSPENDED, ConditionStatus::True),
        ]);
        assert_eq!(s.phase, Some(TrainingJobPhase::Suspended));
    }

    #[test]
    fn terminal_conditions_win_and_failed_beats_succeeded() {
        let s = status_with(&[
            (types::RUNNING, ConditionStatus::False),
            (types::SUCCEEDED, ConditionStatus::True),
        ]);
        assert_eq!(s.phase, Some(TrainingJobPhase::Succeeded));
        let s = status_with(&[
            (types::SUCCEEDED, ConditionStatus::True),
            (types::FAILED, ConditionStatus::True),
        ]);
        assert_eq!(s.phase, Some(TrainingJobPhase::Failed));
        assert!(is_terminal(TrainingJobPhase::Failed));
        assert!(is_terminal(TrainingJobPhase::Succeeded));
        assert!(is_terminal(TrainingJobPhase::Stopped));
        assert!(!is_terminal(TrainingJobPhase::Suspended));
    }

    #[test]
    fn false_conditions_do_not_count() {
        let s = status_with(&[
            (types::FAILED, ConditionStatus::False),
            (types::SUSPENDED, ConditionStatus::False),
        ]);
        assert_eq!(s.phase, Some(TrainingJobPhase::Pending));
    }

    #[test]
    fn apply_sets_observed_generation_and_reports_changes() {
        let mut status = TrainingJobStatus::default();
        let running = [DesiredCondition::new(
            types::RUNNING,
            ConditionStatus::True,
            reasons::TRAINING,
            "epoch 1/50",
        )];
        assert!(apply(&mut status, &running, Some(4), &now()));
        assert_eq!(status.observed_generation(), Some(4));
        assert!(!apply(&mut status, &running, Some(4), &now()));
        assert!(apply(&mut status, &running, Some(5), &now()));
        assert_eq!(status.observed_generation, Some(5));
        assert_eq!(status.conditions[0].observed_generation, Some(5));
    }
}
