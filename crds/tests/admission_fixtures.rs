//! Every manifest under `tests/fixtures/invalid/` is refused by the generated CRDs with the
//! message its `# expect:` lines give (and nothing else), and every manifest under `examples/`
//! is admitted.

mod support;

use lepton_crds::admission::{CrdValidator, lepton_validators};
use serde_json::Value;
use support::{documents, repo_root, yaml_files};

fn validator_for<'a>(validators: &'a [CrdValidator], doc: &Value) -> &'a CrdValidator {
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
    validators
        .iter()
        .find(|v| v.kind() == kind)
        .unwrap_or_else(|| panic!("no Lepton kind {kind:?}"))
}

#[test]
fn invalid_manifests_are_refused_with_their_expected_messages() {
    let validators = lepton_validators();
    let files = yaml_files(&repo_root().join("tests/fixtures/invalid"));
    assert!(files.len() >= 30, "only {} invalid fixtures", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable fixture");
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            !expected.is_empty(),
            "{} has no `# expect:` line",
            path.display()
        );
        let docs = documents(path);
        let (old, new) = match docs.as_slice() {
            [new] => (None, new),
            [old, new] => (Some(old), new),
            _ => panic!(
                "{} must hold one document, or two for an update",
                path.display()
            ),
        };
        let validator = validator_for(&validators, new);
        if let Some(old) = old {
            validator.admit_create(old).unwrap_or_else(|e| {
                panic!("{}: the stored object is invalid: {e}", path.display())
            });
        }
        let outcome = match old {
            Some(old) => validator.admit_update(new, old),
            None => validator.admit_create(new),
        };
        let name = path.file_name().unwrap().to_string_lossy();
        match outcome {
            Ok(_) => failures.push(format!("{name}: admitted, expected {expected:?}")),
            Err(rejection) => {
                let got: Vec<String> = rejection.errors.iter().map(ToString::to_string).collect();
                let all_found = expected
                    .iter()
                    .all(|e| got.iter().any(|g| g.starts_with(e)));
                if !all_found || got.len() != expected.len() {
                    failures.push(format!(
                        "{name}:\n  expected {expected:?}\n  got      {got:?}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_example_is_admitted_and_deserializes_into_its_type() {
    let validators = lepton_validators();
    let files = yaml_files(&repo_root().join("examples"));
    let mut kinds = std::collections::BTreeSet::new();
    for path in &files {
        for doc in documents(path) {
            let validator = validator_for(&validators, &doc);
            let defaulted = validator
                .admit_create(&doc)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            kinds.insert(validator.kind().to_owned());
            support_typed::assert_rust_defaults_match_schema(&doc, &defaulted, path);
        }
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["ModelDeployment", "TrainingJob", "TuningSweep"],
        "examples/ should show every kind"
    );
}

#[test]
fn an_unchanged_update_passes_the_transition_rules() {
    let validators = lepton_validators();
    let path = repo_root().join("examples/credit-default/training-job.yaml");
    let doc = documents(&path).remove(0);
    let validator = validator_for(&validators, &doc);
    let mut relabelled = doc.clone();
    relabelled["metadata"]["labels"]["team"] = Value::from("risk");
    relabelled["spec"]["model"]["family"] = Value::from("gbdt");
    validator
        .admit_update(&relabelled, &doc)
        .expect("changing labels and the model family is allowed");
}

mod support_typed {
    use lepton_crds::v1alpha1::{ModelDeployment, TrainingJob, TuningSweep};
    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use serde_json::Value;
    use std::path::Path;

    /// Deserializing a manifest fills in the Rust-side defaults; serializing it again must give
    /// what the API server's schema defaults give, or the operator and the cluster would
    /// disagree about an omitted field.
    pub fn assert_rust_defaults_match_schema(raw: &Value, defaulted: &Value, path: &Path) {
        let kind = raw["kind"].as_str().unwrap_or_default();
        let through_rust = match kind {
            "TrainingJob" => round_trip::<TrainingJob>(raw),
            "TuningSweep" => round_trip::<TuningSweep>(raw),
            "ModelDeployment" => round_trip::<ModelDeployment>(raw),
            other => panic!("unexpected kind {other}"),
        };
        assert_eq!(
            numbers_as_floats(&through_rust["spec"]),
            numbers_as_floats(&defaulted["spec"]),
            "{}: Rust defaults differ from the schema's",
            path.display()
        );
    }

    /// JSON `25` and `25.0` are the same number to the API server.
    fn numbers_as_floats(value: &Value) -> Value {
        match value {
            Value::Number(n) => Value::from(n.as_f64().expect("finite number")),
            Value::Array(items) => Value::Array(items.iter().map(numbers_as_floats).collect()),
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), numbers_as_floats(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn round_trip<T: DeserializeOwned + Serialize>(raw: &Value) -> Value {
        let typed: T = serde_json::from_value(raw.clone()).expect("manifest deserializes");
        serde_json::to_value(typed).expect("resource serializes")
    }
}
