//! The runner stub's `--results-from-spec`: the results it writes read back as the runner's
//! own, and their AUC follows the TrainingJob's learning rate.

use std::path::PathBuf;
use std::process::Command;

use lepton_crds::runner::RunResults;
use lepton_crds::v1alpha1::Metric;
use serde_json::json;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("runner-stub-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `train` with the TrainingJob `name` at `learning_rate`; the switch is the flag or the
/// environment variable.
fn train(name: &str, learning_rate: f64, by_env: bool) -> (bool, RunResults) {
    let dir = scratch(name);
    let log = dir.join("termination-log");
    let job = json!({
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "data": {"source": "file:///data.csv", "target": "y"},
            "model": {"metric": "auc", "hyperparameters": {"learningRate": learning_rate}},
        },
    });
    let mut command = Command::new(env!("CARGO_BIN_EXE_lepton-runner-stub"));
    command
        .args(["train", "--output", "file:///out"])
        .env("LEPTON_TERMINATION_LOG", &log)
        .env("LEPTON_TRAINING_JOB", job.to_string());
    if by_env {
        command.env("LEPTON_STUB_RESULTS_FROM_SPEC", "1");
    } else {
        command.arg("--results-from-spec");
    }
    let status = command.status().unwrap();
    let message = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let results = RunResults::from_termination_message(&message)
        .unwrap_or_else(|| panic!("not RunResults JSON: {message}"));
    (status.success(), results)
}

#[test]
fn results_from_spec_are_run_results_with_an_auc_that_peaks_near_0_01() {
    let (ok, best) = train("stub-best", 0.01, false);
    assert!(ok);
    assert_eq!(best.phase, "Succeeded");
    let objective = best.objective.clone().unwrap();
    assert_eq!(objective.metric, Metric::Auc);
    assert!((objective.value - 0.95).abs() < 1e-9, "{}", objective.value);
    assert_eq!(best.metrics.get("auc"), Some(&objective.value));
    let model = best.model.clone().unwrap();
    assert!(model.uri.unwrap().contains("stub-best"));
    assert_eq!(model.sha256.unwrap().len(), 64);
    assert!(model.size_bytes.unwrap() > 0);
    assert!(best.duration_seconds > 0.0);

    // Smooth and lower on both sides; the same input gives the same result.
    let (_, low) = train("stub-low", 0.001, true);
    let (_, high) = train("stub-high", 0.1, true);
    let (_, again) = train("stub-best", 0.01, true);
    let value = |r: &RunResults| r.objective.as_ref().unwrap().value;
    assert!(value(&low) < value(&best) && value(&high) < value(&best));
    assert!(value(&low) > 0.7 && value(&high) > 0.7);
    assert_eq!(again, best);
    // A larger rate gives a faster model: the trade-off a Pareto front needs.
    let latency = |r: &RunResults| r.model.as_ref().unwrap().latency_p50_ms.unwrap();
    assert!(latency(&high) < latency(&best) && latency(&best) < latency(&low));
}

#[test]
fn without_the_switch_train_writes_the_plain_message() {
    let dir = scratch("plain");
    let log = dir.join("termination-log");
    let status = Command::new(env!("CARGO_BIN_EXE_lepton-runner-stub"))
        .args(["train", "--message", "done"])
        .env("LEPTON_TERMINATION_LOG", &log)
        .env("LEPTON_TRAINING_JOB", "{}")
        .env_remove("LEPTON_STUB_RESULTS_FROM_SPEC")
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "done");
    let _ = std::fs::remove_dir_all(&dir);
}
