//! Command-line handling of `lepton-runner`, kept out of `main.rs` so that tests can drive it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::progress::{FanOut, JsonLinesReporter, Reporter};
use crate::results::{DEFAULT_TERMINATION_LOG, RunResults};
use crate::source::SourceConfig;
use crate::spec::{SPEC_ENV, parse_job};
use crate::status_report::{StatusReporter, StatusSettings};
use crate::train::{TrainOptions, train};

/// Usage text.
pub const USAGE: &str = "usage:
  lepton-runner train [--spec FILE] [--output URI] [--results FILE] [--termination-log FILE]
                      [--predictions FILE] [--ort-lib PATH] [--time-budget SECONDS]
  lepton-runner serve [--config FILE] [--model URI] [--sha256 HEX] [options]   (serve --help)
  lepton-runner --version

train   runs a TrainingJob: the manifest (or only its spec, YAML or JSON) comes from --spec, or
        from the LEPTON_TRAINING_JOB environment variable. Progress is written to stdout as JSON
        lines; logs go to stderr (JSON with LEPTON_LOG_FORMAT=json). --results writes the final
        results as JSON, --predictions a sample of validation rows with the model's outputs.
        LEPTON_STATUS_REPORTING=kubernetes also pushes progress and the final results to the
        TrainingJob's own status (the manifest's metadata.name/namespace; credentials from the
        pod's service account or KUBECONFIG), at most once per LEPTON_STATUS_INTERVAL_MS
        milliseconds (default 5000). A failed push is logged and never fails training.
serve   serves an ONNX model over the Open Inference Protocol (v2 REST) and KServe's v1 predict.";

/// Exit status of a run whose training failed (bad data, bad spec, ...).
pub const EXIT_TRAINING_FAILED: u8 = 1;
/// Exit status of a command line that could not be understood.
pub const EXIT_USAGE: u8 = 2;

/// Runs the command line `args` (without the program name).
pub fn main(args: &[String]) -> ExitCode {
    match args.first().map(String::as_str) {
        Some("--version") => {
            println!("lepton-runner {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("-h" | "--help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("train") => match parse_train_args(&args[1..]) {
            Ok(parsed) => run_train(parsed),
            Err(message) => usage_error(&message),
        },
        Some("serve") => crate::serve::cli_main(&args[1..]),
        Some(other) => usage_error(&format!("unknown command `{other}`")),
        None => usage_error("no command given"),
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("lepton-runner: {message}\n\n{USAGE}");
    ExitCode::from(EXIT_USAGE)
}

struct TrainArgs {
    spec: Option<PathBuf>,
    options: TrainOptions,
    /// `None` when status reporting is off.
    status: Option<StatusSettings>,
}

fn parse_train_args(args: &[String]) -> Result<TrainArgs, String> {
    let mut parsed = TrainArgs {
        spec: None,
        options: TrainOptions::default(),
        status: StatusSettings::from_env()?,
    };
    let mut termination_log = std::env::var_os("LEPTON_TERMINATION_LOG").map(PathBuf::from);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--spec" | "-f" => parsed.spec = Some(PathBuf::from(value()?)),
            "--output" => parsed.options.output = Some(value()?),
            "--results" => parsed.options.results_file = Some(PathBuf::from(value()?)),
            "--predictions" => parsed.options.predictions_file = Some(PathBuf::from(value()?)),
            "--termination-log" => termination_log = Some(PathBuf::from(value()?)),
            "--ort-lib" => parsed.options.ort_library = Some(PathBuf::from(value()?)),
            "--time-budget" => {
                let v = value()?;
                let seconds: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or_else(|| {
                        format!("--time-budget takes a positive number of seconds, not `{v}`")
                    })?;
                parsed.options.time_budget = Some(Duration::from_secs_f64(seconds));
            }
            other => return Err(format!("unknown option `{other}` for train")),
        }
    }
    // In a pod the kubelet reads this file into the container status; elsewhere it is absent.
    parsed.options.termination_log = termination_log.or_else(|| {
        let default = PathBuf::from(DEFAULT_TERMINATION_LOG);
        default.exists().then_some(default)
    });
    Ok(parsed)
}

fn run_train(mut args: TrainArgs) -> ExitCode {
    let text = match &args.spec {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the TrainingJob {}: {e}", path.display())),
        None => std::env::var(SPEC_ENV)
            .map_err(|_| format!("no TrainingJob given: pass --spec FILE or set {SPEC_ENV}")),
    };
    let text = match text {
        Ok(t) => t,
        Err(message) => return usage_error(&message),
    };
    match SourceConfig::from_env() {
        Ok(config) => args.options.source = config,
        Err(e) => return fail(e.reason(), &e.to_string(), &args.options),
    }
    let job = match parse_job(&text) {
        Ok(job) => job,
        Err(e) => return fail(e.reason(), &e.to_string(), &args.options),
    };
    let mut reporters: Vec<Box<dyn Reporter>> =
        vec![Box::new(JsonLinesReporter::new(std::io::stdout()))];
    if let Some(settings) = args.status {
        match job.object.clone() {
            Some(object) => reporters.push(Box::new(StatusReporter::start(settings, object))),
            None => tracing::info!(
                "status reporting is off: the TrainingJob names no object (a bare spec, or a manifest without metadata.name), so there is no status to write; pass the whole manifest to report progress"
            ),
        }
    }
    let reporter = FanOut::new(reporters);
    let started = Instant::now();
    let outcome = train(&job, &args.options, &reporter);
    reporter.finish(&match &outcome {
        Ok(outcome) => outcome.results.clone(),
        Err(e) => RunResults::failed(e.reason(), e.to_string(), started.elapsed().as_secs_f64()),
    });
    match outcome {
        Ok(outcome) => {
            print_result(&serde_json::to_value(&outcome.results).unwrap_or_default());
            tracing::info!(model = %outcome.model_uri, card = %outcome.card_uri, "training succeeded");
            ExitCode::SUCCESS
        }
        Err(e) => {
            // `train` already wrote the results file and termination message.
            print_result(
                &serde_json::json!({"phase": "Failed", "reason": e.reason(), "message": e.to_string()}),
            );
            eprintln!("lepton-runner: training failed ({}): {e}", e.reason());
            ExitCode::from(EXIT_TRAINING_FAILED)
        }
    }
}

fn fail(reason: &str, message: &str, options: &TrainOptions) -> ExitCode {
    let results = RunResults::failed(reason, message.to_string(), 0.0);
    crate::results::write(
        &results,
        options.results_file.as_deref(),
        options.termination_log.as_deref(),
    );
    print_result(&serde_json::to_value(&results).unwrap_or_default());
    eprintln!("lepton-runner: training failed ({reason}): {message}");
    ExitCode::from(EXIT_TRAINING_FAILED)
}

fn print_result(results: &serde_json::Value) {
    let mut line = serde_json::json!({"event": "result"});
    if let (Some(out), Some(fields)) = (line.as_object_mut(), results.as_object()) {
        out.extend(fields.clone());
    }
    println!("{line}");
}
