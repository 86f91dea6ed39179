//! The generated schemas meet what the Kubernetes API server demands of a CRD before it accepts
//! it (a structural schema, valid defaults, well-formed list types, CEL rules in scope and
//! within the cost budget), so `kubectl apply -f crds/` does not fail on a real cluster.

use kube::core::cel::{ScopeContext, WarningKind, analyze_rule, compile_schema};
use lepton_crds::admission::to_json_schema;
use lepton_crds::generate::{crds, schema_of};
use serde_json::Value;

/// Calls `visit(path, node)` for every schema node below `node`.
fn walk<'a>(node: &'a Value, path: &str, visit: &mut dyn FnMut(&str, &'a Value)) {
    visit(path, node);
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            walk(child, &format!("{path}.{name}"), visit);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = node.get(key).filter(|c| c.is_object()) {
            walk(child, &format!("{path}[]"), visit);
        }
    }
}

fn every_node(visit: &mut dyn FnMut(&str, &Value)) {
    for crd in crds() {
        let schema = schema_of(&crd);
        walk(&schema, &crd.spec.names.kind, visit);
    }
}

fn assert_none(problems: Vec<String>) {
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_node_has_a_type_and_objects_are_either_structs_or_maps() {
    let mut problems = Vec::new();
    every_node(&mut |path, node| {
        let int_or_string = node.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
        let preserve = node.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        if node.get("type").is_none() && !int_or_string && !preserve {
            problems.push(format!("{path}: no type"));
        }
        if node.get("properties").is_some() && node.get("additionalProperties").is_some() {
            problems.push(format!("{path}: both properties and additionalProperties"));
        }
        for forbidden in ["oneOf", "anyOf", "allOf", "$ref", "const"] {
            if node.get(forbidden).is_some() && !int_or_string {
                problems.push(format!("{path}: {forbidden} is not structural"));
            }
        }
    });
    assert_none(problems);
}

#[test]
fn every_default_is_valid_for_its_own_schema() {
    let mut problems = Vec::new();
    every_node(&mut |path, node| {
        let Some(default) = node.get("default") else {
            return;
        };
        let validator = jsonschema::draft4::new(&to_json_schema(node)).expect("schema compiles");
        for error in validator.iter_errors(default) {
            problems.push(format!("{path}: default {default} is invalid: {error}"));
        }
        if let (Some(fields), Some(properties)) = (default.as_object(), node.get("properties")) {
            for key in fields.keys() {
                if properties.get(key).is_none() {
                    problems.push(format!(
                        "{path}: default sets undeclared {key}, which would be pruned"
                    ));
                }
            }
        }
    });
    assert_none(problems);
}

#[test]
fn list_types_are_well_formed() {
    let mut problems = Vec::new();
    every_node(&mut |path, node| {
        let items = node.get("items");
        match node.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => {
                let item_type = items.and_then(|i| i.get("type")).and_then(Value::as_str);
                if !matches!(item_type, Some("string" | "integer" | "number" | "boolean")) {
                    problems.push(format!("{path}: a set must hold scalars"));
                }
            }
            Some("map") => {
                let keys: Vec<&str> = node
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|k| k.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if keys.is_empty() {
                    problems.push(format!(
                        "{path}: a map list needs x-kubernetes-list-map-keys"
                    ));
                }
                let required: Vec<&str> = items
                    .and_then(|i| i.get("required"))
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for key in keys {
                    let key_schema = items.and_then(|i| i.pointer(&format!("/properties/{key}")));
                    let defaulted = key_schema.is_some_and(|k| k.get("default").is_some());
                    if key_schema.is_none() || !(required.contains(&key) || defaulted) {
                        problems.push(format!(
                            "{path}: map key {key} must be declared and required or defaulted"
                        ));
                    }
                }
            }
            Some(other) if other != "atomic" => problems.push(format!("{path}: list type {other}")),
            _ => {}
        }
    });
    assert_none(problems);
}

/// Variables bound by CEL macros such as `list.exists(p, ...)`.
fn macro_variables(expression: &str) -> Vec<String> {
    let mut bound = Vec::new();
    for name in ["all(", "exists(", "exists_one(", "map(", "filter("] {
        for (at, _) in expression.match_indices(name) {
            let rest = &expression[at + name.len()..];
            if let Some((variable, _)) = rest.split_once(',') {
                let variable = variable.trim();
                if variable
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    bound.push(variable.to_owned());
                }
            }
        }
    }
    bound
}

#[test]
fn every_rule_compiles_is_in_scope_within_budget_and_points_at_a_real_field() {
    let mut problems = Vec::new();
    let mut rules = 0;
    every_node(&mut |path, node| {
        let Some(list) = node
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
        else {
            return;
        };
        let compiled = compile_schema(node);
        for error in compiled.compilation_errors() {
            problems.push(format!("{path}: {error}"));
        }
        for rule in list {
            rules += 1;
            let expression = rule["rule"].as_str().expect("rule is a string");
            let bound = macro_variables(expression);
            for warning in analyze_rule(expression, &compiled, ScopeContext::CrdValidation) {
                // The analysis reports a macro's own variable (`p` in `exists(p, ...)`) as out
                // of scope; those are bound by the rule itself.
                let macro_bound = warning.kind == WarningKind::WrongScope
                    && bound
                        .iter()
                        .any(|v| warning.message.contains(&format!("'{v}'")));
                if !macro_bound {
                    problems.push(format!("{path}: {expression}: {}", warning.message));
                }
            }
            if let Some(field_path) = rule.get("fieldPath").and_then(Value::as_str) {
                let pointer: String = field_path
                    .trim_start_matches('.')
                    .split('.')
                    .map(|segment| format!("/properties/{segment}"))
                    .collect();
                if node.pointer(&pointer).is_none() {
                    problems.push(format!("{path}: fieldPath {field_path} names no field"));
                }
            }
        }
    });
    assert!(rules >= 15, "only {rules} CEL rules found");
    assert_none(problems);
}
