//! `lepton-operator`: Lepton's Kubernetes operator.
//!
//! This build carries the API (`crd` prints the CustomResourceDefinitions to install); the
//! controllers are added by the operator's own modules as they land.

use std::process::ExitCode;

const USAGE: &str = "usage: lepton-operator <command>

commands:
  crd        print the CustomResourceDefinitions of TrainingJob, TuningSweep and
             ModelDeployment as YAML (for `kubectl apply -f -`)
  --version  print the version";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("crd") => {
            let documents: Vec<String> = lepton_crds::generate::crds()
                .iter()
                .map(lepton_crds::generate::crd_yaml)
                .collect();
            print!("{}", documents.join("---\n"));
            ExitCode::SUCCESS
        }
        Some("--version") => {
            println!("lepton-operator {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("-h" | "--help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("lepton-operator: unknown command `{other}`\n\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
