//! HTTP(S) reads with retries, exponential backoff, a timeout and a size limit enforced while
//! streaming. Shared by `https://` locations and the S3 client.

use std::future::Future;
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{Client, Response, StatusCode, header};

use super::{SourceConfig, SourceError};

/// How one attempt ended when it did not succeed.
pub(crate) enum Failure {
    /// Worth another attempt (connection error, 429, 5xx, a body cut short); `retry_after` is
    /// the server's requested wait, if it gave one.
    Retry {
        error: SourceError,
        retry_after: Option<Duration>,
    },
    /// Permanent: report it.
    Fatal(SourceError),
}

/// A client with the configured timeouts. `follow_redirects` is off for signed S3 requests,
/// whose signature would not survive a redirect to another host.
pub(crate) fn client(config: &SourceConfig, follow_redirects: bool) -> Result<Client, SourceError> {
    static CRYPTO: Once = Once::new();
    // reqwest is built without a bundled TLS crypto provider (ring builds far faster than
    // aws-lc); another part of the process may already have installed one, which is fine.
    CRYPTO.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    let redirect = if follow_redirects {
        reqwest::redirect::Policy::limited(5)
    } else {
        reqwest::redirect::Policy::none()
    };
    Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.connect_timeout)
        .redirect(redirect)
        .user_agent(concat!("lepton-runner/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SourceError::Client {
            detail: describe(&e),
        })
}

/// Runs `attempt(n)` for n = 1, 2, ... until it succeeds, fails permanently, or
/// `config.retries` retries are spent, sleeping with exponential backoff in between.
pub(crate) async fn with_retries<T, F, Fut>(
    config: &SourceConfig,
    location: &str,
    mut attempt: F,
) -> Result<T, SourceError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let attempts = config.retries.saturating_add(1);
    let mut n = 1;
    loop {
        match attempt(n).await {
            Ok(value) => return Ok(value),
            Err(Failure::Fatal(error)) => return Err(error),
            Err(Failure::Retry { error, .. }) if n >= attempts => return Err(error),
            Err(Failure::Retry { error, retry_after }) => {
                let wait = backoff(config, n, retry_after);
                tracing::warn!(
                    location,
                    attempt = n,
                    wait_ms = wait.as_millis() as u64,
                    reason = error.reason(),
                    "retrying after: {error}"
                );
                tokio::time::sleep(wait).await;
                n += 1;
            }
        }
    }
}

/// The wait before attempt `n + 1`: `initial * 2^(n-1)` with jitter in [50 %, 100 %], or the
/// server's `Retry-After`, capped at `max_backoff`.
fn backoff(config: &SourceConfig, n: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(wait) = retry_after {
        return wait.min(config.max_backoff);
    }
    let exp = config
        .initial_backoff
        .saturating_mul(1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX))
        .min(config.max_backoff);
    // Jitter keeps many pods that failed together from retrying in lockstep; the clock's
    // sub-second digits are random enough for that.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let fraction = 0.5 + f64::from(nanos % 1000) / 2000.0;
    exp.mul_f64(fraction)
}

/// Classifies an error of sending a request (no response arrived).
pub(crate) fn send_failure(
    error: reqwest::Error,
    config: &SourceConfig,
    location: &str,
    n: u32,
) -> Failure {
    if error.is_timeout() && !error.is_connect() {
        return Failure::Fatal(SourceError::Timeout {
            location: location.to_owned(),
            after: config.timeout,
            attempts: n,
        });
    }
    Failure::Retry {
        error: SourceError::Unreachable {
            location: location.to_owned(),
            attempts: n,
            detail: describe(&error),
        },
        retry_after: None,
    }
}

/// Whether a status is worth retrying.
pub(crate) fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// The server's `Retry-After` in seconds, if it sent one.
pub(crate) fn retry_after(response: &Response) -> Option<Duration> {
    response
        .headers()
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Reads a response body of at most `limit` bytes, checking `Content-Length` first and then
/// counting the bytes that arrive.
pub(crate) async fn read_limited(
    mut response: Response,
    limit: u64,
    config: &SourceConfig,
    location: &str,
    n: u32,
) -> Result<Vec<u8>, Failure> {
    let too_large = |size| {
        Failure::Fatal(SourceError::TooLarge {
            location: location.to_owned(),
            size,
            limit,
        })
    };
    let announced = response.content_length();
    if let Some(length) = announced
        && length > limit
    {
        return Err(too_large(Some(length)));
    }
    // Trust the announced length for the first allocation only up to a modest size.
    let capacity = announced.unwrap_or(0).min(64 << 20);
    let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let total = body.len() as u64 + chunk.len() as u64;
                if total > limit {
                    return Err(too_large(None));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(error) if error.is_timeout() => {
                return Err(Failure::Fatal(SourceError::Timeout {
                    location: location.to_owned(),
                    after: config.timeout,
                    attempts: n,
                }));
            }
            Err(error) => {
                return Err(Failure::Retry {
                    error: SourceError::Unreachable {
                        location: location.to_owned(),
                        attempts: n,
                        detail: format!("the download broke off: {}", describe(&error)),
                    },
                    retry_after: None,
                });
            }
        }
    }
}

/// Fetches an `http(s)://` URL.
pub(crate) async fn fetch(
    url: &str,
    shown: &str,
    config: &SourceConfig,
) -> Result<Vec<u8>, SourceError> {
    let client = client(config, true)?;
    with_retries(config, shown, |n| {
        let request = client.get(url);
        async move {
            let response = request
                .send()
                .await
                .map_err(|e| send_failure(e, config, shown, n))?;
            let status = response.status();
            if status.is_success() {
                return read_limited(response, config.max_bytes, config, shown, n).await;
            }
            let error = status_error(status, shown, n);
            if retryable(status) {
                Err(Failure::Retry {
                    error,
                    retry_after: retry_after(&response),
                })
            } else {
                Err(Failure::Fatal(error))
            }
        }
    })
    .await
}

fn status_error(status: StatusCode, location: &str, attempts: u32) -> SourceError {
    let location = location.to_owned();
    match status.as_u16() {
        404 | 410 => SourceError::NotFound {
            location,
            detail: format!(
                "the server answered HTTP {}; check the URL (and that a presigned URL has not expired)",
                status.as_u16()
            ),
        },
        401 | 403 => SourceError::AccessDenied {
            location,
            detail: format!(
                "the server answered HTTP {}; the URL needs credentials or a fresh presigned query",
                status.as_u16()
            ),
        },
        code => SourceError::HttpStatus {
            location,
            status: code,
            attempts,
            hint: if status.is_server_error() || code == 429 {
                "; the server is failing or overloaded: try again later".to_owned()
            } else {
                "; the server refused the request: check the URL".to_owned()
            },
        },
    }
}

/// An error's message and causes, without the URL (which may carry a presigned query).
pub(crate) fn describe(error: &reqwest::Error) -> String {
    // reqwest's own text names the URL; its causes (hyper, io) do not.
    let mut text = kind_of(error).to_owned();
    let mut source = std::error::Error::source(error);
    while let Some(err) = source {
        text.push_str(": ");
        text.push_str(&err.to_string());
        source = err.source();
    }
    text
}

fn kind_of(error: &reqwest::Error) -> &'static str {
    if error.is_connect() {
        "connection failed"
    } else if error.is_timeout() {
        "timed out"
    } else if error.is_body() {
        "reading the body failed"
    } else if error.is_builder() {
        "invalid request"
    } else {
        "request failed"
    }
}
