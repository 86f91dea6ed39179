//! `lepton-crdgen` writes every generated file into a repository root, `--check` reports the
//! stale ones and exits 1, and a path it cannot write is named in its error.

use std::path::Path;
use std::process::{Command, Output};

fn crdgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lepton-crdgen"))
        .args(args)
        .output()
        .expect("lepton-crdgen runs")
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lepton-crdgen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

#[test]
fn check_reports_missing_files_then_write_makes_them_current() {
    let root = scratch("roundtrip");
    let out = crdgen(&["--check", arg(&root)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stale: crds/lepton.ai_trainingjobs.yaml differs from the generator's output; run `make crds`"),
        "{stderr}"
    );
    assert!(stderr.contains("stale: docs/api.md"), "{stderr}");

    let out = crdgen(&[arg(&root)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("wrote charts/lepton/crds/lepton.ai_modeldeployments.yaml")
    );

    let out = crdgen(&["--check", arg(&root)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(root.join("docs/api.md"), "edited by hand\n").unwrap();
    let out = crdgen(&["--check", arg(&root)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stale: docs/api.md"));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn an_unwritable_path_is_named() {
    let root = scratch("blocked");
    // A file where the generator needs a directory.
    std::fs::write(root.join("crds"), "not a directory").unwrap();
    let out = crdgen(&[arg(&root)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("lepton-crdgen: cannot "), "{stderr}");
    assert!(stderr.contains("crds"), "{stderr}");
    std::fs::remove_dir_all(&root).unwrap();
}
