//! Errors of fetching data and storing artifacts.

use std::time::Duration;

/// Why a location could not be read or written. Every message names the location (with any
/// credentials and query string removed) and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The location is not a well-formed URI of a supported scheme.
    #[error("invalid location `{location}`: {detail}")]
    InvalidLocation {
        /// The location as given (redacted).
        location: String,
        /// What is wrong with it and how to write it instead.
        detail: String,
    },

    /// The scheme is not one Lepton reads from.
    #[error(
        "unsupported scheme `{scheme}` in `{location}`: use https://, http://, s3://, pvc:// or file://"
    )]
    UnsupportedScheme {
        /// The location as given (redacted).
        location: String,
        /// The scheme found.
        scheme: String,
    },

    /// The scheme can be read from but not written to.
    #[error(
        "cannot write artifacts to `{location}`: {scheme}:// locations are read-only; use an s3://, pvc:// or file:// output prefix"
    )]
    ReadOnlyScheme {
        /// The location (redacted).
        location: String,
        /// The scheme found.
        scheme: String,
    },

    /// A `pvc://` path leaves its claim (a `..` component, or a symbolic link pointing out).
    #[error(
        "location `{location}` leaves its volume claim: remove `..` components and links that point outside the claim"
    )]
    PathTraversal {
        /// The location (redacted).
        location: String,
    },

    /// An artifact file name is empty or is not a single path component.
    #[error(
        "invalid artifact file name `{name}`: use a plain file name such as `model.onnx` (no `/`, `.` or `..`)"
    )]
    InvalidFileName {
        /// The name given.
        name: String,
    },

    /// Nothing exists at the location.
    #[error("data not found at `{location}`: {detail}")]
    NotFound {
        /// The location (redacted).
        location: String,
        /// What was missing and what to check.
        detail: String,
    },

    /// The location names a directory or other non-file.
    #[error("`{location}` is not a file: point the location at a file, not a directory")]
    NotAFile {
        /// The location (redacted).
        location: String,
    },

    /// The server or file system refused access.
    #[error("access denied to `{location}`: {detail}")]
    AccessDenied {
        /// The location (redacted).
        location: String,
        /// What refused and what to grant.
        detail: String,
    },

    /// The data is larger than the configured limit.
    #[error(
        "`{location}` is too large: {size_text}the limit is {limit} bytes; raise LEPTON_MAX_DATA_BYTES or use a smaller file",
        size_text = .size.map(|s| format!("it has {s} bytes, ")).unwrap_or_else(|| "more than the limit arrived, ".to_owned())
    )]
    TooLarge {
        /// The location (redacted).
        location: String,
        /// The announced or known size, when there was one.
        size: Option<u64>,
        /// The configured limit in bytes.
        limit: u64,
    },

    /// No connection could be made (or it broke) even after retrying.
    #[error(
        "cannot reach `{location}` after {attempts} attempt(s): {detail}; check the host name, port and network policy"
    )]
    Unreachable {
        /// The location (redacted).
        location: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last connection error.
        detail: String,
    },

    /// The request did not finish within the configured timeout.
    #[error(
        "reading `{location}` timed out after {after:.0?} (attempt {attempts}); check the server, or raise the timeout"
    )]
    Timeout {
        /// The location (redacted).
        location: String,
        /// The timeout that was hit.
        after: Duration,
        /// How many attempts were made.
        attempts: u32,
    },

    /// The HTTP server answered with an error status.
    #[error("`{location}` answered HTTP {status} after {attempts} attempt(s){hint}")]
    HttpStatus {
        /// The location (redacted).
        location: String,
        /// The HTTP status code.
        status: u16,
        /// How many attempts were made.
        attempts: u32,
        /// What to do about it (starts with "; " when present).
        hint: String,
    },

    /// The object store refused the credentials or the request.
    #[error(
        "S3 denied access to `{location}` ({code}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the Secret named in s3.credentialsSecret) and the bucket policy"
    )]
    S3AccessDenied {
        /// The location (redacted).
        location: String,
        /// The S3 error code (for example `AccessDenied`, `SignatureDoesNotMatch`).
        code: String,
    },

    /// The bucket exists but the key does not.
    #[error("no object at `{location}` (S3 NoSuchKey): check the key; keys are case-sensitive")]
    S3NoSuchKey {
        /// The location (redacted).
        location: String,
    },

    /// The bucket does not exist.
    #[error(
        "bucket `{bucket}` of `{location}` does not exist (S3 NoSuchBucket): check the bucket name and s3.endpoint"
    )]
    S3NoSuchBucket {
        /// The location (redacted).
        location: String,
        /// The bucket name.
        bucket: String,
    },

    /// The bucket lives in another region than the one requests were signed for.
    #[error(
        "bucket of `{location}` is not in region `{region}` (S3 {code}): set s3.region (or AWS_REGION) to the bucket's region"
    )]
    S3WrongRegion {
        /// The location (redacted).
        location: String,
        /// The region requests were signed for.
        region: String,
        /// The S3 error code.
        code: String,
    },

    /// Any other error answer of the object store.
    #[error("S3 request for `{location}` failed: HTTP {status} {code} after {attempts} attempt(s)")]
    S3Error {
        /// The location (redacted).
        location: String,
        /// The HTTP status code.
        status: u16,
        /// The S3 error code, or `-` when the answer had none.
        code: String,
        /// How many attempts were made.
        attempts: u32,
    },

    /// Reading a file failed for another reason.
    #[error("cannot read `{location}`: {detail}; check the file and the volume it is on")]
    ReadFailed {
        /// The location (redacted).
        location: String,
        /// The operating system's error.
        detail: String,
    },

    /// Writing an artifact failed.
    #[error("cannot write `{location}`: {detail}; check that the volume is writable and has space")]
    WriteFailed {
        /// The location (redacted).
        location: String,
        /// The operating system's or server's error.
        detail: String,
    },

    /// A setting (environment variable or spec field) has an unusable value.
    #[error("invalid setting {setting}: {detail}")]
    InvalidConfig {
        /// The environment variable or spec field.
        setting: String,
        /// What is wrong and what is expected.
        detail: String,
    },

    /// The HTTP client or runtime could not be set up.
    #[error("cannot set up the HTTP client: {detail}")]
    Client {
        /// What failed.
        detail: String,
    },
}

impl SourceError {
    /// A stable, machine-readable reason in CamelCase, suitable for a condition's `reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            SourceError::InvalidLocation { .. } => "InvalidLocation",
            SourceError::UnsupportedScheme { .. } | SourceError::ReadOnlyScheme { .. } => {
                "UnsupportedScheme"
            }
            SourceError::PathTraversal { .. } => "PathTraversal",
            SourceError::InvalidFileName { .. } => "InvalidFileName",
            SourceError::NotFound { .. } => "DataNotFound",
            SourceError::NotAFile { .. } => "NotAFile",
            SourceError::AccessDenied { .. } => "DataAccessDenied",
            SourceError::TooLarge { .. } => "DataTooLarge",
            SourceError::Unreachable { .. } => "DataUnreachable",
            SourceError::Timeout { .. } => "DataTimeout",
            SourceError::HttpStatus { .. } => "HttpError",
            SourceError::S3AccessDenied { .. } => "S3AccessDenied",
            SourceError::S3NoSuchKey { .. } => "S3NoSuchKey",
            SourceError::S3NoSuchBucket { .. } => "S3NoSuchBucket",
            SourceError::S3WrongRegion { .. } => "S3WrongRegion",
            SourceError::S3Error { .. } => "S3Error",
            SourceError::ReadFailed { .. } => "DataReadFailed",
            SourceError::WriteFailed { .. } => "ArtifactWriteFailed",
            SourceError::InvalidConfig { .. } => "InvalidConfig",
            SourceError::Client { .. } => "HttpClientError",
        }
    }

    /// Whether retrying the same request later might succeed (used by callers that decide
    /// between a retryable and a permanent job failure).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SourceError::Unreachable { .. }
                | SourceError::Timeout { .. }
                | SourceError::HttpStatus {
                    status: 429 | 500..=599,
                    ..
                }
                | SourceError::S3Error {
                    status: 429 | 500..=599,
                    ..
                }
        )
    }
}
