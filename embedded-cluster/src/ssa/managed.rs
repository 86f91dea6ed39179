//! `metadata.managedFields`: who owns which fields. Every write records its manager: an
//! update takes the fields it changed from everyone else; an apply owns exactly the fields
//! of its configuration (see [`super::apply`]).

use serde_json::{Value, json};

use super::fieldset::{
    FieldSet, Scope, fields_of, from_fields_v1, overlaps, to_fields_v1, value_at,
};
use crate::meta;

/// How a manager came to own its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Update => "Update",
        }
    }
}

/// One entry of `managedFields`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ManagedEntry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: String,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

impl ManagedEntry {
    /// Whether this is the entry of `manager` for `operation` on `subresource`.
    pub fn is(&self, manager: &str, operation: Operation, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }
}

/// The entries of an object; malformed entries are skipped.
pub(crate) fn read(object: &Value) -> Vec<ManagedEntry> {
    meta::metadata(object)
        .and_then(|m| m.get("managedFields"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let operation = match entry.get("operation")?.as_str()? {
                "Apply" => Operation::Apply,
                _ => Operation::Update,
            };
            let text = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_owned);
            Some(ManagedEntry {
                manager: text("manager").unwrap_or_default(),
                operation,
                api_version: text("apiVersion").unwrap_or_default(),
                time: text("time").unwrap_or_default(),
                subresource: text("subresource").filter(|s| !s.is_empty()),
                fields: entry
                    .get("fieldsV1")
                    .map(from_fields_v1)
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Writes the entries back, dropping those that own nothing.
pub(crate) fn write(object: &mut Value, entries: Vec<ManagedEntry>) {
    let rendered: Vec<Value> = entries
        .into_iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut entry = json!({
                "manager": e.manager,
                "operation": e.operation.as_str(),
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.fields),
            });
            if let Some(sub) = e.subresource {
                entry["subresource"] = Value::from(sub);
            }
            entry
        })
        .collect();
    let meta = meta::metadata_mut(object);
    if rendered.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(rendered));
    }
}

/// Records a non-apply write of `manager` that turned `old` (nothing, for a create) into
/// `new`: the manager takes every field it changed, others lose those fields, and fields that
/// are gone are owned by no one.
pub(crate) fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    scope: Scope,
) {
    let mut entries = old.map(read).unwrap_or_default();
    let old_fields = old.map(|o| fields_of(o, scope)).unwrap_or_default();
    let new_fields = fields_of(new, scope);
    let changed: FieldSet = new_fields
        .iter()
        .filter(|p| value_at(new, p) != old.and_then(|o| value_at(o, p)))
        .cloned()
        .collect();
    let removed: FieldSet = old_fields.difference(&new_fields).cloned().collect();
    if changed.is_empty() && removed.is_empty() {
        write(new, entries);
        return;
    }
    for entry in &mut entries {
        entry
            .fields
            .retain(|q| !changed.iter().chain(&removed).any(|p| overlaps(p, q)));
    }
    if !changed.is_empty() {
        let api_version = new
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match entries
            .iter_mut()
            .find(|e| e.is(manager, Operation::Update, subresource))
        {
            Some(entry) => {
                entry.fields.extend(changed);
                entry.time = meta::now();
                entry.api_version = api_version;
            }
            None => entries.push(ManagedEntry {
                manager: manager.to_owned(),
                operation: Operation::Update,
                api_version,
                time: meta::now(),
                subresource: subresource.map(str::to_owned),
                fields: changed,
            }),
        }
    }
    write(new, entries);
}

/// Two objects are the same write when they differ at most in the times of their
/// `managedFields` entries: such a write is a no-op and keeps its `resourceVersion`.
pub(crate) fn same_ignoring_times(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(Value::Array(entries)) = v
            .get_mut("metadata")
            .and_then(|m| m.get_mut("managedFields"))
        {
            for entry in entries {
                if let Some(map) = entry.as_object_mut() {
                    map.remove("time");
                }
            }
        }
        v
    };
    a == b || strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn main_scope() -> Scope {
        Scope::Main { skip_status: true }
    }

    #[test]
    fn an_update_takes_changed_fields_from_others() {
        let mut created = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "1", "y": "1"}});
        record_update(None, &mut created, "creator", None, main_scope());
        let entries = read(&created);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].fields.len(), 2);

        let mut changed = created.clone();
        changed["data"]["x"] = json!("2");
        record_update(Some(&created), &mut changed, "editor", None, main_scope());
        let entries = read(&changed);
        let owner_of = |field: &str| -> Vec<String> {
            entries
                .iter()
                .filter(|e| {
                    e.fields
                        .contains(&vec!["data".to_owned(), field.to_owned()])
                })
                .map(|e| e.manager.clone())
                .collect()
        };
        assert_eq!(owner_of("x"), vec!["editor"]);
        assert_eq!(owner_of("y"), vec!["creator"]);
    }

    #[test]
    fn times_alone_do_not_make_a_change() {
        let a = json!({"metadata": {"managedFields": [{"manager": "m", "time": "2020-01-01T00:00:00Z"}]}});
        let b = json!({"metadata": {"managedFields": [{"manager": "m", "time": "2021-01-01T00:00:00Z"}]}});
        assert!(same_ignoring_times(&a, &b));
        let c = json!({"metadata": {"managedFields": [{"manager": "n", "time": "2021-01-01T00:00:00Z"}]}});
        assert!(!same_ignoring_times(&a, &c));
    }
}
