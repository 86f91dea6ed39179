//! `TuningSweep`: hyperparameter search that runs TrainingJobs as trials and keeps the
//! quality × cost × speed frontier.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::common::{ConcreteModelFamily, Goal, Metric};
use super::training_job::TrainingJobSpec;

/// Desired state of a TuningSweep: what to optimise, over which parameters, with which search
/// algorithm, how many trials at once and within which budget.
// The printer columns repeat `type_` and `priority`, which clippy mistakes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "lepton.ai",
    version = "v1alpha1",
    kind = "TuningSweep",
    plural = "tuningsweeps",
    singular = "tuningsweep",
    shortname = "ts",
    category = "lepton",
    selectable = ".status.phase",
    namespaced,
    status = "TuningSweepStatus",
    derive = "PartialEq",
    doc = "A TuningSweep searches hyperparameters by running TrainingJobs as trials, stops unpromising ones early, respects time and cost budgets, and keeps the best trial and the Pareto front of quality against cost, latency and model size.",
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Lifecycle phase"
    ),
    printcolumn(
        name = "Trials",
        type_ = "string",
        json_path = ".status.progress",
        description = "Finished trials / maxTrials"
    ),
    printcolumn(
        name = "Metric",
        type_ = "string",
        json_path = ".spec.objective.metric",
        description = "Objective metric"
    ),
    printcolumn(
        name = "Best",
        type_ = "number",
        json_path = ".status.bestTrial.objective",
        description = "Best objective value so far"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.finishReason",
        priority = "1",
        description = "Why the sweep finished"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("self.parallelTrials <= self.maxTrials").message("parallelTrials must be less than or equal to maxTrials").field_path(".parallelTrials"))]
#[x_kube(validation = Rule::new("!has(self.earlyStopping) || !(self.algorithm.type in ['asha', 'hyperband'])").message("earlyStopping cannot be combined with algorithm.type asha or hyperband, which stop trials themselves: remove one of them").field_path(".earlyStopping"))]
#[x_kube(validation = Rule::new("!(self.algorithm.type in ['asha', 'hyperband']) || !self.parameters.exists(p, p.name == self.algorithm.fidelity.parameter)").message("parameters must not tune the hyperparameter named in algorithm.fidelity.parameter: asha and hyperband set it for each trial").field_path(".parameters"))]
#[serde(rename_all = "camelCase")]
pub struct TuningSweepSpec {
    /// The metric to optimise and, optionally, a value that ends the sweep when reached.
    pub objective: Objective,

    /// Secondary objectives, always minimised, that span the Pareto front with the objective
    /// (at most 4 distinct entries): `cost` (training cost), `latency` (median single-row
    /// inference latency), `modelSize` (bytes of `model.onnx`) and `trainingTime` (wall clock).
    /// ModelDeployments choose along this front. Default: cost, latency.
    #[serde(default = "default_pareto_objectives")]
    #[schemars(length(max = 4))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub pareto_objectives: Vec<ParetoObjective>,

    /// Search algorithm and its settings.
    #[serde(default)]
    pub algorithm: Algorithm,

    /// Early stopping of trials that are unlikely to beat the others. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<SweepEarlyStopping>,

    /// The search space: 1 to 32 parameters with distinct names.
    #[schemars(length(min = 1, max = 32))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub parameters: Vec<ParameterSpec>,

    /// Most trials to run, 1..10000. Changing it on a running sweep takes effect at once and
    /// keeps finished trials. Default: 20.
    #[serde(default = "default_max_trials")]
    #[schemars(range(min = 1, max = 10000))]
    pub max_trials: i32,

    /// Most trials running at the same time, 1..256, at most maxTrials. Default: 2.
    #[serde(default = "default_parallel_trials")]
    #[schemars(range(min = 1, max = 256))]
    pub parallel_trials: i32,

    /// Failed trials (not early-stopped ones) after which the sweep is Failed, 0..10000.
    /// Default: 3.
    #[serde(default = "default_max_failed_trials")]
    #[schemars(range(min = 0, max = 10000))]
    pub max_failed_trials: i32,

    /// Limits on wall-clock time and on cost; when one is reached no new trials start, running
    /// ones are stopped, and the sweep finishes with the best trial so far. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,

    /// The TrainingJob every trial runs, with the trial's parameters set in
    /// `spec.model.hyperparameters` (and `spec.model.family` when `family` is tuned).
    pub template: TrialTemplate,
}

fn default_pareto_objectives() -> Vec<ParetoObjective> {
    vec![ParetoObjective::Cost, ParetoObjective::Latency]
}

fn default_max_trials() -> i32 {
    20
}

fn default_parallel_trials() -> i32 {
    2
}

fn default_max_failed_trials() -> i32 {
    3
}

/// The sweep's objective.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.goal) || (self.metric in ['logLoss', 'rmse', 'mae'] ? self.goal == 'minimize' : self.goal == 'maximize')").message("goal contradicts metric: logLoss, rmse and mae are minimized, the other metrics maximized; omit goal to use the metric's direction").field_path(".goal"))]
pub struct Objective {
    /// Validation metric to optimise; every trial's TrainingJob reports it.
    pub metric: Metric,

    /// Direction of the metric. Default: the metric's own (minimize for logLoss, rmse and mae,
    /// maximize for the others); a contradicting value is rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<Goal>,

    /// Finish the sweep (reason GoalReached) as soon as a trial reaches this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_value: Option<f64>,
}

/// A secondary objective of the Pareto front; each is minimised.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ParetoObjective {
    /// Training cost of the trial (pool price × hours × GPUs).
    Cost,
    /// Median single-row inference latency measured by the runner.
    Latency,
    /// Size of `model.onnx` in bytes.
    ModelSize,
    /// Wall-clock training time.
    TrainingTime,
}

/// Which search algorithm proposes trials.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum AlgorithmType {
    /// Every combination of the parameters' grid points, in a fixed order.
    Grid,
    /// Independent draws from each parameter's range (uniform, or log-uniform with `scale: log`).
    #[default]
    Random,
    /// Tree-structured Parzen estimator: random at first, then draws where good trials were.
    Tpe,
    /// Asynchronous successive halving: trials start with little fidelity (few epochs or trees)
    /// and the best fraction is promoted to more.
    Asha,
    /// Successive halving over several brackets that trade many cheap trials against few long
    /// ones.
    Hyperband,
}

/// The search algorithm and its settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Algorithm {
    /// Algorithm: `grid` (every combination of the parameters' grid points), `random`
    /// (independent draws, log-uniform for `scale: log`), `tpe` (tree-structured Parzen
    /// estimator: random at first, then draws where good trials were), `asha` (asynchronous
    /// successive halving: trials start at low `fidelity` and the best third, by default, are
    /// promoted) or `hyperband` (successive halving over several brackets, trading many short
    /// trials against few long ones). Default: random.
    #[serde(default, rename = "type")]
    pub type_: AlgorithmType,

    /// Seed of the algorithm's random choices: the same seed and the same observed trials give
    /// the same suggestions, so a restarted operator resumes exactly. Default: 42.
    #[serde(default = "default_algorithm_seed")]
    #[schemars(range(min = 0))]
    pub seed: i64,

    /// Grid settings (grid only).
    #[serde(default)]
    pub grid: GridSettings,

    /// TPE settings (tpe only).
    #[serde(default)]
    pub tpe: TpeSettings,

    /// Fidelity schedule (asha and hyperband only).
    #[serde(default)]
    pub fidelity: FidelitySettings,
}

impl Default for Algorithm {
    fn default() -> Self {
        Self {
            type_: AlgorithmType::default(),
            seed: default_algorithm_seed(),
            grid: GridSettings::default(),
            tpe: TpeSettings::default(),
            fidelity: FidelitySettings::default(),
        }
    }
}

fn default_algorithm_seed() -> i64 {
    42
}

/// Grid search settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GridSettings {
    /// Points taken from each double or int range (evenly spaced, on a log scale for
    /// `scale: log`), 2..100. Categorical parameters use all their values. Default: 4.
    #[serde(default = "default_grid_points")]
    #[schemars(range(min = 2, max = 100))]
    pub points_per_parameter: i32,
}

impl Default for GridSettings {
    fn default() -> Self {
        Self {
            points_per_parameter: default_grid_points(),
        }
    }
}

fn default_grid_points() -> i32 {
    4
}

/// Tree-structured Parzen estimator settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TpeSettings {
    /// Random trials before the model is used, 1..1000. Default: 8.
    #[serde(default = "default_startup_trials")]
    #[schemars(range(min = 1, max = 1000))]
    pub startup_trials: i32,

    /// Candidates drawn per suggestion, of which the best by expected improvement is taken,
    /// 1..10000. Default: 24.
    #[serde(default = "default_ei_candidates")]
    #[schemars(range(min = 1, max = 10000))]
    pub candidates: i32,

    /// Fraction of finished trials counted as good, in [0.05, 0.5]. Default: 0.25.
    #[serde(default = "default_gamma")]
    #[schemars(range(min = 0.05, max = 0.5))]
    pub gamma: f64,
}

impl Default for TpeSettings {
    fn default() -> Self {
        Self {
            startup_trials: default_startup_trials(),
            candidates: default_ei_candidates(),
            gamma: default_gamma(),
        }
    }
}

fn default_startup_trials() -> i32 {
    8
}

fn default_ei_candidates() -> i32 {
    24
}

fn default_gamma() -> f64 {
    0.25
}

/// The fidelity (training budget per trial) that ASHA and Hyperband raise step by step.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.minResource < self.maxResource").message("minResource must be less than maxResource").field_path(".minResource"))]
pub struct FidelitySettings {
    /// Hyperparameter that measures fidelity: `epochs` (linear, mlp) or `numTrees` (gbdt).
    /// Default: epochs.
    #[serde(default)]
    pub parameter: FidelityParameter,

    /// Fidelity of the first rung, 1..100000. Default: 1.
    #[serde(default = "default_min_resource")]
    #[schemars(range(min = 1, max = 100000))]
    pub min_resource: i32,

    /// Fidelity of the last rung (a full trial), 2..100000. Default: 27.
    #[serde(default = "default_max_resource")]
    #[schemars(range(min = 2, max = 100000))]
    pub max_resource: i32,

    /// Factor by which each rung multiplies fidelity and divides the trials promoted, 2..10.
    /// Default: 3.
    #[serde(default = "default_reduction_factor")]
    #[schemars(range(min = 2, max = 10))]
    pub reduction_factor: i32,

    /// How new configurations are chosen: `tpe` (a tree-structured Parzen estimator, with the
    /// `tpe` settings, fitted to the results of the highest rung that has at least
    /// `tpe.startupTrials` of them, as BOHB does; spread at random until then) or `random`.
    /// Default: tpe.
    #[serde(default)]
    pub sampler: FidelitySampler,
}

/// How ASHA and Hyperband choose the configurations they start.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum FidelitySampler {
    /// A TPE model of the highest rung with enough results.
    #[default]
    Tpe,
    /// Independent random draws.
    Random,
}

impl Default for FidelitySettings {
    fn default() -> Self {
        Self {
            parameter: FidelityParameter::default(),
            min_resource: default_min_resource(),
            max_resource: default_max_resource(),
            reduction_factor: default_reduction_factor(),
            sampler: FidelitySampler::default(),
        }
    }
}

fn default_min_resource() -> i32 {
    1
}

fn default_max_resource() -> i32 {
    27
}

fn default_reduction_factor() -> i32 {
    3
}

/// A hyperparameter that can serve as fidelity.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum FidelityParameter {
    /// Training epochs (linear, mlp).
    #[default]
    Epochs,
    /// Boosting rounds (gbdt).
    NumTrees,
}

/// Early stopping of whole trials.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SweepEarlyStopping {
    /// Median stopping rule: stop a trial whose best objective so far is worse than the median
    /// of the other trials' running averages at the same step.
    pub median_stop: MedianStop,
}

/// Settings of the median stopping rule.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MedianStop {
    /// Trials that must have reported a step before the rule compares against them, 1..1000.
    /// Default: 3.
    #[serde(default = "default_min_trials")]
    #[schemars(range(min = 1, max = 1000))]
    pub min_trials: i32,

    /// Step (epoch or tree round) from which the rule applies, 1..100000. Default: 5.
    #[serde(default = "default_start_step")]
    #[schemars(range(min = 1, max = 100000))]
    pub start_step: i32,
}

fn default_min_trials() -> i32 {
    3
}

fn default_start_step() -> i32 {
    5
}

/// A hyperparameter that can be searched: one of the TrainingJob hyperparameters, or the model
/// family.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TunableParameter {
    /// `spec.model.family` (categorical: linear, mlp, gbdt).
    Family,
    /// `learningRate`.
    LearningRate,
    /// `epochs`.
    Epochs,
    /// `batchSize`.
    BatchSize,
    /// `optimizer` (categorical: adam, sgd).
    Optimizer,
    /// `hiddenLayers` (categorical; each value is comma-separated widths such as `64,32`).
    HiddenLayers,
    /// `activation` (categorical: relu, tanh, gelu).
    Activation,
    /// `dropout`.
    Dropout,
    /// `weightDecay`.
    WeightDecay,
    /// `numTrees`.
    NumTrees,
    /// `maxDepth`.
    MaxDepth,
    /// `minSamplesLeaf`.
    MinSamplesLeaf,
    /// `subsample`.
    Subsample,
    /// `featureFraction`.
    FeatureFraction,
    /// `maxBins`.
    MaxBins,
}

/// Type of a search-space parameter.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ParameterType {
    /// A real number in [min, max].
    Double,
    /// A whole number in [min, max].
    Int,
    /// One of `values`.
    Categorical,
}

/// How a numeric range is sampled and gridded.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum Scale {
    /// Evenly over [min, max].
    #[default]
    Linear,
    /// Evenly over [log(min), log(max)]; needs min > 0. Suits learning rates and penalties.
    Log,
}

/// One dimension of the search space.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.type == 'categorical' || (has(self.min) && has(self.max))").message("min and max are required for a double or int parameter"))]
#[x_kube(validation = Rule::new("self.type != 'categorical' || (has(self.values) && !has(self.min) && !has(self.max))").message("values is required for a categorical parameter, and min and max are not allowed"))]
#[x_kube(validation = Rule::new("self.type == 'categorical' || !has(self.values)").message("values is allowed only for a categorical parameter; use min and max for double or int").field_path(".values"))]
#[x_kube(validation = Rule::new("!has(self.min) || !has(self.max) || self.min < self.max").message("min must be less than max").field_path(".min"))]
#[x_kube(validation = Rule::new("self.scale != 'log' || (has(self.min) && self.min > 0.0)").message("scale log needs min greater than 0").field_path(".min"))]
#[x_kube(validation = Rule::new("!(self.name in ['family', 'optimizer', 'activation', 'hiddenLayers']) || self.type == 'categorical'").message("family, optimizer, activation and hiddenLayers must have type categorical").field_path(".type"))]
pub struct ParameterSpec {
    /// Hyperparameter this dimension sets in each trial: `family`, or the name of one of
    /// `spec.model.hyperparameters` in the template (for example `learningRate`). `family`,
    /// `optimizer`, `activation` and `hiddenLayers` are categorical; `hiddenLayers` values are
    /// comma-separated widths such as `64,32`.
    pub name: TunableParameter,

    /// Type of the values: `double` (a real number in [min, max]), `int` (a whole number in
    /// [min, max]) or `categorical` (one of `values`).
    #[serde(rename = "type")]
    pub type_: ParameterType,

    /// Lower bound, inclusive (double and int).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,

    /// Upper bound, inclusive (double and int).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,

    /// Sampling scale of [min, max]: `linear`, or `log` (even on log(min)..log(max); needs
    /// min > 0; suits learning rates and penalties). Default: linear.
    #[serde(default)]
    pub scale: Scale,

    /// The choices of a categorical parameter, 1 to 64 distinct values written as strings
    /// (for example `adam`, `64,32` or `128`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), inner(length(min = 1, max = 128)))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub values: Option<Vec<String>>,

    /// Tune this parameter only in trials of these families (useful when `family` is tuned
    /// too); other trials leave it at the template's value. Default: all families.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 3))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub families: Option<Vec<ConcreteModelFamily>>,
}

/// Limits on the whole sweep.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    /// Wall-clock seconds from the sweep's start, >= 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 60))]
    pub max_duration_seconds: Option<i64>,

    /// Total training cost of all trials, in the node pools' currency, > 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0001))]
    pub max_cost: Option<f64>,
}

/// The TrainingJob each trial runs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialTemplate {
    /// Labels and annotations added to every trial's TrainingJob (for example
    /// `kueue.x-k8s.io/queue-name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TrialMetadata>,

    /// Spec of every trial's TrainingJob before the trial's parameters are applied.
    pub spec: TrainingJobSpec,
}

/// Metadata copied onto trial TrainingJobs.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialMetadata {
    /// Labels for every trial.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations for every trial.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Observed state of a TuningSweep. It stays small however many trials run: trials are child
/// TrainingJobs, and only counts, the best trial and the bounded Pareto front are kept here.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TuningSweepStatus {
    /// Lifecycle phase, derived from the conditions: Pending, Running, Succeeded or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<TuningSweepPhase>,

    /// Conditions of types Created, Running, Succeeded and Failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// When the first trial was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,

    /// When the sweep finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,

    /// Finished trials / maxTrials, for example `7/12`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,

    /// Trials by state.
    #[serde(default)]
    pub trials: TrialCounts,

    /// Index the next trial will get; trial names are `<sweep>-t<index>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_trial_index: Option<i32>,

    /// The best finished trial on the objective.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_trial: Option<TrialSummary>,

    /// Trials no other trial beats on the objective and every secondary objective at once
    /// (secondary values within 5 % of each other count as equal, as they are measurements),
    /// best objective first (at most 32).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub pareto_front: Vec<TrialSummary>,

    /// Training cost of all trials so far, in the pools' currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_cost: Option<f64>,

    /// Why the sweep finished: GoalReached, MaxTrialsReached, SearchSpaceExhausted,
    /// TimeBudgetExhausted, CostBudgetExhausted or TooManyFailedTrials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
}

/// Lifecycle phase of a TuningSweep.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum TuningSweepPhase {
    /// Accepted; no trial has started.
    Pending,
    /// Trials are running.
    Running,
    /// Finished with at least one successful trial.
    Succeeded,
    /// Finished without a usable trial, or too many trials failed.
    Failed,
}

/// Numbers of trials by state.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialCounts {
    /// Trials created so far.
    #[serde(default)]
    pub created: i32,
    /// Trials waiting to start.
    #[serde(default)]
    pub pending: i32,
    /// Trials running.
    #[serde(default)]
    pub running: i32,
    /// Trials that trained a model.
    #[serde(default)]
    pub succeeded: i32,
    /// Trials that failed.
    #[serde(default)]
    pub failed: i32,
    /// Trials stopped by the early-stopping rule.
    #[serde(default)]
    pub early_stopped: i32,
    /// Trials stopped because the sweep finished (a budget or the goal) while they ran.
    #[serde(default)]
    pub stopped: i32,
}

/// One trial's parameters and results.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialSummary {
    /// Name of the trial's TrainingJob.
    pub name: String,
    /// The trial's parameter values, as strings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// The objective metric's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<f64>,
    /// All final validation metrics of the trial.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
    /// Training cost, in the pool's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    /// Median single-row inference latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p50_ms: Option<f64>,
    /// Size of `model.onnx` in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_size_bytes: Option<i64>,
    /// Wall-clock training time in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_seconds: Option<f64>,
}

/// Why a sweep finished.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum FinishReason {
    /// A trial reached `spec.objective.targetValue`.
    GoalReached,
    /// `spec.maxTrials` trials finished.
    MaxTrialsReached,
    /// The algorithm had no untried points left (grid, or a small categorical space).
    SearchSpaceExhausted,
    /// `spec.budget.maxDurationSeconds` passed.
    TimeBudgetExhausted,
    /// `spec.budget.maxCost` was spent.
    CostBudgetExhausted,
    /// More than `spec.maxFailedTrials` trials failed.
    TooManyFailedTrials,
}
