//! From an HTTP request to an API operation and back. Every failure, malformed input
//! included, becomes a Kubernetes `Status` response.

use bytes::Bytes;
use http::{Method, Request, Response, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::Value;
use std::sync::Arc;

use super::Shared;
use super::query::Query;
use super::response::{self, Body, Form};
use super::router::{ResourcePath, Route, route};
use crate::api::read::{self, ListQuery};
use crate::api::{DeleteOptions, ManagedMode, PatchKind, Subresource, Txn, WriteOptions};
use crate::resources::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status_error::StatusError;
use crate::store::ObjectKey;

/// The most a request body may hold, as etcd's limit on an object.
const MAX_BODY: usize = 3 * 1024 * 1024;

/// Serves one request.
pub(crate) async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Response<Body> {
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let query = match Query::parse(request.uri().query()) {
        Ok(query) => query,
        Err(e) => return response::error(&e),
    };
    let injected = shared
        .faults
        .check(request.method().as_str(), &path_and_query, query.watch);
    if let Some(delay) = injected.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(code) = injected.fail {
        return response::error(&StatusError::from_code(
            code,
            format!("injected fault: {code}"),
        ));
    }
    let outcome = match route(request.uri().path()) {
        Some(Route::Resource(path)) => serve_resource(&shared, request, path, query).await,
        Some(discovery) if request.method() == Method::GET => {
            let accept = request
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            super::discovery::serve(&shared.registry, &discovery, accept)
        }
        Some(_) => Err(StatusError::method_not_allowed(request.uri().path())),
        None => Err(StatusError::no_route(request.uri().path())),
    };
    outcome.unwrap_or_else(|e| response::error(&e))
}

async fn read_body(request: Request<Incoming>) -> Result<Bytes, StatusError> {
    Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|_| StatusError::too_large(MAX_BODY))
}

/// Checks that a create or replace body is JSON (or says nothing of its type).
fn check_json_body(request: &Request<Incoming>) -> Result<(), StatusError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match content_type.split(';').next().unwrap_or_default().trim() {
        "" | "application/json" | "*/*" => Ok(()),
        _ => Err(StatusError::body_not_json(content_type)),
    }
}

fn parse_object(body: &[u8]) -> Result<Value, StatusError> {
    serde_json::from_slice(body)
        .map_err(|e| StatusError::bad_request(format!("error decoding the request body: {e}")))
}

/// The manager of a write that names none: the client's program name, as the API server
/// derives it from `User-Agent`.
fn manager_of(query: &Query, request: &Request<Incoming>) -> String {
    query.field_manager.clone().unwrap_or_else(|| {
        request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .and_then(|ua| ua.split('/').next())
            .filter(|m| !m.is_empty())
            .unwrap_or("unknown")
            .to_owned()
    })
}

async fn serve_resource(
    shared: &Arc<Shared>,
    request: Request<Incoming>,
    path: ResourcePath,
    query: Query,
) -> Result<Response<Body>, StatusError> {
    let described = request.uri().path().to_owned();
    let rt = shared
        .registry
        .by_plural(&path.group, &path.version, &path.plural)
        .ok_or_else(|| StatusError::no_route(&described))?;
    if path.namespace.is_some() && !rt.namespaced {
        return Err(StatusError::no_route(&described));
    }
    let subresource = match path.subresource.as_deref() {
        None => None,
        Some("status") if rt.status && path.name.is_some() => Some(Subresource::Status),
        Some(_) => return Err(StatusError::no_route(&described)),
    };
    let form = Form::negotiate(
        request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
        query.include_object.as_deref(),
    )?;
    let namespace = path.namespace.clone().unwrap_or_default();
    if rt.namespaced
        && namespace.is_empty()
        && (path.name.is_some() || request.method() == Method::POST)
    {
        return Err(StatusError::no_route(&described));
    }
    let opts = WriteOptions {
        manager: manager_of(&query, &request),
        dry_run: query.dry_run,
        subresource,
        admission: true,
    };
    let key = path
        .name
        .as_deref()
        .map(|name| ObjectKey::new(&rt.group_resource(), &namespace, name));
    let method = request.method().clone();
    match (method, key) {
        (Method::GET, None) if query.watch => {
            let list = list_query(&rt, path.namespace, &query)?;
            super::watch::serve(shared.clone(), rt, list, &query, form)
        }
        (Method::GET, None) => {
            let list = list_query(&rt, path.namespace, &query)?;
            let page = read::list(&shared.state(), &rt, &list)?;
            Ok(response::list(&rt, &page, form))
        }
        (Method::GET, Some(key)) => {
            let object = shared
                .state()
                .get(&key)
                .ok_or_else(|| StatusError::not_found(&rt, &key.name))?;
            Ok(response::object(200, &rt, &object, form))
        }
        (Method::POST, None) => {
            check_json_body(&request)?;
            let body = parse_object(&read_body(request).await?)?;
            let created = write(shared, |txn| {
                txn.create(&rt, &namespace, body, &opts, ManagedMode::Update)
            })?;
            Ok(response::object(201, &rt, &created, form))
        }
        (Method::PUT, Some(key)) => {
            check_json_body(&request)?;
            let body = parse_object(&read_body(request).await?)?;
            let replaced = write(shared, |txn| txn.replace(&rt, &key, body, &opts))?;
            Ok(response::object(200, &rt, &replaced, form))
        }
        (Method::PATCH, Some(key)) => {
            let content_type = request
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let kind = PatchKind::from_content_type(&content_type, query.force)
                .ok_or_else(|| StatusError::unsupported_media_type(&content_type))?;
            let body = read_body(request).await?;
            let mut opts = opts;
            if matches!(kind, PatchKind::Apply { .. }) && query.field_manager.is_none() {
                // Apply has no default manager: the request must name one.
                opts.manager.clear();
            }
            let existed = shared.state().get(&key).is_some();
            let patched = write(shared, |txn| txn.patch(&rt, &key, kind, &body, &opts))?;
            let code = if existed { 200 } else { 201 };
            Ok(response::object(code, &rt, &patched, form))
        }
        (Method::DELETE, key) => {
            if subresource.is_some() {
                return Err(StatusError::method_not_allowed(&described));
            }
            let mut delete = DeleteOptions {
                propagation: query.propagation,
                dry_run: query.dry_run,
                ..DeleteOptions::default()
            };
            let body = read_body(request).await?;
            if !body.iter().all(u8::is_ascii_whitespace) {
                delete.merge_body(&parse_object(&body)?)?;
            }
            match key {
                Some(key) => {
                    let deleted = write(shared, |txn| txn.delete(&rt, &key, &delete))?;
                    Ok(response::object(200, &rt, &deleted, form))
                }
                None => {
                    let list = list_query(&rt, path.namespace, &query)?;
                    delete_collection(shared, &rt, &list, &delete, form)
                }
            }
        }
        _ => Err(StatusError::method_not_allowed(&described)),
    }
}

/// Runs a write transaction and its garbage collection under the store lock.
fn write<T>(
    shared: &Shared,
    op: impl FnOnce(&mut Txn<'_>) -> Result<T, StatusError>,
) -> Result<T, StatusError> {
    let mut state = shared.state();
    let mut txn = Txn::new(&mut state, &shared.registry);
    let outcome = op(&mut txn);
    txn.collect_garbage();
    outcome
}

fn list_query(
    rt: &ResourceType,
    namespace: Option<String>,
    query: &Query,
) -> Result<ListQuery, StatusError> {
    let labels = query
        .label_selector
        .as_deref()
        .map(LabelSelector::parse)
        .transpose()
        .map_err(StatusError::bad_request)?
        .unwrap_or_default();
    let fields = query
        .field_selector
        .as_deref()
        .map(|f| FieldSelector::parse(f, |field| rt.selectable(field)))
        .transpose()
        .map_err(StatusError::bad_request)?
        .unwrap_or_default();
    Ok(ListQuery {
        namespace,
        labels,
        fields,
        limit: query.limit,
        continue_token: query.continue_token.clone(),
    })
}

fn delete_collection(
    shared: &Shared,
    rt: &ResourceType,
    list: &ListQuery,
    delete: &DeleteOptions,
    form: Form,
) -> Result<Response<Body>, StatusError> {
    let page = write(shared, |txn| {
        let page = read::list(txn.state, rt, list)?;
        let mut deleted = Vec::new();
        for object in &page.items {
            let key = ObjectKey::new(
                &rt.group_resource(),
                crate::meta::namespace(object),
                crate::meta::name(object),
            );
            deleted.push(txn.delete(rt, &key, delete)?);
        }
        Ok(read::ListPage {
            items: deleted,
            resource_version: txn.state.rv(),
            continue_token: None,
            remaining: None,
        })
    })?;
    Ok(response::list(rt, &page, form))
}
