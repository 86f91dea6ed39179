//! The server's lifecycle: listen at once (liveness answers while the model loads), load and
//! warm up the model, turn ready; on shutdown turn unready, stop accepting, let in-flight
//! requests finish, stop the model's worker.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use lepton_crds::v1alpha1::ServingMetrics;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::config::ServeConfig;
use super::error::{ApiError, ServeError};
use super::metrics::Gauge;
use super::model::ServedModel;
use super::routes::handle;
use super::window::LiveWindow;

/// Shared state of the HTTP handlers.
pub struct State {
    /// The configuration in force.
    pub config: ServeConfig,
    model: OnceLock<Arc<ServedModel>>,
    ready: AtomicBool,
    window: Mutex<LiveWindow>,
}

impl State {
    /// Whether the server takes inference requests (loaded and not shutting down).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The model, once loaded.
    pub fn model(&self) -> Option<Arc<ServedModel>> {
        self.model.get().cloned()
    }

    /// The model named `name` (and `version`, when given), or the 404/503 to answer.
    pub fn model_for(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<Arc<ServedModel>, ApiError> {
        let Some(model) = self.model.get() else {
            return Err(ApiError::unavailable("the model is still loading", Some(1)));
        };
        if model.name != name {
            return Err(ApiError::not_found(format!(
                "unknown model `{name}`: this server serves `{}`",
                model.name
            )));
        }
        if let Some(v) = version
            && v != model.version
        {
            return Err(ApiError::not_found(format!(
                "model `{name}` has no version `{v}`: the served version is `{}`",
                model.version
            )));
        }
        Ok(model.clone())
    }

    /// Adds a request to the live window.
    pub fn record(&self, latency: Duration, error: bool) {
        if let Ok(mut w) = self.window.lock() {
            w.record(Instant::now(), latency, error);
        }
    }

    /// `GET /lepton/status`: what the operator copies into the ModelDeployment's status.
    pub fn status_json(&self) -> Value {
        let figures = self.window.lock().ok().map(|w| w.figures(Instant::now()));
        let Some(model) = self.model() else {
            return json!({"ready": false, "loading": true});
        };
        let drift = model.drift.lock().ok().map(|d| d.report(Instant::now()));
        let metrics = ServingMetrics {
            requests_per_second: figures.as_ref().map(|f| f.requests_per_second),
            latency_p50_ms: figures.as_ref().and_then(|f| f.latency_p50_ms),
            latency_p99_ms: figures.as_ref().and_then(|f| f.latency_p99_ms),
            error_rate: figures.as_ref().and_then(|f| f.error_rate),
            drift_score: drift.as_ref().and_then(|d| d.score),
            most_drifted_column: drift.as_ref().and_then(|d| d.most_drifted_column.clone()),
            updated_at: None,
        };
        json!({
            "ready": self.is_ready(),
            "model": {
                "name": model.name,
                "version": model.version,
                "uri": model.uri,
                "sha256": model.sha256,
                "family": model.card.as_ref().map(|c| c.family.clone()),
            },
            "loadSeconds": model.load_seconds,
            "executionProvider": model.provider,
            "requestedExecutionProvider": model.requested_provider,
            "executionProviderFallback": model.fallback_reason,
            "batching": {
                "enabled": model.batching.enabled,
                "maxBatchSize": model.batching.max_batch_size,
                "maxDelayMicros": model.batching.max_delay.as_micros() as u64,
            },
            "queueDepth": model.queue.depth(),
            "windowSeconds": self.config.monitoring.window_seconds,
            "drifted": drift.as_ref().is_some_and(|d| d.drifted),
            "latencySloMs": self.config.monitoring.latency_slo_ms,
            "latencySloViolated": match (self.config.monitoring.latency_slo_ms, metrics.latency_p99_ms) {
                (Some(slo), Some(p99)) => p99 > slo,
                _ => false,
            },
            "metrics": metrics,
        })
    }

    /// `GET /lepton/drift`.
    pub fn drift_json(&self, model: &ServedModel) -> Value {
        let report = model.drift.lock().ok().map(|d| d.report(Instant::now()));
        let mut value = serde_json::to_value(report).unwrap_or(Value::Null);
        if let Some(object) = value.as_object_mut() {
            object.insert("model".to_owned(), json!(model.name));
        }
        value
    }

    /// `GET /metrics`.
    pub fn metrics_text(&self) -> String {
        let Some(model) = self.model() else {
            return "# HELP lepton_model_ready Whether the model is loaded and the server takes requests.\n# TYPE lepton_model_ready gauge\nlepton_model_ready 0\n".to_owned();
        };
        let g = |name, help, labels, value| Gauge {
            name,
            help,
            labels,
            value,
        };
        let mut gauges = vec![
            g(
                "lepton_queue_depth_requests",
                "Inference requests waiting for the model.",
                vec![],
                model.queue.depth() as f64,
            ),
            g(
                "lepton_model_ready",
                "Whether the model is loaded and the server takes requests.",
                vec![],
                f64::from(u8::from(self.is_ready())),
            ),
            g(
                "lepton_model_load_duration_seconds",
                "Time from start to ready: fetch, checksum, session and warm-up.",
                vec![],
                model.load_seconds,
            ),
            g(
                "lepton_model_info",
                "The served model's version, digest and execution provider.",
                vec![
                    ("version", model.version.clone()),
                    ("sha256", model.sha256.clone()),
                    (
                        "execution_provider",
                        provider_name(model.provider).to_owned(),
                    ),
                ],
                1.0,
            ),
            g(
                "lepton_execution_provider_fallback",
                "1 when the requested execution provider was not usable and the model runs on CPU.",
                vec![],
                f64::from(u8::from(model.fallback_reason.is_some())),
            ),
        ];
        if let Some(report) = model.drift.lock().ok().map(|d| d.report(Instant::now()))
            && report.available
        {
            gauges.push(g(
                "lepton_drift_threshold",
                "Drift score above which the deployment is drifted.",
                vec![],
                report.threshold,
            ));
            if let Some(score) = report.score {
                gauges.push(g("lepton_drift_score", "Largest population stability index over the inputs (live window against training).", vec![], score));
            }
            for f in &report.features {
                if let Some(psi) = f.psi {
                    gauges.push(g(
                        "lepton_drift_psi",
                        "Population stability index of one input, live window against training.",
                        vec![("feature", f.name.clone())],
                        psi,
                    ));
                }
            }
            for f in &report.features {
                gauges.push(g(
                    "lepton_drift_window_rows",
                    "Live rows of one input in the drift window.",
                    vec![("feature", f.name.clone())],
                    f.rows as f64,
                ));
            }
        }
        model.metrics.render(&gauges)
    }
}

fn provider_name(p: lepton_crds::v1alpha1::ExecutionProvider) -> &'static str {
    match p {
        lepton_crds::v1alpha1::ExecutionProvider::Cpu => "cpu",
        lepton_crds::v1alpha1::ExecutionProvider::Cuda => "cuda",
    }
}

/// A server that is listening and ready.
pub struct RunningServer {
    state: Arc<State>,
    address: SocketAddr,
    stop: watch::Sender<bool>,
    accept: tokio::task::JoinHandle<GracefulShutdown>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The loaded model.
    pub fn model(&self) -> Option<Arc<ServedModel>> {
        self.state.model()
    }

    /// Graceful shutdown: readiness goes false, new requests are still served for
    /// `shutdownDelayMs`, then the listener closes, in-flight requests finish (up to
    /// `drainTimeoutMs`), and the model's worker stops.
    pub async fn shutdown(self) {
        self.state.ready.store(false, Ordering::Release);
        tracing::info!("shutting down: not ready");
        let delay = Duration::from_millis(self.state.config.shutdown_delay_ms);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let _ = self.stop.send(true);
        if let Ok(graceful) = self.accept.await {
            let drain = Duration::from_millis(self.state.config.drain_timeout_ms);
            if tokio::time::timeout(drain, graceful.shutdown())
                .await
                .is_err()
            {
                tracing::warn!(
                    ms = drain.as_millis() as u64,
                    "in-flight requests did not finish within the drain timeout"
                );
            }
        }
        if let Some(model) = self.state.model() {
            let _ = tokio::task::spawn_blocking(move || model.stop()).await;
        }
        tracing::info!("stopped");
    }
}

/// Validates `config`, listens, loads the model and returns once the server is ready.
pub async fn start(mut config: ServeConfig) -> Result<RunningServer, ServeError> {
    let started = Instant::now();
    config.validate()?;
    let address = config.address();
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|e| ServeError::Bind {
            address: address.clone(),
            detail: e.to_string(),
        })?;
    let local = listener.local_addr().map_err(|e| ServeError::Bind {
        address: address.clone(),
        detail: e.to_string(),
    })?;
    let window =
        Duration::from_secs(u64::try_from(config.monitoring.window_seconds).unwrap_or(300));
    let state = Arc::new(State {
        config,
        model: OnceLock::new(),
        ready: AtomicBool::new(false),
        window: Mutex::new(LiveWindow::new(window)),
    });
    let (stop, stopped) = watch::channel(false);
    let accept = tokio::spawn(accept_loop(listener, state.clone(), stopped));
    tracing::info!(address = %local, "listening; loading the model");
    match ServedModel::load(&state.config, started).await {
        Ok(model) => {
            let _ = state.model.set(Arc::new(model));
            state.ready.store(true, Ordering::Release);
            tracing::info!(address = %local, seconds = started.elapsed().as_secs_f64(), "ready");
            Ok(RunningServer {
                state,
                address: local,
                stop,
                accept,
            })
        }
        Err(e) => {
            let _ = stop.send(true);
            let _ = accept.await;
            Err(e)
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) -> GracefulShutdown {
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .keep_alive(true);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Small JSON responses: send them now rather than waiting to coalesce.
                    let _ = stream.set_nodelay(true);
                    let state = state.clone();
                    let service = service_fn(move |request| handle(state.clone(), request));
                    let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                    tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
    graceful
}
