//! Building responses: objects, lists, `Status` errors, the metadata-only form
//! (`PartialObjectMetadata`) that metadata watchers ask for, and the `Table` form that
//! `kubectl get` asks for.

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use std::convert::Infallible;

use crate::api::read::ListPage;
use crate::resources::ResourceType;
use crate::status_error::StatusError;
use crate::table::{Include, TableForm, partial_object_metadata};

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

/// How the client wants objects: whole, only their metadata, or as Table rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    Full,
    MetadataOnly,
    Table(TableForm),
}

impl Form {
    /// Reads the `Accept` header, taking the first media type the server can answer
    /// (`application/json`, optionally `;as=Table` or `;as=PartialObjectMetadata[List]` of
    /// `meta.k8s.io` `v1` or `v1beta1`), and `includeObject` for Tables. Anything it cannot
    /// answer at all gets whole objects, as JSON.
    pub fn negotiate(accept: Option<&str>, include: Option<&str>) -> Result<Self, StatusError> {
        let offered = accept.unwrap_or_default().split(',').find_map(|range| {
            let mut parts = range.split(';').map(str::trim);
            let base = parts.next().unwrap_or_default();
            if !matches!(base, "application/json" | "application/*" | "*/*" | "") {
                return None;
            }
            let (mut as_, mut group, mut version) = (None, None, None);
            for param in parts {
                match param.split_once('=') {
                    Some(("as", v)) => as_ = Some(v),
                    Some(("g", v)) => group = Some(v),
                    Some(("v", v)) => version = Some(v),
                    _ => {}
                }
            }
            if group.is_some_and(|g| g != "meta.k8s.io") {
                return None;
            }
            let api_version = match version {
                None | Some("v1") => "meta.k8s.io/v1",
                Some("v1beta1") => "meta.k8s.io/v1beta1",
                Some(_) => return None,
            };
            match as_ {
                None => Some(Offer::Full),
                Some("Table") => Some(Offer::Table(api_version)),
                Some("PartialObjectMetadata" | "PartialObjectMetadataList") => {
                    Some(Offer::Metadata)
                }
                Some(_) => None,
            }
        });
        Ok(match offered.unwrap_or(Offer::Full) {
            Offer::Full => Self::Full,
            Offer::Metadata => Self::MetadataOnly,
            Offer::Table(api_version) => Self::Table(TableForm {
                api_version,
                include: Include::parse(include).map_err(StatusError::bad_request)?,
            }),
        })
    }

    /// An object in this form; a Table carries the column definitions when `headers` is set.
    pub fn render(self, rt: &ResourceType, object: &Value, headers: bool) -> Value {
        match self {
            Self::Full => object.clone(),
            Self::MetadataOnly => partial_object_metadata(object),
            Self::Table(table) => table.single(&rt.printer, object, headers),
        }
    }

    /// An object in this form, serialized.
    pub fn to_bytes(self, rt: &ResourceType, object: &Value) -> Vec<u8> {
        match self {
            Self::Full => serde_json::to_vec(object),
            other => serde_json::to_vec(&other.render(rt, object, true)),
        }
        .unwrap_or_default()
    }
}

/// What one media range of `Accept` asks for.
enum Offer {
    Full,
    Metadata,
    Table(&'static str),
}

/// One object.
pub(crate) fn object(code: u16, rt: &ResourceType, object: &Value, form: Form) -> Response<Body> {
    json_bytes(code, form.to_bytes(rt, object))
}

/// A list, written piece by piece so the stored objects are not copied.
pub(crate) fn list(rt: &ResourceType, page: &ListPage, form: Form) -> Response<Body> {
    let mut metadata = json!({"resourceVersion": page.resource_version.to_string()});
    if let Some(token) = &page.continue_token {
        metadata["continue"] = Value::from(token.clone());
    }
    if let Some(remaining) = page.remaining {
        metadata["remainingItemCount"] = Value::from(remaining);
    }
    let (api_version, kind) = match form {
        Form::Full => (rt.api_version(), format!("{}List", rt.kind)),
        Form::MetadataOnly => (
            "meta.k8s.io/v1".to_owned(),
            "PartialObjectMetadataList".to_owned(),
        ),
        Form::Table(table) => {
            let items = page.items.iter().map(AsRef::as_ref);
            return json(200, &table.table(&rt.printer, items, true, metadata));
        }
    };
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
        out.extend_from_slice(&form.to_bytes(rt, item));
    }
    out.extend_from_slice(b"]}");
    json_bytes(200, out)
}
