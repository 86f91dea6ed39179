//! `TrainingJob`: train one model on a table and export it as ONNX.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::common::{
    ComputeResources, ConcreteModelFamily, DNS_SUBDOMAIN_PATTERN, Hyperparameters, Metric,
    ModelArtifact, ModelFamily, RunnerOverrides, S3Options, SOURCE_URI_PATTERN, Task,
};

/// Desired state of a TrainingJob: which data to learn from, which model to train, where it runs
/// and where the result goes.
// The printer columns repeat `type_` and `priority`, which clippy mistakes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "lepton.ai",
    version = "v1alpha1",
    kind = "TrainingJob",
    plural = "trainingjobs",
    singular = "trainingjob",
    shortname = "tj",
    category = "lepton",
    selectable = ".status.phase",
    namespaced,
    status = "TrainingJobStatus",
    derive = "PartialEq",
    doc = "A TrainingJob loads a table, preprocesses it, trains a model, exports it as ONNX with the preprocessing inside, and reports progress, validation metrics, cost and inference latency in its status.",
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Lifecycle phase"
    ),
    printcolumn(
        name = "Metric",
        type_ = "string",
        json_path = ".status.objective.metric",
        description = "Validation metric the job optimises"
    ),
    printcolumn(
        name = "Score",
        type_ = "number",
        json_path = ".status.objective.value",
        description = "Final value of that metric on the validation split"
    ),
    printcolumn(
        name = "Cost",
        type_ = "number",
        json_path = ".status.cost.total",
        description = "Training cost in the pool's currency"
    ),
    printcolumn(
        name = "Family",
        type_ = "string",
        json_path = ".status.model.family",
        priority = "1",
        description = "Model family trained"
    ),
    printcolumn(
        name = "P50-ms",
        type_ = "number",
        json_path = ".status.model.latencyP50Ms",
        priority = "1",
        description = "Median single-row inference latency"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct TrainingJobSpec {
    /// The table to learn from and how to read and preprocess it.
    pub data: DataSpec,

    /// The model to train: family, hyperparameters, early stopping and seed. Default: `family:
    /// auto` with each family's default hyperparameters.
    #[serde(default)]
    pub model: ModelSpec,

    /// Node pool, GPUs, CPU and memory of the training pod.
    #[serde(default)]
    pub resources: ComputeResources,

    /// Where `model.onnx` and `model.json` are written. Default: the operator's artifact store,
    /// under `<namespace>/<name>/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputSpec>,

    /// Retries, deadlines, clean-up, suspension and priority of the training Job.
    #[serde(default)]
    pub run_policy: RunPolicy,

    /// Overrides for the runner pod: image, service account, extra environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<RunnerOverrides>,
}

/// The training data: location, format, target column, task, split and preprocessing.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.dropColumns) || !(self.target in self.dropColumns)").message("dropColumns must not contain the target column; remove it from dropColumns").field_path(".dropColumns"))]
pub struct DataSpec {
    /// Location of the table: `https://host/path.csv`, `s3://bucket/key` (see `s3`),
    /// `pvc://claim/path` (a PersistentVolumeClaim in the job's namespace, mounted read-only) or
    /// `file:///path` (a path on the node or in the runner image; local mode reads the local
    /// machine). Immutable after creation.
    #[x_kube(validation = Rule::new("self == oldSelf").message("is immutable: create a new TrainingJob to train on other data"))]
    #[schemars(length(min = 1, max = 2048), regex(pattern = SOURCE_URI_PATTERN))]
    pub source: String,

    /// File format. `auto` infers it from the extension (`.csv`, `.csv.gz`, `.tsv`, `.parquet`),
    /// falling back to CSV. Default: auto.
    #[serde(default)]
    pub format: DataFormat,

    /// Options for reading CSV files.
    #[serde(default)]
    pub csv: CsvOptions,

    /// Object-store settings for `s3://` sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Options>,

    /// Name of the column to predict. Immutable after creation.
    #[x_kube(validation = Rule::new("self == oldSelf").message("is immutable: create a new TrainingJob to predict another column"))]
    #[schemars(length(min = 1, max = 256))]
    pub target: String,

    /// The learning task. `auto` infers it from the target column. Default: auto.
    #[serde(default)]
    pub task: Task,

    /// Fraction of rows held out for validation (stratified by class for classification), in
    /// [0.05, 0.5]. Default: 0.2.
    #[serde(default = "default_validation_fraction")]
    #[schemars(range(min = 0.05, max = 0.5))]
    pub validation_fraction: f64,

    /// Columns to ignore (at most 256), for example identifiers or columns that leak the target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), inner(length(min = 1, max = 256)))]
    pub drop_columns: Vec<String>,

    /// Automatic preprocessing. Every step is on by default and can be turned off or tuned; the
    /// runner reports what each step did in `model.json` and the logs.
    #[serde(default)]
    pub preprocessing: Preprocessing,
}

fn default_validation_fraction() -> f64 {
    0.2
}

/// Format of the data file.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum DataFormat {
    /// Infer from the file extension.
    #[default]
    Auto,
    /// Delimited text, optionally gzip-compressed.
    Csv,
    /// Apache Parquet.
    Parquet,
}

/// How CSV files are read.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CsvOptions {
    /// Field delimiter, one character. Default: `,` (`\t` for `.tsv` files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1))]
    pub delimiter: Option<String>,

    /// Whether the first row holds the column names. Without one, columns are named
    /// `column_1`, `column_2`, ... Default: true.
    #[serde(default = "default_true")]
    pub header: bool,

    /// Cell values read as missing, in addition to empty cells. Default: `NA`, `N/A`, `null`,
    /// `NaN`, `?`.
    #[serde(default = "default_null_values")]
    #[schemars(length(max = 32), inner(length(max = 64)))]
    pub null_values: Vec<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: None,
            header: true,
            null_values: default_null_values(),
        }
    }
}

fn default_null_values() -> Vec<String> {
    ["NA", "N/A", "null", "NaN", "?"]
        .into_iter()
        .map(String::from)
        .collect()
}

pub(crate) fn default_true() -> bool {
    true
}

/// Automatic preprocessing steps, applied in this order: duplicates, id/constant columns,
/// imputation, outlier clipping, one-hot encoding, standardisation; then the split and class
/// weights. All of it is exported inside the ONNX graph, so the served model takes raw rows.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Preprocessing {
    /// Remove exact duplicate rows before splitting, so validation rows never repeat training
    /// rows. Default: true.
    #[serde(default = "default_true")]
    pub remove_duplicates: bool,

    /// Drop columns that look like identifiers (unique per row, for example `ID`) and columns
    /// with a single value. Default: true.
    #[serde(default = "default_true")]
    pub drop_id_and_constant_columns: bool,

    /// Filling in of missing values.
    #[serde(default)]
    pub imputation: Imputation,

    /// Clipping of numeric outliers to quantiles learned on the training split.
    #[serde(default)]
    pub outliers: OutlierClipping,

    /// One-hot encoding of categorical columns.
    #[serde(default)]
    pub categorical: CategoricalEncoding,

    /// Scale numeric columns to zero mean and unit variance (learned on the training split).
    /// Trees ignore it. Default: true.
    #[serde(default = "default_true")]
    pub standardize: bool,

    /// Keep class proportions equal in the training and validation splits (classification
    /// only). Default: true.
    #[serde(default = "default_true")]
    pub stratify: bool,

    /// Weighting of classes in the loss. `balanced` weights each class by the inverse of its
    /// frequency, which helps imbalanced data; `none` weights all rows equally. Default: balanced.
    #[serde(default)]
    pub class_weights: ClassWeights,
}

impl Default for Preprocessing {
    fn default() -> Self {
        Self {
            remove_duplicates: true,
            drop_id_and_constant_columns: true,
            imputation: Imputation::default(),
            outliers: OutlierClipping::default(),
            categorical: CategoricalEncoding::default(),
            standardize: true,
            stratify: true,
            class_weights: ClassWeights::default(),
        }
    }
}

/// How missing values are filled in.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Imputation {
    /// Fill missing values. When off, a row with a missing value fails the job with the row
    /// number. Default: true.
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// Value used for missing numeric cells: `median`, `mean` or `zero` (statistics of the
    /// training split). Default: median.
    #[serde(default)]
    pub numeric: NumericImputation,

    /// Add a 0/1 indicator column for each numeric column that had missing values in training.
    /// Default: true.
    #[serde(default = "default_true")]
    pub missing_indicator: bool,
}

impl Default for Imputation {
    fn default() -> Self {
        Self {
            enabled: true,
            numeric: NumericImputation::default(),
            missing_indicator: true,
        }
    }
}

/// Statistic that fills missing numeric cells; categorical cells always take the most
/// frequent category.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum NumericImputation {
    /// The training split's median.
    #[default]
    Median,
    /// The training split's mean.
    Mean,
    /// Zero.
    Zero,
}

/// Quantile clipping of numeric columns. The bounds of the two quantiles keep the lower one
/// below the upper one.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutlierClipping {
    /// Clip outliers. Default: true.
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// Values below this training-split quantile are raised to it, in [0, 0.5). Default: 0.001.
    #[serde(default = "default_lower_quantile")]
    #[schemars(range(min = 0.0, max = 0.49))]
    pub lower_quantile: f64,

    /// Values above this training-split quantile are lowered to it, in (0.5, 1]. Default: 0.999.
    #[serde(default = "default_upper_quantile")]
    #[schemars(range(min = 0.51, max = 1.0))]
    pub upper_quantile: f64,
}

impl Default for OutlierClipping {
    fn default() -> Self {
        Self {
            enabled: true,
            lower_quantile: default_lower_quantile(),
            upper_quantile: default_upper_quantile(),
        }
    }
}

fn default_lower_quantile() -> f64 {
    0.001
}

fn default_upper_quantile() -> f64 {
    0.999
}

/// One-hot encoding of categorical columns.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CategoricalEncoding {
    /// Encode categorical columns; when off, they are dropped. Default: true.
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// Most categories kept per column (the most frequent ones), 2..1024; the rest, and
    /// categories first seen at serving time, go to an `other` bucket. Default: 32.
    #[serde(default = "default_max_categories")]
    #[schemars(range(min = 2, max = 1024))]
    pub max_categories: u32,

    /// Categories seen in fewer training rows than this go to the `other` bucket, 1..100000.
    /// Default: 5.
    #[serde(default = "default_min_frequency")]
    #[schemars(range(min = 1, max = 100000))]
    pub min_frequency: u32,
}

impl Default for CategoricalEncoding {
    fn default() -> Self {
        Self {
            enabled: true,
            max_categories: default_max_categories(),
            min_frequency: default_min_frequency(),
        }
    }
}

fn default_max_categories() -> u32 {
    32
}

fn default_min_frequency() -> u32 {
    5
}

/// Class weighting in the loss.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum ClassWeights {
    /// Inverse class frequency.
    #[default]
    Balanced,
    /// Equal weights.
    None,
}

/// The model to train.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.family == 'auto' || !has(self.candidates)").message("candidates applies only to family auto: remove candidates or set family to auto").field_path(".candidates"))]
pub struct ModelSpec {
    /// Model family: `linear` (logistic or linear regression), `mlp` (multi-layer perceptron),
    /// `gbdt` (gradient-boosted decision trees), or `auto`, which trains each of `candidates`
    /// within the job's time budget and keeps the best on the validation metric. Default: auto.
    #[serde(default)]
    pub family: ModelFamily,

    /// Families `auto` tries, in order (1 to 3 distinct entries). Default: linear, gbdt, mlp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 3))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub candidates: Option<Vec<ConcreteModelFamily>>,

    /// Validation metric used for early stopping, for choosing among `auto`'s candidates, and
    /// reported as `status.objective`. It must suit the task. Default: auc (binary), accuracy
    /// (multiclass), rmse (regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,

    /// Hyperparameters; unset ones take the family's defaults.
    #[serde(default)]
    pub hyperparameters: Hyperparameters,

    /// Stop training when the validation metric stops improving.
    #[serde(default)]
    pub early_stopping: EarlyStopping,

    /// Seed of every random choice (split, initialisation, shuffling, subsampling), so that
    /// the same spec on the same data trains the same model. Default: 42.
    #[serde(default = "default_seed")]
    #[schemars(range(min = 0))]
    pub seed: i64,
}

impl Default for ModelSpec {
    fn default() -> Self {
        Self {
            family: ModelFamily::Auto,
            candidates: None,
            metric: None,
            hyperparameters: Hyperparameters::default(),
            early_stopping: EarlyStopping::default(),
            seed: default_seed(),
        }
    }
}

fn default_seed() -> i64 {
    42
}

/// Early stopping on the validation metric.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EarlyStopping {
    /// Stop early. Default: true.
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// Evaluations (epochs, or rounds of 10 trees for gbdt) without improvement before
    /// stopping, 1..1000. Default: 10.
    #[serde(default = "default_patience")]
    #[schemars(range(min = 1, max = 1000))]
    pub patience: u32,

    /// Smallest change of the metric that counts as an improvement, >= 0. Default: 0.0001.
    #[serde(default = "default_min_delta")]
    #[schemars(range(min = 0.0))]
    pub min_delta: f64,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        Self {
            enabled: true,
            patience: default_patience(),
            min_delta: default_min_delta(),
        }
    }
}

fn default_patience() -> u32 {
    10
}

fn default_min_delta() -> f64 {
    0.0001
}

/// Where the trained model is written.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputSpec {
    /// Location prefix for the artifacts: `s3://bucket/prefix`, `pvc://claim/path` or
    /// `file:///path`. The runner writes `model.onnx` and `model.json` under it.
    #[schemars(length(min = 1, max = 2048), regex(pattern = r"^(s3|pvc|file)://.+$"))]
    pub uri: String,

    /// Object-store settings for an `s3://` prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Options>,
}

/// Retries, deadlines, clean-up, suspension and scheduling priority of the training Job.
/// To queue jobs with Kueue, set the label `kueue.x-k8s.io/queue-name` on the TrainingJob (it is
/// passed through to the Job) and create it suspended.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunPolicy {
    /// Retries of a failed training pod before the job is Failed, 0..20. Default: 1.
    #[serde(default = "default_backoff_limit")]
    #[schemars(range(min = 0, max = 20))]
    pub backoff_limit: i32,

    /// Seconds the job may run, counted from its start, before it is stopped and marked Failed
    /// with reason DeadlineExceeded. `family: auto` divides this budget among its candidates.
    /// Default: no deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub active_deadline_seconds: Option<i64>,

    /// Seconds after the job finishes before its pods and Job are deleted (the TrainingJob and
    /// its status stay). Default: kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub ttl_seconds_after_finished: Option<i32>,

    /// Create the job without starting it, or stop a running one (its pod is deleted and it
    /// starts again from the beginning when resumed). Default: false.
    #[serde(default)]
    pub suspend: bool,

    /// PriorityClass of the training pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub priority_class_name: Option<String>,
}

impl Default for RunPolicy {
    fn default() -> Self {
        Self {
            backoff_limit: default_backoff_limit(),
            active_deadline_seconds: None,
            ttl_seconds_after_finished: None,
            suspend: false,
            priority_class_name: None,
        }
    }
}

fn default_backoff_limit() -> i32 {
    1
}

/// Observed state of a TrainingJob, written by the operator and by the job's own runner.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrainingJobStatus {
    /// Lifecycle phase, derived from the conditions: Pending, Running, Succeeded, Failed,
    /// Stopped or Suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<TrainingJobPhase>,

    /// Conditions of types Created, Running, Succeeded, Failed, Stopped and Suspended
    /// (`kubectl wait --for=condition=Succeeded`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// When the training pod first started running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,

    /// When the job reached Succeeded or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,

    /// Training pods started so far (1 plus retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i32>,

    /// Live progress, pushed by the runner while it trains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<TrainingProgress>,

    /// The job's objective: the metric named in `spec.model.metric` (or the task's default) and
    /// its final validation value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<ObjectiveValue>,

    /// Final validation metrics by name (for example `auc`, `logLoss`, `f1`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,

    /// What the data looked like after preprocessing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataSummary>,

    /// What training cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<TrainingCost>,

    /// The exported model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelArtifact>,
}

/// Lifecycle phase of a TrainingJob.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum TrainingJobPhase {
    /// Accepted; the training pod has not started (scheduling, pulling, queued).
    Pending,
    /// The training pod is running.
    Running,
    /// A model was trained and exported.
    Succeeded,
    /// The job failed for good (see the Failed condition's reason).
    Failed,
    /// Suspended by `spec.runPolicy.suspend` or a queue.
    Suspended,
    /// Stopped before it finished, on request: the annotation `lepton.ai/stop` (set by a
    /// TuningSweep's early stopping or budget, or by hand with `kubectl annotate`).
    Stopped,
}

/// A metric name with its value.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectiveValue {
    /// Name of the metric.
    pub metric: Metric,
    /// Its value on the validation split.
    pub value: f64,
}

/// Progress of a running training pod.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrainingProgress {
    /// Family being trained now (changes while `auto` works through its candidates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<ConcreteModelFamily>,

    /// Current epoch (linear, mlp) or number of trees (gbdt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<i64>,

    /// Planned epochs or trees; early stopping may finish before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_steps: Option<i64>,

    /// Validation metrics at the current step.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,

    /// The learning curve of the family being trained: the objective metric on the
    /// validation split by step, at most 64 points (a longer curve is thinned evenly, always
    /// keeping the latest step). TuningSweeps' early stopping compares trials on it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub objective_curve: Vec<CurvePoint>,

    /// When the runner last reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Time>,
}

/// One point of a learning curve.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurvePoint {
    /// Epoch (linear, mlp) or number of trees (gbdt).
    pub step: i64,
    /// The objective metric's validation value after that step.
    pub value: f64,
}

/// Rows and columns after preprocessing.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSummary {
    /// Rows read from the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_read: Option<i64>,
    /// Rows in the training split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_rows: Option<i64>,
    /// Rows in the validation split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_rows: Option<i64>,
    /// Feature columns the model was trained on, after encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<i64>,
    /// Inferred or given task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
}

/// Training cost: pod hours times the node pool's price.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrainingCost {
    /// GPU-hours used (GPUs × hours the training pod ran, all attempts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_hours: Option<f64>,
    /// Hours the training pods ran, all attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_hours: Option<f64>,
    /// The pool's price used: per GPU-hour when the pool is priced by GPU, otherwise per
    /// node-hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_hour: Option<f64>,
    /// Total cost in `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
    /// Currency of the prices, as configured by the cluster admin (for example USD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl TrainingJobSpec {
    /// The concrete family this spec asks for, if it names one.
    pub fn concrete_family(&self) -> Option<ConcreteModelFamily> {
        match self.model.family {
            ModelFamily::Auto => None,
            ModelFamily::Linear => Some(ConcreteModelFamily::Linear),
            ModelFamily::Mlp => Some(ConcreteModelFamily::Mlp),
            ModelFamily::Gbdt => Some(ConcreteModelFamily::Gbdt),
        }
    }
}
