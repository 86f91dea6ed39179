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
