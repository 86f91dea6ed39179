//! The runner pushes its progress and final results to its own TrainingJob's status on an
//! embedded API server, and a failing or missing API server never fails training.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{TempDir, example_data, ort_library};
use kube::Api;
use kube::api::PostParams;
use lepton_crds::v1alpha1::TrainingJob;
use lepton_embedded_cluster::{EmbeddedCluster, RequestMatcher};
use serde_json::{Value, json};

const NAMESPACE: &str = "default";

/// A linear model on the Default table, with enough epochs (about a second) that several
/// progress writes happen while it trains.
fn manifest(name: &str) -> Value {
    json!({
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "data": {"source": example_data("Default.csv"), "target": "default"},
            "model": {
                "family": "linear",
                "hyperparameters": {"epochs": 400},
                "earlyStopping": {"enabled": false},
            },
        },
    })
}

struct Setup {
    cluster: EmbeddedCluster,
    api: Api<TrainingJob>,
    dir: TempDir,
}

async fn setup(name: &str) -> Setup {
    let cluster = EmbeddedCluster::start().await.expect("the cluster starts");
    let dir = TempDir::new(&format!("status-{name}"));
    cluster
        .write_kubeconfig(&dir.path("kubeconfig"))
        .expect("kubeconfig written");
    let client = cluster.client().await.expect("a client");
    Setup {
        cluster,
        api: Api::namespaced(client, NAMESPACE),
        dir,
    }
}

impl Setup {
    /// Creates the TrainingJob and returns it as the operator hands it to the pod.
    async fn create(&self, name: &str) -> String {
        let job: TrainingJob = serde_json::from_value(manifest(name)).unwrap();
        let created = self
            .api
            .create(&PostParams::default(), &job)
            .await
            .expect("the TrainingJob is created");
        serde_json::to_string(&created).unwrap()
    }

    /// `lepton-runner train` reporting to this cluster.
    fn runner(&self, job: &str) -> Command {
        let mut cmd = runner(&self.dir);
        cmd.env("KUBECONFIG", self.dir.path("kubeconfig"))
            .env("LEPTON_STATUS_REPORTING", "kubernetes")
            .env("LEPTON_STATUS_INTERVAL_MS", "50")
            .env("LEPTON_TRAINING_JOB", job);
        cmd
    }

    async fn status(&self, name: &str) -> Value {
        let job = self.api.get(name).await.expect("the TrainingJob exists");
        serde_json::to_value(job).unwrap()
    }
}

/// `lepton-runner train` writing its outputs into `dir`, with no reporting settings of the
/// caller's environment leaking in.
fn runner(dir: &TempDir) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lepton-runner"));
    cmd.arg("train")
        .args(["--output", &dir.uri("out/")])
        .arg("--results")
        .arg(dir.path("results.json"))
        .arg("--termination-log")
        .arg(dir.path("termination.log"))
        .env("LEPTON_ORT_LIB", ort_library())
        .env_remove("RUST_LOG")
        .env_remove("LEPTON_LOG_FORMAT")
        .env_remove("LEPTON_STATUS_REPORTING")
        .env_remove("LEPTON_STATUS_INTERVAL_MS")
        .env_remove("KUBECONFIG");
    cmd
}

/// Runs the runner off the runtime's threads, which serve the embedded cluster meanwhile.
async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("the runner starts"))
        .await
        .unwrap()
}

fn succeeded(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // Shown when a later assertion fails.
    eprintln!("{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// Warnings of the status reporter in the runner's log.
fn status_warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("status"))
        .collect()
}

/// Progress events with a training step on stdout.
fn steps_on_stdout(output: &Output) -> usize {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "progress" && e.get("step").is_some())
        .count()
}

fn results(dir: &TempDir) -> Value {
    serde_json::from_slice(&std::fs::read(dir.path("results.json")).expect("results file")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_and_results_land_in_the_status_owned_by_the_runner() {
    let s = setup("happy").await;
    let job = s.create("credit").await;
    // A delay too short to matter, to count the status writes.
    s.cluster.faults().delay_all(
        RequestMatcher::any()
            .method("PATCH")
            .path_contains("/status"),
        Duration::from_millis(1),
    );
    let output = run(s.runner(&job)).await;
    let stderr = succeeded(&output);
    assert!(status_warnings(&stderr).is_empty(), "{stderr}");
    let epochs = steps_on_stdout(&output);
    let writes = s.cluster.faults().fired();
    assert!(epochs >= 400, "stdout still gets every event: {epochs}");
    assert!(
        (3..epochs / 4).contains(&writes),
        "progress is written while training runs, coalesced: {writes} writes for {epochs} epochs"
    );

    let object = s.status("credit").await;
    let status = &object["status"];
    let progress = &status["progress"];
    assert_eq!(progress["family"], "linear", "{status}");
    assert!(progress["step"].as_i64().unwrap() > 0, "{status}");
    assert!(progress["totalSteps"].as_i64().is_some(), "{status}");
    assert!(progress["updatedAt"].as_str().is_some(), "{status}");
    let results = results(&s.dir);
    assert_eq!(status["objective"], results["objective"]);
    assert_eq!(status["objective"]["metric"], "auc");
    assert_eq!(status["metrics"], results["metrics"]);
    assert_eq!(status["data"], results["data"]);
    assert_eq!(status["model"]["sha256"], results["model"]["sha256"]);
    assert_eq!(status["model"]["uri"], results["model"]["uri"]);
    for operators in ["phase", "conditions", "cost", "attempts", "startTime"] {
        assert!(status.get(operators).is_none(), "{operators}: {status}");
    }

    let entries = object["metadata"]["managedFields"].as_array().unwrap();
    let ours: Vec<&Value> = entries
        .iter()
        .filter(|e| e["manager"] == "lepton-runner")
        .collect();
    assert_eq!(ours.len(), 1, "{entries:?}");
    let entry = ours[0];
    assert_eq!(entry["operation"], "Apply");
    assert_eq!(entry["subresource"], "status");
    let fields = entry["fieldsV1"].as_object().unwrap();
    assert_eq!(
        fields.keys().collect::<Vec<_>>(),
        ["f:status"],
        "only status fields: {entry}"
    );
    let mut owned: Vec<&str> = fields["f:status"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    owned.sort_unstable();
    assert_eq!(
        owned,
        [
            "f:data",
            "f:metrics",
            "f:model",
            "f:objective",
            "f:progress"
        ]
    );
    s.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_status_writes_never_fail_training_and_are_logged_once() {
    let s = setup("failing").await;
    let job = s.create("credit").await;
    // 500 rather than 503: kube itself retries 503, 429 and 504.
    s.cluster.faults().fail_next(
        usize::MAX,
        RequestMatcher::any()
            .method("PATCH")
            .path_contains("/status"),
        500,
    );
    let started = Instant::now();
    let output = run(s.runner(&job)).await;
    let stderr = succeeded(&output);
    let failed_writes = s.cluster.faults().fired();
    assert!(failed_writes >= 3, "{failed_writes} writes");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the final flush is bounded"
    );
    let warnings = status_warnings(&stderr);
    assert_eq!(
        warnings.len(),
        1,
        "one warning, not one per write:\n{stderr}"
    );
    assert!(warnings[0].contains("500"), "{}", warnings[0]);

    assert_eq!(results(&s.dir)["phase"], "Succeeded");
    let termination: Value =
        serde_json::from_slice(&std::fs::read(s.dir.path("termination.log")).unwrap()).unwrap();
    assert_eq!(termination["phase"], "Succeeded");
    assert!(s.dir.path("out/model.onnx").exists());
    assert!(
        s.status("credit").await.get("status").is_none(),
        "nothing got through"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_training_job_is_one_warning() {
    let s = setup("missing").await;
    let job = serde_json::to_string(&manifest("never-created")).unwrap();
    let output = run(s.runner(&job)).await;
    let stderr = succeeded(&output);
    let warnings = status_warnings(&stderr);
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("does not exist"), "{}", warnings[0]);
    assert_eq!(results(&s.dir)["phase"], "Succeeded");
}

#[test]
fn bad_reporting_settings_are_usage_errors_naming_the_variable() {
    let dir = TempDir::new("status-usage");
    let cases = [
        ("LEPTON_STATUS_REPORTING", "yes", "5000"),
        ("LEPTON_STATUS_INTERVAL_MS", "kubernetes", "5s"),
    ];
    for (variable, reporting, interval) in cases {
        let output = runner(&dir)
            .env("LEPTON_STATUS_REPORTING", reporting)
            .env("LEPTON_STATUS_INTERVAL_MS", interval)
            .env(
                "LEPTON_TRAINING_JOB",
                serde_json::to_string(&manifest("credit")).unwrap(),
            )
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{variable}: {stderr}");
        assert!(stderr.contains(variable), "{stderr}");
        assert!(!dir.path("results.json").exists(), "nothing ran");
    }
}

#[test]
fn a_bare_spec_trains_without_reporting_and_says_why() {
    let dir = TempDir::new("status-bare");
    let spec = manifest("credit")["spec"].clone();
    let output = runner(&dir)
        .env("LEPTON_STATUS_REPORTING", "kubernetes")
        .env("LEPTON_TRAINING_JOB", spec.to_string())
        // Nothing listens here: a connection attempt would be a warning.
        .env("KUBECONFIG", dir.path("no-kubeconfig"))
        .output()
        .unwrap();
    let stderr = succeeded(&output);
    let off: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("status reporting is off"))
        .collect();
    assert_eq!(off.len(), 1, "{stderr}");
    assert!(
        off[0].contains("INFO") && off[0].contains("metadata.name"),
        "{}",
        off[0]
    );
    assert!(status_warnings(&stderr).is_empty(), "{stderr}");
    assert_eq!(results(&dir)["phase"], "Succeeded");
}
