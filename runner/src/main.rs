//! `lepton-runner`: the program Lepton's pods run. Training (`train`) and serving (`serve`)
//! are added by their own modules; this build only reports its version.

use std::process::ExitCode;

const USAGE: &str = "usage: lepton-runner --version";

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("--version") => {
            println!("lepton-runner {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("-h" | "--help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("lepton-runner: unknown command `{other}`\n\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
