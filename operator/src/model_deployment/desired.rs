//! The objects a ModelDeployment needs: a Deployment of `lepton-runner serve` per track
//! (primary and, with a canary, canary), a Service in front of both, and a
//! HorizontalPodAutoscaler when autoscaling is set. Pure functions.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
    ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    ContainerPort, HTTPGetAction, PodTemplateSpec, Probe, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource, ResourceExt};
use lepton_crds::v1alpha1::{ExecutionProvider, ModelDeployment};
use serde_json::json;

use super::source::ModelRef;
use crate::config::{NodePool, OperatorConfig};
use crate::names::{
    MANAGED_BY, MAX_LABEL_NAME, MODEL_DEPLOYMENT_LABEL, OWNER_ANNOTATION, TRACK_LABEL, child_name,
};
use crate::pod_spec::{self, Location, RunnerContainer, SpecProblem, env_value};

/// Name of the serving container.
pub const CONTAINER: &str = "server";
/// Annotation on serving pods with the digest of the model they serve.
pub const MODEL_DIGEST_ANNOTATION: &str = "lepton.ai/model-sha256";
/// Annotation on serving pods with the location of the model they serve.
pub const MODEL_URI_ANNOTATION: &str = "lepton.ai/model-uri";

/// Which of a deployment's two sets of pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Track {
    /// The main model.
    Primary,
    /// The canary model.
    Canary,
}

impl Track {
    /// The `lepton.ai/track` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Track::Primary => "primary",
            Track::Canary => "canary",
        }
    }
}

/// The label value naming `md`.
pub fn label_value(md: &ModelDeployment) -> String {
    child_name(&md.name_any(), "", MAX_LABEL_NAME)
}

/// Name of the Deployment of `track`.
pub fn deployment_name(md: &ModelDeployment, track: Track) -> String {
    match track {
        Track::Primary => child_name(&md.name_any(), "", 253),
        Track::Canary => child_name(&md.name_any(), "canary", 253),
    }
}

/// Name of the Service: a DNS-1035 label (it must start with a letter).
pub fn service_name(md: &ModelDeployment) -> String {
    let name = md.name_any();
    if name.starts_with(|c: char| c.is_ascii_lowercase()) {
        child_name(&name, "", MAX_LABEL_NAME)
    } else {
        child_name(&format!("md-{name}"), "", MAX_LABEL_NAME)
    }
}

/// Labels selecting the pods of `track`.
pub fn selector(md: &ModelDeployment, track: Track) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MODEL_DEPLOYMENT_LABEL.to_owned(), label_value(md)),
        (TRACK_LABEL.to_owned(), track.as_str().to_owned()),
    ])
}

/// Labels of every object made for `md`.
pub fn labels(md: &ModelDeployment) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_owned(),
            "lepton-server".to_owned(),
        ),
        (
            "app.kubernetes.io/component".to_owned(),
            "serving".to_owned(),
        ),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            MANAGED_BY.to_owned(),
        ),
        (MODEL_DEPLOYMENT_LABEL.to_owned(), label_value(md)),
    ])
}

fn owned_meta(md: &ModelDeployment, name: String, extra: BTreeMap<String, String>) -> ObjectMeta {
    let mut labels = labels(md);
    labels.extend(extra);
    ObjectMeta {
        name: Some(name),
        namespace: md.namespace(),
        labels: Some(labels),
        owner_references: md.controller_owner_ref(&()).map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}

/// The server's configuration (`LEPTON_SERVE_CONFIG`): the spec's runtime and monitoring as
/// they are, the model, and the shutdown timing.
pub fn serve_config(
    md: &ModelDeployment,
    model: &ModelRef,
    config: &OperatorConfig,
) -> serde_json::Value {
    let mut location = json!({"uri": model.uri});
    if let Some(sha) = &model.sha256 {
        location["sha256"] = json!(sha);
    }
    if let Some(s3) = &model.s3 {
        location["s3"] = json!(s3);
    }
    json!({
        "name": md.name_any(),
        "model": location,
        "runtime": md.spec.runtime,
        "monitoring": md.spec.monitoring,
        "shutdownDelayMs": (config.serving.shutdown_delay_seconds * 1000.0).round() as u64,
        "drainTimeoutMs": (config.serving.drain_timeout_seconds * 1000.0).round() as u64,
    })
}

/// The Deployment of `track` serving `model`. Replicas are left out under autoscaling (the HPA
/// owns them). Rolling updates add a pod before removing one, so a model change never leaves
/// the endpoint without a ready pod.
pub fn deployment(
    md: &ModelDeployment,
    track: Track,
    model: &ModelRef,
    config: &OperatorConfig,
    pool: &NodePool,
) -> Result<Deployment, SpecProblem> {
    let spec = &md.spec;
    let overrides = spec.runner.as_ref();
    let gpu = spec.resources.gpus > 0 && spec.runtime.execution_provider == ExecutionProvider::Cuda;
    let resources = pod_spec::resources(
        &spec.resources,
        pool,
        &config.serving.cpu,
        &config.serving.memory,
    )?;
    let (volumes, mounts) = pod_spec::volumes(
        &[Location {
            uri: &model.uri,
            writable: false,
        }],
        &config.pvc_mount_root,
    );
    let mut env = vec![
        env_value(
            "LEPTON_SERVE_CONFIG",
            serve_config(md, model, config).to_string(),
        ),
        env_value("LEPTON_PVC_ROOT", &config.pvc_mount_root),
        env_value("LEPTON_LOG_FORMAT", "json"),
        env_value("TMPDIR", "/tmp"),
    ];
    if let Some(secret) = model
        .s3
        .as_ref()
        .and_then(|s| s.credentials_secret.as_deref())
    {
        env.extend(pod_spec::s3_credentials(secret));
    }
    env.extend(overrides.map(|o| o.env.clone()).unwrap_or_default());
    let probe = |path: &str, period: i32, failures: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("http".to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Probe::default()
    };
    let grace = (config.serving.shutdown_delay_seconds + config.serving.drain_timeout_seconds + 5.0)
        .ceil() as i64;
    let mut pod = pod_spec::runner_pod(
        config,
        overrides,
        gpu,
        pool,
        RunnerContainer {
            name: CONTAINER,
            args: vec!["serve".to_owned()],
            env,
            resources,
            mounts,
        },
        volumes,
    );
    // The server never calls the API server.
    pod.automount_service_account_token = Some(false);
    pod.termination_grace_period_seconds = Some(grace);
    let server = &mut pod.containers[0];
    server.ports = Some(vec![ContainerPort {
        name: Some("http".to_owned()),
        container_port: spec.runtime.port,
        protocol: Some("TCP".to_owned()),
        ..ContainerPort::default()
    }]);
    // Ready only once the model is loaded and warmed up.
    server.readiness_probe = Some(probe("/v2/health/ready", 2, 2));
    server.liveness_probe = Some(probe("/v2/health/live", 10, 3));
    // Large models take a while to download and load: up to 5 minutes before the liveness
    // probe starts counting.
    server.startup_probe = Some(probe("/v2/health/live", 2, 150));

    let selector = selector(md, track);
    let mut pod_labels = labels(md);
    pod_labels.extend(selector.clone());
    let annotations = BTreeMap::from([
        (
            MODEL_DIGEST_ANNOTATION.to_owned(),
            model
                .sha256
                .clone()
                .unwrap_or_else(|| "unverified".to_owned()),
        ),
        (MODEL_URI_ANNOTATION.to_owned(), model.uri.clone()),
        (OWNER_ANNOTATION.to_owned(), md.name_any()),
    ]);
    let replicas = match track {
        Track::Primary if spec.autoscaling.is_some() => None,
        Track::Primary => Some(spec.replicas.unwrap_or(1)),
        Track::Canary => Some(spec.canary.as_ref().map_or(1, |c| c.replicas)),
    };
    Ok(Deployment {
        metadata: owned_meta(
            md,
            deployment_name(md, track),
            BTreeMap::from([(TRACK_LABEL.to_owned(), track.as_str().to_owned())]),
        ),
        spec: DeploymentSpec {
            replicas,
            selector: LabelSelector {
                match_labels: Some(selector),
                match_expressions: None,
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::String("25%".to_owned())),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..DeploymentSpec::default()
        },
        status: None,
    })
}

/// The Service in front of both tracks, on port 80. Requests are spread over ready pods, so a
/// canary's share of traffic is its share of the ready pods.
pub fn service(md: &ModelDeployment) -> Service {
    Service {
        metadata: owned_meta(md, service_name(md), BTreeMap::new()),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(BTreeMap::from([(
                MODEL_DEPLOYMENT_LABEL.to_owned(),
                label_value(md),
            )])),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port: 80,
                target_port: Some(IntOrString::String("http".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The autoscaler of the primary Deployment, when `spec.autoscaling` is set.
pub fn autoscaler(md: &ModelDeployment) -> Option<HorizontalPodAutoscaler> {
    let scaling = md.spec.autoscaling.as_ref()?;
    Some(HorizontalPodAutoscaler {
        metadata: owned_meta(md, deployment_name(md, Track::Primary), BTreeMap::new()),
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: "Deployment".to_owned(),
                name: deployment_name(md, Track::Primary),
            },
            min_replicas: Some(scaling.min_replicas),
            max_replicas: scaling.max_replicas,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".to_owned(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".to_owned(),
                    target: MetricTarget {
                        type_: "Utilization".to_owned(),
                        average_utilization: Some(scaling.target_cpu_utilization_percent),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            behavior: Some(HorizontalPodAutoscalerBehavior {
                scale_down: Some(HPAScalingRules {
                    stabilization_window_seconds: Some(scaling.scale_down_stabilization_seconds),
                    ..HPAScalingRules::default()
                }),
                scale_up: None,
            }),
        },
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_deployment::tests::model_deployment;

    fn model() -> ModelRef {
        ModelRef {
            source: "trainingJob/credit".into(),
            uri: "pvc://models/ml/credit/model.onnx".into(),
            sha256: Some("ab".repeat(32)),
            family: None,
            s3: None,
        }
    }

    fn build(md: &ModelDeployment, track: Track) -> Deployment {
        let config = OperatorConfig::default();
        deployment(md, track, &model(), &config, &config.pool(None).unwrap()).unwrap()
    }

    fn container(d: &Deployment) -> &k8s_openapi::api::core::v1::Container {
        &d.spec.template.spec.as_ref().unwrap().containers[0]
    }

    #[test]
    fn the_server_gets_its_model_runtime_and_probes() {
        let md = model_deployment(
            "credit",
            "runtime: {port: 9000, batching: {maxBatchSize: 8}}\nmonitoring: {latencySloMs: 5}",
        );
        let d = build(&md, Track::Primary);
        let spec = &d.spec;
        assert_eq!(spec.replicas, Some(1));
        let rolling = spec
            .strategy
            .as_ref()
            .unwrap()
            .rolling_update
            .as_ref()
            .unwrap();
        assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
        let c = container(&d);
        assert_eq!(c.args.as_ref().unwrap(), &["serve"]);
        assert_eq!(c.ports.as_ref().unwrap()[0].container_port, 9000);
        assert_eq!(
            c.readiness_probe
                .as_ref()
                .unwrap()
                .http_get
                .as_ref()
                .unwrap()
                .path
                .as_deref(),
            Some("/v2/health/ready")
        );
        let config: serde_json::Value = serde_json::from_str(
            c.env
                .as_ref()
                .unwrap()
                .iter()
                .find(|e| e.name == "LEPTON_SERVE_CONFIG")
                .unwrap()
                .value
                .as_ref()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(config["name"], "credit");
        assert_eq!(config["model"]["sha256"], "ab".repeat(32));
        assert_eq!(config["runtime"]["batching"]["maxBatchSize"], 8);
        assert_eq!(config["monitoring"]["latencySloMs"], 5.0);
        let mounts = c.volume_mounts.as_ref().unwrap();
        assert!(
            mounts
                .iter()
                .any(|m| m.mount_path == "/mnt/lepton/pvc/models" && m.read_only == Some(true))
        );
        let template = spec.template.metadata.as_ref().unwrap();
        assert_eq!(
            template.annotations.as_ref().unwrap()[MODEL_DIGEST_ANNOTATION],
            "ab".repeat(32)
        );
        assert_eq!(template.labels.as_ref().unwrap()[TRACK_LABEL], "primary");
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(pod_spec::restricted_violations(pod), Vec::<String>::new());
        assert_eq!(pod.automount_service_account_token, Some(false));
        assert_eq!(pod.termination_grace_period_seconds, Some(40));
    }

    #[test]
    fn a_new_model_changes_the_pod_template() {
        let md = model_deployment("credit", "");
        let config = OperatorConfig::default();
        let pool = config.pool(None).unwrap();
        let a = deployment(&md, Track::Primary, &model(), &config, &pool).unwrap();
        let mut other = model();
        other.sha256 = Some("cd".repeat(32));
        let b = deployment(&md, Track::Primary, &other, &config, &pool).unwrap();
        assert_ne!(a.spec.template, b.spec.template);
    }

    #[test]
    fn autoscaling_leaves_replicas_to_the_autoscaler() {
        let md = model_deployment(
            "credit",
            "autoscaling: {minReplicas: 2, maxReplicas: 6, targetCpuUtilizationPercent: 60}",
        );
        let d = build(&md, Track::Primary);
        assert_eq!(d.spec.replicas, None);
        let hpa = autoscaler(&md).unwrap().spec;
        assert_eq!(hpa.min_replicas, Some(2));
        assert_eq!(hpa.max_replicas, 6);
        assert_eq!(hpa.scale_target_ref.name, "credit");
        assert_eq!(
            hpa.metrics.unwrap()[0]
                .resource
                .as_ref()
                .unwrap()
                .target
                .average_utilization,
            Some(60)
        );
        assert!(autoscaler(&model_deployment("fixed", "")).is_none());
    }

    #[test]
    fn the_canary_has_its_own_deployment_behind_the_same_service() {
        let md = model_deployment(
            "credit",
            "canary: {model: {uri: 'file:///m/b.onnx'}, trafficPercent: 20, replicas: 2}",
        );
        let d = build(&md, Track::Canary);
        assert_eq!(d.metadata.name.as_deref(), Some("credit-canary"));
        assert_eq!(d.spec.replicas, Some(2));
        let svc = service(&md);
        let selector = svc.spec.unwrap().selector.unwrap();
        assert_eq!(selector.len(), 1, "both tracks: {selector:?}");
        assert_eq!(selector[MODEL_DEPLOYMENT_LABEL], "credit");
    }

    #[test]
    fn service_names_start_with_a_letter() {
        assert_eq!(service_name(&model_deployment("credit", "")), "credit");
        assert_eq!(service_name(&model_deployment("7up", "")), "md-7up");
    }

    #[test]
    fn cuda_uses_the_cuda_image_only_with_gpus() {
        let config = OperatorConfig::default();
        let pool = config.pool(None).unwrap();
        let md = model_deployment(
            "g",
            "runtime: {executionProvider: cuda}\nresources: {gpus: 1}",
        );
        let d = deployment(&md, Track::Primary, &model(), &config, &pool).unwrap();
        assert_eq!(
            container(&d).image.as_deref(),
            Some(config.runner.cuda_image.as_str())
        );
        let limits = container(&d)
            .resources
            .as_ref()
            .unwrap()
            .limits
            .clone()
            .unwrap();
        assert_eq!(limits["nvidia.com/gpu"].0, "1");
        let md = model_deployment("c", "");
        let d = deployment(&md, Track::Primary, &model(), &config, &pool).unwrap();
        assert_eq!(
            container(&d).image.as_deref(),
            Some(config.runner.image.as_str())
        );
    }
}
