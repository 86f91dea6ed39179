//! `/metrics`, `/livez` and `/readyz` on a plain HTTP/1.1 listener.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::Metrics;

/// What the probes report.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
    stalled: AtomicBool,
}

impl Health {
    /// Ready once the CRDs are known to be installed and the configuration loaded; a replica
    /// that is not the leader is ready too, since it can take over.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// A controller stopped for good: the process should be restarted.
    pub fn set_stalled(&self) {
        self.stalled.store(true, Ordering::Relaxed);
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed) && !self.stalled.load(Ordering::Relaxed)
    }

    fn is_live(&self) -> bool {
        !self.stalled.load(Ordering::Relaxed)
    }
}

/// Listens on `addr` and serves the endpoints until the task is aborted. Returns the address it
/// listens on (useful with port 0).
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            let health = health.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let response = respond(request.uri().path(), &metrics, &health);
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((local, task))
}

fn respond(path: &str, metrics: &Metrics, health: &Health) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match path {
        "/metrics" => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.encode(),
        ),
        "/livez" if health.is_live() => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        "/livez" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "a controller stopped\n".to_owned(),
        ),
        "/readyz" if health.is_ready() => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "not ready\n".to_owned(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /metrics, /livez or /readyz\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_follow_health() {
        let metrics = Metrics::new();
        let health = Health::default();
        assert_eq!(respond("/livez", &metrics, &health).status(), 200);
        assert_eq!(respond("/readyz", &metrics, &health).status(), 503);
        health.set_ready(true);
        assert_eq!(respond("/readyz", &metrics, &health).status(), 200);
        health.set_stalled();
        assert_eq!(respond("/readyz", &metrics, &health).status(), 503);
        assert_eq!(respond("/livez", &metrics, &health).status(), 503);
        assert_eq!(respond("/metrics", &metrics, &health).status(), 200);
        assert_eq!(respond("/", &metrics, &health).status(), 404);
    }
}
