//! Helpers shared by the integration tests.

#![allow(dead_code)]

use kube::Client;
use kube::core::response::Status;
use lepton_embedded_cluster::EmbeddedCluster;
use std::future::Future;
use std::time::{Duration, Instant};

/// A started embedded cluster and a client for it.
pub async fn embedded() -> (EmbeddedCluster, Client) {
    let cluster = EmbeddedCluster::start().await.expect("cluster starts");
    let client = cluster.client().await.expect("client builds");
    (cluster, client)
}

/// A namespace name unique to this run.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{:x}{}",
        nanos % 0xfffff,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The `Status` of a failed request; panics on success or on a non-API error.
pub fn status_of<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Box<Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
