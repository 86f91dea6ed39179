//! Errors: why the server could not start, and how a request failed (an HTTP status with the
//! protocol's `{"error": "..."}` body).

use crate::source::SourceError;

/// Why `serve` could not start. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is incomplete or contradictory.
    #[error("invalid serving configuration: {0}")]
    Config(String),
    /// The model (or model.json) could not be fetched.
    #[error("cannot fetch the model: {0}")]
    Fetch(#[from] SourceError),
    /// The model file is not the one the configuration or model.json names.
    #[error(
        "the model at `{location}` has sha256 {actual}, but {source_of_expected} says {expected}: refusing to serve a model other than the one deployed; check the uri and sha256"
    )]
    ChecksumMismatch {
        /// The model's location (redacted).
        location: String,
        /// The digest asked for.
        expected: String,
        /// The digest of the fetched bytes.
        actual: String,
        /// Where the expected digest came from (`the configuration`, `model.json`).
        source_of_expected: String,
    },
    /// model.json exists but cannot be used.
    #[error("model.json at `{location}` cannot be used: {detail}")]
    Card {
        /// Its location (redacted).
        location: String,
        /// What is wrong.
        detail: String,
    },
    /// ONNX Runtime is missing or rejected the model.
    #[error("{0}")]
    Runtime(String),
    /// The model loaded but did not run on warm-up inputs.
    #[error("the model failed its warm-up run: {0}")]
    Warmup(String),
    /// The listening socket could not be opened.
    #[error("cannot listen on {address}: {detail}")]
    Bind {
        /// Host and port.
        address: String,
        /// The system's reason.
        detail: String,
    },
}

impl ServeError {
    /// A short CamelCase reason, for the termination message and status conditions.
    pub fn reason(&self) -> &'static str {
        match self {
            ServeError::Config(_) => "InvalidConfig",
            ServeError::Fetch(_) => "ModelFetchFailed",
            ServeError::ChecksumMismatch { .. } => "ChecksumMismatch",
            ServeError::Card { .. } => "InvalidModelCard",
            ServeError::Runtime(_) => "OnnxRuntimeError",
            ServeError::Warmup(_) => "WarmupFailed",
            ServeError::Bind { .. } => "BindFailed",
        }
    }
}

/// A failed request: HTTP status and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// The `error` text.
    pub message: String,
    /// Seconds for `Retry-After` (503 when the queue is full).
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400: the request is wrong.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, message)
    }

    /// 404: no such model, version or route.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, message)
    }

    /// 500: the server or the model failed.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, message)
    }

    /// 503: not ready, or overloaded (with a retry hint).
    pub fn unavailable(message: impl Into<String>, retry_after: Option<u32>) -> ApiError {
        ApiError {
            status: 503,
            message: message.into(),
            retry_after,
        }
    }

    /// The protocol's error body, `{"error": "..."}`.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "error": self.message })).unwrap_or_default()
    }
}
