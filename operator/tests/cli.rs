//! `lepton-operator crd` prints exactly the generated CRDs; unknown commands fail with usage.

use std::process::Command;

fn operator(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lepton-operator"))
        .args(args)
        .output()
        .expect("lepton-operator runs")
}

#[test]
fn crd_prints_every_generated_crd() {
    let out = operator(&["crd"]);
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).expect("UTF-8 output");
    let documents: Vec<&str> = printed.split("---\n").collect();
    let expected: Vec<String> = lepton_crds::generate::crds()
        .iter()
        .map(lepton_crds::generate::crd_yaml)
        .collect();
    assert_eq!(documents, expected);
}

#[test]
fn an_unknown_command_fails_with_usage() {
    let out = operator(&["reconcile-everything"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown command `reconcile-everything`"),
        "{stderr}"
    );
    assert!(stderr.contains("usage: lepton-operator"), "{stderr}");
}

#[test]
fn rbac_prints_the_roles_and_bad_options_are_usage_errors() {
    let out = operator(&["rbac"]);
    assert!(out.status.success());
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("kind: ClusterRole"), "{printed}");
    assert!(
        printed.contains("name: lepton-operator-leader-election"),
        "{printed}"
    );
    assert!(printed.contains("namespace: lepton-system"), "{printed}");
    let other = operator(&["rbac", "--namespace", "ml-ops"]);
    assert!(String::from_utf8_lossy(&other.stdout).contains("namespace: ml-ops"));
    for (args, says) in [
        (&["rbac", "--namespace"][..], "--namespace needs a value"),
        (
            &["rbac", "--cluster"][..],
            "unknown rbac option `--cluster`",
        ),
        (
            &["run", "--leader-elect", "maybe"][..],
            "--leader-elect takes true or false",
        ),
    ] {
        let out = operator(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn run_with_an_unreadable_configuration_fails_naming_the_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_lepton-operator"))
        .args([
            "run",
            "--config",
            "missing/operator-config.yaml",
            "--log-format",
            "text",
        ])
        .output()
        .expect("lepton-operator runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read the configuration file missing/operator-config.yaml"),
        "{stderr}"
    );
}

#[test]
fn run_with_an_invalid_configuration_fails_naming_the_field() {
    let dir = std::env::temp_dir().join(format!("lepton-operator-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.yaml");
    std::fs::write(&path, "nodePools: [{name: gpu, pricePerGpuHour: -2}]\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lepton-operator"))
        .args([
            "run",
            "--config",
            &path.display().to_string(),
            "--log-format",
            "text",
        ])
        .output()
        .expect("lepton-operator runs");
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nodePools[0].pricePerGpuHour"), "{stderr}");
}

#[test]
fn run_without_a_cluster_says_so() {
    let out = Command::new(env!("CARGO_BIN_EXE_lepton-operator"))
        .args(["run", "--log-format", "text"])
        .env("KUBECONFIG", "missing/kubeconfig")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("lepton-operator runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot reach the Kubernetes API server"),
        "{stderr}"
    );
}
