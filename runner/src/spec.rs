//! Reading the TrainingJob to run: a whole manifest (as `kubectl apply` takes) or only its
//! `spec`, in YAML or JSON, checked and defaulted exactly as the API server would.

use lepton_crds::admission::lepton_validators;
use lepton_crds::v1alpha1::{TrainingJob, TrainingJobSpec};
use serde_json::{Value, json};

use crate::error::TrainError;

/// Environment variable that may hold the TrainingJob (YAML or JSON) instead of a file.
pub const SPEC_ENV: &str = "LEPTON_TRAINING_JOB";

/// A TrainingJob ready to run.
#[derive(Clone, Debug)]
pub struct JobSpec {
    /// `metadata.name`, or `training-job` for a bare spec.
    pub name: String,
    /// The TrainingJob object this run belongs to, when the manifest names one. `None` for a
    /// bare spec (or a manifest without `metadata.name`): its made-up name matches no object on
    /// the API server, so there is no status to report progress to.
    pub object: Option<ObjectRef>,
    /// The spec with every default filled in.
    pub spec: TrainingJobSpec,
}

/// Name and namespace of a TrainingJob object on the API server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`; `None` means the client's default namespace (in a pod: its own).
    pub namespace: Option<String>,
}

/// Parses and admits `text` (a TrainingJob manifest or a bare spec, YAML or JSON).
pub fn parse_job(text: &str) -> Result<JobSpec, TrainError> {
    let value: Value = serde_yaml_ng::from_str(text)
        .map_err(|e| TrainError::Spec(format!("the TrainingJob is not valid YAML or JSON: {e}")))?;
    // Read before defaults fill in a name that belongs to no object.
    let named = value
        .get("spec")
        .and(value.pointer("/metadata/name"))
        .and_then(Value::as_str)
        .is_some_and(|name| !name.is_empty());
    let object = match &value {
        Value::Object(map) if map.contains_key("spec") => {
            if let Some(kind) = map.get("kind").and_then(Value::as_str)
                && kind != "TrainingJob"
            {
                return Err(TrainError::Spec(format!(
                    "expected kind TrainingJob, found {kind}; `lepton-runner train` runs TrainingJobs"
                )));
            }
            let mut object = value.clone();
            let defaults = [
                ("apiVersion", json!("lepton.ai/v1alpha1")),
                ("kind", json!("TrainingJob")),
                ("metadata", json!({"name": "training-job"})),
            ];
            for (key, default) in defaults {
                if object.get(key).is_none() {
                    object[key] = default;
                }
            }
            object
        }
        Value::Object(_) => json!({
            "apiVersion": "lepton.ai/v1alpha1",
            "kind": "TrainingJob",
            "metadata": {"name": "training-job"},
            "spec": value,
        }),
        _ => {
            return Err(TrainError::Spec(
                "the TrainingJob must be a mapping with a `spec` (or the spec itself)".into(),
            ));
        }
    };
    let validator = lepton_validators()
        .into_iter()
        .find(|v| v.kind() == "TrainingJob")
        .ok_or_else(|| {
            TrainError::Spec("Lepton's TrainingJob definition is missing from this build".into())
        })?;
    let admitted = validator
        .admit_create(&object)
        .map_err(|rejection| TrainError::Spec(rejection.to_string()))?;
    let job: TrainingJob = serde_json::from_value(admitted)
        .map_err(|e| TrainError::Spec(format!("the TrainingJob does not match the API: {e}")))?;
    let name = job.metadata.name.unwrap_or_else(|| "training-job".into());
    Ok(JobSpec {
        object: named.then(|| ObjectRef {
            name: name.clone(),
            namespace: job.metadata.namespace.filter(|ns| !ns.is_empty()),
        }),
        name,
        spec: job.spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_and_bare_specs_are_admitted_with_defaults() {
        let manifest = "apiVersion: lepton.ai/v1alpha1\nkind: TrainingJob\nmetadata: {name: credit}\nspec:\n  data: {source: 'file:///d.csv', target: default}\n";
        let job = parse_job(manifest).unwrap();
        assert_eq!(job.name, "credit");
        assert_eq!(
            job.object,
            Some(ObjectRef {
                name: "credit".into(),
                namespace: None
            })
        );
        assert_eq!(job.spec.data.validation_fraction, 0.2);
        assert!(job.spec.data.preprocessing.remove_duplicates);
        let bare =
            r#"{"data": {"source": "file:///d.csv", "target": "y"}, "model": {"family": "gbdt"}}"#;
        let job = parse_job(bare).unwrap();
        assert_eq!(job.name, "training-job");
        assert_eq!(job.object, None);
        assert_eq!(job.spec.model.seed, 42);
        let namespaced = r#"{"metadata": {"name": "c", "namespace": "ml"}, "spec": {"data": {"source": "file:///d.csv", "target": "y"}}}"#;
        assert_eq!(
            parse_job(namespaced).unwrap().object,
            Some(ObjectRef {
                name: "c".into(),
                namespace: Some("ml".into())
            })
        );
    }

    #[test]
    fn invalid_specs_are_rejected_with_the_field_named() {
        let err = parse_job("data: {source: 'file:///d.csv', target: y, validationFraction: 0.9}")
            .unwrap_err();
        assert_eq!(err.reason(), "InvalidSpec");
        assert!(err.to_string().contains("validationFraction"), "{err}");
        let err = parse_job("kind: ModelDeployment\nspec: {}").unwrap_err();
        assert!(
            err.to_string().contains("expected kind TrainingJob"),
            "{err}"
        );
        assert_eq!(parse_job("- a\n- b").unwrap_err().reason(), "InvalidSpec");
        assert_eq!(parse_job("data: [").unwrap_err().reason(), "InvalidSpec");
    }
}
