//! `lepton-runner`: the program Lepton's pods run. See [`lepton_runner::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    init_logging();
    lepton_runner::parent_guard::watch_from_env();
    let args: Vec<String> = std::env::args().skip(1).collect();
    lepton_runner::cli::main(&args)
}

/// Logs go to stderr so that stdout carries only progress events; JSON when
/// `LEPTON_LOG_FORMAT=json`, level from `RUST_LOG` (default info).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("LEPTON_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
