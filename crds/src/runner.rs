//! The contract between a training pod and the operator: the run's outcome and final results,
//! in the shape of the TrainingJob's status fields. The runner writes it to its results file and,
//! compactly, to the container's termination message; the operator reads it from there when the
//! Job ends, so a lost status update loses nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::v1alpha1::{DataSummary, ModelArtifact, ObjectiveValue};

/// Kubernetes keeps at most this many bytes of a termination message.
pub const TERMINATION_MESSAGE_LIMIT: usize = 4096;

/// Outcome of a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunResults {
    /// `Succeeded` or `Failed`.
    pub phase: String,
    /// Machine-readable (CamelCase) reason of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message of a failure: what went wrong and what to do.
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
    /// Wall-clock seconds of the run, measured by the runner (finer than the kubelet's whole
    /// seconds).
    #[serde(default)]
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

    /// Reads a termination message; `None` when it is not this JSON (a container that died
    /// before the runner could write it leaves the log's tail there instead).
    pub fn from_termination_message(message: &str) -> Option<RunResults> {
        serde_json::from_str(message.trim()).ok()
    }

    /// JSON for the termination message, within Kubernetes' size limit: the failure message is
    /// shortened first, then the input schema and the secondary metrics are dropped.
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn termination_messages_fit_the_kubernetes_limit_and_read_back() {
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
        let back = RunResults::from_termination_message(&message).unwrap();
        assert_eq!(back.reason.as_deref(), Some("TooFewRows"));
        assert!(RunResults::from_termination_message("thread 'main' panicked").is_none());
    }
}
