//! Training each family on real data (ISLP's Default and Credit tables), exporting, and checking
//! the ONNX file independently with Python's `onnx.checker` and `onnxruntime`.

mod common;

use std::process::Command;

use common::{TempDir, example_data, ort_library, python, repo_root};
use lepton_runner::progress::NullReporter;
use lepton_runner::spec::parse_job;
use lepton_runner::train::{TrainOptions, TrainOutcome, train};

fn run(dir: &TempDir, manifest: &str) -> TrainOutcome {
    let job = parse_job(manifest).expect("the test manifest is valid");
    let options = TrainOptions {
        output: Some(dir.uri("model")),
        ort_library: Some(ort_library()),
        predictions_file: Some(dir.path("predictions.json")),
        results_file: Some(dir.path("results.json")),
        ..TrainOptions::default()
    };
    train(&job, &options, &NullReporter)
        .unwrap_or_else(|e| panic!("training failed ({}): {e}", e.reason()))
}

/// Runs the Python checker on the exported model; panics with its output on failure.
fn python_check(dir: &TempDir) -> serde_json::Value {
    let output = Command::new(python())
        .arg(repo_root().join("runner/tests/python/check_onnx.py"))
        .arg(dir.path("model/model.onnx"))
        .arg(dir.path("predictions.json"))
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "python check failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the checker prints JSON")
}

fn default_job(family: &str) -> String {
    format!(
        "spec:\n  data: {{source: '{}', target: default}}\n  model:\n    family: {family}\n    hyperparameters: {{epochs: 20}}\n",
        example_data("Default.csv")
    )
}

#[test]
fn every_family_trains_on_default_and_python_onnxruntime_agrees_with_the_runner() {
    for family in ["linear", "mlp", "gbdt"] {
        let dir = TempDir::new(&format!("default-{family}"));
        let outcome = run(&dir, &default_job(family));
        let auc = outcome.results.metrics["auc"];
        assert!(auc > 0.93, "{family}: validation AUC {auc}");
        assert_eq!(outcome.card.family, family);
        let verification = &outcome.card.onnx.verification;
        assert!(
            verification.max_abs_diff <= 1e-5,
            "{family}: {verification:?}"
        );
        assert!(
            verification.latency_p50_ms > 0.0
                && verification.latency_p99_ms >= verification.latency_p50_ms
        );

        let bytes = std::fs::read(dir.path("model/model.onnx")).unwrap();
        let model = outcome.results.model.as_ref().unwrap();
        assert_eq!(
            model.sha256.as_deref(),
            Some(lepton_runner::artifact::sha256_hex(&bytes).as_str())
        );
        assert_eq!(model.size_bytes, Some(bytes.len() as i64));
        let card: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path("model/model.json")).unwrap()).unwrap();
        assert_eq!(card["onnx"]["sha256"], model.sha256.clone().unwrap());
        assert_eq!(card["classes"], serde_json::json!(["No", "Yes"]));
        let inputs: Vec<&str> = card["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap())
            .collect();
        assert_eq!(inputs, ["student", "balance", "income"]);

        let checked = python_check(&dir);
        assert_eq!(checked["rows"], 2000, "{family}: {checked}");
        let sample = &outcome.validation_predictions;
        assert_eq!(sample["rows"].as_array().unwrap().len(), 2000);
        let results: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path("results.json")).unwrap()).unwrap();
        assert_eq!(results["phase"], "Succeeded");
    }
}

#[test]
fn regression_on_credit_drops_the_id_and_serves_categories_with_stray_spaces() {
    let dir = TempDir::new("credit-regression");
    let manifest = format!(
        "spec:\n  data: {{source: '{}', target: Balance}}\n  model: {{family: auto, candidates: [linear, gbdt]}}\n",
        example_data("Credit.csv")
    );
    let outcome = run(&dir, &manifest);
    assert_eq!(outcome.card.task, "regression");
    assert!(
        outcome.results.metrics["r2"] > 0.9,
        "{:?}",
        outcome.results.metrics
    );
    let report = &outcome.card.data_report;
    let id = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "ID")
        .unwrap();
    assert_eq!(
        (id["action"].as_str(), id["reason"].as_str()),
        (Some("dropped"), Some("idLike"))
    );
    let candidates = outcome.card.training["candidates"].as_array().unwrap();
    assert_eq!(
        candidates.len(),
        2,
        "auto trains both candidates: {candidates:?}"
    );
    python_check(&dir);

    // " Male" in the file and "Male" from a client are the same category.
    let gender = outcome
        .card
        .inputs
        .iter()
        .find(|i| i.name == "Gender")
        .unwrap();
    assert!(gender.categories.iter().any(|c| c == " Male"), "{gender:?}");
    let script = format!(
        r#"
import onnxruntime as ort, numpy as np, json
s = ort.InferenceSession({model:?})
base = {{}}
for i in s.get_inputs():
    base[i.name] = np.array([["Yes"]], dtype=object) if i.type == "tensor(string)" else np.array([[50.0]])
def predict(gender):
    feeds = dict(base); feeds["Gender"] = np.array([[gender]], dtype=object)
    return float(s.run(["value"], feeds)[0][0][0])
print(json.dumps([predict(" Male"), predict("Male"), predict("Female")]))
"#,
        model = dir.path("model/model.onnx").display().to_string()
    );
    let output = Command::new(python())
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let values: Vec<f64> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        values[0], values[1],
        "trimmed and untrimmed categories agree: {values:?}"
    );
}

#[test]
fn multiclass_targets_export_softmax_probabilities_and_string_labels() {
    let dir = TempDir::new("credit-multiclass");
    let manifest = format!(
        "spec:\n  data: {{source: '{}', target: Ethnicity}}\n  model: {{family: mlp, hyperparameters: {{epochs: 5, hiddenLayers: [16], activation: gelu}}}}\n",
        example_data("Credit.csv")
    );
    let outcome = run(&dir, &manifest);
    assert_eq!(outcome.card.task, "multiclass");
    assert_eq!(
        outcome.card.classes,
        ["African American", "Asian", "Caucasian"]
    );
    assert!(outcome.results.metrics.contains_key("macroF1"));
    python_check(&dir);
}

#[test]
fn the_same_seed_writes_the_same_model() {
    for family in ["gbdt", "mlp"] {
        let (a, b) = (TempDir::new("seed-a"), TempDir::new("seed-b"));
        let (x, y) = (run(&a, &default_job(family)), run(&b, &default_job(family)));
        assert_eq!(
            x.results.model.unwrap().sha256,
            y.results.model.unwrap().sha256,
            "{family}"
        );
    }
}

#[test]
fn a_gpu_request_without_a_usable_gpu_trains_on_the_cpu_and_says_why() {
    let dir = TempDir::new("gpu-fallback");
    let manifest = format!(
        "spec:\n  data: {{source: '{}', target: Balance}}\n  model: {{family: mlp, hyperparameters: {{epochs: 3}}}}\n  resources: {{gpus: 1}}\n",
        example_data("Credit.csv")
    );
    let outcome = run(&dir, &manifest);
    let training = &outcome.card.training;
    if training["device"] == "cuda:0" {
        return; // A machine with a GPU and the `cuda` feature: nothing fell back.
    }
    assert!(
        std::env::var("LEPTON_REQUIRE_GPU").as_deref() != Ok("1"),
        "LEPTON_REQUIRE_GPU=1 but training fell back to the CPU: {}",
        training["gpuFallback"]
    );
    assert_eq!(training["device"], "cpu");
    let why = training["gpuFallback"].as_str().unwrap_or_default();
    assert!(!why.is_empty(), "the fallback is explained: {training}");
}
