//! Writes the report of a realistic run (a 12-trial sweep, two standalone jobs and a
//! deployment) to the directory given as the only argument, for a person to open.
//!
//! ```text
//! cargo run -p lepton-report --example sample -- target/report-sample
//! ```

#[path = "../tests/fixtures/mod.rs"]
mod fixtures;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: sample <output directory>");
        return ExitCode::from(2);
    };
    match lepton_report::write(&fixtures::record(), &dir) {
        Ok(paths) => {
            for path in paths {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
