//! Tier 2: the TrainingJob controller against the embedded API server, with the local executor
//! running the real `lepton-runner train` on ISLP's Default.csv. What a real cluster adds
//! (RBAC enforcement, the real Job controller, image pulls) is the e2e tier's.

mod support;

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::Role;
use kube::api::{Api, ListParams};
use lepton_crds::v1alpha1::{TrainingJob, TrainingJobPhase};
use lepton_embedded_cluster::RequestMatcher;
use support::{Harness, condition_true, events_about, training_job};

const LONG: Duration = Duration::from_secs(180);

fn phase(tj: &TrainingJob) -> Option<TrainingJobPhase> {
    tj.status.as_ref().and_then(|s| s.phase)
}

fn is_succeeded(tj: &TrainingJob) -> bool {
    tj.status
        .as_ref()
        .is_some_and(|s| condition_true(&s.conditions, "Succeeded"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_training_job_on_default_csv_succeeds_with_metrics_cost_and_a_model() {
    let harness = Harness::start().await;
    let operator = harness.operator();
    harness.create(&training_job("credit", "")).await;

    // While it runs the runner may patch this job's status, and only this job's.
    let roles: Api<Role> = Api::namespaced(harness.client.clone(), "default");
    let running = harness
        .wait_for::<TrainingJob>("credit", LONG, |tj| {
            phase(tj) == Some(TrainingJobPhase::Running) || is_succeeded(tj)
        })
        .await;
    if phase(&running) == Some(TrainingJobPhase::Running) {
        let role = roles
            .get("credit-lepton-runner")
            .await
            .expect("the runner's Role exists while it runs");
        let rule = &role.rules.unwrap()[0];
        assert_eq!(
            rule.resource_names.as_deref(),
            Some(&["credit".to_owned()][..])
        );
    }

    let tj = harness
        .wait_for::<TrainingJob>("credit", LONG, is_succeeded)
        .await;
    let status = tj.status.clone().unwrap();
    assert_eq!(status.phase, Some(TrainingJobPhase::Succeeded));
    assert_eq!(status.observed_generation, Some(1));
    assert!(status.metrics["auc"] > 0.9, "{:?}", status.metrics);
    assert_eq!(status.objective.as_ref().unwrap().metric.as_str(), "auc");
    assert_eq!(status.attempts, Some(1));
    assert!(status.start_time.is_some() && status.completion_time.is_some());
    let cost = status.cost.as_ref().expect("cost");
    assert!(cost.pod_hours.unwrap() > 0.0);
    assert_eq!(cost.price_per_hour, Some(0.5));
    assert!(cost.total.unwrap() > 0.0);
    assert_eq!(cost.currency.as_deref(), Some("USD"));
    let model = status.model.as_ref().expect("model");
    let path = model
        .uri
        .as_deref()
        .unwrap()
        .strip_prefix("file://")
        .unwrap()
        .to_owned();
    assert!(
        path.starts_with(
            &harness
                .work
                .0
                .join("artifacts/default/credit")
                .display()
                .to_string()
        ),
        "{path}"
    );
    let bytes = std::fs::read(&path).expect("model.onnx was written under the artifact store");
    assert_eq!(model.size_bytes, Some(bytes.len() as i64));
    assert_eq!(model.sha256.as_deref().map(str::len), Some(64));
    assert!(model.latency_p50_ms.unwrap() > 0.0);
    assert!(status.data.as_ref().unwrap().rows_read.unwrap() >= 9000);
    let progress = status
        .progress
        .as_ref()
        .expect("the runner pushed its progress");
    assert!(progress.step.unwrap_or(0) > 0, "{progress:?}");

    // The runner's permission went with the job's end.
    assert!(
        roles
            .get_opt("credit-lepton-runner")
            .await
            .unwrap()
            .is_none()
    );
    // Events on the transitions, with searchable reasons.
    let wanted = ["JobCreated", "TrainingCompleted"];
    let has =
        |events: &[Event], reason: &str| events.iter().any(|e| e.reason.as_deref() == Some(reason));
    let events = events_about(&harness.client, "credit", |events| {
        wanted.iter().all(|w| has(events, w))
    })
    .await;
    let reasons: Vec<&str> = events.iter().filter_map(|e| e.reason.as_deref()).collect();
    for reason in wanted {
        assert!(reasons.contains(&reason), "{reason} not in {reasons:?}");
    }
    operator.stop().await;
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_runner_exhausts_its_backoff_limit_and_fails_with_its_reason() {
    let harness = Harness::start().await;
    let operator = harness.operator();
    harness
        .create(&training_job(
            "bad-target",
            "data: {target: dflt}\nrunPolicy: {backoffLimit: 1}",
        ))
        .await;
    let tj = harness
        .wait_for::<TrainingJob>("bad-target", LONG, |tj| {
            phase(tj) == Some(TrainingJobPhase::Failed)
        })
        .await;
    let status = tj.status.unwrap();
    let failed = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Failed")
        .unwrap();
    assert_eq!(failed.status, "True");
    assert_eq!(failed.reason, "UnknownColumn", "{}", failed.message);
    assert!(failed.message.contains("dflt"), "{}", failed.message);
    assert!(
        failed.message.contains("after 2 attempts"),
        "{}",
        failed.message
    );
    assert_eq!(status.attempts, Some(2));
    assert!(status.completion_time.is_some());
    // Terminal stays terminal: the operator keeps it Failed and creates nothing new.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let jobs: Api<Job> = Api::namespaced(harness.client.clone(), "default");
    let job = jobs.get("bad-target").await.unwrap();
    assert_eq!(job.status.unwrap().failed, Some(2));
    operator.stop().await;
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_restart_mid_job_creates_no_second_job() {
    let harness = Harness::start().await;
    let jobs: Api<Job> = Api::namespaced(harness.client.clone(), "default");
    let tjs: Api<TrainingJob> = Api::namespaced(harness.client.clone(), "default");

    // Deterministically mid-job: the Job exists, suspended, when the first operator dies.
    let first = harness.operator();
    harness
        .create(&training_job("restart", "runPolicy: {suspend: true}"))
        .await;
    harness
        .wait_for::<TrainingJob>("restart", LONG, |tj| {
            phase(tj) == Some(TrainingJobPhase::Suspended)
        })
        .await;
    let uid = jobs.get("restart").await.unwrap().metadata.uid;
    first.kill();
    tjs.patch(
        "restart",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({"spec": {"runPolicy": {"suspend": false}}})),
    )
    .await
    .unwrap();

    // And once more while the pod trains.
    let second = harness.operator();
    harness
        .wait_for::<TrainingJob>("restart", LONG, |tj| {
            phase(tj) == Some(TrainingJobPhase::Running) || is_succeeded(tj)
        })
        .await;
    second.kill();
    let third = harness.operator();
    let tj = harness
        .wait_for::<TrainingJob>("restart", LONG, is_succeeded)
        .await;
    let job = jobs.get("restart").await.unwrap();
    assert_eq!(job.metadata.uid, uid, "the same Job ran to the end");
    assert_eq!(
        jobs.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
    let status = tj.status.unwrap();
    assert_eq!(status.attempts, Some(1));
    let suspended = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Suspended")
        .unwrap();
    assert_eq!(
        (suspended.status.as_str(), suspended.reason.as_str()),
        ("False", "Resumed")
    );
    third.stop().await;
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn injected_conflicts_server_errors_and_timeouts_converge() {
    let harness = Harness::start().await;
    let faults = harness.cluster.faults();
    // The Job's apply conflicts twice, the status writes fail three times, and two reads of
    // the Job hang past the client's timeout.
    faults.fail_next(
        2,
        RequestMatcher::any()
            .method("PATCH")
            .path_contains("/jobs/"),
        409,
    );
    faults.fail_next(
        3,
        RequestMatcher::any()
            .method("PATCH")
            .path_contains("trainingjobs/faulty/status"),
        500,
    );
    faults.delay_next(
        2,
        RequestMatcher::any()
            .method("GET")
            .path_contains("/jobs/faulty")
            .watch(false),
        Duration::from_secs(5),
    );
    let operator = harness.operator();
    harness.create(&training_job("faulty", "")).await;
    let tj = harness
        .wait_for::<TrainingJob>("faulty", LONG, is_succeeded)
        .await;
    assert!(faults.fired() >= 7, "only {} faults fired", faults.fired());
    assert_eq!(tj.status.unwrap().attempts, Some(1));
    let jobs: Api<Job> = Api::namespaced(harness.client.clone(), "default");
    assert_eq!(
        jobs.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
    let metrics = operator.metrics.encode();
    assert!(
        metrics.contains("lepton_operator_reconcile_errors_total{controller=\"trainingjob\",category=\"conflict\"}"),
        "{metrics}"
    );
    operator.stop().await;
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unknown_pool_waits_for_the_configuration_to_define_it() {
    let work = support::TempDir::new("operator-reload");
    let without_gpu = support::test_config(&work).replace(
        "  - name: gpu\n    nodeSelector: {pool: gpu}\n    pricePerGpuHour: 3.0\n",
        "",
    );
    let (path, config) = support::reloadable_config(&work, &without_gpu).await;
    let harness = Harness::start_with(work, config).await;
    let operator = harness.operator();
    harness
        .create(&training_job("pooled", "resources: {nodePool: gpu}"))
        .await;
    let tj = harness
        .wait_for::<TrainingJob>("pooled", LONG, |tj| {
            tj.status
                .as_ref()
                .is_some_and(|s| s.conditions.iter().any(|c| c.reason == "UnknownNodePool"))
        })
        .await;
    let created = &tj.status.unwrap().conditions[0];
    assert!(
        created.message.contains("`gpu`") && created.message.contains("cpu"),
        "{}",
        created.message
    );
    let jobs: Api<Job> = Api::namespaced(harness.client.clone(), "default");
    assert!(jobs.get_opt("pooled").await.unwrap().is_none());

    // The admin adds the pool; the reload reconciles every job again.
    std::fs::write(&path, support::test_config(&harness.work)).unwrap();
    harness.wait_for::<Job>("pooled", LONG, |_| true).await;
    let job = jobs.get("pooled").await.unwrap();
    let pod = job.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.node_selector.unwrap()["pool"], "gpu");
    operator.stop().await;
    harness.shutdown().await;
}

/// `kubectl wait --for=condition=Succeeded tj/NAME`, the real kubectl against the embedded
/// server, when kubectl is installed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kubectl_wait_for_succeeded_returns_when_the_job_succeeds() {
    if std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!("kubectl is not installed: the condition itself is checked by the other tests");
        return;
    }
    let harness = Harness::start().await;
    let operator = harness.operator();
    harness.create(&training_job("waited", "")).await;
    let kubeconfig = harness.work.0.join("kubeconfig");
    let output = tokio::process::Command::new("kubectl")
        .args([
            "--kubeconfig",
            &kubeconfig.display().to_string(),
            "wait",
            "--for=condition=Succeeded",
            "trainingjob/waited",
            "--timeout=180s",
        ])
        .output()
        .await
        .expect("kubectl runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "kubectl wait failed: {stdout}{stderr}"
    );
    assert!(stdout.contains("condition met"), "{stdout}");
    let tj: TrainingJob = Api::namespaced(harness.client.clone(), "default")
        .get("waited")
        .await
        .unwrap();
    assert!(is_succeeded(&tj));
    operator.stop().await;
    harness.shutdown().await;
}
