//! What a local run needs from this machine: the runner program, ONNX Runtime's library,
//! the directories behind `pvc://` claims, the data the manifests read, and the operator
//! configuration (node pools and prices) the controllers use.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::CliError;
use crate::manifests::{Kind, Manifest};
use crate::session::SessionDir;

/// The runner program: `--runner`, `LEPTON_RUNNER`, or `lepton-runner` beside `lepton`.
pub fn runner_binary(flag: Option<&str>) -> Result<PathBuf, CliError> {
    let given = flag
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("LEPTON_RUNNER").map(PathBuf::from));
    let path = match given {
        Some(path) => path,
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join("lepton-runner")))
            .unwrap_or_else(|| PathBuf::from("lepton-runner")),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(CliError::Setup(format!(
            "the runner program {} does not exist: build it (`cargo build -p lepton-runner`, which `make demo` does), or pass --runner PATH",
            path.display()
        )))
    }
}

/// ONNX Runtime's shared library: `--ort-lib`, `LEPTON_ORT_LIB`, `ORT_DYLIB_PATH`, or the
/// `onnxruntime` Python package of `./.venv` or of `python3`.
pub fn ort_library(flag: Option<&str>) -> Result<PathBuf, CliError> {
    let given = flag.map(PathBuf::from).or_else(|| {
        ["LEPTON_ORT_LIB", "ORT_DYLIB_PATH"]
            .iter()
            .find_map(|v| std::env::var_os(v).map(PathBuf::from))
    });
    if let Some(path) = given {
        return if path.is_file() {
            Ok(path)
        } else {
            Err(CliError::Setup(format!(
                "ONNX Runtime's library {} does not exist: point --ort-lib (or LEPTON_ORT_LIB) at libonnxruntime.so",
                path.display()
            )))
        };
    }
    // `make demo` installs it into the repository's .venv: look there (from the working
    // directory, or above the `lepton` binary in target/), then in the system's python3.
    let mut pythons = vec![PathBuf::from(".venv/bin/python")];
    if let Ok(exe) = std::env::current_exe() {
        pythons.extend(
            exe.ancestors()
                .skip(1)
                .take(4)
                .map(|d| d.join(".venv/bin/python")),
        );
    }
    pythons.push(PathBuf::from("python3"));
    pythons
        .iter()
        .filter(|python| python.components().count() == 1 || python.exists())
        .find_map(|python| library_of_python(python))
        .ok_or_else(|| {
            CliError::Setup(
                "ONNX Runtime's library was not found: `pip install onnxruntime` (its wheel ships libonnxruntime.so), or point --ort-lib or LEPTON_ORT_LIB at the library; `make demo` installs it into .venv".into(),
            )
        })
}

fn library_of_python(python: &Path) -> Option<PathBuf> {
    let output = Command::new(python)
        .args([
            "-c",
            "import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi'))",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let capi = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let mut libraries: Vec<PathBuf> = std::fs::read_dir(&capi)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so"))
        })
        .collect();
    libraries.sort();
    libraries.pop()
}

/// A `--volume CLAIM=DIR`: the local directory that stands for a PersistentVolumeClaim.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// The claim's name, as in `pvc://CLAIM/path`.
    pub claim: String,
    /// The directory, absolute.
    pub dir: PathBuf,
}

/// Parses `--volume CLAIM=DIR`.
pub fn parse_volume(text: &str) -> Result<Volume, CliError> {
    let Some((claim, dir)) = text.split_once('=') else {
        return Err(CliError::usage(format!(
            "--volume {text:?}: write CLAIM=DIR, for example --volume lepton-datasets=examples/data"
        )));
    };
    if !lepton_crds::admission::is_dns_subdomain(claim) || claim.contains('.') {
        return Err(CliError::usage(format!(
            "--volume {text:?}: {claim:?} is not a claim name (lower-case letters, digits and `-`)"
        )));
    }
    let dir = Path::new(dir);
    let dir = std::fs::canonicalize(dir)
        .map_err(|e| CliError::usage(format!("--volume {text:?}: {}: {e}", dir.display())))?;
    if !dir.is_dir() {
        return Err(CliError::usage(format!(
            "--volume {text:?}: {} is not a directory",
            dir.display()
        )));
    }
    Ok(Volume {
        claim: claim.to_owned(),
        dir,
    })
}

/// Links each volume into the session, where the runner's `LEPTON_PVC_ROOT` points.
pub fn mount(session: &SessionDir, volumes: &[Volume]) -> Result<(), CliError> {
    for volume in volumes {
        let link = session.volumes().join(&volume.claim);
        std::os::unix::fs::symlink(&volume.dir, &link).map_err(|e| {
            CliError::Setup(format!(
                "cannot link {} to {}: {e}",
                link.display(),
                volume.dir.display()
            ))
        })?;
    }
    Ok(())
}

/// Every data location the manifests read that cannot be read here: a `file://` that does
/// not exist, or a `pvc://` claim with no `--volume`, or a file missing on one. Remote
/// locations (`https://`, `s3://`) are left to the runner.
pub fn check_data(manifests: &[Manifest], volumes: &[Volume]) -> Result<(), CliError> {
    let mut problems = Vec::new();
    for m in manifests {
        let field = match m.kind {
            Kind::TrainingJob => "/spec/data/source",
            Kind::TuningSweep => "/spec/template/spec/data/source",
            Kind::ModelDeployment => continue,
        };
        let Some(source) = m.object.pointer(field).and_then(Value::as_str) else {
            continue;
        };
        let shown = field.trim_start_matches('/').replace('/', ".");
        if let Some(problem) = local_problem(source, volumes) {
            problems.push(format!("{}: {shown} {source:?}: {problem}", m.origin));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::Input(problems.join("\n")))
    }
}

/// Where a `file://` or `pvc://` location is on this machine.
pub fn local_path(source: &str, volumes: &[Volume]) -> Option<PathBuf> {
    if let Some(path) = source.strip_prefix("file://") {
        return Some(PathBuf::from(path));
    }
    let rest = source.strip_prefix("pvc://")?;
    let (claim, path) = rest.split_once('/')?;
    let volume = volumes.iter().find(|v| v.claim == claim)?;
    Some(volume.dir.join(path))
}

fn local_problem(source: &str, volumes: &[Volume]) -> Option<String> {
    if let Some(rest) = source.strip_prefix("pvc://") {
        let claim = rest.split('/').next().unwrap_or_default();
        if !volumes.iter().any(|v| v.claim == claim) {
            return Some(format!(
                "the claim {claim:?} has no local directory: pass --volume {claim}=DIR (the directory holding what the claim holds)"
            ));
        }
    }
    let path = local_path(source, volumes)?;
    if path.exists() {
        None
    } else {
        Some(format!(
            "{} does not exist on this machine: fix the path, or copy the data there",
            path.display()
        ))
    }
}

/// The operator configuration of a local run: node pools priced as typical cloud machines (so
/// cost and the cost side of the Pareto front mean something), models under the session's
/// `artifacts/`, claims under its `volumes/`, and progress reported twice a second.
pub fn default_operator_config(session: &SessionDir) -> String {
    format!(
        "# Lepton local mode: node pools and prices the run is costed with.
currency: USD
defaultNodePool: cpu-small
nodePools:
  - name: cpu-small          # 2 vCPU, 4 GiB
    pricePerNodeHour: 0.085
  - name: cpu                # 8 vCPU, 32 GiB
    pricePerNodeHour: 0.34
  - name: gpu                # 1 GPU of the A10G class
    gpuType: A10G
    pricePerGpuHour: 1.01
artifactStore: file://{artifacts}
pvcMountRoot: {volumes}
training:
  progressIntervalSeconds: 0.5
serving:
  scrapeIntervalSeconds: 1
  shutdownDelaySeconds: 0
  drainTimeoutSeconds: 2
",
        artifacts = session.artifacts().display(),
        volumes = session.volumes().display(),
    )
}

/// The configuration from `--config FILE` with the session's artifact store and claim root,
/// which must be local paths here.
pub fn operator_config_from(
    session: &SessionDir,
    file: &Path,
) -> Result<lepton_operator::config::OperatorConfig, CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::Setup(format!("--config {}: {e}", file.display())))?;
    let mut config = lepton_operator::config::OperatorConfig::parse(&text)
        .map_err(|e| CliError::Input(format!("--config {}: {e}", file.display())))?;
    config.artifact_store = format!("file://{}", session.artifacts().display());
    config.pvc_mount_root = session.volumes().display().to_string();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests;

    fn examples() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
    }

    #[test]
    fn volumes_are_claim_equals_directory() {
        let v = parse_volume(&format!(
            "lepton-datasets={}",
            examples().join("data").display()
        ))
        .unwrap();
        assert_eq!(v.claim, "lepton-datasets");
        assert!(v.dir.is_absolute());
        for (bad, says) in [
            ("nodir", "write CLAIM=DIR"),
            ("Bad_Claim=somewhere", "is not a claim name"),
            ("data=/nonexistent/dir", "/nonexistent/dir"),
        ] {
            let e = parse_volume(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn data_checks_name_the_manifest_field_and_the_fix() {
        let loaded = manifests::load(&[examples().join("credit-default")], "default").unwrap();
        let e = check_data(&loaded, &[]).unwrap_err().to_string();
        assert!(
            e.contains("spec.data.source") && e.contains("pass --volume lepton-datasets=DIR"),
            "{e}"
        );
        let data = parse_volume(&format!(
            "lepton-datasets={}",
            examples().join("data").display()
        ))
        .unwrap();
        check_data(&loaded, std::slice::from_ref(&data)).unwrap();
        let elsewhere = Volume {
            claim: "lepton-datasets".into(),
            dir: examples().join("credit-default"),
        };
        let e = check_data(&loaded, &[elsewhere]).unwrap_err().to_string();
        assert!(
            e.contains("Default.csv does not exist on this machine"),
            "{e}"
        );
    }

    #[test]
    fn a_cluster_configuration_is_used_with_the_sessions_directories() {
        let dir = std::env::temp_dir().join(format!("lepton-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let session = SessionDir::at(&dir.join("session"));
        let file = dir.join("operator.yaml");
        std::fs::write(
            &file,
            "nodePools: [{name: big, pricePerNodeHour: 2.5}]\nartifactStore: s3://models/lepton\n",
        )
        .unwrap();
        let config = operator_config_from(&session, &file).unwrap();
        assert_eq!(config.node_pools[0].name, "big");
        assert!(config.artifact_store.starts_with("file://"));
        assert!(config.artifact_store.ends_with("session/artifacts"));
        std::fs::write(&file, "nodePools: [{name: big, pricePerHour: 2.5}]\n").unwrap();
        let e = operator_config_from(&session, &file)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("--config {}", file.display())),
            "{e}"
        );
        assert!(
            e.contains("pricePerHour"),
            "the unknown field is named: {e}"
        );
        let e = operator_config_from(&session, &dir.join("missing.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.yaml"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_local_configuration_parses_and_prices_the_example_pool() {
        let session = SessionDir::at(&std::env::temp_dir().join("lepton-config-test"));
        let config =
            lepton_operator::config::OperatorConfig::parse(&default_operator_config(&session))
                .unwrap();
        assert!(
            config
                .node_pools
                .iter()
                .any(|p| p.name == "cpu-small" && p.price_per_node_hour.is_some())
        );
        assert!(config.artifact_store.ends_with("/artifacts"));
    }
}
