//! The runner reports its version and refuses unknown commands with its usage.

use std::process::Command;

#[test]
fn version_and_unknown_commands() {
    let runner = env!("CARGO_BIN_EXE_lepton-runner");
    let out = Command::new(runner).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("lepton-runner {}", env!("CARGO_PKG_VERSION"))
    );
    let out = Command::new(runner).arg("fly").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown command `fly`"));
}
