//! Structural-schema defaulting with the API server's semantics: a missing property (or a
//! `null` one whose schema is not nullable) takes its schema's `default`, and defaulting then
//! continues inside every property, including the ones just defaulted, so a parent's `{}`
//! default picks up its children's defaults.

use serde_json::Value;

/// Returns `value` with the defaults of `schema` applied.
pub fn apply_defaults(schema: &Value, value: &Value) -> Value {
    let mut value = value.clone();
    default_in_place(schema, &mut value);
    value
}

fn default_in_place(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(fields) => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    let Some(default) = property.get("default") else {
                        continue;
                    };
                    let nullable = property.get("nullable") == Some(&Value::Bool(true));
                    match fields.get(name) {
                        None => {
                            fields.insert(name.clone(), default.clone());
                        }
                        Some(Value::Null) if !nullable => {
                            fields.insert(name.clone(), default.clone());
                        }
                        Some(_) => {}
                    }
                }
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (name, child) in fields.iter_mut() {
                match (properties.and_then(|p| p.get(name)), additional) {
                    (Some(child_schema), _) | (None, Some(child_schema)) => {
                        default_in_place(child_schema, child);
                    }
                    (None, None) => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                items
                    .iter_mut()
                    .for_each(|item| default_in_place(item_schema, item));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "outer": {
                    "type": "object",
                    "default": {},
                    "properties": {
                        "inner": {"type": "integer", "default": 7},
                        "list": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"x": {"type": "string", "default": "d"}}
                            }
                        }
                    }
                },
                "nullableField": {"type": "string", "nullable": true, "default": "n"},
                "plain": {"type": "string", "default": "p"},
                "map": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {"y": {"type": "boolean", "default": true}}
                    }
                }
            }
        })
    }

    #[test]
    fn defaults_continue_inside_a_defaulted_parent() {
        let out = apply_defaults(&schema(), &json!({}));
        assert_eq!(out["outer"], json!({"inner": 7}));
        assert_eq!(out["plain"], json!("p"));
    }

    #[test]
    fn list_items_and_map_values_are_defaulted() {
        let out = apply_defaults(
            &schema(),
            &json!({"outer": {"list": [{}, {"x": "given"}]}, "map": {"a": {}}}),
        );
        assert_eq!(out["outer"]["list"], json!([{"x": "d"}, {"x": "given"}]));
        assert_eq!(out["map"]["a"], json!({"y": true}));
    }

    #[test]
    fn null_is_defaulted_only_where_not_nullable() {
        let out = apply_defaults(&schema(), &json!({"plain": null, "nullableField": null}));
        assert_eq!(out["plain"], json!("p"));
        assert_eq!(out["nullableField"], Value::Null);
    }

    #[test]
    fn given_values_are_kept() {
        let out = apply_defaults(&schema(), &json!({"outer": {"inner": 1}, "plain": "mine"}));
        assert_eq!(out["outer"]["inner"], json!(1));
        assert_eq!(out["plain"], json!("mine"));
    }
}
