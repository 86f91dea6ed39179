//! What the runner leaves in its container's termination message ([`RunResults`], the
//! contract in `lepton_crds::runner`), found in a Job's pods. The operator reads it when the
//! Job ends, so the results reach the TrainingJob even when the runner's own status update was
//! lost.

use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod};
pub use lepton_crds::runner::RunResults;

use super::desired::CONTAINER;

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
pub fn success(pods: &[Pod]) -> Option<RunResults> {
    pods.iter()
        .filter_map(terminated)
        .filter(|t| t.exit_code == 0)
        .find_map(|t| RunResults::from_termination_message(t.message.as_deref().unwrap_or("")))
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
        let report = RunResults::from_termination_message(text).unwrap();
        assert_eq!(report.phase, "Succeeded");
        assert_eq!(report.metrics["auc"], 0.947);
        assert_eq!(report.model.unwrap().size_bytes, Some(2263));
        assert_eq!(report.duration_seconds, 1.5);
        assert!(
            RunResults::from_termination_message("thread 'main' panicked at src/x.rs").is_none()
        );
        let failed = RunResults::from_termination_message(
            r#"{"phase":"Failed","reason":"UnknownColumn","message":"no column `x`","durationSeconds":0.1}"#,
        )
        .unwrap();
        assert_eq!(failed.reason.as_deref(), Some("UnknownColumn"));
    }
}
