//! The API semantics, independent of HTTP: create, replace, patch (merge, JSON, apply) and
//! delete, each run as one transaction under the store lock, followed by garbage collection.
//! Reads live in [`read`].

mod builtin;
mod create;
mod delete;
mod patch;
pub(crate) mod read;
mod update;

use serde_json::Value;

pub(crate) use create::ManagedMode;
pub(crate) use delete::DeleteOptions;
pub(crate) use patch::PatchKind;

use crate::meta;
use crate::resources::{Registry, ResourceType};
use crate::status_error::StatusError;
use crate::store::State;

/// The subresource a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subresource {
    Status,
}

impl Subresource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status => "status",
        }
    }
}

/// How a write is made.
#[derive(Debug, Clone)]
pub(crate) struct WriteOptions {
    /// The field manager recorded in `managedFields`.
    pub manager: String,
    /// `dryRun=All`: validate and answer, store nothing.
    pub dry_run: bool,
    pub subresource: Option<Subresource>,
    /// Run CRD admission; off for the server's own metadata writes (garbage collection).
    pub admission: bool,
}

impl WriteOptions {
    /// A write by the server itself.
    pub fn internal(manager: &str) -> Self {
        Self {
            manager: manager.to_owned(),
            dry_run: false,
            subresource: None,
            admission: false,
        }
    }

    fn subresource_name(&self) -> Option<&'static str> {
        self.subresource.map(Subresource::as_str)
    }
}

/// One transaction on the store.
pub(crate) struct Txn<'a> {
    pub state: &'a mut State,
    pub registry: &'a Registry,
}

impl<'a> Txn<'a> {
    pub fn new(state: &'a mut State, registry: &'a Registry) -> Self {
        Self { state, registry }
    }
}

/// Checks that a body is a JSON object of the kind the URL names.
fn check_type_meta(rt: &ResourceType, body: &Value) -> Result<(), StatusError> {
    if !body.is_object() {
        return Err(StatusError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or_default();
    let api_version = body
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind.is_empty() {
        return Err(StatusError::bad_request(
            "Object 'Kind' is missing in the body",
        ));
    }
    if api_version.is_empty() {
        return Err(StatusError::bad_request(
            "Object 'apiVersion' is missing in the body",
        ));
    }
    if api_version != rt.api_version() {
        return Err(StatusError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            rt.api_version()
        )));
    }
    if kind != rt.kind {
        return Err(StatusError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            rt.kind
        )));
    }
    if body.get("metadata").is_some_and(|m| !m.is_object()) {
        return Err(StatusError::bad_request("metadata must be an object"));
    }
    Ok(())
}

/// Checks the name and namespace in a body against the URL's.
fn check_identity(
    rt: &ResourceType,
    body: &Value,
    namespace: &str,
    name: Option<&str>,
) -> Result<(), StatusError> {
    if let Some(name) = name {
        let given = meta::name(body);
        if !given.is_empty() && given != name {
            return Err(StatusError::bad_request(format!(
                "the name of the object ({given}) does not match the name on the URL ({name})"
            )));
        }
    }
    let given = meta::namespace(body);
    if rt.namespaced && !given.is_empty() && given != namespace {
        return Err(StatusError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

/// A field error as a 422.
fn invalid_field(
    rt: &ResourceType,
    name: &str,
    reason: &str,
    field: &str,
    message: String,
) -> StatusError {
    StatusError::invalid(
        rt,
        name,
        vec![(reason.to_owned(), field.to_owned(), message)],
    )
}
