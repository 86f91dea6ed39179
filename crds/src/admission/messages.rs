//! Field errors in the words `kubectl` shows for the API server's, with a plain explanation
//! added for Lepton's own patterns.

use serde_json::Value;
use std::fmt;

use crate::v1alpha1::{
    DNS_LABEL_PATTERN, DNS_SUBDOMAIN_PATTERN, SHA256_PATTERN, SOURCE_URI_PATTERN,
};

/// What kind of problem a field has, as the API server classifies it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldErrorKind {
    /// A required field is missing.
    Required,
    /// The value breaks a rule; carries the value.
    Invalid(Value),
    /// The value is not one of the allowed ones.
    NotSupported {
        /// The value given.
        value: Value,
        /// The values allowed.
        supported: Vec<Value>,
    },
    /// A string is longer than allowed.
    TooLong {
        /// Most characters allowed.
        limit: u64,
    },
    /// A list has more items than allowed.
    TooMany {
        /// Items given.
        count: usize,
        /// Most items allowed.
        limit: u64,
    },
    /// A list item repeats another's value or key; carries the value or key.
    Duplicate(Value),
    /// The field is not part of the schema.
    UnknownField,
}

/// One problem with one field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Path of the field, for example `spec.parameters[0].min`.
    pub field: String,
    /// Kind of problem.
    pub kind: FieldErrorKind,
    /// What is allowed, or what to do.
    pub detail: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, kind: FieldErrorKind, detail: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            kind,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.field)?;
        match &self.kind {
            FieldErrorKind::Required => write!(f, "Required value")?,
            FieldErrorKind::Invalid(value) => write!(f, "Invalid value: {}", show(value))?,
            FieldErrorKind::NotSupported { value, supported } => {
                let supported: Vec<String> = supported.iter().map(show).collect();
                return write!(
                    f,
                    "Unsupported value: {}: supported values: {}",
                    show(value),
                    supported.join(", ")
                );
            }
            FieldErrorKind::TooLong { limit } => {
                write!(f, "Too long: may not be more than {limit} characters")?
            }
            FieldErrorKind::TooMany { count, limit } => {
                write!(f, "Too many: {count}: must have at most {limit} items")?
            }
            FieldErrorKind::Duplicate(value) => write!(f, "Duplicate value: {}", show(value))?,
            FieldErrorKind::UnknownField => write!(f, "Unknown field")?,
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// A value as `kubectl` prints it: strings quoted, long values cut.
fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// Converts a JSON pointer such as `/spec/parameters/0/min` into `spec.parameters[0].min`.
pub(super) fn field_path(pointer: &str) -> String {
    let mut path = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.chars().all(|c| c.is_ascii_digit()) {
            path.push_str(&format!("[{segment}]"));
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&segment);
        }
    }
    path
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// What a pattern of Lepton's means, in words.
fn explain_pattern(pattern: &str) -> String {
    let words = if pattern == DNS_LABEL_PATTERN {
        "must be a lowercase RFC 1123 label: lower case letters, digits and '-', starting and \
         ending with a letter or digit"
    } else if pattern == DNS_SUBDOMAIN_PATTERN {
        "must be a lowercase RFC 1123 subdomain: lower case letters, digits, '-' and '.', \
         starting and ending with a letter or digit"
    } else if pattern == SOURCE_URI_PATTERN {
        "must be a URI with scheme https://, http://, s3://, pvc:// or file://"
    } else if pattern == SHA256_PATTERN {
        "must be a SHA-256 digest: 64 lower case hex digits"
    } else if pattern == r"^(s3|pvc|file)://.+$" {
        "must be a URI with scheme s3://, pvc:// or file://"
    } else if pattern == r"^https?://.+$" {
        "must be a URL with scheme https:// or http://"
    } else {
        return format!("must match the regular expression '{pattern}'");
    };
    format!("{words} (regular expression '{pattern}')")
}

fn number(value: &Value) -> String {
    match value.as_f64() {
        Some(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", n as i64),
        _ => value.to_string(),
    }
}

/// A JSON-schema error as a Kubernetes field error.
pub(super) fn from_schema_error(error: &jsonschema::ValidationError<'_>) -> FieldError {
    use jsonschema::error::{TypeKind, ValidationErrorKind as Kind};
    let path = field_path(error.instance_path().as_str());
    let value = error.instance().clone().into_owned();
    match error.kind() {
        Kind::Required { property } => FieldError::new(
            join(&path, property.as_str().unwrap_or_default()),
            FieldErrorKind::Required,
            "",
        ),
        Kind::Enum { options } => FieldError::new(
            path,
            FieldErrorKind::NotSupported {
                value,
                supported: options
                    .as_array()
                    .map(|o| o.iter().filter(|v| !v.is_null()).cloned().collect())
                    .unwrap_or_default(),
            },
            "",
        ),
        Kind::Minimum { limit } => FieldError::new(
            path,
            FieldErrorKind::Invalid(value),
            format!("must be greater than or equal to {}", number(limit)),
        ),
        Kind::Maximum { limit } => FieldError::new(
            path,
            FieldErrorKind::Invalid(value),
            format!("must be less than or equal to {}", number(limit)),
        ),
        Kind::ExclusiveMinimum { limit } => FieldError::new(
            path,
            FieldErrorKind::Invalid(value),
            format!("must be greater than {}", number(limit)),
        ),
        Kind::ExclusiveMaximum { limit } => FieldError::new(
            path,
            FieldErrorKind::Invalid(value),
            format!("must be less than {}", number(limit)),
        ),
        Kind::MaxLength { limit } => {
            FieldError::new(path, FieldErrorKind::TooLong { limit: *limit }, "")
        }
        Kind::MinLength { limit } => FieldError::new(
            path,
            FieldErrorKind::Invalid(value),
            format!("must be at least {limit} characters long"),
        ),
        Kind::MaxItems { limit } => FieldError::new(
            path,
            FieldErrorKind::TooMany {
                count: value.as_array().map_or(0, Vec::len),
                limit: *limit,
            },
            "",
        ),
        Kind::MinItems { limit } => FieldError::new(
            path,
            FieldErrorKind::Invalid(value),
            format!("must have at least {limit} items"),
        ),
        Kind::Pattern { pattern } => FieldError::new(
            path,
            FieldErrorKind::Invalid(value),
            explain_pattern(pattern),
        ),
        Kind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(set) => set
                    .iter()
                    .filter(|t| t.to_string() != "null")
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            FieldError::new(
                path,
                FieldErrorKind::Invalid(value),
                format!("must be of type {expected}"),
            )
        }
        _ => FieldError::new(path, FieldErrorKind::Invalid(value), error.to_string()),
    }
}

/// A failed CEL rule as a Kubernetes field error. Like the API server, the value is shown as
/// its type name.
pub(super) fn from_cel_error(error: &kube::core::cel::ValidationError) -> FieldError {
    let field = error.field_path.trim_start_matches('.').to_owned();
    let field = if field.is_empty() {
        "<root>".to_owned()
    } else {
        field
    };
    let message = if error.message.is_empty() {
        format!("failed rule: {}", error.rule)
    } else {
        error.message.clone()
    };
    FieldError::new(
        field,
        FieldErrorKind::Invalid(Value::from("object")),
        message,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_become_dotted_paths_with_indexes() {
        assert_eq!(
            field_path("/spec/parameters/0/min"),
            "spec.parameters[0].min"
        );
        assert_eq!(field_path(""), "");
        assert_eq!(field_path("/metadata/labels/a~1b"), "metadata.labels.a/b");
    }

    #[test]
    fn errors_print_like_kubectl() {
        let e = FieldError::new(
            "spec.data.validationFraction",
            FieldErrorKind::Invalid(json!(0.9)),
            "must be less than or equal to 0.5",
        );
        assert_eq!(
            e.to_string(),
            "spec.data.validationFraction: Invalid value: 0.9: must be less than or equal to 0.5"
        );
        let e = FieldError::new(
            "spec.data.task",
            FieldErrorKind::NotSupported {
                value: json!("ranking"),
                supported: vec![json!("auto"), json!("binary")],
            },
            "",
        );
        assert_eq!(
            e.to_string(),
            "spec.data.task: Unsupported value: \"ranking\": supported values: \"auto\", \"binary\""
        );
        assert_eq!(
            FieldError::new("spec.data.target", FieldErrorKind::Required, "").to_string(),
            "spec.data.target: Required value"
        );
    }

    #[test]
    fn long_values_are_cut() {
        let long = Value::from("x".repeat(200));
        assert!(show(&long).ends_with("..."));
        assert_eq!(show(&long).chars().count(), 80);
    }

    #[test]
    fn known_patterns_are_explained() {
        assert!(
            explain_pattern(DNS_LABEL_PATTERN).starts_with("must be a lowercase RFC 1123 label")
        );
        assert!(explain_pattern("^x$").contains("'^x$'"));
    }
}
