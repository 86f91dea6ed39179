//! OpenAPI v3 documents (`/openapi/v3` and one per group version), enough for kubectl: the
//! schemas of the Lepton kinds (from their CRDs) for `kubectl explain`, and a `PATCH`
//! operation per kind that takes `fieldValidation`, so that `kubectl create`/`apply` leave
//! validation to the server instead of refusing to run without a schema. Built-in kinds have
//! no schema here.

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

use crate::resources::{Registry, ResourceType};

const METADATA_DESCRIPTION: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// `/openapi/v3`: where each group version's document is, with a hash of its content so
/// that kubectl's cache notices a change.
pub(crate) fn index(registry: &Registry) -> Value {
    let versions: BTreeSet<(&str, &str)> = registry
        .all()
        .iter()
        .map(|t| (t.group.as_str(), t.version.as_str()))
        .collect();
    let paths: Map<String, Value> = versions
        .into_iter()
        .filter_map(|(group, version)| {
            let key = key(group, version);
            let document = document(registry, &key)?;
            let mut hasher = std::hash::DefaultHasher::new();
            document.to_string().hash(&mut hasher);
            let url = format!("/openapi/v3/{key}?hash={:016X}", hasher.finish());
            Some((key, json!({"serverRelativeURL": url})))
        })
        .collect();
    json!({"paths": paths})
}

/// `api/v1` for the core group, `apis/GROUP/VERSION` for the others.
fn key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The document at `/openapi/v3/{key}`; `None` for a group version the server does not
/// serve.
pub(crate) fn document(registry: &Registry, key: &str) -> Option<Value> {
    let kinds: Vec<&ResourceType> = registry
        .all()
        .iter()
        .filter(|t| self::key(&t.group, &t.version) == key)
        .map(AsRef::as_ref)
        .collect();
    if kinds.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for rt in kinds {
        paths.insert(object_path(rt), json!({"patch": patch_operation(rt)}));
        if let Some(schema) = &rt.schema {
            schemas.insert(schema_name(rt), published(rt, schema));
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0-lepton-embedded"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

fn object_path(rt: &ResourceType) -> String {
    let prefix = if rt.group.is_empty() {
        format!("/api/{}", rt.version)
    } else {
        format!("/apis/{}/{}", rt.group, rt.version)
    };
    if rt.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", rt.plural)
    } else {
        format!("{prefix}/{}/{{name}}", rt.plural)
    }
}

/// The PATCH operation kubectl looks for to learn that the server validates fields itself.
fn patch_operation(rt: &ResourceType) -> Value {
    let query = |name: &str, type_: &str, description: &str| {
        json!({"name": name, "in": "query", "description": description,
               "schema": {"type": type_, "uniqueItems": true}})
    };
    json!({
        "operationId": format!("patch{}", rt.kind),
        "description": format!("partially update the specified {}", rt.kind),
        "parameters": [
            query("dryRun", "string", "When present, indicates that modifications should not be persisted."),
            query("fieldManager", "string", "fieldManager is a name associated with the actor or entity that is making these changes."),
            query("fieldValidation", "string", "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. This server refuses unknown fields (Strict)."),
            query("force", "boolean", "Force is going to \"force\" Apply requests."),
        ],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": gvk(rt),
    })
}

fn gvk(rt: &ResourceType) -> Value {
    json!({"group": rt.group, "version": rt.version, "kind": rt.kind})
}

/// `ai.lepton.v1alpha1.TrainingJob`: the group reversed, as the API server names CRD schemas.
fn schema_name(rt: &ResourceType) -> String {
    let group: Vec<&str> = rt.group.split('.').rev().collect();
    format!("{}.{}.{}", group.join("."), rt.version, rt.kind)
}

/// A CRD version's `openAPIV3Schema` as the API server publishes it: tagged with its kind,
/// with `metadata` described rather than left as a bare object.
fn published(rt: &ResourceType, schema: &Value) -> Value {
    let mut schema = schema.clone();
    schema["x-kubernetes-group-version-kind"] = json!([gvk(rt)]);
    let properties = &mut schema["properties"];
    if properties.is_object() {
        properties["metadata"] = json!({"type": "object", "description": METADATA_DESCRIPTION});
        for (field, description) in [
            (
                "apiVersion",
                "APIVersion defines the versioned schema of this representation of an object.",
            ),
            (
                "kind",
                "Kind is a string value representing the REST resource this object represents.",
            ),
        ] {
            let entry = &mut properties[field];
            if entry.get("description").is_none() {
                *entry = json!({"type": "string", "description": description});
            }
        }
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_group_version_has_a_document() {
        let registry = Registry::lepton();
        let index = index(&registry);
        let url = index["paths"]["apis/lepton.ai/v1alpha1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        assert!(
            url.starts_with("/openapi/v3/apis/lepton.ai/v1alpha1?hash="),
            "{url}"
        );
        assert!(index["paths"]["api/v1"].is_object());
        assert!(index["paths"]["apis/batch/v1"].is_object());
        assert!(document(&registry, "apis/nothing.example/v1").is_none());
    }

    #[test]
    fn lepton_kinds_have_schemas_and_every_kind_a_strict_patch() {
        let registry = Registry::lepton();
        let doc = document(&registry, "apis/lepton.ai/v1alpha1").unwrap();
        let tj = &doc["components"]["schemas"]["ai.lepton.v1alpha1.TrainingJob"];
        assert_eq!(
            tj["x-kubernetes-group-version-kind"][0]["kind"],
            "TrainingJob"
        );
        assert!(tj["properties"]["spec"]["properties"]["data"].is_object());
        assert_eq!(tj["properties"]["metadata"]["type"], "object");
        let patch = &doc["paths"]["/apis/lepton.ai/v1alpha1/namespaces/{namespace}/trainingjobs/{name}"]
            ["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "TrainingJob"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        let core = document(&registry, "api/v1").unwrap();
        assert!(core["paths"]["/api/v1/namespaces/{name}"]["patch"].is_object());
        assert_eq!(core["components"]["schemas"], json!({}));
    }
}
