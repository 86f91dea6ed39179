//! Tier 2: the ModelDeployment controller against the embedded API server, with the local
//! executor running the real `lepton-runner serve` behind the Service proxy. Real clusters'
//! kube-proxy, probes and image pulls are the e2e tier's.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use lepton_crds::v1alpha1::{ModelDeployment, ModelDeploymentPhase, TrainingJob};
use support::{Harness, condition_true, training_job};

const LONG: Duration = Duration::from_secs(180);

fn model_deployment(name: &str, spec: serde_json::Value) -> ModelDeployment {
    let ort = support::common::ort_library();
    let mut spec = spec;
    spec["runner"] = serde_json::json!({"env": [{"name": "LEPTON_ORT_LIB", "value": ort.display().to_string()}]});
    serde_json::from_value(serde_json::json!({
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }))
    .expect("a valid ModelDeployment")
}

fn condition(md: &ModelDeployment, type_: &str) -> Option<(String, String, String)> {
    md.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn is_ready(md: &ModelDeployment) -> bool {
    md.status
        .as_ref()
        .is_some_and(|s| condition_true(&s.conditions, "Ready"))
}

fn succeeded(tj: &TrainingJob) -> bool {
    tj.status
        .as_ref()
        .is_some_and(|s| condition_true(&s.conditions, "Succeeded"))
}

/// One OIP v2 inference request with a row of Default.csv's columns.
fn infer_body() -> serde_json::Value {
    serde_json::json!({"inputs": [
        {"name": "student", "datatype": "BYTES", "shape": [1, 1], "data": ["No"]},
        {"name": "balance", "datatype": "FP64", "shape": [1, 1], "data": [1500.0]},
        {"name": "income", "datatype": "FP64", "shape": [1, 1], "data": [30000.0]},
    ]})
}

/// A client opening a new connection per request, as connection-level load balancing sees
/// clients.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deployment_gets_ready_answers_and_rolls_to_a_new_model_without_a_failed_request() {
    let harness = Harness::start().await;
    let operator = harness.operator();
    harness.create(&training_job("model-a", "")).await;
    harness
        .create(&training_job(
            "model-b",
            "model: {family: gbdt, hyperparameters: {numTrees: 30}}",
        ))
        .await;
    // Created before its model exists: it waits.
    harness
        .create(&model_deployment(
            "credit",
            serde_json::json!({"model": {"trainingJob": "model-a"}}),
        ))
        .await;
    let waiting = harness
        .wait_for::<ModelDeployment>("credit", LONG, |md| md.status.is_some())
        .await;
    if !is_ready(&waiting) {
        let (status, reason, _) = condition(&waiting, "ModelLoaded").unwrap();
        assert_eq!(status, "False");
        assert!(
            ["WaitingForModel", "LoadingModel"].contains(&reason.as_str()),
            "{reason}"
        );
    }

    let md = harness
        .wait_for::<ModelDeployment>("credit", LONG, is_ready)
        .await;
    let status = md.status.clone().unwrap();
    assert_eq!(status.phase, Some(ModelDeploymentPhase::Ready));
    assert_eq!(status.ready_replicas, Some(1));
    let model_a = harness
        .wait_for::<TrainingJob>("model-a", LONG, succeeded)
        .await;
    let sha_a = model_a.status.unwrap().model.unwrap().sha256;
    assert_eq!(status.model.as_ref().unwrap().sha256, sha_a);
    assert_eq!(
        status.model.as_ref().unwrap().source.as_deref(),
        Some("trainingJob/model-a")
    );
    let url = status.url.clone().expect("a url");

    let client = http();
    let answer = client
        .post(format!("{url}/v2/models/credit/infer"))
        .header("content-type", "application/json")
        .body(infer_body().to_string())
        .send()
        .await
        .expect("the endpoint answers");
    assert!(
        answer.status().is_success(),
        "{}",
        answer.text().await.unwrap_or_default()
    );
    let body: serde_json::Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    assert!(
        body["outputs"].as_array().is_some_and(|o| !o.is_empty()),
        "{body}"
    );

    // Requests keep flowing while the model changes.
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let traffic = {
        let (stop, sent, failed, url) = (stop.clone(), sent.clone(), failed.clone(), url.clone());
        tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let result = client
                    .post(format!("{url}/v2/models/credit/infer"))
                    .header("content-type", "application/json")
                    .body(infer_body().to_string())
                    .send()
                    .await;
                sent.fetch_add(1, Ordering::Relaxed);
                match result {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => failures.push(format!("HTTP {}", r.status())),
                    Err(e) => failures.push(e.to_string()),
                }
                failed.store(failures.len(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            failures
        })
    };
    let model_b = harness
        .wait_for::<TrainingJob>("model-b", LONG, succeeded)
        .await;
    let sha_b = model_b.status.unwrap().model.unwrap().sha256;
    assert_ne!(sha_a, sha_b);
    let api: Api<ModelDeployment> = Api::namespaced(harness.client.clone(), "default");
    api.patch(
        "credit",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"model": {"trainingJob": "model-b"}}})),
    )
    .await
    .unwrap();
    let rolled = harness
        .wait_for::<ModelDeployment>("credit", LONG, |md| {
            md.status.as_ref().is_some_and(|s| {
                condition_true(&s.conditions, "RolloutComplete")
                    && s.model.as_ref().and_then(|m| m.sha256.clone()) == sha_b
                    && s.observed_generation == Some(2)
            })
        })
        .await;
    // Some requests after the rollout, on the new model only.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let failures = traffic.await.unwrap();
    eprintln!(
        "rollout: {} requests through the Service, {} failed",
        sent.load(Ordering::Relaxed),
        failures.len()
    );
    assert!(
        sent.load(Ordering::Relaxed) > 20,
        "only {} requests",
        sent.load(Ordering::Relaxed)
    );
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {failures:?}",
        failures.len(),
        sent.load(Ordering::Relaxed)
    );
    assert!(is_ready(&rolled));

    // The live figures arrive from the pods.
    let live = harness
        .wait_for::<ModelDeployment>("credit", LONG, |md| {
            md.status
                .as_ref()
                .and_then(|s| s.metrics.as_ref())
                .and_then(|m| m.latency_p50_ms)
                .is_some()
        })
        .await;
    let metrics = live.status.unwrap().metrics.unwrap();
    assert!(metrics.requests_per_second.unwrap() >= 0.0);
    assert!(metrics.updated_at.is_some());
    assert!(
        operator
            .metrics
            .encode()
            .contains("lepton_operator_model_server_scrapes_total{result=\"ok\"}")
    );
    operator.stop().await;
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_digest_fails_the_deployment_with_the_servers_reason() {
    let harness = Harness::start().await;
    let operator = harness.operator();
    harness.create(&training_job("digest", "")).await;
    let tj = harness
        .wait_for::<TrainingJob>("digest", LONG, succeeded)
        .await;
    let uri = tj.status.unwrap().model.unwrap().uri.unwrap();
    harness
        .create(&model_deployment(
            "tampered",
            serde_json::json!({"model": {"uri": uri, "sha256": "0".repeat(64)}}),
        ))
        .await;
    let md = harness
        .wait_for::<ModelDeployment>("tampered", LONG, |md| {
            condition(md, "ModelLoaded").is_some_and(|(_, reason, _)| reason == "DigestMismatch")
        })
        .await;
    let status = md.status.as_ref().unwrap();
    assert_eq!(status.phase, Some(ModelDeploymentPhase::Failed));
    let (_, _, message) = condition(&md, "ModelLoaded").unwrap();
    assert!(message.contains("ChecksumMismatch"), "{message}");
    let (ready, _, _) = condition(&md, "Ready").unwrap();
    assert_eq!(ready, "False");
    operator.stop().await;
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deployment_of_a_sweep_not_created_yet_waits_for_it() {
    let harness = Harness::start().await;
    let operator = harness.operator();
    harness
        .create(&model_deployment(
            "from-sweep",
            serde_json::json!({"model": {"tuningSweep": {"name": "search"}}}),
        ))
        .await;
    let md = harness
        .wait_for::<ModelDeployment>("from-sweep", LONG, |md| {
            condition(md, "ModelLoaded").is_some()
        })
        .await;
    let (status, reason, message) = condition(&md, "ModelLoaded").unwrap();
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "WaitingForModel")
    );
    assert!(message.contains("spec.model.tuningSweep"), "{message}");
    assert!(message.contains("does not exist yet"), "{message}");
    operator.stop().await;
    harness.shutdown().await;
}

/// `kubectl wait --for=condition=Ready md/NAME`, the real kubectl against the embedded server.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kubectl_wait_for_ready_returns_when_the_endpoint_serves() {
    if std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_err()
    {
        eprintln!("kubectl is not installed: the Ready condition is checked by the other tests");
        return;
    }
    let harness = Harness::start().await;
    let operator = harness.operator();
    harness.create(&training_job("served", "")).await;
    harness
        .create(&model_deployment(
            "served",
            serde_json::json!({"model": {"trainingJob": "served"}}),
        ))
        .await;
    let kubeconfig = harness.work.0.join("kubeconfig").display().to_string();
    let output = tokio::process::Command::new("kubectl")
        .args([
            "--kubeconfig",
            &kubeconfig,
            "wait",
            "--for=condition=Ready",
            "modeldeployment/served",
            "--timeout=180s",
        ])
        .output()
        .await
        .expect("kubectl runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let md: ModelDeployment = Api::namespaced(harness.client.clone(), "default")
        .get("served")
        .await
        .unwrap();
    let url = md.status.unwrap().url.unwrap();
    let ready = http()
        .get(format!("{url}/v2/models/served/ready"))
        .send()
        .await
        .unwrap();
    assert!(ready.status().is_success());
    operator.stop().await;
    harness.shutdown().await;
}
