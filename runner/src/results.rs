//! The run's final results, in the shape of the TrainingJob's status fields, written to a
//! results file and (compactly) to the container's termination message, so that a failed status
//! update loses nothing.

use std::collections::BTreeMap;
use std::path::Path;

use lepton_crds::v1alpha1::{DataSummary, ModelArtifact, ObjectiveValue};
use serde::{Deserialize, Serialize};

/// Kubernetes keeps at most this many bytes of a termination message.
pub const TERMINATION_MESSAGE_LIMIT: usize = 4096;
/// Default termination message path in a pod.
pub const DEFAULT_TERMINATION_LOG: &str = "/dev/termination-log";

/// Outcome of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunResults {
    /// `Succeeded` or `Failed`.
    pub phase: String,
    /// Machine-readable reason of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Objective metric and value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<ObjectiveValue>,
    /// Validation metrics.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
    /// Data summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataSummary>,
    /// The model artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelArtifact>,
    /// Wall-clock seconds of the run.
    pub duration_seconds: f64,
}

impl RunResults {
    /// Results of a failed run.
    pub fn failed(reason: &str, message: String, duration_seconds: f64) -> Self {
        Self {
            phase: "Failed".into(),
            reason: Some(reason.into()),
            message: Some(message),
            objective: None,
            metrics: BTreeMap::new(),
            data: None,
            model: None,
            duration_seconds,
        }
    }

    /// JSON for the termination message, within Kubernetes' size limit: the failure message is
    /// shortened first, then the secondary metrics are dropped.
    pub fn termination_message(&self) -> String {
        let mut compact = self.clone();
        let mut text = serde_json::to_string(&compact).unwrap_or_default();
        if text.len() > TERMINATION_MESSAGE_LIMIT {
            if let Some(m) = &mut compact.message {
                let keep = m.char_indices().nth(1000).map_or(m.len(), |(i, _)| i);
                m.truncate(keep);
            }
            if let Some(m) = compact.model.as_mut() {
                m.input_schema = None;
            }
            text = serde_json::to_string(&compact).unwrap_or_default();
        }
        if text.len() > TERMINATION_MESSAGE_LIMIT {
            compact.metrics.clear();
            text = serde_json::to_string(&compact).unwrap_or_default();
        }
        text
    }

    /// Writes the full results to `results_file` and the compact form to `termination_log`;
    /// failures are logged, not returned, because there is nowhere else to report them.
    pub fn write(&self, results_file: Option<&Path>, termination_log: Option<&Path>) {
        if let Some(path) = results_file {
            let text = serde_json::to_string_pretty(self).unwrap_or_default();
            if let Err(e) = std::fs::write(path, text + "\n") {
                tracing::error!(path = %path.display(), error = %e, "could not write the results file");
            }
        }
        if let Some(path) = termination_log
            && let Err(e) = std::fs::write(path, self.termination_message())
        {
            tracing::warn!(path = %path.display(), error = %e, "could not write the termination message");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn termination_messages_fit_the_kubernetes_limit() {
        let mut r = RunResults::failed("TooFewRows", "x".repeat(10_000), 1.0);
        for i in 0..500 {
            r.metrics.insert(format!("metric_{i}"), 0.5);
        }
        let message = r.termination_message();
        assert!(
            message.len() <= TERMINATION_MESSAGE_LIMIT,
            "{}",
            message.len()
        );
        let back: RunResults = serde_json::from_str(&message).unwrap();
        assert_eq!(back.reason.as_deref(), Some("TooFewRows"));
    }
}
