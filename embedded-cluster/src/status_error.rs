//! Failed requests as the API server reports them: a `metav1.Status` body with the HTTP code,
//! a machine-readable `reason` and `details` naming the object.

use lepton_crds::admission::{FieldErrorKind, Rejection};
use serde_json::{Value, json};

use crate::resources::ResourceType;

/// A request the server refuses, rendered as a Kubernetes `Status`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatusError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl StatusError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// A failure with only a code: what fault injection returns.
    pub fn from_code(code: u16, message: impl Into<String>) -> Self {
        let reason = match code {
            400 => "BadRequest",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "NotFound",
            405 => "MethodNotAllowed",
            409 => "Conflict",
            410 => "Expired",
            415 => "UnsupportedMediaType",
            422 => "Invalid",
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        Self::new(code, reason, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", rt.group_resource()),
        )
        .with_details(rt.details(name))
    }

    /// A path that names nothing this server serves.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", rt.group_resource()),
        )
        .with_details(rt.details(name))
    }

    /// An optimistic-concurrency failure.
    pub fn conflict(rt: &ResourceType, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                rt.group_resource()
            ),
        )
        .with_details(rt.details(name))
    }

    /// The resourceVersion of an update is not the stored one.
    pub fn modified(rt: &ResourceType, name: &str) -> Self {
        Self::conflict(
            rt,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// A server-side apply that would take fields other managers own.
    pub fn apply_conflicts(rt: &ResourceType, name: &str, conflicts: &[(String, String)]) -> Self {
        let described: Vec<String> = conflicts
            .iter()
            .map(|(manager, field)| format!("conflict with {manager}: {field}"))
            .collect();
        let message = if let [only] = described.as_slice() {
            format!("Apply failed with 1 conflict: {only}")
        } else {
            format!(
                "Apply failed with {} conflicts: {}",
                described.len(),
                described.join("\n")
            )
        };
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(manager, field)| {
                json!({
                    "reason": "FieldManagerConflict",
                    "message": format!("conflict with {manager}"),
                    "field": field,
                })
            })
            .collect();
        let mut details = rt.details(name);
        details["causes"] = Value::Array(causes);
        Self::new(409, "Conflict", message).with_details(details)
    }

    /// Field-level validation errors: 422 `Invalid` with one cause per field.
    pub fn invalid(rt: &ResourceType, name: &str, causes: Vec<(String, String, String)>) -> Self {
        let summary: Vec<String> = causes
            .iter()
            .map(|(_, field, message)| format!("{field}: {message}"))
            .collect();
        let message = match summary.as_slice() {
            [only] => format!("{} \"{name}\" is invalid: {only}", rt.kind_group()),
            all => format!(
                "{} \"{name}\" is invalid: [{}]",
                rt.kind_group(),
                all.join(", ")
            ),
        };
        let mut details = rt.details(name);
        details["kind"] = Value::from(rt.kind.clone());
        details["causes"] = causes
            .into_iter()
            .map(|(reason, field, message)| json!({"reason": reason, "message": message, "field": field}))
            .collect();
        Self::new(422, "Invalid", message).with_details(details)
    }

    /// A rejection from the CRD admission of a Lepton kind.
    pub fn from_rejection(rt: &ResourceType, rejection: &Rejection) -> Self {
        let mut error = Self::invalid(
            rt,
            &rejection.name,
            Self::causes(rejection, |f| f.to_owned()),
        );
        // The admission already words the whole message the way kubectl shows it.
        error.message = rejection.to_string();
        error
    }

    /// A rejection of a status, whose admission saw it as `spec`.
    pub fn from_status_rejection(rt: &ResourceType, name: &str, rejection: &Rejection) -> Self {
        let rename = |field: &str| match field.strip_prefix("spec") {
            Some(rest) => format!("status{rest}"),
            None => field.to_owned(),
        };
        Self::invalid(rt, name, Self::causes(rejection, rename))
    }

    fn causes(
        rejection: &Rejection,
        rename: impl Fn(&str) -> String,
    ) -> Vec<(String, String, String)> {
        rejection
            .errors
            .iter()
            .map(|e| {
                let reason = match e.kind {
                    FieldErrorKind::Required => "FieldValueRequired",
                    FieldErrorKind::Invalid(_) => "FieldValueInvalid",
                    FieldErrorKind::NotSupported { .. } => "FieldValueNotSupported",
                    FieldErrorKind::TooLong { .. } => "FieldValueTooLong",
                    FieldErrorKind::TooMany { .. } => "FieldValueTooMany",
                    FieldErrorKind::Duplicate(_) => "FieldValueDuplicate",
                    FieldErrorKind::UnknownField => "FieldValueInvalid",
                };
                let shown = e.to_string();
                let message = shown
                    .strip_prefix(&format!("{}: ", e.field))
                    .unwrap_or(&shown)
                    .to_owned();
                (reason.to_owned(), rename(&e.field), message)
            })
            .collect()
    }

    pub fn method_not_allowed(what: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({what})"),
        )
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"
            ),
        )
    }

    /// A create or replace body in a format other than JSON. kubectl's generator commands
    /// (`kubectl create configmap`, `create job`, ...) send protobuf, which this server does
    /// not read, so the message says how to send the same object as JSON.
    pub fn body_not_json(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json (got {content_type:?}); the embedded cluster reads JSON only: for a kubectl generator command, add `--dry-run=client -o json` and pipe it to `kubectl create -f -`"
            ),
        )
    }

    /// A watch or continue token older than the kept history.
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The body of the response.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}
