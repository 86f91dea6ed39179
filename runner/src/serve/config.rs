//! Configuration of `lepton-runner serve`: the ModelDeployment's `runtime` and `monitoring`
//! fields as they are, the model's location and digest, and a few process settings. It comes
//! from a YAML/JSON file (`--config`), the `LEPTON_SERVE_CONFIG` variable, and flags, in
//! increasing precedence.

use std::path::PathBuf;
use std::time::Duration;

use lepton_crds::v1alpha1::{ExecutionProvider, Monitoring, S3Options, ServingRuntime};
use serde::{Deserialize, Serialize};

use super::error::ServeError;

/// Environment variable holding the configuration as YAML or JSON text.
pub const CONFIG_ENV: &str = "LEPTON_SERVE_CONFIG";
/// Environment variable with a `host:port` to listen on. Lepton's local executor sets it for each
/// replica it starts on a free port; it overrides the configuration, and `--host`/`--port`
/// override it.
pub const LISTEN_ENV: &str = "LEPTON_SERVE_ADDR";

/// Everything `serve` needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServeConfig {
    /// Name the model is served under. Default: the name in model.json, else the ONNX file's
    /// name without its extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Version string shown in metadata and accepted under `/versions/{v}`. Default: `1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Where the model is.
    #[serde(default)]
    pub model: ModelLocation,
    /// ONNX Runtime and request handling (`spec.runtime` of a ModelDeployment).
    #[serde(default)]
    pub runtime: ServingRuntime,
    /// Drift and latency monitoring (`spec.monitoring` of a ModelDeployment).
    #[serde(default)]
    pub monitoring: Monitoring,
    /// Address to listen on. Default: `0.0.0.0` (all interfaces, as a pod needs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Path of ONNX Runtime's shared library. Default: `LEPTON_ORT_LIB`, `ORT_DYLIB_PATH`, or a
    /// search of the usual directories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ort_library: Option<PathBuf>,
    /// Milliseconds between SIGTERM and closing the listener, during which readiness is false
    /// but new requests are still served (so that load balancers stop sending first).
    /// Default: 0.
    #[serde(default)]
    pub shutdown_delay_ms: u64,
    /// Longest wait in milliseconds for in-flight requests after the listener closes.
    /// Default: 30000.
    #[serde(default = "default_drain_timeout_ms")]
    pub drain_timeout_ms: u64,
}

fn default_drain_timeout_ms() -> u64 {
    30_000
}

/// The served model's location and expected digest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelLocation {
    /// The ONNX file: `file://`, `pvc://claim/path`, `https://` or `s3://`. A location ending
    /// in `/` is a directory holding `model.onnx` and `model.json`.
    #[serde(default)]
    pub uri: String,
    /// Hex SHA-256 the file must have; the server refuses to start otherwise. When absent,
    /// model.json's digest is checked; with neither, the model is served unchecked (with a
    /// warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Where model.json is. Default: beside the ONNX file; a missing file is not an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_uri: Option<String>,
    /// Object-store settings for `s3://` locations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Options>,
}

/// Batching as the server applies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSettings {
    /// Whether requests are merged.
    pub enabled: bool,
    /// Most rows in one model call.
    pub max_batch_size: usize,
    /// Longest wait for requests already arriving.
    pub max_delay: Duration,
}

impl ServeConfig {
    /// Reads `text` (YAML or JSON).
    pub fn parse(text: &str) -> Result<ServeConfig, ServeError> {
        serde_yaml_ng::from_str(text).map_err(|e| ServeError::Config(e.to_string()))
    }

    /// Checks the settings and fills what defaults from others.
    pub fn validate(&mut self) -> Result<(), ServeError> {
        let bad = |m: String| Err(ServeError::Config(m));
        if self.model.uri.trim().is_empty() {
            return bad("no model given: set model.uri (or --model URI)".to_owned());
        }
        if let Some(sha) = &mut self.model.sha256 {
            *sha = sha.trim().to_ascii_lowercase();
            if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return bad(format!(
                    "model.sha256 must be 64 hexadecimal digits, not `{sha}`"
                ));
            }
        }
        let r = &self.runtime;
        if !(0..=256).contains(&r.intra_op_threads) {
            return bad(format!(
                "runtime.intraOpThreads must be 0..256, not {}",
                r.intra_op_threads
            ));
        }
        if !(1..=64).contains(&r.inter_op_threads) {
            return bad(format!(
                "runtime.interOpThreads must be 1..64, not {}",
                r.inter_op_threads
            ));
        }
        if r.batching.max_batch_size < 1 {
            return bad(format!(
                "runtime.batching.maxBatchSize must be at least 1, not {}",
                r.batching.max_batch_size
            ));
        }
        if !(0..=1_000_000).contains(&r.batching.max_delay_micros) {
            return bad(format!(
                "runtime.batching.maxDelayMicros must be 0..1000000, not {}",
                r.batching.max_delay_micros
            ));
        }
        if r.max_queued_requests < 1 {
            return bad(format!(
                "runtime.maxQueuedRequests must be at least 1, not {}",
                r.max_queued_requests
            ));
        }
        if r.request_timeout_ms < 1 {
            return bad(format!(
                "runtime.requestTimeoutMs must be at least 1, not {}",
                r.request_timeout_ms
            ));
        }
        if r.max_request_bytes < 1 {
            return bad(format!(
                "runtime.maxRequestBytes must be positive, not {}",
                r.max_request_bytes
            ));
        }
        // Port 0 (any free port) is allowed for tests and local runs.
        if !(0..=65535).contains(&r.port) {
            return bad(format!("runtime.port must be 0..65535, not {}", r.port));
        }
        if self.monitoring.window_seconds < 1 {
            return bad(format!(
                "monitoring.windowSeconds must be positive, not {}",
                self.monitoring.window_seconds
            ));
        }
        if self.monitoring.drift_threshold.is_nan() || self.monitoring.drift_threshold <= 0.0 {
            return bad("monitoring.driftThreshold must be positive".to_owned());
        }
        if let Some(name) = &self.name
            && (name.is_empty() || name.contains(['/', '?', '#', ' ']))
        {
            return bad(format!(
                "name `{name}` cannot be part of a URL path: use letters, digits, `-`, `_` and `.`"
            ));
        }
        Ok(())
    }

    /// Batching settings.
    pub fn batching(&self) -> BatchSettings {
        let b = &self.runtime.batching;
        BatchSettings {
            enabled: b.enabled,
            max_batch_size: usize::try_from(b.max_batch_size).unwrap_or(1).max(1),
            max_delay: Duration::from_micros(u64::try_from(b.max_delay_micros).unwrap_or(0)),
        }
    }

    /// Sets host and port from a `host:port` value (see [`LISTEN_ENV`]).
    pub fn apply_listen_address(&mut self, value: &str) -> Result<(), String> {
        let invalid = || {
            format!("{LISTEN_ENV} must be host:port (for example 127.0.0.1:8080), not `{value}`")
        };
        let (host, port) = value.rsplit_once(':').ok_or_else(invalid)?;
        let port: i32 = port
            .parse()
            .ok()
            .filter(|p| (0..=65535).contains(p))
            .ok_or_else(invalid)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(invalid());
        }
        self.host = Some(host.to_string());
        self.runtime.port = port;
        Ok(())
    }

    /// `host:port` to listen on.
    pub fn address(&self) -> String {
        let host = self.host.as_deref().unwrap_or("0.0.0.0");
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{}", self.runtime.port)
        } else {
            format!("{host}:{}", self.runtime.port)
        }
    }

    /// Request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(
            u64::try_from(self.runtime.request_timeout_ms)
                .unwrap_or(1)
                .max(1),
        )
    }

    /// Body size limit in bytes.
    pub fn max_request_bytes(&self) -> usize {
        usize::try_from(self.runtime.max_request_bytes).unwrap_or(usize::MAX)
    }

    /// Applies command-line flags (after `serve`) over this configuration; `--config FILE` is
    /// read first wherever it appears.
    pub fn apply_args(&mut self, args: &[String]) -> Result<(), String> {
        let mut pairs = Vec::new();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--no-batching" {
                pairs.push((flag.as_str(), String::new()));
                continue;
            }
            let value = it
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .clone();
            pairs.push((flag.as_str(), value));
        }
        if let Some((_, path)) = pairs.iter().find(|(f, _)| *f == "--config") {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the configuration {path}: {e}"))?;
            *self = ServeConfig::parse(&text).map_err(|e| format!("{path}: {e}"))?;
        }
        for (flag, value) in pairs {
            let number = |v: &str| -> Result<i64, String> {
                v.parse::<i64>()
                    .map_err(|_| format!("{flag} takes a whole number, not `{v}`"))
            };
            let int = |v: &str| -> Result<i32, String> {
                i32::try_from(number(v)?).map_err(|_| format!("{flag}: `{v}` is out of range"))
            };
            let r = &mut self.runtime;
            match flag {
                "--config" => {}
                "--model" => self.model.uri = value,
                "--sha256" => self.model.sha256 = Some(value),
                "--model-card" => self.model.card_uri = Some(value),
                "--name" => self.name = Some(value),
                "--model-version" => self.version = Some(value),
                "--host" => self.host = Some(value),
                "--port" => r.port = int(&value)?,
                "--ort-lib" => self.ort_library = Some(PathBuf::from(value)),
                "--execution-provider" => {
                    r.execution_provider = match value.as_str() {
                        "cpu" => ExecutionProvider::Cpu,
                        "cuda" => ExecutionProvider::Cuda,
                        _ => {
                            return Err(format!(
                                "--execution-provider is cpu or cuda, not `{value}`"
                            ));
                        }
                    }
                }
                "--intra-op-threads" => r.intra_op_threads = int(&value)?,
                "--inter-op-threads" => r.inter_op_threads = int(&value)?,
                "--max-batch-size" => r.batching.max_batch_size = int(&value)?,
                "--max-delay-micros" => r.batching.max_delay_micros = int(&value)?,
                "--no-batching" => r.batching.enabled = false,
                "--max-queued-requests" => r.max_queued_requests = int(&value)?,
                "--request-timeout-ms" => r.request_timeout_ms = int(&value)?,
                "--max-request-bytes" => r.max_request_bytes = number(&value)?,
                "--drift-window-seconds" => self.monitoring.window_seconds = int(&value)?,
                "--drift-threshold" => {
                    self.monitoring.drift_threshold = value
                        .parse()
                        .map_err(|_| format!("--drift-threshold takes a number, not `{value}`"))?
                }
                "--shutdown-delay-ms" => {
                    self.shutdown_delay_ms = u64::try_from(number(&value)?)
                        .map_err(|_| format!("{flag} must not be negative"))?
                }
                "--drain-timeout-ms" => {
                    self.drain_timeout_ms = u64::try_from(number(&value)?)
                        .map_err(|_| format!("{flag} must not be negative"))?
                }
                other => return Err(format!("unknown option `{other}` for serve")),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod listen_address_tests {
    use super::*;

    #[test]
    fn the_listen_address_sets_host_and_port_and_bad_values_say_what_is_expected() {
        let mut config = ServeConfig::default();
        config.apply_listen_address("127.0.0.1:43123").unwrap();
        assert_eq!(config.address(), "127.0.0.1:43123");
        config.apply_listen_address("[::1]:9000").unwrap();
        assert_eq!(config.address(), "[::1]:9000");
        for bad in ["8080", "127.0.0.1:", ":80", "host:99999", "host:http"] {
            let err = config.apply_listen_address(bad).unwrap_err();
            assert!(err.contains(LISTEN_ENV) && err.contains(bad), "{err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployment_fields_pass_straight_through() {
        let mut c = ServeConfig::parse(
            "model: {uri: 'file:///m/model.onnx', sha256: 'AB'}\nruntime: {executionProvider: cuda, batching: {maxBatchSize: 8, maxDelayMicros: 100}, port: 9000}\nmonitoring: {driftThreshold: 0.3, windowSeconds: 60}\n",
        )
        .unwrap();
        assert_eq!(c.runtime.execution_provider, ExecutionProvider::Cuda);
        assert_eq!(c.runtime.max_queued_requests, 1024);
        assert_eq!(c.batching().max_batch_size, 8);
        assert_eq!(c.address(), "0.0.0.0:9000");
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("64 hexadecimal digits"), "{e}");
    }

    #[test]
    fn flags_override_and_unknown_ones_are_refused() {
        let mut c = ServeConfig::default();
        let args: Vec<String> = [
            "--model",
            "file:///x.onnx",
            "--port",
            "0",
            "--no-batching",
            "--max-batch-size",
            "4",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        c.apply_args(&args).unwrap();
        assert!(c.validate().is_ok());
        assert!(!c.batching().enabled);
        assert_eq!(c.batching().max_batch_size, 4);
        let e = c
            .apply_args(&["--bogus".to_string(), "1".to_string()])
            .unwrap_err();
        assert_eq!(e, "unknown option `--bogus` for serve");
        let e = ServeConfig::parse("modle: {}").unwrap_err().to_string();
        assert!(e.contains("unknown field `modle`"), "{e}");
    }
}
