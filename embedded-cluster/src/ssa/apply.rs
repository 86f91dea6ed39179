//! Server-side apply: a manager declares the fields it wants; it comes to own exactly those,
//! fields it owned before and left out are removed (unless someone else owns them too), and
//! setting a field another manager owns to a different value is a conflict unless forced.

use serde_json::{Map, Value};

use super::fieldset::{FieldSet, Scope, display, fields_of, overlaps, remove_at, value_at};
use super::managed::{ManagedEntry, Operation, read, write};
use crate::meta;

/// A field another manager owns with a different value: (the manager as the API server
/// names it in messages, `.path`).
pub(crate) type Conflict = (String, String);

/// A manager as conflict messages name it: `"name"`, plus the subresource, and for an
/// update the version and time of its write.
fn describe(entry: &ManagedEntry) -> String {
    let mut text = format!("{:?}", entry.manager);
    if let Some(sub) = &entry.subresource {
        text.push_str(&format!(" with subresource {sub:?}"));
    }
    if entry.operation == Operation::Update {
        text.push_str(&format!(" using {}", entry.api_version));
        if !entry.time.is_empty() {
            text.push_str(&format!(" at {}", entry.time));
        }
    }
    text
}

/// Applies `applied` by `manager` to `live` (an empty object when creating), returning the
/// new object with its `managedFields`, or the conflicts.
pub(crate) fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    scope: Scope,
    subresource: Option<&str>,
) -> Result<Value, Vec<Conflict>> {
    let empty = Value::Object(Map::new());
    let live = live.unwrap_or(&empty);
    let wanted = fields_of(applied, scope);
    let mut entries = read(live);

    let mut conflicts: Vec<Conflict> = Vec::new();
    for entry in entries.iter().filter(|e| e.manager != manager) {
        for path in &wanted {
            let clashes = entry.fields.iter().any(|q| overlaps(path, q));
            if clashes && value_at(applied, path) != value_at(live, path) {
                let conflict = (describe(entry), display(path));
                if !conflicts.contains(&conflict) {
                    conflicts.push(conflict);
                }
            }
        }
    }
    if !conflicts.is_empty() {
        if !force {
            return Err(conflicts);
        }
        for entry in entries.iter_mut().filter(|e| e.manager != manager) {
            entry.fields.retain(|q| {
                !wanted
                    .iter()
                    .any(|p| overlaps(p, q) && value_at(applied, p) != value_at(live, p))
            });
        }
    }

    let mine = entries
        .iter()
        .position(|e| e.is(manager, Operation::Apply, subresource));
    let before: FieldSet = mine.map(|i| entries[i].fields.clone()).unwrap_or_default();
    let mut object = live.clone();
    for dropped in before.difference(&wanted) {
        let shared = entries
            .iter()
            .filter(|e| !e.is(manager, Operation::Apply, subresource))
            .any(|e| e.fields.iter().any(|q| overlaps(dropped, q)));
        if !shared {
            remove_at(&mut object, dropped);
        }
    }
    merge_scope(&mut object, applied, scope);

    let api_version = applied
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let entry = ManagedEntry {
        manager: manager.to_owned(),
        operation: Operation::Apply,
        api_version,
        time: meta::now(),
        subresource: subresource.map(str::to_owned),
        fields: wanted,
    };
    match mine {
        // Keep the old time when nothing changed, so that a repeated apply is a no-op.
        Some(i)
            if entries[i].fields == entry.fields && entries[i].api_version == entry.api_version => {
        }
        Some(i) => entries[i] = entry,
        None => entries.push(entry),
    }
    write(&mut object, entries);
    Ok(object)
}

/// Merges the applied configuration into the object within the scope of the write.
fn merge_scope(object: &mut Value, applied: &Value, scope: Scope) {
    let Some(applied) = applied.as_object() else {
        return;
    };
    if !object.is_object() {
        *object = Value::Object(Map::new());
    }
    let target = object.as_object_mut().expect("just made an object");
    for (key, value) in applied {
        match (scope, key.as_str()) {
            (_, "apiVersion" | "kind") => {
                target.insert(key.clone(), value.clone());
            }
            (Scope::Status, "status") | (Scope::Main { skip_status: false }, "status") => {
                merge_into(target.entry(key.clone()).or_insert(Value::Null), value);
            }
            (_, "status") | (Scope::Status, _) => {}
            (Scope::Main { .. }, "metadata") => {
                let meta = target
                    .entry("metadata")
                    .or_insert_with(|| Value::Object(Map::new()));
                let Some(fields) = value.as_object() else {
                    continue;
                };
                for field in [
                    "name",
                    "namespace",
                    "generateName",
                    "labels",
                    "annotations",
                    "finalizers",
                    "ownerReferences",
                ] {
                    if let Some(v) = fields.get(field) {
                        if !meta.is_object() {
                            *meta = Value::Object(Map::new());
                        }
                        let slot = meta
                            .as_object_mut()
                            .expect("just made an object")
                            .entry(field)
                            .or_insert(Value::Null);
                        merge_into(slot, v);
                    }
                }
            }
            (Scope::Main { .. }, _) => {
                merge_into(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Maps merge key by key; anything else replaces; `null` removes.
fn merge_into(target: &mut Value, value: &Value) {
    match (target.as_object_mut(), value) {
        (Some(existing), Value::Object(incoming)) => {
            for (key, child) in incoming {
                if child.is_null() {
                    existing.remove(key);
                } else {
                    merge_into(existing.entry(key.clone()).or_insert(Value::Null), child);
                }
            }
        }
        _ => *target = strip_nulls(value),
    }
}

fn strip_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MAIN: Scope = Scope::Main { skip_status: true };

    fn deployment(replicas: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": replicas}})
    }

    #[test]
    fn apply_owns_its_fields_and_conflicts_with_other_managers() {
        let first = apply(None, &deployment(1), "a", false, MAIN, None).unwrap();
        assert_eq!(first["spec"]["replicas"], 1);
        // Same value: shared ownership, no conflict.
        let shared = apply(Some(&first), &deployment(1), "b", false, MAIN, None).unwrap();
        assert_eq!(read(&shared).len(), 2);
        // Different value: conflict naming the manager and field.
        let conflicts = apply(Some(&first), &deployment(3), "b", false, MAIN, None).unwrap_err();
        assert_eq!(
            conflicts,
            vec![("\"a\"".to_owned(), ".spec.replicas".to_owned())]
        );
        // Forced: b takes the field.
        let forced = apply(Some(&first), &deployment(3), "b", true, MAIN, None).unwrap();
        assert_eq!(forced["spec"]["replicas"], 3);
        let entries = read(&forced);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].manager, "b");
    }

    #[test]
    fn fields_left_out_are_removed_unless_shared() {
        let mut config = deployment(1);
        config["spec"]["paused"] = json!(true);
        let first = apply(None, &config, "a", false, MAIN, None).unwrap();
        let second = apply(Some(&first), &deployment(1), "a", false, MAIN, None).unwrap();
        assert!(second["spec"].get("paused").is_none());
        assert_eq!(second["spec"]["replicas"], 1);
    }

    #[test]
    fn status_apply_touches_only_status() {
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 1}});
        let applied = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 9}, "status": {"readyReplicas": 1}});
        let out = apply(
            Some(&live),
            &applied,
            "c",
            false,
            Scope::Status,
            Some("status"),
        )
        .unwrap();
        assert_eq!(out["spec"]["replicas"], 1);
        assert_eq!(out["status"]["readyReplicas"], 1);
    }

    #[test]
    fn repeating_an_apply_keeps_the_entry_time() {
        let first = apply(None, &deployment(1), "a", false, MAIN, None).unwrap();
        let again = apply(Some(&first), &deployment(1), "a", false, MAIN, None).unwrap();
        assert_eq!(first, again);
    }
}
