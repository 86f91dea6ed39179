//! The one generator of Lepton's CRD YAML (for `crds/` and the Helm chart) and of the API
//! reference `docs/api.md`. `lepton-crdgen` writes what it returns; a test fails when a
//! committed copy differs.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::{Map, Value};

use crate::v1alpha1::{ModelDeployment, TrainingJob, TuningSweep};

mod api_reference;

pub use api_reference::api_reference;

/// The CRDs of every Lepton kind, in a stable order, tidied for humans (see [`tidy_schema`]).
pub fn crds() -> Vec<CustomResourceDefinition> {
    [
        TrainingJob::crd(),
        TuningSweep::crd(),
        ModelDeployment::crd(),
    ]
    .into_iter()
    .map(tidy_crd)
    .collect()
}

/// The openAPIV3Schema of a CRD's first version as JSON, tidied (integer bounds as integers).
pub fn schema_of(crd: &CustomResourceDefinition) -> Value {
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .expect("every Lepton CRD has an openAPIV3Schema");
    let mut schema = serde_json::to_value(schema).expect("a schema always serializes");
    tidy_schema(&mut schema);
    schema
}

fn tidy_crd(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    let mut value = serde_json::to_value(&crd).expect("a CRD always serializes");
    for version in value["spec"]["versions"]
        .as_array_mut()
        .expect("a CRD has versions")
    {
        tidy_schema(&mut version["schema"]["openAPIV3Schema"]);
    }
    serde_json::from_value(value).expect("tidying keeps a valid CRD")
}

/// Rewrites a derived schema into what a person reading `kubectl explain` or the YAML wants,
/// without changing what it accepts:
/// - descriptions: the line breaks of doc comments inside a paragraph become spaces;
/// - integer formats Kubernetes does not know (`uint32`, `uint64`, `uint`) become `int32` or
///   `int64`, and integer bounds are written as integers;
/// - an object's `default` becomes `{}` when its properties' own defaults rebuild the same
///   value (Kubernetes applies nested defaults after the parent's), so each default is stated
///   once, next to its field.
pub fn tidy_schema(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::String(description)) = object.get_mut("description") {
        *description = join_paragraph_lines(description);
    }
    if object.get("type").and_then(Value::as_str) == Some("integer") {
        tidy_integer(object);
    }
    for key in ["properties", "patternProperties"] {
        if let Some(Value::Object(children)) = object.get_mut(key) {
            children.values_mut().for_each(tidy_schema);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = object.get_mut(key) {
            tidy_schema(child);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(children)) = object.get_mut(key) {
            children.iter_mut().for_each(tidy_schema);
        }
    }
    shorten_object_default(schema);
}

fn join_paragraph_lines(text: &str) -> String {
    text.split("\n\n")
        .map(|paragraph| {
            paragraph
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn tidy_integer(object: &mut Map<String, Value>) {
    let format = match object.get("format").and_then(Value::as_str) {
        Some("uint32" | "uint16" | "uint8") => Some("int32"),
        Some("uint64" | "uint" | "int") => Some("int64"),
        _ => None,
    };
    if let Some(format) = format {
        object.insert("format".into(), Value::from(format));
    }
    for key in ["minimum", "maximum"] {
        if let Some(bound) = object.get(key).and_then(Value::as_f64)
            && bound.fract() == 0.0
        {
            object.insert(key.into(), Value::from(bound as i64));
        }
    }
}

fn shorten_object_default(schema: &mut Value) {
    let Some(default) = schema.get("default") else {
        return;
    };
    if !default.is_object()
        || schema.get("properties").is_none()
        || default == &Value::Object(Map::new())
    {
        return;
    }
    let mut without_default = schema.clone();
    without_default
        .as_object_mut()
        .expect("checked above")
        .remove("default");
    let rebuilt = crate::admission::apply_defaults(&without_default, &Value::Object(Map::new()));
    if &rebuilt == default {
        schema["default"] = Value::Object(Map::new());
    }
}

/// One CRD as YAML with a header saying where it comes from.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> String {
    // The typed CRD holds bounds as floats; tidying its JSON again writes integer bounds as
    // integers.
    let mut value = serde_json::to_value(crd).expect("a CRD always serializes");
    for version in value["spec"]["versions"]
        .as_array_mut()
        .expect("a CRD has versions")
    {
        tidy_schema(&mut version["schema"]["openAPIV3Schema"]);
    }
    let body = serde_yaml_ng::to_string(&value).expect("a CRD always serializes to YAML");
    format!(
        "# Generated by `make crds` (lepton-crdgen) from the Rust types in crds/src/v1alpha1.\n\
         # Do not edit: change the types and run `make crds`.\n{body}"
    )
}

/// File name of a CRD's YAML: `<group>_<plural>.yaml`.
pub fn crd_file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural)
}

/// Every generated file, as (path relative to the repository root, contents): each CRD in
/// `crds/` and in `charts/lepton/crds/`, and the API reference in `docs/api.md`.
pub fn generated_files() -> Vec<(String, String)> {
    let crds = crds();
    let mut files = Vec::new();
    for crd in &crds {
        let yaml = crd_yaml(crd);
        let name = crd_file_name(crd);
        files.push((format!("crds/{name}"), yaml.clone()));
        files.push((format!("charts/lepton/crds/{name}"), yaml));
    }
    files.push(("docs/api.md".to_owned(), api_reference(&crds)));
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paragraph_lines_are_joined_and_paragraphs_kept() {
        assert_eq!(
            join_paragraph_lines("one\ntwo  \n  three\n\nfour\nfive"),
            "one two three\n\nfour five"
        );
    }

    #[test]
    fn unsigned_formats_and_float_bounds_become_kubernetes_integers() {
        let mut schema =
            json!({"type": "integer", "format": "uint32", "minimum": 1.0, "maximum": 2.5});
        tidy_schema(&mut schema);
        assert_eq!(
            schema,
            json!({"type": "integer", "format": "int32", "minimum": 1, "maximum": 2.5})
        );
    }

    #[test]
    fn an_object_default_rebuilt_by_its_fields_becomes_empty() {
        let mut schema = json!({
            "type": "object",
            "default": {"a": 1, "b": true},
            "properties": {
                "a": {"type": "integer", "default": 1},
                "b": {"type": "boolean", "default": true}
            }
        });
        tidy_schema(&mut schema);
        assert_eq!(schema["default"], json!({}));
    }

    #[test]
    fn an_object_default_its_fields_cannot_rebuild_is_kept() {
        let mut schema = json!({
            "type": "object",
            "default": {"a": 1, "b": true},
            "properties": {
                "a": {"type": "integer", "default": 1},
                "b": {"type": "boolean"}
            }
        });
        tidy_schema(&mut schema);
        assert_eq!(schema["default"], json!({"a": 1, "b": true}));
    }
}
