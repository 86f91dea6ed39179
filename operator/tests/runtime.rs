//! Tier 2: the operator's runtime against the embedded API server: leader election through a
//! Lease, the startup check of the CRDs, and the metrics and probe endpoints.

mod support;

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use lepton_crds::v1alpha1::TrainingJob;
use lepton_embedded_cluster::RequestMatcher;
use lepton_operator::runtime::Settings;
use support::{Harness, Operator, condition_true, training_job};

const LONG: Duration = Duration::from_secs(120);

fn leads(operator: &Operator) -> bool {
    operator
        .metrics
        .encode()
        .lines()
        .any(|l| l == "lepton_operator_leader 1")
}

fn reconciled(operator: &Operator) -> bool {
    operator
        .metrics
        .encode()
        .lines()
        .any(|l| l.starts_with("lepton_operator_reconciles_total{"))
}

async fn until(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + LONG;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn succeeded(tj: &TrainingJob) -> bool {
    tj.status
        .as_ref()
        .is_some_and(|s| condition_true(&s.conditions, "Succeeded"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_the_leader_reconciles_and_the_other_takes_over() {
    let harness = Harness::start().await;
    let a = harness.elected_operator("replica-a");
    let b = harness.elected_operator("replica-b");
    until("one replica leads", || leads(&a) || leads(&b)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(leads(&a) != leads(&b), "exactly one leader");
    let (leader, follower, follower_id) = if leads(&a) {
        (a, b, "replica-b")
    } else {
        (b, a, "replica-a")
    };

    harness.create(&training_job("first", "")).await;
    harness
        .wait_for::<TrainingJob>("first", LONG, succeeded)
        .await;
    assert!(reconciled(&leader));
    assert!(!reconciled(&follower), "the follower must not reconcile");

    // A graceful stop releases the lease: the follower takes over at once.
    leader.stop().await;
    until("the follower leads", || leads(&follower)).await;
    let lease: Lease = Api::namespaced(harness.client.clone(), "default")
        .get("lepton-operator")
        .await
        .unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some(follower_id));
    assert_eq!(spec.lease_transitions, Some(1));
    harness.create(&training_job("second", "")).await;
    harness
        .wait_for::<TrainingJob>("second", LONG, succeeded)
        .await;
    follower.stop().await;
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crashed_leader_is_replaced_once_its_lease_expires() {
    let harness = Harness::start().await;
    let a = harness.elected_operator("replica-a");
    until("replica-a leads", || leads(&a)).await;
    let b = harness.elected_operator("replica-b");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!leads(&b), "the lease is held");
    let crashed = std::time::Instant::now();
    a.kill();
    until("replica-b leads", || leads(&b)).await;
    // The lease lasts 2 s; b checks every 0.3 s.
    assert!(
        crashed.elapsed() >= Duration::from_millis(1500),
        "took over a live lease"
    );
    harness.create(&training_job("after-crash", "")).await;
    harness
        .wait_for::<TrainingJob>("after-crash", LONG, succeeded)
        .await;
    b.stop().await;
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_the_crds_the_operator_stops_and_says_how_to_install_them() {
    let harness = Harness::start().await;
    harness.cluster.faults().fail_next(
        1,
        RequestMatcher::any()
            .method("GET")
            .path_contains("/apis/lepton.ai/v1alpha1"),
        404,
    );
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let error = lepton_operator::runtime::run(
        harness.client.clone(),
        harness.config.clone(),
        std::sync::Arc::new(lepton_operator::telemetry::Metrics::new()),
        Settings::default(),
        shutdown,
    )
    .await
    .unwrap_err();
    assert!(error.contains("not installed"), "{error}");
    assert!(
        error.contains("lepton-operator crd | kubectl apply --server-side -f -"),
        "{error}"
    );
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_and_probes_are_served() {
    let harness = Harness::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let operator = harness.operator_with(Settings {
        metrics_addr: Some(([127, 0, 0, 1], port).into()),
        ..Settings::default()
    });
    harness.create(&training_job("measured", "")).await;
    harness
        .wait_for::<TrainingJob>("measured", LONG, succeeded)
        .await;
    let http = reqwest::Client::new();
    let get = |path: &'static str| {
        let http = http.clone();
        async move {
            let response = http
                .get(format!("http://127.0.0.1:{port}{path}"))
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(get("/livez").await.0, 200);
    assert_eq!(get("/readyz").await.0, 200);
    let (code, text) = get("/metrics").await;
    assert_eq!(code, 200);
    for line in [
        "lepton_operator_objects{kind=\"TrainingJob\",phase=\"Succeeded\"} 1",
        "lepton_operator_reconcile_duration_seconds_count{controller=\"trainingjob\"}",
        "lepton_operator_queue_depth{controller=\"trainingjob\"}",
        "lepton_operator_leader 1",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    operator.stop().await;
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_taken_metrics_port_is_a_clear_error() {
    let harness = Harness::start().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let error = lepton_operator::runtime::run(
        harness.client.clone(),
        harness.config.clone(),
        std::sync::Arc::new(lepton_operator::telemetry::Metrics::new()),
        Settings {
            metrics_addr: Some(addr),
            ..Settings::default()
        },
        shutdown,
    )
    .await
    .unwrap_err();
    assert!(
        error.contains(&format!("cannot listen on {addr}")),
        "{error}"
    );
    harness.shutdown().await;
}
