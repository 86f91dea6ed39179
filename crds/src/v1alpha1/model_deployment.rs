//! `ModelDeployment`: serve an ONNX model behind the Open Inference Protocol.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    ComputeResources, ConcreteModelFamily, DNS_LABEL_PATTERN, RunnerOverrides, S3Options,
    SHA256_PATTERN, SOURCE_URI_PATTERN,
};
use super::training_job::default_true;

/// Desired state of a ModelDeployment: which model to serve, on how many replicas, with which
/// runtime settings, canary and monitoring.
// The printer columns repeat `type_` and `priority`, which clippy mistakes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "lepton.ai",
    version = "v1alpha1",
    kind = "ModelDeployment",
    plural = "modeldeployments",
    singular = "modeldeployment",
    shortname = "md",
    category = "lepton",
    selectable = ".status.phase",
    namespaced,
    status = "ModelDeploymentStatus",
    derive = "PartialEq",
    doc = "A ModelDeployment serves an ONNX model with ONNX Runtime behind the Open Inference Protocol (v2 REST), with dynamic batching, an optional canary, autoscaling, and live latency, throughput, error and drift figures in its status.",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Whether the endpoint serves the desired model"
    ),
    printcolumn(
        name = "Replicas",
        type_ = "integer",
        json_path = ".status.readyReplicas",
        description = "Ready replicas"
    ),
    printcolumn(
        name = "URL",
        type_ = "string",
        json_path = ".status.url",
        description = "Inference endpoint"
    ),
    printcolumn(
        name = "Model",
        type_ = "string",
        json_path = ".status.model.source",
        description = "Where the served model came from"
    ),
    printcolumn(
        name = "P99-ms",
        type_ = "number",
        json_path = ".status.metrics.latencyP99Ms",
        priority = "1",
        description = "99th-percentile request latency"
    ),
    printcolumn(
        name = "Drift",
        type_ = "number",
        json_path = ".status.metrics.driftScore",
        priority = "1",
        description = "Input drift score"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("!(has(self.replicas) && has(self.autoscaling))").message("set either replicas or autoscaling, not both").field_path(".replicas"))]
#[x_kube(validation = Rule::new("self.runtime.executionProvider != 'cuda' || self.resources.gpus >= 1").message("runtime.executionProvider cuda needs resources.gpus of at least 1").field_path(".runtime.executionProvider"))]
#[serde(rename_all = "camelCase")]
pub struct ModelDeploymentSpec {
    /// The model to serve: exactly one of a TrainingJob, a TuningSweep's selected trial, or a
    /// URI with its SHA-256.
    pub model: ModelSource,

    /// Fixed number of serving pods, 0..100. Not allowed with `autoscaling`. Default: 1 when
    /// `autoscaling` is not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: Option<i32>,

    /// Scale the serving pods with load (a HorizontalPodAutoscaler on CPU utilisation). Not
    /// allowed with `replicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,

    /// Node pool, GPUs, CPU and memory of each serving pod.
    #[serde(default)]
    pub resources: ComputeResources,

    /// ONNX Runtime and request-handling settings.
    #[serde(default)]
    pub runtime: ServingRuntime,

    /// A second model that receives a share of the requests, to compare before a rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,

    /// Drift and latency monitoring.
    #[serde(default)]
    pub monitoring: Monitoring,

    /// Overrides for the serving pods: image, service account, extra environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<RunnerOverrides>,
}

/// Where a served model comes from; exactly one of `trainingJob`, `tuningSweep` and `uri`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.trainingJob) ? 1 : 0) + (has(self.tuningSweep) ? 1 : 0) + (has(self.uri) ? 1 : 0) == 1").message("set exactly one of trainingJob, tuningSweep or uri"))]
#[x_kube(validation = Rule::new("has(self.uri) == has(self.sha256)").message("sha256 is required with uri, and allowed only with uri"))]
pub struct ModelSource {
    /// Name of a TrainingJob in the same namespace; its exported model is served once it has
    /// Succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL_PATTERN))]
    pub training_job: Option<String>,

    /// A TuningSweep in the same namespace and how to pick its trial; re-resolved when the sweep
    /// finishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning_sweep: Option<SweepModelSelection>,

    /// Location of an ONNX model: `https://`, `s3://`, `pvc://claim/path` or `file://`. A
    /// `model.json` beside it is used when present; otherwise the schema is read from the graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048), regex(pattern = SOURCE_URI_PATTERN))]
    pub uri: Option<String>,

    /// Hex SHA-256 of the file at `uri`; the server refuses to start when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = SHA256_PATTERN))]
    pub sha256: Option<String>,

    /// Object-store settings for an `s3://` uri.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Options>,
}

/// A TuningSweep's trial, chosen by a selection policy along its Pareto front.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.select == 'best' ? !has(self.tolerance) : has(self.tolerance)").message("tolerance is required with select fastestWithin or cheapestWithin, and not allowed with best").field_path(".tolerance"))]
pub struct SweepModelSelection {
    /// Name of the TuningSweep.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL_PATTERN))]
    pub name: String,

    /// Selection policy: `best` (the best objective), `fastestWithin` (the lowest inference
    /// latency among trials within `tolerance` of the best) or `cheapestWithin` (the lowest
    /// training cost among them). Default: best.
    #[serde(default)]
    pub select: SelectionPolicy,

    /// For `fastestWithin` and `cheapestWithin`: how far, in the objective metric's units, the
    /// chosen trial's objective may be from the best one (for example 0.005 AUC), >= 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub tolerance: Option<f64>,
}

/// How a trial is picked from a TuningSweep.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum SelectionPolicy {
    /// The trial with the best objective.
    #[default]
    Best,
    /// The trial with the lowest inference latency whose objective is within `tolerance` of the
    /// best (latencies within 5 % of the lowest tie, and the better objective wins).
    FastestWithin,
    /// The trial with the lowest training cost whose objective is within `tolerance` of the best
    /// (costs within 5 % of the lowest tie, and the better objective wins).
    CheapestWithin,
}

/// Horizontal autoscaling of the serving pods.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.minReplicas <= self.maxReplicas").message("minReplicas must be less than or equal to maxReplicas").field_path(".minReplicas"))]
pub struct Autoscaling {
    /// Fewest pods, 1..100. Default: 1.
    #[serde(default = "default_min_replicas")]
    #[schemars(range(min = 1, max = 100))]
    pub min_replicas: i32,

    /// Most pods, 1..100.
    #[schemars(range(min = 1, max = 100))]
    pub max_replicas: i32,

    /// Average CPU utilisation, as a percentage of the request, that the autoscaler keeps,
    /// 1..100. Default: 70.
    #[serde(default = "default_target_cpu")]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization_percent: i32,

    /// Seconds of lower load before scaling down, 0..3600. Default: 300.
    #[serde(default = "default_scale_down_stabilization")]
    #[schemars(range(min = 0, max = 3600))]
    pub scale_down_stabilization_seconds: i32,
}

fn default_min_replicas() -> i32 {
    1
}

fn default_target_cpu() -> i32 {
    70
}

fn default_scale_down_stabilization() -> i32 {
    300
}

/// ONNX Runtime execution provider.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum ExecutionProvider {
    /// CPU.
    #[default]
    Cpu,
    /// NVIDIA CUDA; falls back to CPU with a warning (shown in status) when no GPU is usable.
    Cuda,
}

/// How the server runs the model and handles requests.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServingRuntime {
    /// Execution provider: `cpu`, or `cuda` (needs `resources.gpus`; when no GPU is usable the
    /// server falls back to CPU and says so in `status.executionProvider` and the Degraded
    /// condition). Default: cpu.
    #[serde(default)]
    pub execution_provider: ExecutionProvider,

    /// Threads ONNX Runtime uses inside one operator, 0..256; 0 lets it use the pod's CPUs.
    /// Default: 0.
    #[serde(default)]
    #[schemars(range(min = 0, max = 256))]
    pub intra_op_threads: i32,

    /// Threads ONNX Runtime uses across independent operators, 1..64. Default: 1.
    #[serde(default = "default_inter_op_threads")]
    #[schemars(range(min = 1, max = 64))]
    pub inter_op_threads: i32,

    /// Dynamic batching of concurrent requests.
    #[serde(default)]
    pub batching: Batching,

    /// Requests waiting for the model, 1..100000; beyond it the server answers 503 with
    /// Retry-After. Default: 1024.
    #[serde(default = "default_max_queued_requests")]
    #[schemars(range(min = 1, max = 100000))]
    pub max_queued_requests: i32,

    /// Milliseconds a request may take before it is answered 504, 1..600000. Default: 10000.
    #[serde(default = "default_request_timeout_ms")]
    #[schemars(range(min = 1, max = 600000))]
    pub request_timeout_ms: i32,

    /// Largest request body in bytes, 1024..268435456; larger ones are answered 413.
    /// Default: 16777216 (16 MiB).
    #[serde(default = "default_max_request_bytes")]
    #[schemars(range(min = 1024, max = 268435456))]
    pub max_request_bytes: i64,

    /// Port the server listens on inside the pod (the Service exposes port 80), 1024..65535.
    /// Default: 8080.
    #[serde(default = "default_port")]
    #[schemars(range(min = 1024, max = 65535))]
    pub port: i32,
}

impl Default for ServingRuntime {
    fn default() -> Self {
        Self {
            execution_provider: ExecutionProvider::default(),
            intra_op_threads: 0,
            inter_op_threads: default_inter_op_threads(),
            batching: Batching::default(),
            max_queued_requests: default_max_queued_requests(),
            request_timeout_ms: default_request_timeout_ms(),
            max_request_bytes: default_max_request_bytes(),
            port: default_port(),
        }
    }
}

fn default_inter_op_threads() -> i32 {
    1
}

fn default_max_queued_requests() -> i32 {
    1024
}

fn default_request_timeout_ms() -> i32 {
    10_000
}

fn default_max_request_bytes() -> i64 {
    16 * 1024 * 1024
}

fn default_port() -> i32 {
    8080
}

/// Dynamic batching: concurrent requests are merged into one model call and split back.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Batching {
    /// Batch requests (only for models with a batch dimension). Default: true.
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// Most rows in one model call, 1..65536. Default: 64.
    #[serde(default = "default_max_batch_size")]
    #[schemars(range(min = 1, max = 65536))]
    pub max_batch_size: i32,

    /// Longest wait in microseconds for more requests before a partial batch runs,
    /// 0..1000000. Default: 2000.
    #[serde(default = "default_max_delay_micros")]
    #[schemars(range(min = 0, max = 1_000_000))]
    pub max_delay_micros: i32,
}

impl Default for Batching {
    fn default() -> Self {
        Self {
            enabled: true,
            max_batch_size: default_max_batch_size(),
            max_delay_micros: default_max_delay_micros(),
        }
    }
}

fn default_max_batch_size() -> i32 {
    64
}

fn default_max_delay_micros() -> i32 {
    2000
}

/// A canary: a second model that receives a share of the traffic.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Canary {
    /// The canary model, chosen like `spec.model`.
    pub model: ModelSource,

    /// Percentage of requests sent to the canary, 0..100.
    #[schemars(range(min = 0, max = 100))]
    pub traffic_percent: i32,

    /// Serving pods of the canary, 1..100. Default: 1.
    #[serde(default = "default_canary_replicas")]
    #[schemars(range(min = 1, max = 100))]
    pub replicas: i32,
}

fn default_canary_replicas() -> i32 {
    1
}

/// Drift and latency monitoring of the live traffic.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Monitoring {
    /// Drift score (the largest population stability index over the input columns, live window
    /// against the training data) above which the deployment is Degraded with reason
    /// DriftDetected, in (0, 10]. Default: 0.2.
    #[serde(default = "default_drift_threshold")]
    #[schemars(range(min = 0.001, max = 10.0))]
    pub drift_threshold: f64,

    /// 99th-percentile latency objective in milliseconds; above it the deployment is Degraded
    /// with reason LatencySLOViolated. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.001))]
    pub latency_slo_ms: Option<f64>,

    /// Length in seconds of the window the live figures cover, 10..86400. Default: 300.
    #[serde(default = "default_window_seconds")]
    #[schemars(range(min = 10, max = 86400))]
    pub window_seconds: i32,
}

impl Default for Monitoring {
    fn default() -> Self {
        Self {
            drift_threshold: default_drift_threshold(),
            latency_slo_ms: None,
            window_seconds: default_window_seconds(),
        }
    }
}

fn default_drift_threshold() -> f64 {
    0.2
}

fn default_window_seconds() -> i32 {
    300
}

/// Observed state of a ModelDeployment.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelDeploymentStatus {
    /// Summary derived from the conditions: Pending, Progressing, Ready, Degraded or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ModelDeploymentPhase>,

    /// Conditions of types Ready, ModelLoaded, RolloutComplete and Degraded
    /// (`kubectl wait --for=condition=Ready`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Base URL of the inference endpoint (Open Inference Protocol v2 under `/v2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,

    /// Serving pods of the primary model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,

    /// Serving pods of the primary model that are ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,

    /// Label selector of the serving pods (for the scale subresource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,

    /// The model being served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ServedModel>,

    /// The canary, when one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryStatus>,

    /// Execution provider in use; differs from the spec when CUDA was asked for but the server
    /// fell back to CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_provider: Option<ExecutionProvider>,

    /// Live figures over the last `spec.monitoring.windowSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<ServingMetrics>,
}

/// Summary phase of a ModelDeployment.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ModelDeploymentPhase {
    /// Waiting for the model (for example a TrainingJob still training).
    Pending,
    /// Rolling out.
    Progressing,
    /// Serving the desired model.
    Ready,
    /// Serving, but drifting, slow or erroring (see the Degraded condition).
    Degraded,
    /// Cannot serve (for example a SHA-256 mismatch or a missing model).
    Failed,
}

/// A model as served.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServedModel {
    /// Where it came from: `trainingJob/<name>`, `tuningSweep/<name>/<trial>` or `uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Location of `model.onnx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Hex SHA-256 verified at load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Model family, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<ConcreteModelFamily>,
}

/// State of the canary.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStatus {
    /// The canary model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ServedModel>,
    /// Percentage of traffic it receives now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_percent: Option<i32>,
    /// Its ready pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Its live figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<ServingMetrics>,
}

/// Live serving figures.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServingMetrics {
    /// Requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<f64>,
    /// Median request latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p50_ms: Option<f64>,
    /// 99th-percentile request latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p99_ms: Option<f64>,
    /// Fraction of requests answered with an error, in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// Largest population stability index over the input columns against the training data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_score: Option<f64>,
    /// Input column with the largest drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub most_drifted_column: Option<String>,
    /// When these figures were taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Time>,
}
