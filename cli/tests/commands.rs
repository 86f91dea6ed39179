//! Every way the `lepton` command refuses what it is given: the exit status and a message that
//! names the flag, file or field and says what to do. None of these start a session.

use std::path::Path;
use std::process::{Command, Output};

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn lepton(args: &[&str]) -> (Option<i32>, String, String) {
    let home = std::env::temp_dir().join(format!("lepton-commands-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let output: Output = Command::new(env!("CARGO_BIN_EXE_lepton"))
        .args(args)
        .current_dir(repo())
        .env_remove("KUBECONFIG")
        .env("HOME", &home)
        .output()
        .expect("lepton runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn refused(args: &[&str], code: i32, says: &[&str]) {
    let (status, out, err) = lepton(args);
    assert_eq!(status, Some(code), "lepton {args:?}:\n{out}\n{err}");
    for s in says {
        assert!(err.contains(s), "lepton {args:?}: missing {s:?} in:\n{err}");
    }
}

#[test]
fn usage_errors_exit_2_and_name_what_is_wrong() {
    refused(&[], 2, &["usage: lepton <command>"]);
    refused(&["frobnicate"], 2, &["unknown command `frobnicate`"]);
    refused(&["run"], 2, &["-f FILE_OR_DIR is required"]);
    refused(
        &["up", "examples/credit-default"],
        2,
        &["`lepton up` applies nothing; use kubectl, or `lepton run -f`"],
    );
    refused(
        &["up", "--port", "http"],
        2,
        &["--port \"http\" is not a port number"],
    );
    refused(
        &["up", "--volume", "nodir"],
        2,
        &["--volume \"nodir\": write CLAIM=DIR"],
    );
    refused(
        &["up", "--config", "no-such-config.yaml"],
        1,
        &["no-such-config.yaml"],
    );
    refused(&["run", "-f"], 2, &["-f needs a value"]);
    refused(
        &["run", "-f", "x", "--volume", "nodir"],
        2,
        &["--volume \"nodir\": write CLAIM=DIR"],
    );
    refused(
        &["run", "-f", "x", "--timeout", "soon"],
        2,
        &["--timeout \"soon\" is not a duration"],
    );
    refused(
        &["run", "-f", "x", "--progress", "fancy"],
        2,
        &["--progress \"fancy\": write live, plain or quiet"],
    );
    refused(
        &["run", "-f", "x", "--predictions", "many"],
        2,
        &["--predictions \"many\" is not a whole number"],
    );
    refused(
        &["run", "-f", "x", "stray"],
        2,
        &["unexpected argument \"stray\""],
    );
    refused(&["get"], 2, &["name a resource type"]);
    refused(&["get", "tj", "-o", "yaml"], 2, &["-o \"yaml\"", "kubectl"]);
    refused(&["describe"], 2, &["give a type and optionally a name"]);
    refused(
        &["predict", "credit-default"],
        2,
        &["give the rows: --row JSON or --file FILE"],
    );
    refused(
        &["predict", "credit-default", "--row", "{oops"],
        2,
        &["--row is not valid JSON"],
    );
    refused(
        &["predict", "md", "--row", "{}", "--file", "a.csv"],
        2,
        &["give --row or --file, not both"],
    );
    let (status, out, _) = lepton(&["run", "--help"]);
    assert_eq!(status, Some(0));
    assert!(out.contains("--volume CLAIM=DIR"), "{out}");
}

#[test]
fn input_errors_exit_2_before_anything_starts() {
    refused(
        &[
            "run",
            "-f",
            "examples/credit-default/",
            "--session-dir",
            "target/never",
        ],
        2,
        &[
            "examples/credit-default/tuning-sweep.yaml: spec.template.spec.data.source",
            "pass --volume lepton-datasets=DIR",
        ],
    );
    refused(
        &["run", "-f", "no/such/dir", "--session-dir", "target/never"],
        2,
        &["-f no/such/dir:"],
    );
    assert!(!repo().join("target/never").exists());
}

#[test]
fn a_missing_runner_or_onnx_runtime_says_how_to_get_it() {
    let volume = "lepton-datasets=examples/data";
    refused(
        &[
            "run",
            "-f",
            "examples/credit-default/",
            "--volume",
            volume,
            "--runner",
            "/no/lepton-runner",
            "--session-dir",
            "target/never",
        ],
        1,
        &[
            "the runner program /no/lepton-runner does not exist",
            "cargo build -p lepton-runner",
        ],
    );
    refused(
        &[
            "run",
            "-f",
            "examples/credit-default/",
            "--volume",
            volume,
            "--ort-lib",
            "/no/libonnxruntime.so",
            "--session-dir",
            "target/never",
        ],
        1,
        &["ONNX Runtime's library /no/libonnxruntime.so does not exist"],
    );
}

#[test]
fn commands_without_a_session_or_cluster_say_how_to_start_one() {
    for args in [
        vec!["get", "tj", "--session-dir", "target/no-session"],
        vec!["describe", "md", "x", "--session-dir", "target/no-session"],
        vec![
            "predict",
            "x",
            "--row",
            "{}",
            "--session-dir",
            "target/no-session",
        ],
        vec!["report", "--session-dir", "target/no-session"],
    ] {
        refused(
            &args,
            1,
            &["no local session runs in", "lepton run -f FILE --keep"],
        );
    }
    refused(
        &["get", "tj", "--kubeconfig", "/no/kubeconfig"],
        1,
        &["/no/kubeconfig"],
    );
}
