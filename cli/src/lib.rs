//! The `lepton` command: runs TrainingJob, TuningSweep and ModelDeployment manifests on this
//! machine with no cluster (local mode), and reads, reports on and calls them in a local
//! session or a cluster.

pub mod args;
pub mod commands;
pub mod error;
pub mod format;
pub mod manifests;
pub mod predict;
pub mod report;
pub mod run;
pub mod session;
pub mod setup;
pub mod table;
pub mod trials;
pub mod up;

use std::process::ExitCode;

use error::CliError;

const USAGE: &str = "usage: lepton <command> [options]

commands:
  run -f FILE_OR_DIR     run the manifests on this machine (embedded cluster, Lepton's
                         controllers, the runner as local processes), show progress, print
                         the result and write a report
  up                     start a local cluster with nothing applied, for kubectl, until
                         Ctrl-C
  get TYPE[,TYPE] [NAME] list resources as kubectl does (tj, ts, md, lepton, pods, ...)
  describe TYPE [NAME]   resources in detail: spec, status, conditions, trials, events
  predict NAME           send rows to a ModelDeployment and print the predictions
  report                 write the HTML report of a session or a namespace
  version                print the version

`get`, `describe`, `predict` and `report` use --kubeconfig FILE when given, else the local
session running in --session-dir (default .lepton), else KUBECONFIG or ~/.kube/config.
`lepton <command> --help` shows a command's options.";

/// Runs the command line; returns the exit status (0 done, 1 failed, 2 bad input, 130
/// interrupted).
pub fn main(args: &[String]) -> ExitCode {
    let Some(command) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", usage_of(command));
        return ExitCode::SUCCESS;
    }
    let result = match command.as_str() {
        "run" => run::command(rest),
        "up" => up::command(rest),
        "get" => commands::get(rest),
        "describe" => commands::describe(rest),
        "predict" => commands::predict(rest),
        "report" => commands::report(rest),
        "version" | "--version" => {
            println!("lepton {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(CliError::usage(format!(
            "unknown command `{other}`\n\n{USAGE}"
        ))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Interrupted) => ExitCode::from(130),
        Err(error) => {
            let usage = matches!(error, CliError::Usage(_));
            eprintln!("error: {error}");
            if usage && command != "help" {
                eprintln!("(see `lepton {command} --help`)");
            }
            error.exit_code()
        }
    }
}

fn usage_of(command: &str) -> &'static str {
    match command {
        "run" => run::USAGE,
        "up" => up::USAGE,
        "get" => commands::GET_USAGE,
        "describe" => commands::DESCRIBE_USAGE,
        "predict" => commands::PREDICT_USAGE,
        "report" => commands::REPORT_USAGE,
        _ => USAGE,
    }
}
