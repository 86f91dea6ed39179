//! Admission of a manifest against a CRD as the Kubernetes API server does it, without a
//! cluster: strict field checking, defaulting, the structural schema (types, bounds, enums,
//! patterns, required fields, list types) and the CEL rules (`x-kubernetes-validations`),
//! including transition rules on update. Errors are written the way `kubectl` shows the API
//! server's, each naming its field.
//!
//! Defaults are applied with the API server's semantics ([`apply_defaults`]); the schema is
//! checked by the `jsonschema` crate after a faithful translation of OpenAPI v3 (`nullable`,
//! `x-kubernetes-int-or-string`); the CEL rules by `kube`'s CEL validator. What the
//! API server does and this does not: CEL cost budgets, `metadata` beyond the name, and
//! ratcheting (on update, every rule is checked, not only those on changed fields).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::cel::{CompiledSchema, Validator, compile_schema};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt;

mod defaulting;
mod messages;

pub use defaulting::apply_defaults;
pub use messages::{FieldError, FieldErrorKind};

/// A manifest the API server would refuse, with every reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// `<Kind>.<group>` of the object, for example `TrainingJob.lepton.ai`.
    pub resource: String,
    /// `metadata.name` of the object, empty when it has none.
    pub name: String,
    /// What is wrong, one entry per field.
    pub errors: Vec<FieldError>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} \"{}\" is invalid: ", self.resource, self.name)?;
        if let [only] = self.errors.as_slice() {
            return write!(f, "{only}");
        }
        let all: Vec<String> = self.errors.iter().map(ToString::to_string).collect();
        write!(f, "[{}]", all.join(", "))
    }
}

impl std::error::Error for Rejection {}

/// Why a CRD cannot be used for admission.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The CRD has no `openAPIV3Schema`.
    #[error("CRD {0} has no openAPIV3Schema")]
    MissingSchema(String),
    /// The schema is not a valid JSON schema after translation.
    #[error("CRD {crd}: schema does not compile: {message}")]
    InvalidSchema {
        /// The CRD's name.
        crd: String,
        /// What the JSON-schema compiler said.
        message: String,
    },
    /// A CEL rule does not compile.
    #[error("CRD {crd}: CEL rule does not compile: {message}")]
    InvalidRule {
        /// The CRD's name.
        crd: String,
        /// What the CEL compiler said.
        message: String,
    },
}

/// Validates objects of one custom resource kind against its CRD.
pub struct CrdValidator {
    group: String,
    version: String,
    kind: String,
    schema: Value,
    json_schema: jsonschema::Validator,
    cel_rules: CompiledSchema,
    // Built once: creating a CEL context registers every Kubernetes CEL function.
    cel: Validator,
}

impl fmt::Debug for CrdValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrdValidator")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl CrdValidator {
    /// A validator for the first version of `crd`. Fails when its schema or a CEL rule does
    /// not compile, which the API server would also refuse.
    pub fn new(crd: &CustomResourceDefinition) -> Result<Self, SchemaError> {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let version = &crd.spec.versions[0];
        let schema = version
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .ok_or_else(|| SchemaError::MissingSchema(name.clone()))?;
        let schema = serde_json::to_value(schema).expect("a schema always serializes");
        let json_schema = jsonschema::draft4::new(&to_json_schema(&schema)).map_err(|e| {
            SchemaError::InvalidSchema {
                crd: name.clone(),
                message: e.to_string(),
            }
        })?;
        let cel_rules = compile_schema(&schema);
        if let Some(error) = first_compilation_error(&cel_rules) {
            return Err(SchemaError::InvalidRule {
                crd: name,
                message: error,
            });
        }
        Ok(Self {
            group: crd.spec.group.clone(),
            version: version.name.clone(),
            kind: crd.spec.names.kind.clone(),
            schema,
            json_schema,
            cel_rules,
            cel: Validator::new(),
        })
    }

    /// The kind this validator admits.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Admits a new object: returns it with defaults applied, or every reason it is invalid.
    /// `status` is dropped first, as the API server does for kinds with a status subresource.
    pub fn admit_create(&self, object: &Value) -> Result<Value, Rejection> {
        self.admit(object, None)
    }

    /// Admits an update of `old` to `object`, including the transition rules (`oldSelf`).
    pub fn admit_update(&self, object: &Value, old: &Value) -> Result<Value, Rejection> {
        self.admit(object, Some(old))
    }

    fn admit(&self, object: &Value, old: Option<&Value>) -> Result<Value, Rejection> {
        let mut object = object.clone();
        if let Some(map) = object.as_object_mut() {
            map.remove("status");
        }
        let mut errors = self.check_type_meta(&object);
        errors.extend(check_name(&object));
        check_structure(&self.schema, &object, "", &mut errors);
        let defaulted = apply_defaults(&self.schema, &object);
        errors.extend(
            self.json_schema
                .iter_errors(&defaulted)
                .map(|e| messages::from_schema_error(&e)),
        );
        if errors.is_empty() {
            // Stored objects were defaulted when they were written.
            let old = old.map(|o| apply_defaults(&self.schema, o));
            if let Err(cel_errors) =
                self.cel
                    .validate_compiled(&self.cel_rules, &defaulted, old.as_ref())
            {
                errors.extend(cel_errors.iter().map(messages::from_cel_error));
            }
        }
        if errors.is_empty() {
            Ok(defaulted)
        } else {
            Err(Rejection {
                resource: format!("{}.{}", self.kind, self.group),
                name: object
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                errors,
            })
        }
    }

    fn check_type_meta(&self, object: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let want_api_version = format!("{}/{}", self.group, self.version);
        match object.get("apiVersion").and_then(Value::as_str) {
            Some(v) if v == want_api_version => {}
            other => errors.push(FieldError::new(
                "apiVersion",
                FieldErrorKind::Invalid(other.map_or(Value::Null, Value::from)),
                format!("must be {want_api_version}"),
            )),
        }
        match object.get("kind").and_then(Value::as_str) {
            Some(k) if k == self.kind => {}
            other => errors.push(FieldError::new(
                "kind",
                FieldErrorKind::Invalid(other.map_or(Value::Null, Value::from)),
                format!("must be {}", self.kind),
            )),
        }
        errors
    }
}

/// Validators for every Lepton kind, from the CRDs exactly as `make crds` writes them.
pub fn lepton_validators() -> Vec<CrdValidator> {
    crate::generate::crds()
        .iter()
        .map(|crd| {
            let installed = serde_json::from_value(crate::generate::crd_json(crd))
                .expect("a tidied CRD is still a CRD");
            CrdValidator::new(&installed).expect("Lepton's own CRDs compile")
        })
        .collect()
}

/// The first CEL rule anywhere in the compiled tree that does not compile.
fn first_compilation_error(compiled: &CompiledSchema) -> Option<String> {
    if let Some(error) = compiled.compilation_errors().into_iter().next() {
        return Some(error.to_string());
    }
    compiled
        .properties
        .values()
        .chain(compiled.items.as_deref())
        .chain(compiled.additional_properties.as_deref())
        .find_map(first_compilation_error)
}

fn check_name(object: &Value) -> Vec<FieldError> {
    let name = object.pointer("/metadata/name").and_then(Value::as_str);
    let generate_name = object
        .pointer("/metadata/generateName")
        .and_then(Value::as_str);
    match (name, generate_name) {
        (None, None) => vec![FieldError::new(
            "metadata.name",
            FieldErrorKind::Required,
            "name or generateName is required",
        )],
        (Some(name), _) if !is_dns_subdomain(name) => vec![FieldError::new(
            "metadata.name",
            FieldErrorKind::Invalid(Value::from(name)),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \
             '-' or '.', and must start and end with an alphanumeric character (at most 253 \
             characters)",
        )],
        _ => Vec::new(),
    }
}

/// Whether `name` is a DNS-1123 subdomain, the form of every Kubernetes object name.
pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253
        && !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Checks what JSON schema does not express: fields not declared in the schema (rejected, as
/// `kubectl apply` does with strict field validation) and the uniqueness of `set` and `map`
/// lists.
fn check_structure(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    match value {
        Value::Object(fields) => check_object(schema, fields, path, errors),
        Value::Array(items) => {
            check_list_uniqueness(schema, items, path, errors);
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    check_structure(item_schema, item, &format!("{path}[{index}]"), errors);
                }
            }
        }
        _ => {}
    }
}

fn check_object(
    schema: &Value,
    fields: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (name, child) in fields {
        let child_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        if path.is_empty() && matches!(name.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        match (properties.and_then(|p| p.get(name)), additional) {
            (Some(child_schema), _) | (None, Some(child_schema)) => {
                check_structure(child_schema, child, &child_path, errors);
            }
            (None, None) if properties.is_some() => errors.push(FieldError::new(
                child_path,
                FieldErrorKind::UnknownField,
                "field not declared in schema; check the spelling with `kubectl explain`",
            )),
            (None, None) => {}
        }
    }
}

fn check_list_uniqueness(
    schema: &Value,
    items: &[Value],
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    let keys: Vec<&str> = match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => Vec::new(),
        Some("map") => schema
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|k| k.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default(),
        _ => return,
    };
    let mut seen = BTreeSet::new();
    for (index, item) in items.iter().enumerate() {
        let identity = if keys.is_empty() {
            item.clone()
        } else {
            Value::Object(
                keys.iter()
                    .filter_map(|k| item.get(*k).map(|v| ((*k).to_owned(), v.clone())))
                    .collect(),
            )
        };
        if !seen.insert(identity.to_string()) {
            errors.push(FieldError::new(
                format!("{path}[{index}]"),
                FieldErrorKind::Duplicate(identity),
                "",
            ));
        }
    }
}

/// Translates a Kubernetes structural schema (OpenAPI v3) into a JSON schema (draft 4) with the
/// same meaning: `nullable` becomes a `null` type, `x-kubernetes-int-or-string` becomes
/// integer-or-string, and defaults are dropped (they were applied before validation).
pub fn to_json_schema(schema: &Value) -> Value {
    let Some(object) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in object {
        let translated = match key.as_str() {
            "properties" | "patternProperties" => Value::Object(
                value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), to_json_schema(v)))
                    .collect(),
            ),
            "items" | "additionalProperties" | "not" => to_json_schema(value),
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(to_json_schema)
                    .collect(),
            ),
            "default" | "nullable" | "format" | "description" | "title" => continue,
            k if k.starts_with("x-kubernetes-") => continue,
            _ => value.clone(),
        };
        out.insert(key.clone(), translated);
    }
    let nullable = object.get("nullable") == Some(&Value::Bool(true));
    if object.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        out.remove("anyOf");
        out.insert("type".into(), serde_json::json!(["integer", "string"]));
    }
    if nullable {
        match out.get("type").cloned() {
            Some(Value::String(t)) => {
                out.insert("type".into(), serde_json::json!([t, "null"]));
            }
            Some(Value::Array(mut types)) => {
                types.push(Value::from("null"));
                out.insert("type".into(), Value::Array(types));
            }
            _ => {}
        }
        if let Some(Value::Array(values)) = out.get_mut("enum") {
            values.push(Value::Null);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nullable_and_int_or_string_translate_to_json_schema_types() {
        let schema = json!({
            "type": "object",
            "properties": {
                "a": {"type": "string", "nullable": true, "enum": ["x"]},
                "q": {"x-kubernetes-int-or-string": true, "nullable": true},
                "n": {"type": "integer", "format": "int32", "default": 3}
            }
        });
        assert_eq!(
            to_json_schema(&schema),
            json!({
                "type": "object",
                "properties": {
                    "a": {"type": ["string", "null"], "enum": ["x", null]},
                    "q": {"type": ["integer", "string", "null"]},
                    "n": {"type": "integer"}
                }
            })
        );
    }

    #[test]
    fn a_rule_that_does_not_compile_is_refused_at_any_depth() {
        let crd: CustomResourceDefinition = serde_json::from_value(json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "things.example.org"},
            "spec": {
                "group": "example.org",
                "names": {"kind": "Thing", "plural": "things"},
                "scope": "Namespaced",
                "versions": [{
                    "name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "properties": {"spec": {
                            "type": "object",
                            "properties": {"deep": {
                                "type": "object",
                                "properties": {"x": {"type": "integer"}},
                                "x-kubernetes-validations": [{"rule": "self.x >>> 1"}]
                            }}
                        }}
                    }}
                }]
            }
        }))
        .unwrap();
        let error = CrdValidator::new(&crd).unwrap_err();
        assert!(matches!(error, SchemaError::InvalidRule { .. }), "{error}");
    }

    #[test]
    fn a_crd_without_a_schema_is_refused() {
        let mut crd = crate::generate::crds().remove(0);
        crd.spec.versions[0].schema = None;
        let error = CrdValidator::new(&crd).unwrap_err();
        assert_eq!(
            error.to_string(),
            "CRD trainingjobs.lepton.ai has no openAPIV3Schema"
        );
    }

    #[test]
    fn a_schema_that_does_not_compile_is_refused() {
        let mut crd = crate::generate::crds().remove(0);
        let mut schema = serde_json::to_value(
            crd.spec.versions[0]
                .schema
                .as_ref()
                .unwrap()
                .open_api_v3_schema
                .as_ref()
                .unwrap(),
        )
        .unwrap();
        schema["properties"]["spec"]["properties"]["data"]["properties"]["target"]["pattern"] =
            json!("([unclosed");
        crd.spec.versions[0]
            .schema
            .as_mut()
            .unwrap()
            .open_api_v3_schema = Some(serde_json::from_value(schema).unwrap());
        let error = CrdValidator::new(&crd).unwrap_err();
        assert!(
            matches!(error, SchemaError::InvalidSchema { .. }),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .starts_with("CRD trainingjobs.lepton.ai: schema does not compile")
        );
    }

    #[test]
    fn dns_subdomains() {
        assert!(is_dns_subdomain("credit-default"));
        assert!(is_dns_subdomain("a.b-c.d"));
        for bad in ["", "Credit", "-a", "a-", "a..b", "a_b", &"a".repeat(254)] {
            assert!(!is_dns_subdomain(bad), "{bad}");
        }
    }
}
