//! The TrainingJob of one trial: the sweep's template with the trial's parameters written in.

use std::collections::BTreeMap;

use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};
use lepton_crds::v1alpha1::{TrainingJob, TrainingJobSpec, TuningSweep};
use lepton_tuning::search::Proposal;
use lepton_tuning::space::Value;
use serde_json::{Map, Value as Json, json};

use crate::names::{
    MAX_LABEL_NAME, TRIAL_BRACKET_ANNOTATION, TRIAL_FIDELITY_ANNOTATION, TRIAL_INDEX_LABEL,
    TRIAL_PARAMETERS_ANNOTATION, TRIAL_PROMOTED_FROM_ANNOTATION, TUNING_SWEEP_LABEL, child_name,
};

/// Name of trial `index`: `<sweep>-t<index>`, cut with a hash when the sweep's name is long.
/// Deterministic, so that a trial created just before a crash is found again, never doubled.
pub fn trial_name(sweep: &TuningSweep, index: u32) -> String {
    child_name(&sweep.name_any(), &format!("t{index}"), MAX_LABEL_NAME)
}

/// Labels that find a sweep's trials.
pub fn sweep_selector(sweep: &TuningSweep) -> String {
    format!("{TUNING_SWEEP_LABEL}={}", sweep_label(sweep))
}

fn sweep_label(sweep: &TuningSweep) -> String {
    child_name(&sweep.name_any(), "", MAX_LABEL_NAME)
}

/// The trial's TrainingJob, or what in the template and parameters cannot make one (naming
/// the parameter and value).
pub fn trial(
    sweep: &TuningSweep,
    index: u32,
    proposal: &Proposal,
    fidelity_parameter: Option<&str>,
) -> Result<TrainingJob, String> {
    let spec = trial_spec(sweep, proposal, fidelity_parameter)?;
    let template = sweep.spec.template.metadata.clone().unwrap_or_default();
    let mut labels = template.labels;
    labels.insert(TUNING_SWEEP_LABEL.into(), sweep_label(sweep));
    labels.insert(TRIAL_INDEX_LABEL.into(), index.to_string());
    let mut annotations = template.annotations;
    let parameters: BTreeMap<String, String> = proposal
        .assignment
        .iter()
        .map(|(name, value)| (name.clone(), value.render()))
        .collect();
    annotations.insert(
        TRIAL_PARAMETERS_ANNOTATION.into(),
        serde_json::to_string(&parameters).unwrap_or_default(),
    );
    if let Some(fidelity) = proposal.fidelity {
        annotations.insert(TRIAL_FIDELITY_ANNOTATION.into(), fidelity.to_string());
    }
    if let Some(from) = proposal.promoted_from {
        annotations.insert(TRIAL_PROMOTED_FROM_ANNOTATION.into(), from.to_string());
    }
    if let Some(bracket) = proposal.bracket {
        annotations.insert(TRIAL_BRACKET_ANNOTATION.into(), bracket.to_string());
    }
    Ok(TrainingJob {
        metadata: ObjectMeta {
            name: Some(trial_name(sweep, index)),
            namespace: sweep.namespace(),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: sweep.controller_owner_ref(&()).map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    })
}

/// The template's spec with the sweep's metric, the trial's parameters and its fidelity
/// (`fidelity_parameter` is `epochs` or `numTrees` for ASHA and Hyperband).
pub fn trial_spec(
    sweep: &TuningSweep,
    proposal: &Proposal,
    fidelity_parameter: Option<&str>,
) -> Result<TrainingJobSpec, String> {
    let mut spec = serde_json::to_value(&sweep.spec.template.spec)
        .map_err(|e| format!("template.spec cannot be written: {e}"))?;
    let model = object(&mut spec, "model");
    // Trials report, early-stop and choose among `auto` candidates on the sweep's objective.
    model.insert("metric".into(), json!(sweep.spec.objective.metric.as_str()));
    for (name, value) in &proposal.assignment {
        let model = object(&mut spec, "model");
        if name == "family" {
            model.insert("family".into(), json!(value.render()));
            // A tuned family is one family per trial; `auto`'s candidate list would contradict it.
            model.remove("candidates");
            continue;
        }
        let hyperparameters = object_in(model, "hyperparameters");
        hyperparameters.insert(name.clone(), hyperparameter(name, value)?);
    }
    if let (Some(parameter), Some(amount)) = (fidelity_parameter, proposal.fidelity) {
        let model = object(&mut spec, "model");
        object_in(model, "hyperparameters").insert(parameter.into(), json!(amount));
    }
    serde_json::from_value(spec.clone()).map_err(|e| {
        format!(
            "the trial's TrainingJob spec is invalid with parameters {}: {e}",
            render(proposal)
        )
    })
}

fn render(proposal: &Proposal) -> String {
    proposal
        .assignment
        .iter()
        .map(|(k, v)| format!("{k}={}", v.render()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A parameter value in the type the TrainingJob field has.
fn hyperparameter(name: &str, value: &Value) -> Result<Json, String> {
    let text = value.render();
    Ok(match (name, value) {
        ("hiddenLayers", _) => {
            let widths: Result<Vec<u32>, _> =
                text.split(',').map(|w| w.trim().parse::<u32>()).collect();
            json!(widths.map_err(|_| format!(
                "parameter hiddenLayers: value {text:?} is not comma-separated layer widths such \
                 as 64,32"
            ))?)
        }
        ("optimizer" | "activation", _) => json!(text),
        (_, Value::Double(v)) => json!(v),
        (_, Value::Int(v)) => json!(v),
        // A numeric hyperparameter searched as a list of choices, for example batchSize.
        (_, Value::Category(c)) => {
            if let Ok(i) = c.parse::<i64>() {
                json!(i)
            } else if let Ok(f) = c.parse::<f64>() {
                json!(f)
            } else {
                return Err(format!(
                    "parameter {name}: value {c:?} is not a number; {name} takes a number"
                ));
            }
        }
    })
}

fn object<'a>(value: &'a mut Json, key: &str) -> &'a mut Map<String, Json> {
    let root = value
        .as_object_mut()
        .expect("a spec serialises to an object");
    object_in(root, key)
}

fn object_in<'a>(map: &'a mut Map<String, Json>, key: &str) -> &'a mut Map<String, Json> {
    let entry = map
        .entry(key.to_owned())
        .or_insert_with(|| Json::Object(Map::new()));
    if !entry.is_object() {
        *entry = Json::Object(Map::new());
    }
    entry.as_object_mut().expect("just made an object")
}
