//! Building responses: objects, lists, `Status` errors, and the metadata-only form
//! (`PartialObjectMetadata`) that metadata watchers ask for.

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use std::convert::Infallible;

use crate::api::read::ListPage;
use crate::resources::ResourceType;
use crate::status_error::StatusError;

/// The body of every response: whole or streamed (watches).
pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A JSON response from bytes.
pub(crate) fn json_bytes(code: u16, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed_unsync());
    *response.status_mut() =
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// A JSON response.
pub(crate) fn json(code: u16, value: &Value) -> Response<Body> {
    json_bytes(code, serde_json::to_vec(value).unwrap_or_default())
}

/// A failed request.
pub(crate) fn error(error: &StatusError) -> Response<Body> {
    let mut response = json(error.code, &error.to_status());
    if error.code == 429 {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}

/// How the client wants objects: whole, or only their metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    Full,
    MetadataOnly,
}

impl Form {
    /// Reads the `Accept` header.
    pub fn from_accept(accept: Option<&str>) -> Self {
        match accept {
            Some(a) if a.contains("as=PartialObjectMetadata") => Self::MetadataOnly,
            _ => Self::Full,
        }
    }

    /// An object in this form.
    pub fn render(self, object: &Value) -> Value {
        match self {
            Self::Full => object.clone(),
            Self::MetadataOnly => json!({
                "apiVersion": "meta.k8s.io/v1",
                "kind": "PartialObjectMetadata",
                "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
            }),
        }
    }

    /// An object in this form, serialized.
    pub fn to_bytes(self, object: &Value) -> Vec<u8> {
        match self {
            Self::Full => serde_json::to_vec(object),
            Self::MetadataOnly => serde_json::to_vec(&self.render(object)),
        }
        .unwrap_or_default()
    }
}

/// One object.
pub(crate) fn object(code: u16, object: &Value, form: Form) -> Response<Body> {
    json_bytes(code, form.to_bytes(object))
}

/// A list, written piece by piece so the stored objects are not copied.
pub(crate) fn list(rt: &ResourceType, page: &ListPage, form: Form) -> Response<Body> {
    let (api_version, kind) = match form {
        Form::Full => (rt.api_version(), format!("{}List", rt.kind)),
        Form::MetadataOnly => (
            "meta.k8s.io/v1".to_owned(),
            "PartialObjectMetadataList".to_owned(),
        ),
    };
    let mut metadata = json!({"resourceVersion": page.resource_version.to_string()});
    if let Some(token) = &page.continue_token {
        metadata["continue"] = Value::from(token.clone());
    }
    if let Some(remaining) = page.remaining {
        metadata["remainingItemCount"] = Value::from(remaining);
    }
    let mut out = Vec::with_capacity(256 * (page.items.len() + 1));
    out.extend_from_slice(
        format!(
            "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{},\"items\":[",
            Value::from(kind),
            Value::from(api_version),
            metadata
        )
        .as_bytes(),
    );
    for (i, item) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&form.to_bytes(item));
    }
    out.extend_from_slice(b"]}");
    json_bytes(200, out)
}
