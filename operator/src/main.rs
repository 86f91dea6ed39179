//! `lepton-operator`: Lepton's Kubernetes operator (see `lepton-operator --help`).

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    lepton_operator::cli::main(&args)
}
