//! `lepton-crdgen`: writes every generated file (CRD YAML, API reference) under the repository
//! root, or with `--check` reports the ones that differ and exits 1.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut check = false;
    let mut root = PathBuf::from(".");
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!("usage: lepton-crdgen [--check] [REPOSITORY_ROOT]");
                return ExitCode::SUCCESS;
            }
            other => root = PathBuf::from(other),
        }
    }
    match run(&root, check) {
        Ok(stale) if stale.is_empty() => ExitCode::SUCCESS,
        Ok(stale) => {
            for path in stale {
                eprintln!("stale: {path} differs from the generator's output; run `make crds`");
            }
            ExitCode::FAILURE
        }
        Err(message) => {
            eprintln!("lepton-crdgen: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(root: &Path, check: bool) -> Result<Vec<String>, String> {
    let mut stale = Vec::new();
    for (relative, contents) in lepton_crds::generate::generated_files() {
        let path = root.join(&relative);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(contents.as_str()) {
            continue;
        }
        if check {
            stale.push(relative);
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(&path, contents)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {relative}");
    }
    Ok(stale)
}
