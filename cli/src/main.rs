//! The `lepton` command. See [`lepton_cli::main`].

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    lepton_cli::main(&args)
}
