//! A loaded model: fetched and checked, opened in ONNX Runtime, warmed up, with its batching
//! worker, metrics and drift monitor.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lepton_crds::v1alpha1::ExecutionProvider;

use super::batcher::{Queue, WorkerParts, spawn};
use super::config::{BatchSettings, ServeConfig};
use super::datatype::DataType;
use super::drift::DriftMonitor;
use super::error::ServeError;
use super::loader::{Artifacts, load};
use super::metrics::Metrics;
use super::session::{SessionSettings, ShapedTensor, open, run, signature};
use super::signature::Signature;
use super::tensor::TensorData;
use crate::artifact::ModelCard;
use crate::source::SourceConfig;

/// Warm-up calls before the model is ready (the first calls allocate and plan).
const WARMUP_RUNS: usize = 5;
/// A model whose warm-up calls take longer than this never runs on the HTTP threads.
const INLINE_LIMIT: Duration = Duration::from_millis(1);

/// The model being served.
pub struct ServedModel {
    /// Name in URLs and metadata.
    pub name: String,
    /// Version in URLs and metadata.
    pub version: String,
    /// Where it came from (redacted).
    pub uri: String,
    /// Its verified sha256.
    pub sha256: String,
    /// model.json, when present.
    pub card: Option<ModelCard>,
    /// Inputs and outputs.
    pub signature: Arc<Signature>,
    /// Provider asked for.
    pub requested_provider: ExecutionProvider,
    /// Provider in use.
    pub provider: ExecutionProvider,
    /// Why they differ, when they do.
    pub fallback_reason: Option<String>,
    /// Batching in effect.
    pub batching: BatchSettings,
    /// The worker's queue.
    pub queue: Queue,
    /// Request and model metrics.
    pub metrics: Arc<Metrics>,
    /// Input drift.
    pub drift: Arc<Mutex<DriftMonitor>>,
    /// Seconds from start to ready.
    pub load_seconds: f64,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl ServedModel {
    /// Fetches, checks, opens and warms up the model of `config`, then starts its worker.
    pub async fn load(config: &ServeConfig, started: Instant) -> Result<ServedModel, ServeError> {
        let mut source = SourceConfig::from_env()?;
        if let Some(s3) = &config.model.s3 {
            source.s3 = s3.clone();
        }
        let artifacts = load(&config.model, &source).await?;
        let config = config.clone();
        tokio::task::spawn_blocking(move || open_and_start(&config, artifacts, started))
            .await
            .map_err(|e| ServeError::Runtime(format!("model loading stopped: {e}")))?
    }

    /// Stops taking requests and waits for the worker to finish the queued ones.
    pub fn stop(&self) {
        self.queue.close();
        let handle = self.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

fn open_and_start(
    config: &ServeConfig,
    artifacts: Artifacts,
    started: Instant,
) -> Result<ServedModel, ServeError> {
    let settings = SessionSettings {
        provider: config.runtime.execution_provider,
        intra_op_threads: usize::try_from(config.runtime.intra_op_threads).unwrap_or(0),
        inter_op_threads: usize::try_from(config.runtime.inter_op_threads).unwrap_or(1),
    };
    let mut opened = open(&artifacts.onnx, &settings, config.ort_library.as_deref())
        .map_err(ServeError::Runtime)?;
    let mut signature = signature(&opened.session).map_err(ServeError::Runtime)?;
    if let Some(card) = &artifacts.card {
        for input in &card.inputs {
            if signature.input_index(&input.name).is_none() {
                return Err(ServeError::Card {
                    location: artifacts.uri.clone(),
                    detail: format!(
                        "it lists input `{}`, which the ONNX graph does not have",
                        input.name
                    ),
                });
            }
        }
    }

    // Warm-up, and the check that outputs really follow the batch dimension.
    if signature.batchable {
        let outputs = run(
            &mut opened.session,
            &signature,
            &warmup_inputs(&signature, 2),
        )
        .map_err(ServeError::Warmup)?;
        if outputs.iter().any(|o| o.shape.first() != Some(&2)) {
            tracing::warn!(
                "an output does not have one row per input row: requests are not batched"
            );
            signature.batchable = false;
        }
    }
    let one = warmup_inputs(&signature, 1);
    let mut fastest = Duration::MAX;
    for _ in 0..WARMUP_RUNS {
        let t = Instant::now();
        run(&mut opened.session, &signature, &one).map_err(ServeError::Warmup)?;
        fastest = fastest.min(t.elapsed());
    }

    let name = config
        .name
        .clone()
        .or_else(|| {
            artifacts
                .card
                .as_ref()
                .map(|c| c.name.clone())
                .filter(|n| !n.is_empty())
        })
        .unwrap_or_else(|| file_stem(&artifacts.uri));
    let version = config.version.clone().unwrap_or_else(|| "1".to_owned());
    let mut batching = config.batching();
    batching.enabled &= signature.batchable;
    let signature = Arc::new(signature);
    let metrics = Arc::new(Metrics::new(&name));
    let profile = artifacts
        .card
        .as_ref()
        .map(|c| c.profile.as_slice())
        .unwrap_or_default();
    let window =
        Duration::from_secs(u64::try_from(config.monitoring.window_seconds).unwrap_or(300));
    let drift = Arc::new(Mutex::new(DriftMonitor::new(
        profile,
        &signature,
        window,
        config.monitoring.drift_threshold,
    )));
    let (queue, worker) = spawn(
        WorkerParts {
            session: opened.session,
            signature: signature.clone(),
            settings: batching,
            metrics: metrics.clone(),
            drift: drift.clone(),
            inline_max_rows: if fastest < INLINE_LIMIT {
                batching.max_batch_size
            } else {
                0
            },
        },
        usize::try_from(config.runtime.max_queued_requests).unwrap_or(1),
    )
    .map_err(|e| ServeError::Runtime(format!("cannot start the model's worker thread: {e}")))?;
    let load_seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        model = %name, version = %version, sha256 = %artifacts.sha256,
        provider = ?opened.provider, batching = batching.enabled, seconds = load_seconds,
        "model loaded and warmed up"
    );
    Ok(ServedModel {
        name,
        version,
        uri: artifacts.uri,
        sha256: artifacts.sha256,
        card: artifacts.card,
        signature,
        requested_provider: config.runtime.execution_provider,
        provider: opened.provider,
        fallback_reason: opened.fallback_reason,
        batching,
        queue,
        metrics,
        drift,
        load_seconds,
        worker: Mutex::new(Some(worker)),
    })
}

/// Neutral inputs of `rows` rows: zeros, empty strings (a missing value for Lepton's text
/// inputs), false; free dimensions other than the batch get size 1.
fn warmup_inputs(signature: &Signature, rows: usize) -> Vec<ShapedTensor> {
    signature
        .inputs
        .iter()
        .map(|spec| {
            let shape: Vec<usize> = spec
                .shape
                .iter()
                .enumerate()
                .map(|(i, d)| match (*d < 0, i == 0 && signature.batchable) {
                    (true, true) => rows,
                    (true, false) => 1,
                    (false, _) => *d as usize,
                })
                .collect();
            let n: usize = shape.iter().product();
            let data = match spec.datatype {
                DataType::Bool => TensorData::Bool(vec![false; n]),
                DataType::Uint8 => TensorData::Uint8(vec![0; n]),
                DataType::Uint16 => TensorData::Uint16(vec![0; n]),
                DataType::Uint32 => TensorData::Uint32(vec![0; n]),
                DataType::Uint64 => TensorData::Uint64(vec![0; n]),
                DataType::Int8 => TensorData::Int8(vec![0; n]),
                DataType::Int16 => TensorData::Int16(vec![0; n]),
                DataType::Int32 => TensorData::Int32(vec![0; n]),
                DataType::Int64 => TensorData::Int64(vec![0; n]),
                DataType::Fp32 | DataType::Fp16 => TensorData::Fp32(vec![0.0; n]),
                DataType::Fp64 => TensorData::Fp64(vec![0.0; n]),
                DataType::Bytes => TensorData::Bytes(vec![String::new(); n]),
            };
            ShapedTensor { shape, data }
        })
        .collect()
}

fn file_stem(uri: &str) -> String {
    let path = uri
        .split(['?', '#'])
        .next()
        .unwrap_or(uri)
        .trim_end_matches('/');
    let last = path.rsplit('/').next().unwrap_or(path);
    let stem = last.strip_suffix(".onnx").unwrap_or(last);
    if stem.is_empty() {
        "model".to_owned()
    } else {
        stem.to_owned()
    }
}
