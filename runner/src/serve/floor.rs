//! `lepton-runner serve --measure FILE`: the in-process floor. Loads the model exactly as the
//! server would (same fetch, checks, session settings and warm-up) and times ONNX Runtime on
//! the v2 request in FILE with no HTTP, queue or JSON in the way. Benchmarks compare the
//! server's latency with this.

use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

use super::config::ServeConfig;
use super::loader::load;
use super::request::parse_infer;
use super::session::{SessionSettings, open, run, signature};
use crate::source::SourceConfig;

/// Runs before timing starts.
const WARMUP: usize = 200;

/// Times `runs` model calls on the request in `request_file`; returns the figures as JSON
/// (microseconds).
pub fn measure(config: &ServeConfig, request_file: &Path, runs: usize) -> Result<Value, String> {
    let mut config = config.clone();
    config.validate().map_err(|e| e.to_string())?;
    let body = std::fs::read(request_file)
        .map_err(|e| format!("cannot read {}: {e}", request_file.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut source = SourceConfig::from_env().map_err(|e| e.to_string())?;
    if let Some(s3) = &config.model.s3 {
        source.s3 = s3.clone();
    }
    let artifacts = runtime
        .block_on(load(&config.model, &source))
        .map_err(|e| e.to_string())?;
    let settings = SessionSettings {
        provider: config.runtime.execution_provider,
        intra_op_threads: usize::try_from(config.runtime.intra_op_threads).unwrap_or(0),
        inter_op_threads: usize::try_from(config.runtime.inter_op_threads).unwrap_or(1),
    };
    let mut opened = open(&artifacts.onnx, &settings, config.ort_library.as_deref())?;
    let signature = signature(&opened.session)?;
    let request = parse_infer(&body, None, &signature).map_err(|e| e.message)?;
    for _ in 0..WARMUP {
        run(&mut opened.session, &signature, &request.inputs)?;
    }
    let mut micros = Vec::with_capacity(runs);
    let started = Instant::now();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        run(&mut opened.session, &signature, &request.inputs)?;
        micros.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let total = started.elapsed().as_secs_f64();
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() - 1) as f64 * q).round() as usize];
    Ok(json!({
        "runs": micros.len(),
        "rowsPerRequest": request.rows,
        "p50Us": at(0.5),
        "p99Us": at(0.99),
        "meanUs": micros.iter().sum::<f64>() / micros.len() as f64,
        "requestsPerSecond": micros.len() as f64 / total,
    }))
}
