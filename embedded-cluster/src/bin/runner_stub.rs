//! A stand-in for `lepton-runner` in the local executor's tests: it exits as told, writes a
//! termination message where `LEPTON_TERMINATION_LOG` says, and serves the readiness endpoint
//! of the serving protocol on `LEPTON_SERVE_ADDR`.
//!
//! ```text
//! lepton-runner-stub --version
//! lepton-runner-stub train [--exit-code N] [--sleep-ms N] [--message TEXT]
//!                          [--message-from-env VAR]... [--fail-times N --state FILE]
//!                          [--results-from-spec]
//! lepton-runner-stub serve [--ready-after-ms N]
//! ```
//!
//! `--results-from-spec`, or `LEPTON_STUB_RESULTS_FROM_SPEC=1` in the environment (which a
//! TrainingJob's `spec.runner.env` can set, since the operator passes the runner fixed
//! arguments), makes `train` read the TrainingJob from `LEPTON_TRAINING_JOB` and write a
//! successful run's results as the termination message: an AUC that is a smooth function of
//! `spec.model.hyperparameters.learningRate` (highest, 0.95, at 0.01), and a latency that
//! falls as the learning rate grows, so that a sweep over the learning rate has one best trial
//! and a Pareto front of several.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use lepton_crds::runner::RunResults;
use lepton_crds::v1alpha1::{Metric, ModelArtifact, ObjectiveValue};

/// The environment variable that turns on `--results-from-spec`.
const RESULTS_FROM_SPEC_ENV: &str = "LEPTON_STUB_RESULTS_FROM_SPEC";

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn number(args: &[String], name: &str) -> u64 {
    flag(args, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

fn write_message(text: &str) {
    if let Ok(path) = std::env::var("LEPTON_TERMINATION_LOG") {
        let _ = std::fs::write(path, text);
    }
}

/// The AUC the stub reports for a learning rate: a bell over log10(rate), 0.95 at 0.01 and
/// 0.5 (chance) far from it.
fn stub_auc(learning_rate: f64) -> f64 {
    let distance = learning_rate.max(1e-12).log10() + 2.0;
    0.5 + 0.45 * (-distance * distance / 2.0).exp()
}

/// The results of a successful run of the TrainingJob in `LEPTON_TRAINING_JOB`; the error
/// says what is missing.
fn results_from_spec() -> Result<RunResults, String> {
    let text = std::env::var("LEPTON_TRAINING_JOB")
        .map_err(|_| "LEPTON_TRAINING_JOB is not set".to_owned())?;
    let job: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("LEPTON_TRAINING_JOB is not JSON: {e}"))?;
    let name = job["metadata"]["name"].as_str().unwrap_or("job");
    let rate = job["spec"]["model"]["hyperparameters"]["learningRate"]
        .as_f64()
        .unwrap_or(0.001);
    let auc = stub_auc(rate);
    // Faster models for larger rates: a trade-off against the AUC above 0.01.
    let latency = 0.05 + 0.02 * (-rate.max(1e-12).log10());
    // A digest that differs per job and is stable across runs.
    let sha256: String = name
        .bytes()
        .cycle()
        .take(32)
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(RunResults {
        phase: "Succeeded".into(),
        reason: None,
        message: None,
        objective: Some(ObjectiveValue {
            metric: Metric::Auc,
            value: auc,
        }),
        metrics: [("auc".to_owned(), auc)].into_iter().collect(),
        data: None,
        model: Some(ModelArtifact {
            uri: Some(format!("file:///stub/{name}/model.onnx")),
            sha256: Some(sha256),
            size_bytes: Some(4096),
            latency_p50_ms: Some(latency),
            ..ModelArtifact::default()
        }),
        duration_seconds: 0.01,
    })
}

fn train(args: &[String]) -> ExitCode {
    std::thread::sleep(Duration::from_millis(number(args, "--sleep-ms")));
    if args.iter().any(|a| a == "--results-from-spec")
        || std::env::var(RESULTS_FROM_SPEC_ENV).is_ok_and(|v| v == "1" || v == "true")
    {
        return match results_from_spec() {
            Ok(results) => {
                println!("training: results from the spec");
                write_message(&results.termination_message());
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("{message}");
                write_message(&message);
                ExitCode::from(1)
            }
        };
    }
    let mut message = flag(args, "--message").unwrap_or_default();
    for (i, arg) in args.iter().enumerate() {
        if arg == "--message-from-env"
            && let Some(var) = args.get(i + 1)
        {
            message.push_str(&format!(
                "{var}={};",
                std::env::var(var).unwrap_or_default()
            ));
        }
    }
    let mut code = number(args, "--exit-code");
    if let Some(state) = flag(args, "--state") {
        let attempt = std::fs::read_to_string(&state)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or_default()
            + 1;
        let _ = std::fs::write(&state, attempt.to_string());
        if attempt <= number(args, "--fail-times") {
            code = 1;
            message = format!("attempt {attempt} failed");
        }
    }
    println!("training: exit code {code}");
    write_message(&message);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn serve(args: &[String]) -> ExitCode {
    let Ok(addr) = std::env::var("LEPTON_SERVE_ADDR") else {
        eprintln!("LEPTON_SERVE_ADDR is not set");
        return ExitCode::from(2);
    };
    let listener = match TcpListener::bind(&addr) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::from(2);
        }
    };
    let ready_at = Instant::now() + Duration::from_millis(number(args, "--ready-after-ms"));
    println!("serving on {addr}");
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut line = String::new();
        let _ = BufReader::new(&stream).read_line(&mut line);
        let path = line.split_whitespace().nth(1).unwrap_or("/");
        let (status, body) = match path {
            "/v2/health/live" => ("200 OK", "{}".to_owned()),
            "/v2/health/ready" if Instant::now() >= ready_at => ("200 OK", "{}".to_owned()),
            "/v2/health/ready" => (
                "503 Service Unavailable",
                "{\"error\": \"not ready\"}".to_owned(),
            ),
            "/whoami" => ("200 OK", format!("{{\"addr\": \"{addr}\"}}")),
            _ => ("404 Not Found", "{\"error\": \"not found\"}".to_owned()),
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version") => {
            println!("lepton-runner-stub {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("train") => train(&args[1..]),
        Some("serve") => serve(&args[1..]),
        _ => {
            eprintln!("usage: lepton-runner-stub --version | train [...] | serve [...]");
            ExitCode::from(2)
        }
    }
}
