//! The HTTP endpoints: Open Inference Protocol v2, KServe v1 predict, Prometheus metrics and
//! Lepton's status and drift JSON.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use tokio::sync::oneshot;

use super::batcher::Job;
use super::error::ApiError;
use super::model::ServedModel;
use super::request::{InferRequest, parse_infer};
use super::response::encode_infer_response;
use super::server::State;
use super::v1::{encode_predictions, parse_predict};

/// Response body type.
pub type Body = Full<Bytes>;

/// Header of the binary tensor extension: the length of the JSON part of a body.
pub const INFERENCE_HEADER: &str = "inference-header-content-length";
/// Bodies above this are parsed off the async threads.
const LARGE_BODY: usize = 1 << 20;

/// Routes one request.
pub async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_owned();
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = request.method().clone();
    let get = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    let response = match segments.as_slice() {
        ["v2", "health", "live"] if get => json_response(200, &json!({"live": true})),
        ["v2", "health", "ready"] if get => {
            let ready = state.is_ready();
            json_response(if ready { 200 } else { 503 }, &json!({"ready": ready}))
        }
        ["v2"] if get => json_response(
            200,
            &json!({"name": "lepton-runner", "version": env!("CARGO_PKG_VERSION"), "extensions": ["binary_tensor_data"]}),
        ),
        ["v2", "models", name, rest @ ..] => {
            let (version, action) = match rest {
                ["versions", v, action @ ..] => (Some(*v), action),
                action => (None, action),
            };
            match (action, get, post) {
                ([], true, _) => with_model(&state, name, version, |m| {
                    json_response(200, &model_metadata(m))
                }),
                (["ready"], true, _) => with_model(&state, name, version, |m| {
                    let ready = state.is_ready();
                    json_response(
                        if ready { 200 } else { 503 },
                        &json!({"name": m.name, "ready": ready}),
                    )
                }),
                (["infer"], _, true) => match state.model_for(name, version) {
                    Ok(model) => infer(&state, model, request, Protocol::V2).await,
                    Err(e) => error_response(&e),
                },
                ([] | ["ready"], false, _) | (["infer"], _, false) => {
                    method_not_allowed(&method, &path)
                }
                _ => not_found(&method, &path),
            }
        }
        ["v1", "models", target] => match (target.strip_suffix(":predict"), post, get) {
            (Some(name), true, _) => match state.model_for(name, None) {
                Ok(model) => infer(&state, model, request, Protocol::V1).await,
                Err(e) => error_response(&e),
            },
            (None, _, true) => with_model(&state, target, None, |m| {
                json_response(
                    if state.is_ready() { 200 } else { 503 },
                    &json!({"name": m.name, "ready": state.is_ready()}),
                )
            }),
            _ => method_not_allowed(&method, &path),
        },
        ["metrics"] if get => metrics(&state),
        ["lepton", "status"] if get => json_response(200, &state.status_json()),
        ["lepton", "drift"] if get => match state.model() {
            Some(m) => json_response(200, &state.drift_json(&m)),
            None => error_response(&ApiError::unavailable(
                "the model is still loading",
                Some(1),
            )),
        },
        ["v2", "health", "live" | "ready"]
        | ["v2"]
        | ["metrics"]
        | ["lepton", "status" | "drift"] => method_not_allowed(&method, &path),
        _ => not_found(&method, &path),
    };
    Ok(response)
}

/// Which protocol an inference request came in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    V2,
    V1,
}

impl Protocol {
    fn label(self) -> &'static str {
        match self {
            Protocol::V2 => "v2",
            Protocol::V1 => "v1",
        }
    }
}

struct InFlight<'a>(&'a ServedModel);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn infer(
    state: &State,
    model: Arc<ServedModel>,
    request: Request<Incoming>,
    protocol: Protocol,
) -> Response<Body> {
    let started = Instant::now();
    model.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    let in_flight = InFlight(&model);
    let outcome = infer_inner(state, &model, request, protocol, started).await;
    let response = match outcome {
        Ok(response) => response,
        Err(e) => {
            if e.status >= 500 {
                tracing::warn!(model = %model.name, status = e.status, error = %e.message, "inference request failed");
            } else {
                tracing::debug!(model = %model.name, status = e.status, error = %e.message, "inference request refused");
            }
            error_response(&e)
        }
    };
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    model.metrics.count_request(protocol.label(), status);
    model
        .metrics
        .request_duration
        .observe(elapsed.as_secs_f64());
    state.record(elapsed, status >= 500);
    drop(in_flight);
    response
}

async fn infer_inner(
    state: &State,
    model: &Arc<ServedModel>,
    request: Request<Incoming>,
    protocol: Protocol,
    started: Instant,
) -> Result<Response<Body>, ApiError> {
    // No readiness check: while shutting down, readiness is false so that load balancers stop
    // sending, but requests that still arrive are served.
    let arrival = model.queue.arrival();
    let deadline = tokio::time::Instant::from_std(started + state.config.request_timeout());
    let timeout_ms = state.config.runtime.request_timeout_ms;
    let limit = state.config.max_request_bytes();
    let too_large = || {
        ApiError::new(
            413,
            format!("the request body is larger than the limit of {limit} bytes (maxRequestBytes)"),
        )
    };
    let headers = request.headers();
    if let Some(length) = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && length > limit as u64
    {
        return Err(too_large());
    }
    let header_length = match headers.get(INFERENCE_HEADER) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("Inference-Header-Content-Length must be a byte count")
                })?,
        ),
    };
    if protocol == Protocol::V1 && header_length.is_some() {
        return Err(ApiError::bad_request(
            "the v1 protocol has no binary tensor data",
        ));
    }
    let body =
        match tokio::time::timeout_at(deadline, Limited::new(request.into_body(), limit).collect())
            .await
        {
            Err(_) => return Err(timed_out(timeout_ms, "receiving the request body")),
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
            Ok(Err(e)) => {
                return Err(ApiError::bad_request(format!(
                    "cannot read the request body: {e}"
                )));
            }
            Ok(Ok(collected)) => collected.to_bytes(),
        };

    let large = body.len() > LARGE_BODY;
    let signature = model.signature.clone();
    let parse = move || -> Result<InferRequest, ApiError> {
        match protocol {
            Protocol::V2 => parse_infer(&body, header_length, &signature),
            Protocol::V1 => parse_predict(&body, &signature),
        }
    };
    let parsed = if large {
        tokio::task::spawn_blocking(parse)
            .await
            .map_err(|_| ApiError::internal("request parsing stopped"))?
    } else {
        parse()
    }?;

    let rows = parsed.rows;
    let in_flight = model.metrics.in_flight.load(Ordering::Relaxed);
    let outputs = match model.queue.try_inline(&parsed.inputs, rows, in_flight) {
        Some(result) => result?,
        None => {
            let (reply, result) = oneshot::channel();
            model.queue.submit(
                Job {
                    inputs: parsed.inputs,
                    rows,
                    queued_at: Instant::now(),
                    reply,
                },
                arrival,
            )?;
            match tokio::time::timeout_at(deadline, result).await {
                Err(_) => return Err(timed_out(timeout_ms, "waiting for the model")),
                Ok(Err(_)) => {
                    return Err(ApiError::unavailable(
                        "the model stopped before answering",
                        Some(1),
                    ));
                }
                Ok(Ok(result)) => result?,
            }
        }
    };
    Ok(match protocol {
        Protocol::V2 => {
            let encoded = encode_infer_response(
                &model.name,
                &model.version,
                parsed.id.as_deref(),
                &model.signature,
                &parsed.outputs,
                &outputs,
            );
            let mut response = bytes_response(200, encoded.body, "application/json");
            if let Some(n) = encoded.json_length {
                response.headers_mut().insert(
                    INFERENCE_HEADER,
                    HeaderValue::from_str(&n.to_string()).unwrap_or(HeaderValue::from_static("0")),
                );
                response.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
            }
            response
        }
        Protocol::V1 => bytes_response(
            200,
            encode_predictions(&model.signature, model.card.as_ref(), &outputs, rows),
            "application/json",
        ),
    })
}

fn timed_out(timeout_ms: i32, doing: &str) -> ApiError {
    ApiError::new(
        504,
        format!("the request took longer than {timeout_ms} ms (requestTimeoutMs) while {doing}"),
    )
}

fn with_model(
    state: &State,
    name: &str,
    version: Option<&str>,
    f: impl FnOnce(&ServedModel) -> Response<Body>,
) -> Response<Body> {
    match state.model_for(name, version) {
        Ok(model) => f(&model),
        Err(e) => error_response(&e),
    }
}

/// The v2 model metadata object.
pub fn model_metadata(model: &ServedModel) -> serde_json::Value {
    let outputs: Vec<_> = model.signature.outputs.iter().map(|o| &o.tensor).collect();
    json!({
        "name": model.name,
        "versions": [model.version],
        "platform": "onnxruntime_onnx",
        "inputs": model.signature.inputs,
        "outputs": outputs,
    })
}

fn metrics(state: &State) -> Response<Body> {
    let text = state.metrics_text();
    bytes_response(
        200,
        text.into_bytes(),
        "text/plain; version=0.0.4; charset=utf-8",
    )
}

fn not_found(method: &Method, path: &str) -> Response<Body> {
    error_response(&ApiError::not_found(format!("no endpoint {method} {path}")))
}

fn method_not_allowed(method: &Method, path: &str) -> Response<Body> {
    error_response(&ApiError::new(
        405,
        format!("{method} is not allowed on {path}"),
    ))
}

/// A JSON response.
pub fn json_response(status: u16, value: &serde_json::Value) -> Response<Body> {
    bytes_response(
        status,
        serde_json::to_vec(value).unwrap_or_default(),
        "application/json",
    )
}

/// The protocol's error response.
pub fn error_response(e: &ApiError) -> Response<Body> {
    let mut response = bytes_response(e.status, e.body(), "application/json");
    if let Some(seconds) = e.retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn bytes_response(status: u16, body: Vec<u8>, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Decodes `%XX` escapes in a path segment (model names may be escaped by clients).
fn percent_decode(segment: &str) -> String {
    if !segment.contains('%') {
        return segment.to_owned();
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
