//! The training pipeline's error: every variant names the field, column or row at fault, says
//! what to do, and has a stable machine-readable reason for results files and status conditions.

/// Why a training run failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The TrainingJob spec could not be read or is inconsistent.
    #[error("invalid TrainingJob spec: {0}")]
    Spec(String),

    /// A column named in the spec is not in the data.
    #[error(
        "{field} names column `{column}`, which the data does not have{hint}; the columns are: {available}"
    )]
    UnknownColumn {
        /// Spec field that names the column.
        field: &'static str,
        /// The missing column.
        column: String,
        /// Columns the data has.
        available: String,
        /// A close match, phrased for the message, or empty.
        hint: String,
    },

    /// Every row's target is missing.
    #[error(
        "target column `{target}` has no values (every row is empty or a null value); choose another data.target"
    )]
    TargetAllMissing {
        /// The target column.
        target: String,
    },

    /// A classification target with a single class.
    #[error(
        "target column `{target}` has only one class ({class:?}) after removing rows with a missing target; a classifier needs at least two, so check the data or the target column"
    )]
    TargetHasOneClass {
        /// The target column.
        target: String,
        /// The only class.
        class: String,
    },

    /// `task: binary` with a target that does not have exactly two classes.
    #[error(
        "data.task is binary but target column `{target}` has {classes} distinct values (for example {examples}); set data.task to multiclass or regression, or fix the column"
    )]
    TargetNotBinary {
        /// The target column.
        target: String,
        /// Number of distinct values.
        classes: usize,
        /// A few of them.
        examples: String,
    },

    /// A regression target with a cell that is not a number.
    #[error(
        "data.task is regression but target column `{target}` has the non-numeric value {value:?} at row {row}; fix the value, list it in data.csv.nullValues, or set data.task to binary or multiclass"
    )]
    TargetNotNumeric {
        /// The target column.
        target: String,
        /// 1-based data row.
        row: usize,
        /// The value.
        value: String,
    },

    /// A classification target with too many distinct values to be classes.
    #[error(
        "target column `{target}` has {distinct} distinct text values, too many to be classes (the limit is {limit}); predict another column, or group the values into fewer classes"
    )]
    TargetTooManyClasses {
        /// The target column.
        target: String,
        /// Number of distinct values.
        distinct: usize,
        /// Most classes Lepton accepts for this data.
        limit: usize,
    },

    /// A mostly numeric column with a few values that are not numbers.
    #[error(
        "column `{column}` is numeric in {numeric_percent:.1}% of its rows but has the non-numeric value {value:?} at row {row}; fix that value, add it to data.csv.nullValues if it means \"missing\", or list the column in data.dropColumns"
    )]
    NonNumericValue {
        /// The column.
        column: String,
        /// 1-based data row of the first offending value.
        row: usize,
        /// The value.
        value: String,
        /// Share of non-missing cells that are numbers, in percent.
        numeric_percent: f64,
    },

    /// A missing value while imputation is off.
    #[error(
        "column `{column}` has a missing value at row {row} and data.preprocessing.imputation.enabled is false; fill the value in the data or turn imputation on"
    )]
    MissingValue {
        /// The column.
        column: String,
        /// 1-based data row.
        row: usize,
    },

    /// No column is left to learn from.
    #[error(
        "no usable feature columns are left: {dropped}; keep at least one column that varies and is not an identifier"
    )]
    NoUsableFeatures {
        /// What happened to each column.
        dropped: String,
    },

    /// Too few rows to train and validate.
    #[error("{detail}; provide more rows (at least {needed} are needed)")]
    TooFewRows {
        /// What is short.
        detail: String,
        /// Rows needed.
        needed: usize,
    },

    /// The spec's metric does not fit the (inferred) task.
    #[error("model.metric {metric} does not apply to a {task} task; use one of {allowed}")]
    MetricDoesNotFitTask {
        /// The metric.
        metric: String,
        /// The task.
        task: String,
        /// Metrics that fit.
        allowed: String,
    },

    /// Training produced non-finite values.
    #[error(
        "{family} training diverged ({detail}); lower model.hyperparameters.learningRate or turn on data.preprocessing.standardize"
    )]
    TrainingDiverged {
        /// Model family.
        family: &'static str,
        /// What went wrong.
        detail: String,
    },

    /// Reading or fetching the data failed.
    #[error("{message}")]
    Data {
        /// Machine-readable reason from the data layer.
        reason: &'static str,
        /// The data layer's message.
        message: String,
    },

    /// Writing the ONNX graph failed.
    #[error("ONNX export failed: {0}")]
    Export(String),

    /// ONNX Runtime could not be loaded or could not run the exported model.
    #[error("{0}")]
    OnnxRuntime(String),

    /// The exported model's predictions differ from the trained model's.
    #[error(
        "the exported ONNX model disagrees with the trained model by {max_abs_diff:e} at validation row {row} (allowed {tolerance:e}); this is a bug in Lepton's exporter, please report it with the job's model.json"
    )]
    ExportMismatch {
        /// Largest absolute difference.
        max_abs_diff: f64,
        /// Validation row (0-based in the validation split) where it occurred.
        row: usize,
        /// Allowed difference.
        tolerance: f64,
    },

    /// Writing the artifacts or results failed.
    #[error("could not write {what}: {message}")]
    Output {
        /// What was being written.
        what: String,
        /// Why it failed.
        message: String,
    },
}

impl TrainError {
    /// Stable, machine-readable reason (CamelCase), used in results files and conditions.
    pub fn reason(&self) -> &'static str {
        match self {
            TrainError::Spec(_) => "InvalidSpec",
            TrainError::UnknownColumn { .. } => "UnknownColumn",
            TrainError::TargetAllMissing { .. } => "TargetAllMissing",
            TrainError::TargetHasOneClass { .. } => "TargetHasOneClass",
            TrainError::TargetNotBinary { .. } => "TargetNotBinary",
            TrainError::TargetNotNumeric { .. } => "TargetNotNumeric",
            TrainError::TargetTooManyClasses { .. } => "TargetTooManyClasses",
            TrainError::NonNumericValue { .. } => "NonNumericValue",
            TrainError::MissingValue { .. } => "MissingValue",
            TrainError::NoUsableFeatures { .. } => "NoUsableFeatures",
            TrainError::TooFewRows { .. } => "TooFewRows",
            TrainError::MetricDoesNotFitTask { .. } => "MetricDoesNotFitTask",
            TrainError::TrainingDiverged { .. } => "TrainingDiverged",
            TrainError::Data { reason, .. } => reason,
            TrainError::Export(_) => "ExportFailed",
            TrainError::OnnxRuntime(_) => "OnnxRuntimeUnavailable",
            TrainError::ExportMismatch { .. } => "ExportMismatch",
            TrainError::Output { .. } => "OutputWriteFailed",
        }
    }
}
