//! ModelDeployment condition types, reasons and phase.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::conditions::{find, is_false, is_true};
use crate::v1alpha1::ModelDeploymentPhase;

/// Condition types of a ModelDeployment.
pub mod types {
    /// The endpoint serves the desired model (`kubectl wait --for=condition=Ready`).
    pub const READY: &str = "Ready";
    /// The model was fetched, its SHA-256 verified and loaded into ONNX Runtime.
    pub const MODEL_LOADED: &str = "ModelLoaded";
    /// Every serving pod runs the current spec.
    pub const ROLLOUT_COMPLETE: &str = "RolloutComplete";
    /// Serving, but drifting, too slow or erroring.
    pub const DEGRADED: &str = "Degraded";
}

/// Reasons of ModelDeployment conditions.
pub mod reasons {
    /// The model source is not ready yet (for example its TrainingJob is still running).
    pub const WAITING_FOR_MODEL: &str = "WaitingForModel";
    /// The model source failed or does not exist.
    pub const MODEL_UNAVAILABLE: &str = "ModelUnavailable";
    /// The downloaded model's SHA-256 differs from the expected one.
    pub const DIGEST_MISMATCH: &str = "DigestMismatch";
    /// ONNX Runtime loaded the model.
    pub const MODEL_LOADED: &str = "ModelLoaded";
    /// Serving pods with the model are starting and loading it.
    pub const LOADING_MODEL: &str = "LoadingModel";
    /// The model source is a kind this operator version cannot serve yet.
    pub const UNSUPPORTED_SOURCE: &str = "UnsupportedSource";
    /// Pods are being replaced.
    pub const ROLLING_OUT: &str = "RollingOut";
    /// Every pod runs the current spec.
    pub const ROLLOUT_COMPLETE: &str = "RolloutComplete";
    /// Every desired pod is ready.
    pub const ENDPOINT_READY: &str = "EndpointReady";
    /// Fewer pods are ready than desired.
    pub const REPLICAS_UNAVAILABLE: &str = "ReplicasUnavailable";
    /// The drift score is above `monitoring.driftThreshold`.
    pub const DRIFT_DETECTED: &str = "DriftDetected";
    /// p99 latency is above `monitoring.latencySloMs`.
    pub const LATENCY_SLO_VIOLATED: &str = "LatencySLOViolated";
    /// Too many requests fail.
    pub const HIGH_ERROR_RATE: &str = "HighErrorRate";
    /// CUDA was requested but the server runs on CPU.
    pub const CUDA_UNAVAILABLE: &str = "CudaUnavailable";
    /// Serving figures are within bounds.
    pub const HEALTHY: &str = "Healthy";
    /// `resources.nodePool` names no pool of the operator's configuration.
    pub const UNKNOWN_NODE_POOL: &str = "UnknownNodePool";
    /// The spec cannot be acted on (the message names the field).
    pub const INVALID_SPEC: &str = "InvalidSpec";
}

/// Reasons of a `ModelLoaded=False` condition that will not heal without a change to the spec
/// or its model, so the deployment is Failed rather than Pending.
const PERMANENT_LOAD_FAILURES: [&str; 5] = [
    reasons::MODEL_UNAVAILABLE,
    reasons::UNSUPPORTED_SOURCE,
    reasons::DIGEST_MISMATCH,
    reasons::UNKNOWN_NODE_POOL,
    reasons::INVALID_SPEC,
];

/// The phase a ModelDeployment's conditions describe: Failed when the model cannot be loaded
/// for a permanent reason; Degraded when Degraded is True; Ready when Ready is True; Progressing
/// once the model is loaded or a rollout is under way; otherwise Pending.
pub fn phase(conditions: &[Condition]) -> ModelDeploymentPhase {
    let load_failed_for_good = find(conditions, types::MODEL_LOADED).is_some_and(|c| {
        c.status == "False" && PERMANENT_LOAD_FAILURES.contains(&c.reason.as_str())
    });
    if load_failed_for_good {
        ModelDeploymentPhase::Failed
    } else if is_true(conditions, types::DEGRADED) {
        ModelDeploymentPhase::Degraded
    } else if is_true(conditions, types::READY) {
        ModelDeploymentPhase::Ready
    } else if is_true(conditions, types::MODEL_LOADED)
        || is_false(conditions, types::ROLLOUT_COMPLETE)
    {
        ModelDeploymentPhase::Progressing
    } else {
        ModelDeploymentPhase::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{ConditionStatus, DesiredCondition, apply};
    use crate::v1alpha1::ModelDeploymentStatus;
    use ConditionStatus::{False, True};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn phase_of(set: &[(&'static str, ConditionStatus, &'static str)]) -> ModelDeploymentPhase {
        let mut status = ModelDeploymentStatus::default();
        let desired: Vec<_> = set
            .iter()
            .map(|(t, s, r)| DesiredCondition::new(t, *s, *r, ""))
            .collect();
        apply(
            &mut status,
            &desired,
            Some(1),
            &Time(Timestamp::from_second(0).unwrap()),
        );
        status.phase.unwrap()
    }

    #[test]
    fn waiting_for_a_model_is_pending() {
        assert_eq!(phase_of(&[]), ModelDeploymentPhase::Pending);
        assert_eq!(
            phase_of(&[(types::MODEL_LOADED, False, reasons::WAITING_FOR_MODEL)]),
            ModelDeploymentPhase::Pending
        );
    }

    #[test]
    fn a_loaded_model_not_yet_ready_is_progressing() {
        assert_eq!(
            phase_of(&[
                (types::MODEL_LOADED, True, reasons::MODEL_LOADED),
                (types::READY, False, reasons::REPLICAS_UNAVAILABLE),
            ]),
            ModelDeploymentPhase::Progressing
        );
        assert_eq!(
            phase_of(&[(types::ROLLOUT_COMPLETE, False, reasons::ROLLING_OUT)]),
            ModelDeploymentPhase::Progressing
        );
    }

    #[test]
    fn ready_and_degraded() {
        let ready = [
            (types::MODEL_LOADED, True, reasons::MODEL_LOADED),
            (types::READY, True, reasons::ENDPOINT_READY),
            (types::DEGRADED, False, reasons::HEALTHY),
        ];
        assert_eq!(phase_of(&ready), ModelDeploymentPhase::Ready);
        let mut drifting = ready;
        drifting[2] = (types::DEGRADED, True, reasons::DRIFT_DETECTED);
        assert_eq!(phase_of(&drifting), ModelDeploymentPhase::Degraded);
    }

    #[test]
    fn permanent_load_failures_are_failed() {
        for reason in PERMANENT_LOAD_FAILURES {
            assert_eq!(
                phase_of(&[(types::MODEL_LOADED, False, reason)]),
                ModelDeploymentPhase::Failed,
                "{reason}"
            );
        }
    }
}
