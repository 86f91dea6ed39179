//! Running one trial and writing its record, shared by Lepton's search loop and by `serve`.

use serde_json::{Map, Value, json};

use crate::problem::{Problem, Scored, timed};
use crate::sweep::Sweep;

/// The outcome of one trial.
pub struct Outcome {
    /// The scores, or why training failed (a failed trial, as the operator would count it).
    pub scored: Result<Scored, String>,
    /// Wall-clock seconds of training and scoring every fold.
    pub seconds: f64,
}

/// Trains and scores the trial with parameters `params` (manifest names) and `fidelity`.
pub fn run(
    sweep: &Sweep,
    problem: &Problem,
    params: &Map<String, Value>,
    fidelity: Option<u32>,
) -> Outcome {
    let (scored, seconds) = timed(|| {
        let (family, hyper) = sweep.trial(params, fidelity)?;
        problem.score(family, &hyper)
    });
    Outcome { scored, seconds }
}

impl Outcome {
    /// The trial as a JSON object: `validation` and `test` are the objective metric (not a
    /// loss); `epochs` is the mean over folds of the epochs (or trees) trained.
    pub fn record(&self, params: &Map<String, Value>, fidelity: Option<u32>) -> Value {
        let mut record = json!({
            "params": params,
            "fidelity": fidelity,
            "seconds": self.seconds,
        });
        let fields = match &self.scored {
            Ok(s) => json!({
                "state": "succeeded",
                "validation": s.validation,
                "validationFolds": s.validation_folds,
                "test": s.test,
                "testEnsemble": s.test_ensemble,
                "epochs": s.steps.iter().sum::<u64>() as f64 / s.steps.len().max(1) as f64,
                "epochsPerFold": s.steps,
            }),
            Err(e) => json!({"state": "failed", "error": e, "epochs": fidelity}),
        };
        if let (Value::Object(r), Value::Object(f)) = (&mut record, fields) {
            r.extend(f);
        }
        record
    }
}
