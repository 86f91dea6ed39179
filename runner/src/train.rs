//! `lepton-runner train`: data in, a verified ONNX model and its results out. This module is the
//! pipeline's order of steps; each step lives in its own module.

mod hyperparameters;
mod report;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lepton_crds::v1alpha1::{
    ClassWeights, ConcreteModelFamily, DataSummary, Metric, ModelArtifact, ModelFamily,
    ObjectiveValue, Task,
};
use serde_json::json;

pub use hyperparameters::{dense_config, gbdt_config};
pub use report::DataReport;

use crate::artifact::{self, InputSchema, ModelCard, Objective, OnnxFile, OutputSchema};
use crate::dataset::{self, ColumnKind};
use crate::error::TrainError;
use crate::metrics::{self, Targets, TaskKind};
use crate::models::{self, FitContext, Fitted, Head, TrainingSet, ValidationSet};
use crate::onnx::{self, ExportInfo};
use crate::preprocess::{InputEncoder, Preprocessor};
use crate::progress::{Progress, Reporter, Stage};
use crate::results::RunResults;
use crate::source::{self, SourceConfig};
use crate::spec::JobSpec;
use crate::table::{self, ReadOptions};

/// Share of `activeDeadlineSeconds` that training may use; the rest is kept for export,
/// verification and upload, so the pod is not killed with nothing written.
const TRAINING_SHARE_OF_DEADLINE: f64 = 0.8;

/// How a run is carried out (as opposed to what it trains, which the spec says).
#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    /// Artifact location prefix, overriding `spec.output.uri`.
    pub output: Option<String>,
    /// Where the full results JSON is written.
    pub results_file: Option<PathBuf>,
    /// Where the compact results go (a pod's termination message path).
    pub termination_log: Option<PathBuf>,
    /// Where a sample of validation rows and the model's outputs for them are written (JSON).
    pub predictions_file: Option<PathBuf>,
    /// ONNX Runtime library, overriding `LEPTON_ORT_LIB`.
    pub ort_library: Option<PathBuf>,
    /// Data access settings.
    pub source: SourceConfig,
    /// Time allowed for training all candidates, overriding the one derived from
    /// `runPolicy.activeDeadlineSeconds`.
    pub time_budget: Option<Duration>,
}

/// A finished run.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    /// `model.json`.
    pub card: ModelCard,
    /// Where `model.onnx` was written.
    pub model_uri: String,
    /// Where `model.json` was written.
    pub card_uri: String,
    /// Results as written to the results file.
    pub results: RunResults,
    /// Raw cells of (up to [`PREDICTION_SAMPLE_ROWS`]) validation rows and the trained model's
    /// outputs for them: `{"rows": [data row, ...], "inputs": {column: [cell, ...]},
    /// "output": name, "outputs": [[...]]}`. Data rows are 1-based, as in error messages, so
    /// other tools can be scored on exactly the same split.
    pub validation_predictions: serde_json::Value,
}

/// Most validation rows included in [`TrainOutcome::validation_predictions`].
pub const PREDICTION_SAMPLE_ROWS: usize = 100_000;

/// Runs a TrainingJob, writing results (success or failure) where `options` say.
pub fn train(
    job: &JobSpec,
    options: &TrainOptions,
    reporter: &dyn Reporter,
) -> Result<TrainOutcome, TrainError> {
    let started = Instant::now();
    let outcome = run(job, options, reporter, started);
    let results = match &outcome {
        Ok(o) => o.results.clone(),
        Err(e) => RunResults::failed(e.reason(), e.to_string(), started.elapsed().as_secs_f64()),
    };
    crate::results::write(
        &results,
        options.results_file.as_deref(),
        options.termination_log.as_deref(),
    );
    outcome
}

fn run(
    job: &JobSpec,
    options: &TrainOptions,
    reporter: &dyn Reporter,
    started: Instant,
) -> Result<TrainOutcome, TrainError> {
    let spec = &job.spec;
    let data = &spec.data;
    let source_config = options.source.clone().with_s3(data.s3.as_ref());

    reporter.report(&Progress::stage(
        Stage::Loading,
        format!("reading {}", source::redact(&data.source)),
    ));
    let bytes =
        source::fetch_blocking(&data.source, &source_config).map_err(|e| TrainError::Data {
            reason: e.reason(),
            message: e.to_string(),
        })?;
    let mut read =
        ReadOptions::from_spec(&data.source, data.format, &data.csv).map_err(table_error)?;
    read.max_bytes = source_config.max_bytes;
    let table = table::read_table(&bytes, &read).map_err(table_error)?;
    drop(bytes);

    reporter.report(&Progress::stage(
        Stage::Preprocessing,
        format!("{} rows, {} columns", table.rows, table.columns.len()),
    ));
    let mut report = DataReport::new(table.rows, table.columns.len());
    let (mut ds, without_target) = dataset::from_table(table, data)?;
    report.step(
        "dropRowsWithoutTarget",
        ds.rows() + without_target,
        ds.rows(),
        "rows whose target is missing cannot be learned from",
    );
    report.task(&ds.target);
    if data.preprocessing.remove_duplicates {
        let before = ds.rows();
        let removed = dataset::remove_duplicates(&mut ds);
        report.step(
            "removeDuplicates",
            before,
            before - removed,
            "exact duplicate rows (features and target)",
        );
    }
    let plans = dataset::plan_columns(&ds.features, &data.preprocessing, &ds.source_rows)?;
    if plans
        .iter()
        .all(|p| matches!(p.kind, ColumnKind::Dropped(_)))
    {
        return Err(TrainError::NoUsableFeatures {
            dropped: report::describe_drops(&plans),
        });
    }
    let task = ds.target.task;
    let metric = spec.model.metric.unwrap_or_else(|| task.default_metric());
    if !task.supports(metric) {
        return Err(TrainError::MetricDoesNotFitTask {
            metric: metric.as_str().into(),
            task: report::task_name(task).into(),
            allowed: task
                .metric_names()
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let seed = spec.model.seed as u64;
    let split = dataset::split_rows(
        &ds.target.values,
        &ds.target.classes,
        data.validation_fraction,
        data.preprocessing.stratify,
        seed,
    )?;
    report.step(
        "split",
        ds.rows(),
        split.train.len(),
        &format!("{} rows held out for validation", split.validation.len()),
    );

    let preprocessor = Preprocessor::fit(
        &ds,
        &plans,
        &split.train,
        &data.preprocessing,
        &data.csv.null_values,
    )?;
    report.columns(&plans, &preprocessor);
    let train_x = preprocessor.transform(&ds, &split.train);
    let validation_x = preprocessor.transform(&ds, &split.validation);
    let train_y = select_targets(&ds.target.values, &split.train);
    let validation_y = select_targets(&ds.target.values, &split.validation);
    let head = head_for(task, &train_y);
    let weights = models::row_weights(
        task,
        &train_y,
        data.preprocessing.class_weights == ClassWeights::Balanced,
    );
    report.class_balance(&ds.target, &train_y, &weights);
    report.log();

    let families = families(spec.model.family, spec.model.candidates.as_deref());
    let device = select_device(spec.resources.gpus);
    if let Device::Cpu {
        gpu_fallback: Some(why),
    } = &device
    {
        tracing::warn!(reason = %why, "the job asked for GPUs but dense models train on the CPU");
    }
    let budget = options.time_budget.or_else(|| {
        spec.run_policy
            .active_deadline_seconds
            .map(|s| Duration::from_secs_f64(s as f64 * TRAINING_SHARE_OF_DEADLINE))
    });
    let deadline = budget.map(|b| started + b);
    let train_set = TrainingSet {
        x: &train_x,
        y: &train_y,
        weights: &weights,
    };
    let validation_set = ValidationSet {
        x: &validation_x,
        y: &validation_y,
    };
    let mut candidates = Vec::new();
    let mut best: Option<(Fitted, f64)> = None;
    for (i, family) in families.iter().enumerate() {
        // Each remaining candidate gets an equal share of the time left.
        let share = deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            Instant::now() + left / (families.len() - i) as u32
        });
        let ctx = FitContext {
            head,
            metric,
            early_stopping: spec.model.early_stopping.clone(),
            seed,
            deadline: share,
            reporter,
        };
        let family_started = Instant::now();
        reporter.report(&Progress {
            family: Some(models::family_name(*family)),
            ..Progress::stage(
                Stage::Training,
                format!("training {}", models::family_name(*family)),
            )
        });
        let fitted = match family {
            ConcreteModelFamily::Gbdt => models::gbdt::fit(
                &gbdt_config(&spec.model.hyperparameters),
                &ctx,
                &train_set,
                &validation_set,
            ),
            dense => fit_dense(
                &device,
                &dense_config(*dense, &spec.model.hyperparameters, train_x.rows),
                &ctx,
                &train_set,
                &validation_set,
            ),
        };
        let seconds = family_started.elapsed().as_secs_f64();
        let fitted = match fitted {
            // With `auto`, one family failing is not the job failing while another succeeds.
            Err(e) if families.len() > 1 => {
                tracing::warn!(family = models::family_name(*family), error = %e, "candidate failed");
                candidates.push(json!({"family": models::family_name(*family), "error": e.to_string(), "reason": e.reason(), "seconds": seconds}));
                continue;
            }
            other => other?,
        };
        let score = fitted
            .history
            .iter()
            .find(|h| h.step == fitted.best_step)
            .and_then(|h| h.metrics.get(metric.as_str()).copied())
            .unwrap_or(f64::NAN);
        candidates.push(json!({
            "family": models::family_name(*family),
            metric.as_str(): score,
            "seconds": seconds,
            "bestStep": fitted.best_step,
            "stopReason": fitted.stop_reason,
            "parameters": fitted.model.parameter_count(),
        }));
        tracing::info!(
            family = models::family_name(*family),
            metric = metric.as_str(),
            score,
            seconds,
            "candidate trained"
        );
        if metrics::improves(metric, score, best.as_ref().map(|(_, s)| *s), 0.0) {
            best = Some((fitted, score));
        }
    }
    let Some((fitted, _)) = best else {
        return Err(TrainError::TrainingDiverged {
            family: "auto",
            detail: format!(
                "no candidate produced a model: {}",
                serde_json::to_string(&candidates).unwrap_or_default()
            ),
        });
    };

    reporter.report(&Progress::stage(
        Stage::Exporting,
        "writing and checking model.onnx",
    ));
    let validation_outputs = fitted.model.predict(&head, &validation_x);
    let validation_metrics = metrics::evaluate(task, &validation_y, &validation_outputs);
    let objective_value = validation_metrics
        .get(metric.as_str())
        .copied()
        .unwrap_or(f64::NAN);
    let version = env!("CARGO_PKG_VERSION");
    let onnx_bytes = onnx::export_model(
        &fitted.model,
        &head,
        &preprocessor,
        &ExportInfo {
            classes: &ds.target.classes,
            target: &ds.target.name,
            version,
        },
    );
    let verification = crate::verify::verify(
        &onnx_bytes,
        &preprocessor,
        &head,
        &ds,
        &split.validation,
        &validation_outputs,
        options.ort_library.as_deref(),
    )?;
    let validation_predictions = sample_predictions(
        &preprocessor,
        &ds,
        &split.validation,
        &validation_outputs,
        head,
    );
    let sha256 = artifact::sha256_hex(&onnx_bytes);
    let family = fitted.model.family();
    let card = ModelCard {
        format_version: artifact::MODEL_CARD_VERSION,
        name: job.name.clone(),
        lepton_version: version.into(),
        created_at: jiff::Timestamp::now().to_string(),
        task: report::task_name(task).into(),
        target: ds.target.name.clone(),
        classes: ds.target.classes.clone(),
        family: models::family_name(family).into(),
        objective: Objective {
            metric: metric.as_str().into(),
            value: objective_value,
        },
        metrics: validation_metrics.clone(),
        inputs: input_schema(&preprocessor),
        outputs: output_schema(task, ds.target.classes.len()),
        preprocessing: preprocessor.clone(),
        data_report: report.to_json(),
        profile: crate::profile::training_profile(&preprocessor, &ds, &split.train),
        training: json!({
            "family": models::family_name(family),
            "hyperparameters": match family {
                ConcreteModelFamily::Gbdt => serde_json::to_value(gbdt_config(&spec.model.hyperparameters)).unwrap_or_default(),
                dense => serde_json::to_value(dense_config(dense, &spec.model.hyperparameters, train_x.rows)).unwrap_or_default(),
            },
            "features": preprocessor.feature_names(),
            "bestStep": fitted.best_step,
            "stopReason": fitted.stop_reason,
            "history": fitted.history,
            "candidates": candidates,
            "seed": spec.model.seed,
            "device": device.name(family),
            "gpuFallback": match &device {
                Device::Cpu { gpu_fallback } => gpu_fallback.clone(),
                Device::Gpu => None,
            },
            "trainingRows": split.train.len(),
            "validationRows": split.validation.len(),
            "durationSeconds": started.elapsed().as_secs_f64(),
        }),
        onnx: OnnxFile {
            file: "model.onnx".into(),
            sha256: sha256.clone(),
            size_bytes: onnx_bytes.len() as u64,
            opset: onnx::OPSET,
            verification: verification.clone(),
        },
    };

    reporter.report(&Progress::stage(Stage::Finishing, "writing artifacts"));
    let prefix = options
        .output
        .clone()
        .or_else(|| spec.output.as_ref().map(|o| o.uri.clone()))
        .ok_or_else(|| {
            TrainError::Spec("no output location: set spec.output.uri (or pass --output)".into())
        })?;
    let output_config = options
        .source
        .clone()
        .with_s3(spec.output.as_ref().and_then(|o| o.s3.as_ref()));
    let store = |name: &str, bytes: &[u8]| {
        source::store_blocking(&prefix, name, bytes, &output_config).map_err(|e| {
            TrainError::Output {
                what: name.to_string(),
                message: e.to_string(),
            }
        })
    };
    let model_uri = store("model.onnx", &onnx_bytes)?;
    let card_json = serde_json::to_vec_pretty(&card).map_err(|e| TrainError::Output {
        what: "model.json".into(),
        message: e.to_string(),
    })?;
    let card_uri = store("model.json", &card_json)?;

    let results = RunResults {
        phase: "Succeeded".into(),
        reason: None,
        message: None,
        objective: Some(ObjectiveValue {
            metric,
            value: objective_value,
        }),
        metrics: validation_metrics,
        data: Some(DataSummary {
            rows_read: Some(report.rows_read as i64),
            training_rows: Some(split.train.len() as i64),
            validation_rows: Some(split.validation.len() as i64),
            features: Some(preprocessor.width() as i64),
            task: Some(match task {
                TaskKind::Binary => Task::Binary,
                TaskKind::Multiclass { .. } => Task::Multiclass,
                TaskKind::Regression => Task::Regression,
            }),
        }),
        model: Some(ModelArtifact {
            uri: Some(model_uri.clone()),
            sha256: Some(sha256),
            size_bytes: Some(onnx_bytes.len() as i64),
            family: Some(family),
            latency_p50_ms: Some(verification.latency_p50_ms),
            latency_p99_ms: Some(verification.latency_p99_ms),
            input_columns: Some(preprocessor.inputs.len() as i32),
            input_schema: Some(schema_summary(&card.inputs)),
        }),
        duration_seconds: started.elapsed().as_secs_f64(),
    };
    if let Some(path) = &options.predictions_file {
        let text = serde_json::to_string(&validation_predictions).unwrap_or_default();
        std::fs::write(path, text).map_err(|e| TrainError::Output {
            what: path.display().to_string(),
            message: e.to_string(),
        })?;
    }
    Ok(TrainOutcome {
        card,
        model_uri,
        card_uri,
        results,
        validation_predictions,
    })
}

fn sample_predictions(
    preprocessor: &Preprocessor,
    ds: &dataset::Dataset,
    rows: &[usize],
    outputs: &[f32],
    head: Head,
) -> serde_json::Value {
    let rows = &rows[..rows.len().min(PREDICTION_SAMPLE_ROWS)];
    let mut inputs = serde_json::Map::new();
    for input in &preprocessor.inputs {
        let Some(column) = ds.features.iter().find(|f| f.name == input.name()) else {
            continue;
        };
        let cells: Vec<serde_json::Value> = rows
            .iter()
            .map(|&r| match &column.data {
                table::ColumnData::Numeric(v) if v[r].is_nan() => serde_json::Value::Null,
                table::ColumnData::Numeric(v) => json!(v[r]),
                table::ColumnData::Text(v) => v[r]
                    .as_deref()
                    .map_or(serde_json::Value::Null, |s| json!(s)),
            })
            .collect();
        inputs.insert(input.name().to_string(), serde_json::Value::Array(cells));
    }
    let per_row = head.task.outputs();
    let output_rows: Vec<&[f32]> = outputs.chunks(per_row).take(rows.len()).collect();
    json!({
        "rows": rows.iter().map(|&r| ds.source_rows[r]).collect::<Vec<_>>(),
        "inputs": inputs,
        "output": match head.task {
            TaskKind::Regression => onnx::OUTPUT_VALUE,
            _ => onnx::OUTPUT_PROBABILITIES,
        },
        "outputs": output_rows,
    })
}

/// Where dense models train.
#[derive(Clone, Debug, PartialEq)]
pub enum Device {
    /// The CPU, with the reason when the job asked for GPUs.
    Cpu {
        /// Why GPUs were asked for but not used.
        gpu_fallback: Option<String>,
    },
    /// CUDA device 0.
    Gpu,
}

impl Device {
    /// `cuda:0` or `cpu` for the family that trained (trees always train on the CPU).
    pub fn name(&self, family: ConcreteModelFamily) -> &'static str {
        match (self, family) {
            (Device::Gpu, ConcreteModelFamily::Linear | ConcreteModelFamily::Mlp) => "cuda:0",
            _ => "cpu",
        }
    }
}

/// The GPU when the job asked for one (`resources.gpus > 0`), this runner has the `cuda` feature
/// and a CUDA device is visible; otherwise the CPU, saying why when GPUs were asked for.
pub fn select_device(gpus: u32) -> Device {
    if gpus == 0 {
        return Device::Cpu { gpu_fallback: None };
    }
    #[cfg(feature = "cuda")]
    {
        match models::dense_gpu::gpu_unavailable() {
            None => Device::Gpu,
            Some(why) => Device::Cpu {
                gpu_fallback: Some(why),
            },
        }
    }
    #[cfg(not(feature = "cuda"))]
    {
        Device::Cpu {
            gpu_fallback: Some("this runner was built without the `cuda` feature".into()),
        }
    }
}

fn fit_dense(
    device: &Device,
    config: &models::dense::DenseConfig,
    ctx: &FitContext,
    train: &TrainingSet,
    validation: &ValidationSet,
) -> Result<Fitted, TrainError> {
    match device {
        #[cfg(feature = "cuda")]
        Device::Gpu => models::dense_gpu::fit(config, ctx, train, validation),
        _ => models::dense::fit(config, ctx, train, validation),
    }
}

fn table_error(e: table::TableError) -> TrainError {
    TrainError::Data {
        reason: e.reason(),
        message: e.to_string(),
    }
}

/// The targets of `rows`, in that order.
pub fn select_targets(values: &Targets, rows: &[usize]) -> Targets {
    match values {
        Targets::Classes(c) => Targets::Classes(rows.iter().map(|&r| c[r]).collect()),
        Targets::Values(v) => Targets::Values(rows.iter().map(|&r| v[r]).collect()),
    }
}

/// The output head of `task`: regression targets are standardised with the training rows'
/// mean and population standard deviation (1 when they are constant).
pub fn head_for(task: TaskKind, train_y: &Targets) -> Head {
    let (mean, std) = match train_y {
        Targets::Values(v) if !v.is_empty() => {
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let std = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt();
            (mean, if std > 1e-12 { std } else { 1.0 })
        }
        _ => (0.0, 1.0),
    };
    Head {
        task,
        target_mean: mean as f32,
        target_std: std as f32,
    }
}

/// Families to train, in order.
pub fn families(
    family: ModelFamily,
    candidates: Option<&[ConcreteModelFamily]>,
) -> Vec<ConcreteModelFamily> {
    match family {
        ModelFamily::Linear => vec![ConcreteModelFamily::Linear],
        ModelFamily::Mlp => vec![ConcreteModelFamily::Mlp],
        ModelFamily::Gbdt => vec![ConcreteModelFamily::Gbdt],
        ModelFamily::Auto => candidates.map(<[_]>::to_vec).unwrap_or_else(|| {
            vec![
                ConcreteModelFamily::Linear,
                ConcreteModelFamily::Gbdt,
                ConcreteModelFamily::Mlp,
            ]
        }),
    }
}

fn input_schema(p: &Preprocessor) -> Vec<InputSchema> {
    p.inputs
        .iter()
        .map(|input| {
            let (datatype, kind, categories) = match input {
                InputEncoder::Numeric { .. } => ("FP64", "numeric", vec![]),
                InputEncoder::Boolean {
                    negative, positive, ..
                } => ("BYTES", "boolean", vec![negative.clone(), positive.clone()]),
                InputEncoder::Categorical { categories, .. } => {
                    ("BYTES", "categorical", categories.clone())
                }
            };
            InputSchema {
                name: input.name().into(),
                datatype: datatype.into(),
                kind: kind.into(),
                categories,
                shape: vec![-1, 1],
            }
        })
        .collect()
}

fn output_schema(task: TaskKind, classes: usize) -> Vec<OutputSchema> {
    match task {
        TaskKind::Regression => vec![OutputSchema {
            name: onnx::OUTPUT_VALUE.into(),
            datatype: "FP32".into(),
            shape: vec![-1, 1],
        }],
        _ => vec![
            OutputSchema {
                name: onnx::OUTPUT_LABEL.into(),
                datatype: "BYTES".into(),
                shape: vec![-1, 1],
            },
            OutputSchema {
                name: onnx::OUTPUT_PROBABILITIES.into(),
                datatype: "FP32".into(),
                shape: vec![-1, classes as i64],
            },
        ],
    }
}

fn schema_summary(inputs: &[InputSchema]) -> String {
    let mut s = inputs
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i.name,
                if i.kind == "numeric" {
                    "number"
                } else {
                    "string"
                }
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    if s.len() > 1024 {
        let cut = (0..=1024)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        s.truncate(cut);
    }
    s
}

/// The metric used when none is set; exposed for the CLI's summary.
pub fn default_metric(task: TaskKind) -> Metric {
    task.default_metric()
}
