//! Types shared by more than one Lepton kind: compute resources, runner overrides, object-store
//! options, model families, metrics and the typed hyperparameters.

use k8s_openapi::api::core::v1::EnvVar;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Pattern of a Kubernetes object name that is a DNS-1123 label (RFC 1123): lower-case
/// alphanumerics and '-', starting and ending with an alphanumeric, at most 63 characters.
pub const DNS_LABEL_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// Pattern of a DNS-1123 subdomain (dot-separated labels), used for names such as
/// priority classes and service accounts.
pub const DNS_SUBDOMAIN_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// Pattern of a data or model location: one of the URI schemes Lepton reads from.
pub const SOURCE_URI_PATTERN: &str = r"^(https?|s3|pvc|file)://.+$";

/// Pattern of a hex-encoded SHA-256 digest.
pub const SHA256_PATTERN: &str = "^[a-f0-9]{64}$";

/// Compute a pod asks for: the node pool it lands on and the GPUs, CPU and memory it requests.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComputeResources {
    /// Name of a node pool defined by the cluster admin in the operator's configuration. The pool
    /// carries the nodeSelector, tolerations, affinity, GPU resource name and the price per hour
    /// used for cost reporting. Default: the operator's default pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63), regex(pattern = DNS_LABEL_PATTERN))]
    pub node_pool: Option<String>,

    /// Number of GPUs requested per pod (as the pool's GPU resource, `nvidia.com/gpu` unless the
    /// pool says otherwise). 0 runs on CPU. Default: 0.
    #[serde(default)]
    #[schemars(range(min = 0, max = 16))]
    pub gpus: u32,

    /// CPU requested per pod, as a Kubernetes quantity (for example `2` or `500m`). The limit is
    /// set equal to the request. Default: the operator's configured default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Quantity>,

    /// Memory requested per pod, as a Kubernetes quantity (for example `4Gi`). The limit is set
    /// equal to the request. Default: the operator's configured default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Quantity>,
}

/// When the kubelet pulls the runner image.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ImagePullPolicy {
    /// Pull on every pod start.
    Always,
    /// Pull only when the image is not on the node.
    IfNotPresent,
    /// Never pull; the image must already be on the node.
    Never,
}

/// Overrides for the pods that run `lepton-runner`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunnerOverrides {
    /// Container image of the runner. Default: the operator's configured runner image (its CUDA
    /// variant when GPUs are requested).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,

    /// Image pull policy of the runner container. Default: Kubernetes' default for the image tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<ImagePullPolicy>,

    /// Service account the runner pod uses (for example one bound to cloud storage credentials
    /// through workload identity). Default: one the operator creates with only the permissions the
    /// runner needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub service_account_name: Option<String>,

    /// Extra environment variables for the runner container (at most 64), for example proxy
    /// settings or `valueFrom` references to Secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub env: Vec<EnvVar>,
}

/// Settings for `s3://` locations on any S3-compatible object store.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Options {
    /// Endpoint URL of the object store, for example `https://minio.storage.svc:9000`.
    /// Default: AWS S3 for the region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^https?://.+$"))]
    pub endpoint: Option<String>,

    /// Region of the bucket. Default: `us-east-1`, or `AWS_REGION` in the runner's environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub region: Option<String>,

    /// Name of a Secret in the resource's namespace with the keys `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` (and optionally `AWS_SESSION_TOKEN`). Default: credentials from
    /// the runner's environment or its service account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub credentials_secret: Option<String>,

    /// Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key`; most
    /// self-hosted stores (MinIO, Ceph) need this. Default: true when `endpoint` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_path_style: Option<bool>,
}

/// A family of models Lepton can train.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum ModelFamily {
    /// Try the families listed in `model.candidates` within the job's budget and keep the best on
    /// the validation metric.
    #[default]
    Auto,
    /// Logistic regression (classification) or linear regression, trained by gradient descent.
    Linear,
    /// Multi-layer perceptron.
    Mlp,
    /// Gradient-boosted decision trees.
    Gbdt,
}

/// A concrete model family (everything `auto` can choose from).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ConcreteModelFamily {
    /// Logistic or linear regression.
    Linear,
    /// Multi-layer perceptron.
    Mlp,
    /// Gradient-boosted decision trees.
    Gbdt,
}

/// The learning task, which decides the loss, the output layer and the metrics.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum Task {
    /// Inferred from the target column: two distinct values give binary, a few (up to 50) string
    /// or integer values give multiclass, anything else numeric gives regression.
    #[default]
    Auto,
    /// Two classes.
    Binary,
    /// Three or more classes.
    Multiclass,
    /// A numeric target.
    Regression,
}

/// A validation metric Lepton computes. Which ones apply depends on the task: binary
/// (accuracy, auc, logLoss, f1, precision, recall), multiclass (accuracy, macroF1, logLoss),
/// regression (rmse, mae, r2).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Metric {
    /// Fraction of rows classified correctly (higher is better).
    Accuracy,
    /// Area under the ROC curve (higher is better).
    Auc,
    /// Cross-entropy of the predicted probabilities (lower is better).
    LogLoss,
    /// F1 score of the positive class (higher is better).
    F1,
    /// Precision of the positive class (higher is better).
    Precision,
    /// Recall of the positive class (higher is better).
    Recall,
    /// Unweighted mean of the per-class F1 scores (higher is better).
    MacroF1,
    /// Root mean squared error (lower is better).
    Rmse,
    /// Mean absolute error (lower is better).
    Mae,
    /// Coefficient of determination (higher is better).
    R2,
}

impl Metric {
    /// Every metric, in a stable order.
    pub const ALL: [Metric; 10] = [
        Metric::Accuracy,
        Metric::Auc,
        Metric::LogLoss,
        Metric::F1,
        Metric::Precision,
        Metric::Recall,
        Metric::MacroF1,
        Metric::Rmse,
        Metric::Mae,
        Metric::R2,
    ];

    /// The name used in manifests and in metric maps, for example `logLoss`.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Auc => "auc",
            Metric::LogLoss => "logLoss",
            Metric::F1 => "f1",
            Metric::Precision => "precision",
            Metric::Recall => "recall",
            Metric::MacroF1 => "macroF1",
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
            Metric::R2 => "r2",
        }
    }

    /// Whether a larger value of this metric is better.
    pub fn goal(self) -> Goal {
        match self {
            Metric::LogLoss | Metric::Rmse | Metric::Mae => Goal::Minimize,
            _ => Goal::Maximize,
        }
    }

    /// The metric a job optimises when it names none: AUC for binary, accuracy for multiclass,
    /// RMSE for regression.
    pub fn default_for(task: Task) -> Option<Metric> {
        match task {
            Task::Binary => Some(Metric::Auc),
            Task::Multiclass => Some(Metric::Accuracy),
            Task::Regression => Some(Metric::Rmse),
            Task::Auto => None,
        }
    }
}

/// Whether an objective is to be made as large or as small as possible.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Goal {
    /// Larger is better.
    Maximize,
    /// Smaller is better.
    Minimize,
}

/// Gradient-descent optimizer for the linear and MLP families.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Optimizer {
    /// Adam with decoupled weight decay (AdamW).
    Adam,
    /// Stochastic gradient descent with momentum 0.9.
    Sgd,
}

/// Activation function of an MLP's hidden layers.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Activation {
    /// max(0, x).
    Relu,
    /// Hyperbolic tangent.
    Tanh,
    /// Gaussian error linear unit (tanh approximation).
    Gelu,
}

/// Typed, named hyperparameters. Each applies to the families listed in its description and is
/// ignored by the others; unset ones take the family's default, which the runner records in
/// `model.json`. TuningSweep parameters refer to these names.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Hyperparameters {
    /// Step size (linear, mlp) or shrinkage per tree (gbdt), in (0, 10]. Family defaults: linear
    /// 0.05, mlp 0.001, gbdt 0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 10.0))]
    pub learning_rate: Option<f64>,

    /// Maximum passes over the training data (linear, mlp), 1..10000; early stopping may end
    /// training sooner. Family defaults: linear 100, mlp 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub epochs: Option<u32>,

    /// Rows per gradient step (linear, mlp), 1..65536. Default: 256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65536))]
    pub batch_size: Option<u32>,

    /// Optimizer (linear, mlp): `adam` (AdamW, with decoupled weight decay) or `sgd` (with
    /// momentum 0.9). Default: adam.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<Optimizer>,

    /// Widths of the hidden layers, input side first (mlp), at most 8 layers of 1..4096 units.
    /// Default: [64, 32].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 8), inner(range(min = 1, max = 4096)))]
    pub hidden_layers: Option<Vec<u32>>,

    /// Activation of the hidden layers (mlp): `relu`, `tanh` or `gelu`. Default: relu.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<Activation>,

    /// Dropout probability after each hidden layer (mlp), in [0, 0.9]. Default: 0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 0.9))]
    pub dropout: Option<f64>,

    /// L2 penalty, >= 0: decoupled weight decay (linear, mlp) or the L2 penalty on leaf values
    /// (gbdt). Family defaults: linear 0.0001, mlp 0.0001, gbdt 1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1000.0))]
    pub weight_decay: Option<f64>,

    /// Number of boosting rounds (gbdt), 1..100000; early stopping may end training sooner.
    /// Default: 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100000))]
    pub num_trees: Option<u32>,

    /// Maximum depth of each tree (gbdt), 1..16. Default: 6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 16))]
    pub max_depth: Option<u32>,

    /// Minimum training rows in a leaf (gbdt), 1..100000. Default: 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100000))]
    pub min_samples_leaf: Option<u32>,

    /// Fraction of rows sampled for each tree (gbdt), in (0, 1]. Default: 1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.01, max = 1.0))]
    pub subsample: Option<f64>,

    /// Fraction of feature columns sampled for each tree (gbdt), in (0, 1]. Default: 1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.01, max = 1.0))]
    pub feature_fraction: Option<f64>,

    /// Number of histogram bins per numeric feature (gbdt), 8..1024. Default: 255.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 8, max = 1024))]
    pub max_bins: Option<u32>,
}

/// Names of the fields of [`Hyperparameters`] as they appear in manifests; a TuningSweep
/// parameter must name one of these (or `family`).
pub const HYPERPARAMETER_NAMES: [&str; 14] = [
    "learningRate",
    "epochs",
    "batchSize",
    "optimizer",
    "hiddenLayers",
    "activation",
    "dropout",
    "weightDecay",
    "numTrees",
    "maxDepth",
    "minSamplesLeaf",
    "subsample",
    "featureFraction",
    "maxBins",
];

/// Summary of a trained model artifact, as recorded by the runner at export.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelArtifact {
    /// Location of `model.onnx`; `model.json` sits beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,

    /// Hex SHA-256 of `model.onnx`, recorded at export and checked before serving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,

    /// Size of `model.onnx` in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,

    /// Model family that was trained (the one `auto` chose, if it was used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<ConcreteModelFamily>,

    /// Median latency in milliseconds of one single-row prediction through ONNX Runtime on the
    /// training node, measured by the runner after export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p50_ms: Option<f64>,

    /// 99th-percentile latency in milliseconds of one single-row prediction, measured as above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p99_ms: Option<f64>,

    /// Number of raw input columns the model takes (preprocessing is inside the graph).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_columns: Option<i32>,

    /// The model's inputs as `name:type` pairs, comma-separated, cut at 1024 characters
    /// (`model.json` has the full schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub input_schema: Option<String>,
}
