//! Tier 1 (pure): the ModelDeployment status from hand-built pods, Services and figures.

use super::*;
use crate::model_deployment::tests::model_deployment;
use lepton_crds::status::conditions;
use lepton_crds::v1alpha1::ModelDeploymentPhase;
use serde_json::json;

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

fn model(sha: &str) -> ModelRef {
    ModelRef {
        source: "trainingJob/credit".into(),
        uri: format!("file:///models/{sha}/model.onnx"),
        sha256: Some(sha.repeat(64 / sha.len())),
        family: None,
        s3: None,
    }
}

fn pod(
    name: &str,
    track: &str,
    served: &ModelRef,
    ready: bool,
    container: serde_json::Value,
) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "ml",
            "labels": {"lepton.ai/model-deployment": "credit", "lepton.ai/track": track},
            "annotations": {MODEL_URI_ANNOTATION: served.uri, MODEL_DIGEST_ANNOTATION: served.sha256}},
        "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
            "containerStatuses": [container]},
    }))
    .unwrap()
}

fn healthy(name: &str, served: &ModelRef) -> Pod {
    pod(
        name,
        "primary",
        served,
        true,
        json!({"name": "server", "ready": true, "restartCount": 0,
        "image": "r", "imageID": "", "state": {"running": {}}}),
    )
}

fn starting(name: &str, served: &ModelRef) -> Pod {
    pod(
        name,
        "primary",
        served,
        false,
        json!({"name": "server", "ready": false, "restartCount": 0,
        "image": "r", "imageID": "", "state": {"running": {}}}),
    )
}

fn service() -> Service {
    serde_json::from_value(json!({"metadata": {"name": "credit", "namespace": "ml",
        "annotations": {LOCAL_ADDRESS: "127.0.0.1:40000"}}}))
    .unwrap()
}

struct Case {
    md: ModelDeployment,
    primary: Resolution,
    canary: Option<Resolution>,
    blocker: Option<Blocker>,
    service: Option<Service>,
}

impl Case {
    fn new(spec: &str) -> Case {
        Case {
            md: model_deployment("credit", spec),
            primary: Resolution::Ready(model("a")),
            canary: None,
            blocker: None,
            service: Some(service()),
        }
    }

    fn decide(&mut self, pods: &[Pod], live: Option<&Live>) -> ModelDeploymentStatus {
        let status = decide(
            &self.md,
            Inputs {
                primary_model: &self.primary,
                canary_model: self.canary.as_ref(),
                blocker: self.blocker.as_ref(),
                primary: None,
                service: self.service.as_ref(),
                pods,
                live,
                error_rate_threshold: 0.05,
            },
            now(),
        );
        self.md.status = Some(status.clone());
        status
    }
}

fn cond<'a>(
    s: &'a ModelDeploymentStatus,
    type_: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    conditions::find(&s.conditions, type_).unwrap_or_else(|| panic!("no {type_}"))
}

#[test]
fn waiting_for_the_training_job_is_pending() {
    let mut case = Case::new("");
    case.primary =
        Resolution::Waiting("waiting for TrainingJob credit to finish (it is Running)".into());
    let s = case.decide(&[], None);
    assert_eq!(s.phase, Some(ModelDeploymentPhase::Pending));
    assert_eq!(cond(&s, "ModelLoaded").reason, "WaitingForModel");
    assert_eq!(cond(&s, "Ready").status, "False");
    assert_eq!(s.observed_generation, Some(1));
}

#[test]
fn starting_pods_are_loading_then_ready_with_a_url() {
    let mut case = Case::new("");
    let s = case.decide(&[starting("p1", &model("a"))], None);
    assert_eq!(cond(&s, "ModelLoaded").reason, "LoadingModel");
    assert_eq!(cond(&s, "RolloutComplete").status, "False");
    assert_eq!(s.phase, Some(ModelDeploymentPhase::Progressing));

    let s = case.decide(&[healthy("p1", &model("a"))], None);
    assert_eq!(s.phase, Some(ModelDeploymentPhase::Ready));
    assert_eq!(cond(&s, "Ready").reason, "EndpointReady");
    assert_eq!(cond(&s, "ModelLoaded").status, "True");
    assert_eq!(cond(&s, "RolloutComplete").status, "True");
    assert_eq!(s.url.as_deref(), Some("http://127.0.0.1:40000"));
    assert_eq!((s.replicas, s.ready_replicas), (Some(1), Some(1)));
    assert_eq!(s.model.as_ref().unwrap().sha256, model("a").sha256);
    assert_eq!(
        s.selector.as_deref(),
        Some("lepton.ai/model-deployment=credit,lepton.ai/track=primary")
    );
}

#[test]
fn during_a_rollout_the_old_model_keeps_the_endpoint_ready() {
    let mut case = Case::new("");
    case.decide(&[healthy("old", &model("a"))], None);
    case.primary = Resolution::Ready(model("b"));
    let s = case.decide(
        &[healthy("old", &model("a")), starting("new", &model("b"))],
        None,
    );
    assert_eq!(cond(&s, "Ready").status, "True");
    assert_eq!(cond(&s, "RolloutComplete").reason, "RollingOut");
    assert!(
        cond(&s, "RolloutComplete")
            .message
            .contains("1 old pod(s) left")
    );
    assert_eq!(cond(&s, "ModelLoaded").reason, "LoadingModel");
    assert_eq!(
        s.model.as_ref().unwrap().sha256,
        model("a").sha256,
        "still serving a"
    );
    let ready_at = cond(&s, "Ready").last_transition_time.clone();

    let s = case.decide(&[healthy("new", &model("b"))], None);
    assert_eq!(cond(&s, "RolloutComplete").status, "True");
    assert_eq!(s.model.as_ref().unwrap().sha256, model("b").sha256);
    assert_eq!(
        cond(&s, "Ready").last_transition_time,
        ready_at,
        "Ready never dropped"
    );
}

#[test]
fn a_digest_mismatch_fails_with_the_pods_reason() {
    let mut case = Case::new("");
    let crashing = pod(
        "p1",
        "primary",
        &model("a"),
        false,
        json!({
        "name": "server", "ready": false, "restartCount": 3, "image": "r", "imageID": "",
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
        "lastState": {"terminated": {"exitCode": 1, "message":
            "{\"phase\":\"Failed\",\"reason\":\"ChecksumMismatch\",\"message\":\"model.onnx has sha256 1234, expected aaaa\"}"}}}),
    );
    let s = case.decide(&[crashing], None);
    assert_eq!(cond(&s, "ModelLoaded").reason, "DigestMismatch");
    assert!(cond(&s, "ModelLoaded").message.contains("expected aaaa"));
    assert_eq!(cond(&s, "Ready").reason, "CrashLoopBackOff");
    assert!(cond(&s, "Ready").message.contains("ChecksumMismatch"));
    assert_eq!(s.phase, Some(ModelDeploymentPhase::Failed));
}

#[test]
fn image_pull_errors_and_unschedulable_pods_say_so() {
    let mut case = Case::new("");
    let pulling = pod(
        "p1",
        "primary",
        &model("a"),
        false,
        json!({
        "name": "server", "ready": false, "restartCount": 0, "image": "r", "imageID": "",
        "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}),
    );
    let s = case.decide(&[pulling], None);
    assert_eq!(cond(&s, "Ready").reason, "ImagePullBackOff");

    let unschedulable: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p2", "labels": {"lepton.ai/track": "primary"}},
        "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}]}}))
    .unwrap();
    let s = case.decide(&[unschedulable], None);
    assert_eq!(cond(&s, "Ready").reason, "Unschedulable");
    assert!(
        cond(&s, "Ready")
            .message
            .contains("Insufficient nvidia.com/gpu")
    );
}

fn figures(drift: f64, p99: f64, errors: f64) -> Live {
    Live {
        primary: Some(ServingMetrics {
            requests_per_second: Some(50.0),
            latency_p50_ms: Some(0.2),
            latency_p99_ms: Some(p99),
            error_rate: Some(errors),
            drift_score: Some(drift),
            most_drifted_column: Some("income".into()),
            updated_at: Some(Time(now())),
        }),
        provider: Some(ExecutionProvider::Cpu),
        ..Live::default()
    }
}

#[test]
fn live_figures_decide_degraded_and_persist_between_reads() {
    let mut case = Case::new("monitoring: {driftThreshold: 0.2, latencySloMs: 2.0}");
    let pods = [healthy("p1", &model("a"))];
    let s = case.decide(&pods, Some(&figures(0.05, 1.0, 0.0)));
    assert_eq!(cond(&s, "Degraded").status, "False");
    assert_eq!(s.phase, Some(ModelDeploymentPhase::Ready));
    assert_eq!(s.metrics.as_ref().unwrap().requests_per_second, Some(50.0));

    let s = case.decide(&pods, Some(&figures(0.31, 3.0, 0.1)));
    let degraded = cond(&s, "Degraded");
    assert_eq!(degraded.reason, "DriftDetected");
    assert!(degraded.message.contains("column income"));
    assert!(degraded.message.contains("monitoring.latencySloMs 2"));
    assert!(degraded.message.contains("10.0% of requests fail"));
    assert_eq!(s.phase, Some(ModelDeploymentPhase::Degraded));

    // No read this time: the last figures stay.
    let s = case.decide(&pods, None);
    assert_eq!(s.metrics.as_ref().unwrap().drift_score, Some(0.31));
    assert_eq!(cond(&s, "Degraded").reason, "DriftDetected");
}

#[test]
fn cuda_falling_back_to_cpu_is_degraded() {
    let mut case = Case::new("runtime: {executionProvider: cuda}\nresources: {gpus: 1}");
    let mut live = figures(0.0, 1.0, 0.0);
    live.fallback = Some("libcudart.so.12 not found".into());
    let s = case.decide(&[healthy("p1", &model("a"))], Some(&live));
    assert_eq!(cond(&s, "Degraded").reason, "CudaUnavailable");
    assert!(cond(&s, "Degraded").message.contains("libcudart"));
    assert_eq!(s.execution_provider, Some(ExecutionProvider::Cpu));
}

#[test]
fn the_canarys_share_is_its_share_of_ready_pods() {
    let mut case = Case::new(
        "canary: {model: {uri: 'file:///m/b.onnx'}, trafficPercent: 25, replicas: 1}\nreplicas: 3",
    );
    let canary_model = model("b");
    case.canary = Some(Resolution::Ready(canary_model.clone()));
    let canary_pod = pod(
        "c1",
        "canary",
        &canary_model,
        true,
        json!({"name": "server", "ready": true,
        "restartCount": 0, "image": "r", "imageID": "", "state": {"running": {}}}),
    );
    let pods = [
        healthy("p1", &model("a")),
        healthy("p2", &model("a")),
        healthy("p3", &model("a")),
        canary_pod,
    ];
    let s = case.decide(&pods, None);
    let canary = s.canary.clone().unwrap();
    assert_eq!(canary.traffic_percent, Some(25));
    assert_eq!(canary.ready_replicas, Some(1));
    assert_eq!(canary.model.unwrap().uri, Some(canary_model.uri));
    assert_eq!(s.ready_replicas, Some(3));
    assert_eq!(cond(&s, "RolloutComplete").status, "True");
    assert!(
        !cond(&s, "Ready").message.contains("asked for"),
        "25% is what 1 of 4 pods gives"
    );

    case.md.spec.canary.as_mut().unwrap().traffic_percent = 5;
    let s = case.decide(&pods, None);
    let ready = cond(&s, "Ready");
    assert_eq!(ready.status, "True");
    assert!(
        ready
            .message
            .contains("gets 25% of requests, not the 5% asked for"),
        "{}",
        ready.message
    );
}

#[test]
fn blockers_and_unsupported_sources_fail() {
    let mut case = Case::new("");
    case.blocker = Some(Blocker::UnknownPool(
        "resources.nodePool `x` is not defined".into(),
    ));
    let s = case.decide(&[], None);
    assert_eq!(cond(&s, "ModelLoaded").reason, "UnknownNodePool");
    assert_eq!(s.phase, Some(ModelDeploymentPhase::Failed));

    let mut case = Case::new("");
    case.primary = Resolution::Unavailable {
        reason: reasons::UNSUPPORTED_SOURCE,
        message: "spec.model.tuningSweep (s) is not supported by this operator version yet".into(),
    };
    let s = case.decide(&[], None);
    assert_eq!(cond(&s, "ModelLoaded").reason, "UnsupportedSource");
    assert_eq!(s.phase, Some(ModelDeploymentPhase::Failed));
}

#[test]
fn deciding_again_changes_nothing() {
    let mut case = Case::new("");
    let pods = [healthy("p1", &model("a"))];
    let first = case.decide(&pods, Some(&figures(0.0, 1.0, 0.0)));
    let second = case.decide(&pods, None);
    assert_eq!(first, second);
}
