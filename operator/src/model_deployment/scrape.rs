//! The serving pods' live figures: each ready pod answers `GET /lepton/status` with its
//! request rate, latency percentiles, error rate and drift over the monitoring window; the
//! operator reads them every `serving.scrapeIntervalSeconds` and combines them.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use lepton_crds::v1alpha1::{ExecutionProvider, ServingMetrics};
use serde::Deserialize;

/// Annotation the local executor puts on pods with their loopback address.
pub const LOCAL_ADDRESS: &str = "lepton.ai/local-address";

/// What one pod reported.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodFigures {
    /// Live figures.
    #[serde(default)]
    pub metrics: ServingMetrics,
    /// The execution provider in use.
    #[serde(default)]
    pub execution_provider: Option<ExecutionProvider>,
    /// Why the server fell back to CPU, if it did.
    #[serde(default)]
    pub execution_provider_fallback: Option<String>,
}

/// Where to reach a pod's server: the local executor's address, else the pod IP and port.
pub fn address(pod: &Pod, port: i32) -> Option<String> {
    if let Some(local) = pod.annotations().get(LOCAL_ADDRESS) {
        return Some(local.clone());
    }
    let ip = pod.status.as_ref()?.pod_ip.as_ref()?;
    Some(if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    })
}

/// Reads every pod's figures; pods that do not answer are counted as failures and left out.
pub async fn scrape(
    http: &reqwest::Client,
    pods: &[&Pod],
    port: i32,
    on_result: impl Fn(bool),
) -> Vec<PodFigures> {
    let reads = pods
        .iter()
        .filter_map(|pod| address(pod, port))
        .map(|addr| async move {
            let response = http
                .get(format!("http://{addr}/lepton/status"))
                .send()
                .await
                .ok()?;
            if !response.status().is_success() {
                return None;
            }
            let bytes = response.bytes().await.ok()?;
            serde_json::from_slice::<PodFigures>(&bytes).ok()
        });
    let results = futures::future::join_all(reads).await;
    results
        .into_iter()
        .filter_map(|r| {
            on_result(r.is_some());
            r
        })
        .collect()
}

/// One set of figures for a group of pods: rates and error counts add up, the median is the
/// request-weighted mean of the pods' medians, the p99 and the drift are the worst pod's (a
/// percentile of the union cannot be computed from percentiles; the worst is the honest bound).
pub fn combine(pods: &[PodFigures], now: Timestamp) -> Option<ServingMetrics> {
    if pods.is_empty() {
        return None;
    }
    let rate = |p: &PodFigures| p.metrics.requests_per_second.unwrap_or(0.0);
    let total: f64 = pods.iter().map(rate).sum();
    let weighted = |get: fn(&ServingMetrics) -> Option<f64>| {
        let values: Vec<(f64, f64)> = pods
            .iter()
            .filter_map(|p| get(&p.metrics).map(|v| (v, rate(p))))
            .collect();
        if values.is_empty() {
            return None;
        }
        let weight: f64 = values.iter().map(|(_, w)| w).sum();
        Some(if weight > 0.0 {
            values.iter().map(|(v, w)| v * w).sum::<f64>() / weight
        } else {
            values.iter().map(|(v, _)| v).sum::<f64>() / values.len() as f64
        })
    };
    let worst = |get: fn(&ServingMetrics) -> Option<f64>| {
        pods.iter()
            .filter_map(|p| get(&p.metrics))
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
    };
    let drifted = pods
        .iter()
        .filter(|p| p.metrics.drift_score.is_some())
        .max_by(|a, b| {
            a.metrics
                .drift_score
                .partial_cmp(&b.metrics.drift_score)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    Some(ServingMetrics {
        requests_per_second: Some(round(total)),
        latency_p50_ms: weighted(|m| m.latency_p50_ms).map(round),
        latency_p99_ms: worst(|m| m.latency_p99_ms).map(round),
        error_rate: weighted(|m| m.error_rate).map(round),
        drift_score: drifted.and_then(|p| p.metrics.drift_score).map(round),
        most_drifted_column: drifted.and_then(|p| p.metrics.most_drifted_column.clone()),
        updated_at: Some(Time(now)),
    })
}

fn round(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(rps: f64, p50: f64, p99: f64, errors: f64, drift: f64, column: &str) -> PodFigures {
        PodFigures {
            metrics: ServingMetrics {
                requests_per_second: Some(rps),
                latency_p50_ms: Some(p50),
                latency_p99_ms: Some(p99),
                error_rate: Some(errors),
                drift_score: Some(drift),
                most_drifted_column: Some(column.into()),
                updated_at: None,
            },
            ..PodFigures::default()
        }
    }

    #[test]
    fn pods_combine_by_request_weight_and_worst_case() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let combined = combine(
            &[
                figures(30.0, 1.0, 4.0, 0.0, 0.1, "income"),
                figures(10.0, 3.0, 9.0, 0.2, 0.3, "balance"),
            ],
            now,
        )
        .unwrap();
        assert_eq!(combined.requests_per_second, Some(40.0));
        assert_eq!(combined.latency_p50_ms, Some(1.5));
        assert_eq!(combined.latency_p99_ms, Some(9.0));
        assert_eq!(combined.error_rate, Some(0.05));
        assert_eq!(combined.drift_score, Some(0.3));
        assert_eq!(combined.most_drifted_column.as_deref(), Some("balance"));
        assert_eq!(combined.updated_at, Some(Time(now)));
        assert_eq!(combine(&[], now), None);
    }

    #[test]
    fn idle_pods_average_evenly() {
        let now = Timestamp::from_second(0).unwrap();
        let combined = combine(
            &[
                figures(0.0, 1.0, 2.0, 0.0, 0.0, "a"),
                figures(0.0, 3.0, 2.0, 0.0, 0.0, "a"),
            ],
            now,
        )
        .unwrap();
        assert_eq!(combined.latency_p50_ms, Some(2.0));
    }

    #[test]
    fn the_servers_status_document_parses() {
        let doc = r#"{"ready":true,"model":{"name":"credit"},"executionProvider":"cpu",
            "executionProviderFallback":null,"metrics":{"requestsPerSecond":12.5,
            "latencyP50Ms":0.2,"latencyP99Ms":1.1,"errorRate":0.0,"driftScore":0.01,
            "mostDriftedColumn":"income"},"drifted":false}"#;
        let parsed: PodFigures = serde_json::from_str(doc).unwrap();
        assert_eq!(parsed.execution_provider, Some(ExecutionProvider::Cpu));
        assert_eq!(parsed.metrics.requests_per_second, Some(12.5));
    }

    #[test]
    fn addresses_prefer_the_local_executor() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "annotations": {LOCAL_ADDRESS: "127.0.0.1:4321"}},
            "status": {"podIP": "10.0.0.7"}}))
        .unwrap();
        assert_eq!(address(&pod, 8080).as_deref(), Some("127.0.0.1:4321"));
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"}, "status": {"podIP": "10.0.0.7"}}))
        .unwrap();
        assert_eq!(address(&pod, 8080).as_deref(), Some("10.0.0.7:8080"));
    }
}
