//! Lepton's search algorithms (`lepton_tuning::search::suggest`) driving trials one at a time,
//! as a TuningSweep with `parallelTrials: 1` would.

use lepton_crds::v1alpha1::AlgorithmType;
use lepton_tuning::search::{SearchConfig, Suggestion, suggest};
use lepton_tuning::space::{SearchSpace, Value as TuningValue};
use lepton_tuning::trial::{ObservedTrial, TrialState};
use serde_json::{Map, Value, json};

use crate::problem::Problem;
use crate::sweep::Sweep;
use crate::trial;

/// Runs `trials` trials of `algorithm` with `seed`; returns one record per trial, in order.
/// Progress goes to stderr.
pub fn run(
    sweep: &Sweep,
    problem: &Problem,
    algorithm: AlgorithmType,
    seed: i64,
    trials: u32,
) -> Result<Vec<Value>, String> {
    let mut spec = sweep.spec.clone();
    spec.algorithm.type_ = algorithm;
    spec.algorithm.seed = seed;
    let config = SearchConfig::from_spec(&spec);
    let space = SearchSpace::from_spec(&spec.parameters, sweep.template_family())
        .map_err(|e| e.to_string())?;
    let mut observed: Vec<ObservedTrial> = Vec::new();
    let mut records = Vec::new();
    for index in 0..trials {
        let proposal = match suggest(&config, &space, &observed, index) {
            Suggestion::Trial(p) => p,
            Suggestion::Exhausted => break,
            // Trials run one at a time, so nothing is running that could be waited for.
            Suggestion::Wait => {
                return Err(format!(
                    "trial {index}: the algorithm asked to wait with no trial running"
                ));
            }
        };
        let params: Map<String, Value> = proposal
            .assignment
            .iter()
            .map(|(name, v)| (name.clone(), to_json(v)))
            .collect();
        let outcome = trial::run(sweep, problem, &params, proposal.fidelity);
        let (state, loss, curve) = match &outcome.scored {
            Ok(s) => (
                TrialState::Succeeded,
                Some(sweep.loss(s.validation)),
                s.curve
                    .iter()
                    .map(|&(step, v)| (step as u32, sweep.loss(v)))
                    .collect(),
            ),
            Err(_) => (TrialState::Failed, None, Vec::new()),
        };
        let mut record = outcome.record(&params, proposal.fidelity);
        if let Value::Object(r) = &mut record {
            r.insert("index".into(), json!(index));
            r.insert("promotedFrom".into(), json!(proposal.promoted_from));
            r.insert("bracket".into(), json!(proposal.bracket));
        }
        eprintln!(
            "{} {:?} seed {seed} trial {index}: {}",
            sweep.name,
            algorithm,
            summary(&record)
        );
        records.push(record);
        observed.push(ObservedTrial {
            index,
            assignment: proposal.assignment,
            state,
            loss,
            fidelity: proposal.fidelity,
            promoted_from: proposal.promoted_from,
            bracket: proposal.bracket,
            curve,
        });
    }
    Ok(records)
}

/// A one-line summary of a trial record for progress output.
pub fn summary(record: &Value) -> String {
    match record.get("validation").and_then(Value::as_f64) {
        Some(v) => format!(
            "validation {v:.4}, test {:.4}, {} epochs, {:.2} s",
            record["test"].as_f64().unwrap_or(f64::NAN),
            record["epochs"],
            record["seconds"].as_f64().unwrap_or(0.0)
        ),
        None => format!("failed: {}", record["error"]),
    }
}

fn to_json(value: &TuningValue) -> Value {
    match value {
        TuningValue::Double(x) => json!(x),
        TuningValue::Int(i) => json!(i),
        TuningValue::Category(s) => json!(s),
    }
}
