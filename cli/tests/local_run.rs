//! `lepton run` as a user runs it: the real binary, the real runner, the example manifests on
//! ISLP data, real kubectl against the session, and what Ctrl-C and `kill -9` leave behind.

#[path = "../../runner/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{TempDir, repo_root};

fn lepton() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lepton"));
    let runner = Path::new(env!("CARGO_BIN_EXE_lepton")).with_file_name("lepton-runner");
    assert!(
        runner.exists(),
        "{} is missing: build it (`cargo build -p lepton-runner`; `make test` does)",
        runner.display()
    );
    command
        .env("LEPTON_ORT_LIB", common::ort_library())
        .env_remove("KUBECONFIG")
        .env("COLUMNS", "200");
    command
}

/// Writes `text` to `name` in the work directory.
fn manifest(work: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = work.0.join(name);
    std::fs::write(&path, text).expect("manifest written");
    path
}

/// Waits for `child` to exit, up to `timeout`.
fn exit_of(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// A TrainingJob that trains for minutes: 5,000 MLP epochs with early stopping off.
fn long_training(name: &str) -> String {
    format!(
        "apiVersion: lepton.ai/v1alpha1
kind: TrainingJob
metadata: {{name: {name}}}
spec:
  data: {{source: pvc://lepton-datasets/Default.csv, target: default}}
  model: {{family: mlp, metric: auc, hyperparameters: {{epochs: 5000}}, earlyStopping: {{enabled: false}}}}
"
    )
}

fn data_volume() -> String {
    format!(
        "lepton-datasets={}",
        repo_root().join("examples/data").display()
    )
}

fn run_args(session: &Path, files: &[&Path]) -> Vec<String> {
    let mut args = vec!["run".to_owned()];
    for f in files {
        args.push("-f".into());
        args.push(f.display().to_string());
    }
    args.extend([
        "--volume".into(),
        data_volume(),
        "--session-dir".into(),
        session.display().to_string(),
        "--progress".into(),
        "plain".into(),
        "--predictions".into(),
        "50".into(),
        "--timeout".into(),
        "5m".into(),
    ]);
    args
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A running `lepton run --keep`, its stdout lines arriving on a channel.
struct Session {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    dir: PathBuf,
}

impl Session {
    fn start(work: &TempDir, files: &[&Path]) -> Session {
        let dir = work.0.join("session");
        let mut child = lepton()
            .args(run_args(&dir, files))
            .arg("--keep")
            .current_dir(&work.0)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("lepton starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Session {
            child,
            lines,
            seen: Vec::new(),
            dir,
        }
    }

    /// Waits for a stdout line containing `needle`.
    fn wait_for_line(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                let hit = line.contains(needle);
                self.seen.push(line);
                if hit {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "lepton exited ({status}) before printing {needle:?}:\n{}",
                    self.seen.join("\n")
                );
            }
        }
        panic!(
            "no line with {needle:?} within {timeout:?}:\n{}",
            self.seen.join("\n")
        );
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    fn lepton(&self, args: &[&str]) -> Output {
        lepton()
            .args(args)
            .args(["--session-dir", &self.dir.display().to_string()])
            .output()
            .expect("lepton runs")
    }

    fn wait(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        exit_of(&mut self.child, timeout)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Every process descended from `pid`, from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let parent_of = |p: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        // The command name is in parentheses and may hold spaces; the fields after it are
        // state, then the parent's pid.
        let after = &stat[stat.rfind(')')? + 2..];
        after.split_whitespace().nth(1)?.parse().ok()
    };
    let all: Vec<u32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    let mut found = vec![pid];
    let mut grew = true;
    while grew {
        grew = false;
        for &p in &all {
            if !found.contains(&p) && parent_of(p).is_some_and(|pp| found.contains(&pp)) {
                found.push(p);
                grew = true;
            }
        }
    }
    found.retain(|&p| p != pid);
    found
}

/// Whether a process runs (a zombie has finished running).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.get(s.rfind(')')? + 2..).map(|r| !r.starts_with('Z')))
        .unwrap_or(false)
}

fn kill(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let output = match Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
    {
        Ok(output) => output,
        Err(e) if std::env::var_os("LEPTON_SKIP_KUBECTL").is_some() => {
            eprintln!("kubectl not run ({e}); LEPTON_SKIP_KUBECTL is set");
            return String::new();
        }
        Err(e) => panic!(
            "kubectl is needed for this test (install it, or set LEPTON_SKIP_KUBECTL=1): {e}"
        ),
    };
    let (out, err) = text(&output);
    assert!(
        output.status.success(),
        "kubectl {args:?} failed:\n{out}\n{err}"
    );
    out
}

#[test]
fn the_credit_default_pipeline_runs_and_kubectl_and_ctrl_c_work() {
    let work = TempDir::new("lepton-run");
    let examples = repo_root().join("examples/credit-default");
    let mut session = Session::start(&work, &[&examples]);
    session.wait_for_line("Serving credit-default at", Duration::from_secs(240));
    let out = session.seen.join("\n");
    for expected in [
        "tuningsweep.lepton.ai/credit-default-sweep   Succeeded   12/12",
        "Pareto front of tuningsweep/credit-default-sweep",
        "← deployed by md/credit-default",
        "serves     tuningSweep/credit-default-sweep/",
        "(select: fastestWithin, tolerance 0.005)",
        "\"probabilities\"",
        "50 ok",
        "curl -s http://127.0.0.1:",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }

    // Plain kubectl against the session.
    let tables = kubectl(&session.kubeconfig(), &["get", "tj,ts,md"]);
    if !tables.is_empty() {
        assert!(
            tables.contains("trainingjob.lepton.ai/credit-default "),
            "{tables}"
        );
        assert!(
            tables.contains("tuningsweep.lepton.ai/credit-default-sweep"),
            "{tables}"
        );
        assert!(
            tables.contains("modeldeployment.lepton.ai/credit-default"),
            "{tables}"
        );
        assert!(
            tables.contains("Succeeded") && tables.contains("True"),
            "{tables}"
        );
        kubectl(
            &session.kubeconfig(),
            &[
                "wait",
                "--for=condition=Ready",
                "md/credit-default",
                "--timeout=10s",
            ],
        );
    }

    // The other commands find the session by its directory.
    let (got, err) = text(&session.lepton(&["get", "lepton"]));
    assert!(got.contains("credit-default-sweep-t11"), "{got}\n{err}");
    let (all, err) = text(&session.lepton(&["describe", "md"]));
    assert!(all.contains("Name:       credit-default\n"), "{all}\n{err}");
    let (described, err) = text(&session.lepton(&["describe", "ts", "credit-default-sweep"]));
    assert!(
        described.contains("Trials:") && described.contains("FRONT"),
        "{described}\n{err}"
    );
    let (predicted, err) = text(&session.lepton(&[
        "predict",
        "credit-default",
        "--row",
        r#"{"student": "No", "balance": 1500, "income": 30000}"#,
    ]));
    assert!(predicted.contains("probabilities"), "{predicted}\n{err}");
    let (reported, err) = text(&session.lepton(&["report"]));
    assert!(
        reported.trim_end().ends_with("report.html") || reported.contains("report.html"),
        "{reported}\n{err}"
    );

    // Mistakes against a live session name what is missing.
    let output = session.lepton(&["predict", "no-such-model", "--row", "{}"]);
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no ModelDeployment \"no-such-model\" in namespace default"),
        "{err}"
    );
    let output = session.lepton(&["describe", "widget", "x"]);
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("shows tj, ts and md, not \"widget\""), "{err}");
    let output = session.lepton(&["get", "widgets"]);
    let (_, err) = text(&output);
    assert!(
        err.contains("doesn't have a resource type \"widgets\""),
        "{err}"
    );
    let output = session.lepton(&[
        "predict",
        "credit-default",
        "--row",
        r#"{"balance": "lots"}"#,
    ]);
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("answered 400"),
        "the server's reason is shown: {err}"
    );

    // Ctrl-C stops everything the run started.
    let pid = session.child.id();
    let children = descendants(pid);
    assert!(
        !children.is_empty(),
        "the model server runs as a child process"
    );
    kill("-INT", pid);
    let status = session
        .wait(Duration::from_secs(30))
        .expect("lepton exits after Ctrl-C");
    assert!(
        status.success(),
        "a kept session ends cleanly on Ctrl-C: {status}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let left: Vec<u32> = children.into_iter().filter(|&p| alive(p)).collect();
    assert!(left.is_empty(), "processes left after Ctrl-C: {left:?}");
    assert!(!session.dir.join("session.json").exists());
    assert!(session.dir.join("report/report.html").exists());

    // After the session, `lepton report` draws the recorded run.
    let elsewhere = work.0.join("report-after");
    let output = session.lepton(&["report", "--output", &elsewhere.display().to_string()]);
    let (out, err) = text(&output);
    assert!(output.status.success(), "{out}\n{err}");
    let page = std::fs::read_to_string(elsewhere.join("report.html")).expect("report written");
    assert!(
        page.contains("credit-default-sweep"),
        "the recorded sweep is drawn"
    );
}

#[test]
fn kill_9_of_lepton_leaves_no_model_server_behind() {
    let work = TempDir::new("lepton-kill");
    let pipeline = manifest(
        &work,
        "pipeline.yaml",
        "apiVersion: lepton.ai/v1alpha1
kind: TrainingJob
metadata: {name: quick}
spec:
  data: {source: pvc://lepton-datasets/Default.csv, target: default}
  model: {family: linear, metric: auc, hyperparameters: {epochs: 2}}
---
apiVersion: lepton.ai/v1alpha1
kind: ModelDeployment
metadata: {name: quick}
spec:
  model: {trainingJob: quick}
",
    );
    let mut session = Session::start(&work, &[&pipeline]);
    session.wait_for_line("Serving quick at", Duration::from_secs(120));
    let pid = session.child.id();
    let children = descendants(pid);
    assert!(!children.is_empty());
    kill("-KILL", pid);
    session.wait(Duration::from_secs(5)).expect("killed");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut left: Vec<u32> = children.clone();
    while Instant::now() < deadline && !left.is_empty() {
        std::thread::sleep(Duration::from_millis(100));
        left.retain(|&p| alive(p));
    }
    assert!(left.is_empty(), "processes outlived lepton: {left:?}");
}

#[test]
fn an_invalid_manifest_is_refused_before_anything_starts() {
    let work = TempDir::new("lepton-invalid");
    let fixture = repo_root().join("tests/fixtures/invalid/md-batch-size-zero.yaml");
    let session = work.0.join("session");
    let output = lepton()
        .args(run_args(&session, &[&fixture]))
        .current_dir(&work.0)
        .output()
        .unwrap();
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{out}\n{err}");
    assert!(
        err.contains("ModelDeployment.lepton.ai \"credit-default\" is invalid: spec.runtime.batching.maxBatchSize: Invalid value: 0: must be greater than or equal to 1"),
        "{err}"
    );
    assert!(!session.exists(), "nothing was started or written");
}

#[test]
fn a_missing_dataset_is_refused_and_a_runner_failure_is_summarised() {
    let work = TempDir::new("lepton-fail");
    let missing = manifest(
        &work,
        "missing.yaml",
        "apiVersion: lepton.ai/v1alpha1
kind: TrainingJob
metadata: {name: lost}
spec:
  data: {source: pvc://lepton-datasets/NoSuch.csv, target: default}
",
    );
    let session = work.0.join("session");
    let output = lepton()
        .args(run_args(&session, &[&missing]))
        .output()
        .unwrap();
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("spec.data.source \"pvc://lepton-datasets/NoSuch.csv\""),
        "{err}"
    );
    assert!(
        err.contains("NoSuch.csv does not exist on this machine"),
        "{err}"
    );

    let wrong_column = manifest(
        &work,
        "wrong.yaml",
        "apiVersion: lepton.ai/v1alpha1
kind: TrainingJob
metadata: {name: wrong}
spec:
  data: {source: pvc://lepton-datasets/Default.csv, target: defaulted}
  runPolicy: {backoffLimit: 0}
",
    );
    let started = Instant::now();
    let output = lepton()
        .args(run_args(&session, &[&wrong_column]))
        .output()
        .unwrap();
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}\n{err}");
    assert!(out.contains("What did not succeed:"), "{out}");
    assert!(out.contains("trainingjob/wrong"), "{out}");
    assert!(
        out.contains("defaulted"),
        "the runner's reason names the column:\n{out}"
    );
    assert!(out.contains("log: "), "{out}");
    assert!(err.contains("1 resource did not succeed"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(120), "no hang");
}

#[test]
fn the_regression_example_trains_serves_and_predicts() {
    let work = TempDir::new("lepton-regression");
    let session = work.0.join("session");
    let example = repo_root().join("examples/credit-balance");
    let output = lepton()
        .args(run_args(&session, &[&example]))
        .output()
        .unwrap();
    let (out, err) = text(&output);
    assert!(output.status.success(), "{out}\n{err}");
    assert!(
        out.contains("trainingjob.lepton.ai/credit-balance") && out.contains("rmse"),
        "{out}"
    );
    assert!(out.contains("predicted  {"), "{out}");
}

#[test]
fn ctrl_c_while_training_stops_every_process() {
    let work = TempDir::new("lepton-interrupt");
    let pipeline = manifest(&work, "long.yaml", &long_training("long"));
    let session = work.0.join("session");
    let mut child = lepton()
        .args(run_args(&session, &[&pipeline]))
        .current_dir(&work.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut children = Vec::new();
    while Instant::now() < deadline && children.is_empty() {
        std::thread::sleep(Duration::from_millis(100));
        children = descendants(pid)
            .into_iter()
            .filter(|&p| {
                std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| c.contains("train"))
            })
            .collect();
    }
    assert!(!children.is_empty(), "the trainer started");
    std::thread::sleep(Duration::from_millis(500));
    kill("-INT", pid);
    let status =
        exit_of(&mut child, Duration::from_secs(30)).expect("lepton exits within 30 s of Ctrl-C");
    assert_eq!(status.code(), Some(130), "an interrupted run says so");
    let left: Vec<u32> = children.into_iter().filter(|&p| alive(p)).collect();
    assert!(left.is_empty(), "processes left after Ctrl-C: {left:?}");
    assert!(!session.join("session.json").exists());
}

#[test]
fn a_run_past_its_timeout_ends_with_a_summary_and_no_process() {
    let work = TempDir::new("lepton-timeout");
    let pipeline = manifest(&work, "slow.yaml", &long_training("slow"));
    let session = work.0.join("session");
    let mut args = run_args(&session, &[&pipeline]);
    args.extend(["--timeout".into(), "3s".into()]);
    let output = lepton().args(args).current_dir(&work.0).output().unwrap();
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}\n{err}");
    assert!(
        out.contains("(the run reached --timeout 3s; raise it to wait longer)"),
        "{out}"
    );
    assert!(out.contains("trainingjob/slow  TimedOut"), "{out}");
    let logs = session.join("pods/default");
    let stray: Vec<u32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&p: &u32| {
            alive(p)
                && std::fs::read_to_string(format!("/proc/{p}/environ"))
                    .is_ok_and(|env| env.contains(&logs.display().to_string()))
        })
        .collect();
    assert!(
        stray.is_empty(),
        "runner processes of this run are left: {stray:?}"
    );
}
