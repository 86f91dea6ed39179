//! `lepton-runner serve`: ONNX Runtime behind the Open Inference Protocol (v2 REST, plus
//! KServe's v1 predict), with dynamic batching, request limits, Prometheus metrics, input
//! drift against the training profile, and graceful shutdown.
//!
//! [`start`] runs the server inside an existing tokio runtime (tests, local mode);
//! [`cli_main`] is the command.

pub mod batcher;
pub mod config;
pub mod datatype;
pub mod drift;
pub mod error;
pub mod floor;
pub mod fuzzing;
pub mod loader;
pub mod metrics;
pub mod model;
pub mod request;
pub mod response;
pub mod routes;
pub mod server;
pub mod session;
pub mod signature;
pub mod tensor;
pub mod v1;
pub mod window;

use std::process::ExitCode;

pub use config::{CONFIG_ENV, ModelLocation, ServeConfig};
pub use error::{ApiError, ServeError};
pub use server::{RunningServer, start};

/// Usage of `lepton-runner serve`.
pub const USAGE: &str = "usage: lepton-runner serve [--config FILE] [--model URI] [--sha256 HEX] [options]

Serves an ONNX model over the Open Inference Protocol (v2 REST) and KServe's v1 predict.
The configuration (YAML or JSON: name, model {uri, sha256, cardUri, s3}, runtime, monitoring,
host, ortLibrary, shutdownDelayMs, drainTimeoutMs) comes from --config or LEPTON_SERVE_CONFIG;
flags override it:
  --model URI               model.onnx (file://, pvc://, https://, s3://), or a directory ending in /
  --sha256 HEX              digest the model must have (refuses to start otherwise)
  --model-card URI          model.json (default: beside the model)
  --name NAME               served model name        --model-version V   (default 1)
  --host ADDR  --port N     listen address (default 0.0.0.0:8080)
  --ort-lib PATH            ONNX Runtime library (default LEPTON_ORT_LIB, ORT_DYLIB_PATH, search)
  --execution-provider cpu|cuda   --intra-op-threads N   --inter-op-threads N
  --max-batch-size N  --max-delay-micros N  --no-batching
  --max-queued-requests N  --request-timeout-ms N  --max-request-bytes N
  --drift-window-seconds N  --drift-threshold X  --shutdown-delay-ms N  --drain-timeout-ms N
  --measure FILE [--measure-runs N]   time ONNX Runtime in-process on the v2 request in FILE
                            (no HTTP: the floor the server's latency is compared with), print
                            JSON and exit";

/// Exit status when the model cannot be served (fetch, checksum, runtime, warm-up, port).
pub const EXIT_SERVE_FAILED: u8 = 1;

/// Runs `lepton-runner serve` with `args` (after the subcommand).
pub fn cli_main(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let mut config = match std::env::var(CONFIG_ENV) {
        Ok(text) => match ServeConfig::parse(&text) {
            Ok(c) => c,
            Err(e) => return usage_error(&format!("{CONFIG_ENV}: {e}")),
        },
        Err(_) => ServeConfig::default(),
    };
    let (args, measure) = match split_measure_args(args) {
        Ok(split) => split,
        Err(message) => return usage_error(&message),
    };
    if let Err(message) = config.apply_args(&args) {
        return usage_error(&message);
    }
    let address_flag = args.iter().any(|a| a == "--host" || a == "--port");
    if let (false, Ok(address)) = (address_flag, std::env::var(config::LISTEN_ENV))
        && let Err(message) = config.apply_listen_address(&address)
    {
        return usage_error(&message);
    }
    if let Some((file, runs)) = measure {
        return match floor::measure(&config, &file, runs) {
            Ok(figures) => {
                println!("{figures}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("lepton-runner: cannot measure: {message}");
                ExitCode::from(EXIT_SERVE_FAILED)
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lepton-runner: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_SERVE_FAILED);
        }
    };
    runtime.block_on(async move {
        let server = match start(config).await {
            Ok(server) => server,
            Err(e) => {
                write_termination_message(&e);
                eprintln!("lepton-runner: cannot serve ({}): {e}", e.reason());
                return ExitCode::from(EXIT_SERVE_FAILED);
            }
        };
        wait_for_termination().await;
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// Takes `--measure FILE` and `--measure-runs N` out of `args`.
#[allow(clippy::type_complexity)]
fn split_measure_args(
    args: &[String],
) -> Result<(Vec<String>, Option<(std::path::PathBuf, usize)>), String> {
    let mut rest = Vec::with_capacity(args.len());
    let (mut file, mut runs) = (None, 10_000usize);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--measure" => {
                file = Some(std::path::PathBuf::from(
                    it.next().ok_or("--measure needs a file")?,
                ))
            }
            "--measure-runs" => {
                let v = it.next().ok_or("--measure-runs needs a number")?;
                runs = v
                    .parse()
                    .map_err(|_| format!("--measure-runs takes a whole number, not `{v}`"))?;
            }
            _ => rest.push(arg.clone()),
        }
    }
    Ok((rest, file.map(|f| (f, runs))))
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("lepton-runner: {message}\n\n{USAGE}");
    ExitCode::from(crate::cli::EXIT_USAGE)
}

/// The kubelet shows the termination log in the pod's status, where the operator reads why
/// the server refused to start.
fn write_termination_message(e: &ServeError) {
    let path = std::env::var_os("LEPTON_TERMINATION_LOG")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let default = std::path::PathBuf::from(crate::results::DEFAULT_TERMINATION_LOG);
            default.exists().then_some(default)
        });
    if let Some(path) = path {
        let results = crate::results::RunResults::failed(e.reason(), e.to_string(), 0.0);
        let _ = std::fs::write(path, results.termination_message());
    }
}

async fn wait_for_termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received"),
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; stopping on interrupt only")
            }
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
