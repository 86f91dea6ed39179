//! Metrics, probes and logs.

mod http;
mod metrics;

pub use http::{Health, serve};
pub use metrics::{Metrics, ObjectCounter};

/// Installs the global log subscriber: JSON lines (for log collectors) or text (for people),
/// filtered by `RUST_LOG` (default `info`).
pub fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second install (tests, local mode) keeps the first.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
