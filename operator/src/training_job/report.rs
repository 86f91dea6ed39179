//! What the runner leaves in its container's termination message: the run's outcome and final
//! results as JSON (at most 4,096 bytes). The operator reads it when the Job ends, so the
//! results reach the TrainingJob even when the runner's own status update was lost.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod};
use lepton_crds::v1alpha1::{DataSummary, ModelArtifact, ObjectiveValue};
use serde::Deserialize;

use super::desired::CONTAINER;

/// The runner's final report, as written by `lepton-runner train`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunnerReport {
    /// `Succeeded` or `Failed`.
    pub phase: String,
    /// CamelCase reason of a failure.
    #[serde(default)]
    pub reason: Option<String>,
    /// What went wrong and what to do.
    #[serde(default)]
    pub message: Option<String>,
    /// The objective metric.
    #[serde(default)]
    pub objective: Option<ObjectiveValue>,
    /// Validation metrics.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Data summary.
    #[serde(default)]
    pub data: Option<DataSummary>,
    /// The exported model.
    #[serde(default)]
    pub model: Option<ModelArtifact>,
    /// Seconds the run took, measured by the runner (finer than the kubelet's whole seconds).
    #[serde(default)]
    pub duration_seconds: Option<f64>,
}

impl RunnerReport {
    /// Parses a termination message; `None` when it is not the runner's JSON (a crash before
    /// the runner could write it leaves the log's tail there instead).
    pub fn parse(message: &str) -> Option<RunnerReport> {
        serde_json::from_str(message.trim()).ok()
    }
}

/// The runner container's final state in `pod`, if it has terminated.
pub fn terminated(pod: &Pod) -> Option<&ContainerStateTerminated> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let status = statuses
        .iter()
        .find(|s| s.name == CONTAINER)
        .or(statuses.first())?;
    status
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| status.last_state.as_ref()?.terminated.as_ref())
}

/// The report of the pod that succeeded, if any.
pub fn success(pods: &[Pod]) -> Option<RunnerReport> {
    pods.iter()
        .filter_map(terminated)
        .filter(|t| t.exit_code == 0)
        .find_map(|t| RunnerReport::parse(t.message.as_deref().unwrap_or("")))
}

/// The most recently finished failed pod's final state.
pub fn last_failure(pods: &[Pod]) -> Option<&ContainerStateTerminated> {
    pods.iter()
        .filter_map(terminated)
        .filter(|t| t.exit_code != 0)
        .max_by_key(|t| t.finished_at.as_ref().map(|f| f.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_runner_writes_and_ignores_log_tails() {
        let text = r#"{"phase":"Succeeded","objective":{"metric":"auc","value":0.947},
            "metrics":{"auc":0.947,"accuracy":0.97},"data":{"rowsRead":10000},
            "model":{"uri":"file:///m/model.onnx","sha256":"ab","sizeBytes":2263},
            "durationSeconds":1.5}"#;
        let report = RunnerReport::parse(text).unwrap();
        assert_eq!(report.phase, "Succeeded");
        assert_eq!(report.metrics["auc"], 0.947);
        assert_eq!(report.model.unwrap().size_bytes, Some(2263));
        assert_eq!(report.duration_seconds, Some(1.5));
        assert!(RunnerReport::parse("thread 'main' panicked at src/x.rs").is_none());
        let failed = RunnerReport::parse(
            r#"{"phase":"Failed","reason":"UnknownColumn","message":"no column `x`","durationSeconds":0.1}"#,
        )
        .unwrap();
        assert_eq!(failed.reason.as_deref(), Some("UnknownColumn"));
    }
}
