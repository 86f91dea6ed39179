//! The controllers' one error type. A wrong spec is not an error: it becomes a condition and
//! the controller waits for a change. Errors are what may heal by retrying (API failures,
//! conflicts) and bugs, and each has a category for the errors metric.

use thiserror::Error;

/// Why a reconcile did not finish.
#[derive(Debug, Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kube::Error),
    /// An object could not be turned into JSON or back.
    #[error("cannot encode or decode {what}: {source}")]
    Serialization {
        /// What was being encoded.
        what: &'static str,
        /// The cause.
        source: serde_json::Error,
    },
    /// An object lacks a field every object of its kind has (for example a namespace).
    #[error("{kind} has no {field}")]
    MissingField {
        /// The object's kind.
        kind: &'static str,
        /// The missing field.
        field: &'static str,
    },
}

impl Error {
    /// A short, fixed label for metrics: `conflict`, `not_found`, `api_server`, `api_client`,
    /// `network`, `serialization` or `internal`.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(status)) => match status.code {
                409 => "conflict",
                404 => "not_found",
                500..=599 => "api_server",
                _ => "api_client",
            },
            Error::Kube(_) => "network",
            Error::Serialization { .. } => "serialization",
            Error::MissingField { .. } => "internal",
        }
    }
}

/// Result of a reconcile step.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> Error {
        Error::Kube(kube::Error::Api(Box::new(
            kube::core::Status::failure("x", "Reason").with_code(code),
        )))
    }

    #[test]
    fn categories() {
        assert_eq!(api(409).category(), "conflict");
        assert_eq!(api(404).category(), "not_found");
        assert_eq!(api(500).category(), "api_server");
        assert_eq!(api(422).category(), "api_client");
        let missing = Error::MissingField {
            kind: "TrainingJob",
            field: "metadata.namespace",
        };
        assert_eq!(missing.category(), "internal");
        assert_eq!(missing.to_string(), "TrainingJob has no metadata.namespace");
    }
}
