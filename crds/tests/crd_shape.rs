//! What `kubectl` users rely on in the generated CRDs: names, scope, status subresource,
//! printer columns, and a description on every field (the text `kubectl explain` prints).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use lepton_crds::generate::{crds, schema_of};
use serde_json::Value;

fn crd(kind: &str) -> CustomResourceDefinition {
    crds()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .unwrap_or_else(|| panic!("no CRD for {kind}"))
}

#[test]
fn names_scope_and_subresources() {
    for (kind, plural, short) in [
        ("TrainingJob", "trainingjobs", "tj"),
        ("TuningSweep", "tuningsweeps", "ts"),
        ("ModelDeployment", "modeldeployments", "md"),
    ] {
        let crd = crd(kind);
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some(&*format!("{plural}.lepton.ai"))
        );
        assert_eq!(crd.spec.group, "lepton.ai");
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.names.plural, plural);
        assert_eq!(crd.spec.names.short_names, Some(vec![short.to_owned()]));
        assert_eq!(crd.spec.names.categories, Some(vec!["lepton".to_owned()]));
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert!(version.served && version.storage);
        let subresources = version.subresources.as_ref().expect("subresources");
        assert!(
            subresources.status.is_some(),
            "{kind} has a status subresource"
        );
    }
    let md = crd("ModelDeployment");
    let scale = md.spec.versions[0]
        .subresources
        .as_ref()
        .and_then(|s| s.scale.as_ref())
        .expect("ModelDeployment has a scale subresource");
    assert_eq!(scale.spec_replicas_path, ".spec.replicas");
    assert_eq!(scale.status_replicas_path, ".status.replicas");
}

fn columns(kind: &str) -> Vec<(String, String)> {
    crd(kind).spec.versions[0]
        .additional_printer_columns
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.priority.unwrap_or(0) == 0)
        .map(|c| (c.name, c.json_path))
        .collect()
}

#[test]
fn printer_columns_show_what_users_check_first() {
    let names = |kind: &str| -> Vec<String> { columns(kind).into_iter().map(|c| c.0).collect() };
    assert_eq!(
        names("TrainingJob"),
        ["Phase", "Metric", "Score", "Cost", "Age"]
    );
    assert_eq!(
        names("TuningSweep"),
        ["Phase", "Trials", "Metric", "Best", "Age"]
    );
    assert_eq!(
        names("ModelDeployment"),
        ["Ready", "Replicas", "URL", "Model", "Age"]
    );
    assert!(columns("ModelDeployment").contains(&(
        "Ready".to_owned(),
        ".status.conditions[?(@.type==\"Ready\")].status".to_owned()
    )));
}

/// Every JSONPath of a printer column points at a field the schema declares.
#[test]
fn printer_columns_point_at_declared_fields() {
    for crd in crds() {
        let schema = schema_of(&crd);
        for column in crd.spec.versions[0]
            .additional_printer_columns
            .iter()
            .flatten()
        {
            let path = column.json_path.split('[').next().unwrap();
            if path.starts_with(".metadata.") {
                continue;
            }
            let mut node = &schema;
            for segment in path.trim_start_matches('.').split('.') {
                node = node
                    .pointer(&format!("/properties/{segment}"))
                    .unwrap_or_else(|| {
                        panic!(
                            "{}: column {} has no field {segment}",
                            crd.spec.names.kind, column.name
                        )
                    });
            }
        }
    }
}

fn undocumented(schema: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            let child_path = format!("{path}.{name}");
            let documented = child
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| d.trim().len() > 3);
            if !documented {
                out.push(child_path.clone());
            }
            undocumented(child, &child_path, out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = schema.get(key).filter(|c| c.is_object()) {
            undocumented(child, &format!("{path}[]"), out);
        }
    }
}

#[test]
fn every_field_has_a_description() {
    for crd in crds() {
        let schema = schema_of(&crd);
        let mut missing = Vec::new();
        for part in ["spec", "status"] {
            undocumented(&schema["properties"][part], part, &mut missing);
        }
        assert!(
            missing.is_empty(),
            "{}: fields without a description: {missing:?}",
            crd.spec.names.kind
        );
    }
}

#[test]
fn every_cel_rule_has_a_message() {
    fn walk(schema: &Value, path: &str, out: &mut Vec<String>) {
        for rule in schema
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if rule
                .get("message")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                out.push(format!("{path}: {}", rule["rule"]));
            }
        }
        for (name, child) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            walk(child, &format!("{path}.{name}"), out);
        }
        if let Some(items) = schema.get("items") {
            walk(items, &format!("{path}[]"), out);
        }
    }
    let mut missing = Vec::new();
    for crd in crds() {
        walk(&schema_of(&crd), &crd.spec.names.kind, &mut missing);
    }
    assert!(missing.is_empty(), "rules without a message: {missing:?}");
}

/// The API server applies defaults only where the schema has them; these are the ones users
/// see in `kubectl get -o yaml` for a minimal TrainingJob.
#[test]
fn schema_defaults_fill_a_minimal_training_job() {
    let schema = schema_of(&crd("TrainingJob"));
    let minimal = serde_json::json!({
        "spec": {"data": {"source": "file:///data/x.csv", "target": "y"}}
    });
    let out = lepton_crds::admission::apply_defaults(&schema, &minimal);
    let spec = &out["spec"];
    assert_eq!(spec["data"]["validationFraction"], 0.2);
    assert_eq!(
        spec["data"]["preprocessing"]["categorical"]["maxCategories"],
        32
    );
    assert_eq!(
        spec["data"]["preprocessing"]["outliers"]["upperQuantile"],
        0.999
    );
    assert_eq!(spec["model"]["family"], "auto");
    assert_eq!(spec["model"]["seed"], 42);
    assert_eq!(spec["model"]["earlyStopping"]["patience"], 10);
    assert_eq!(spec["resources"]["gpus"], 0);
    assert_eq!(spec["runPolicy"]["backoffLimit"], 1);
    assert_eq!(spec["runPolicy"]["suspend"], false);
}

/// `kubectl get tj --field-selector status.phase=Failed` works on clusters with selectable
/// fields (Kubernetes 1.32 and later).
#[test]
fn phase_is_a_selectable_field() {
    for crd in crds() {
        let selectable: Vec<String> = crd.spec.versions[0]
            .selectable_fields
            .iter()
            .flatten()
            .map(|f| f.json_path.clone())
            .collect();
        assert_eq!(selectable, [".status.phase"], "{}", crd.spec.names.kind);
    }
}
