//! Sets of field paths, the unit of field ownership, and their `FieldsV1` form.
//!
//! Simplification (documented in the README): maps are tracked field by field, lists are
//! atomic: a list is one field owned as a whole, where the API server tracks items of
//! associative lists (`k:{..}`) and sets (`v:..`) one by one.

use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// One field: the keys from the object's root.
pub(crate) type FieldPath = Vec<String>;

/// Fields owned by one manager, as leaves.
pub(crate) type FieldSet = BTreeSet<FieldPath>;

/// The part of an object a write touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Everything but `status` (when the kind has a status subresource) and the metadata the
    /// server manages.
    Main { skip_status: bool },
    /// `status` only.
    Status,
}

/// The fields of `object` inside `scope`: the leaves of its maps (a list or a scalar is a
/// leaf). `null` values and empty maps are not fields: an empty map in an applied
/// configuration claims nothing, as with the API server.
pub(crate) fn fields_of(object: &Value, scope: Scope) -> FieldSet {
    let mut out = FieldSet::new();
    let Some(root) = object.as_object() else {
        return out;
    };
    for (key, value) in root {
        let take = match (scope, key.as_str()) {
            (_, "apiVersion" | "kind") => false,
            (Scope::Status, k) => k == "status",
            (Scope::Main { skip_status }, "status") => !skip_status,
            (Scope::Main { .. }, "metadata") => {
                if let Some(meta) = value.as_object() {
                    for field in ["labels", "annotations", "finalizers", "ownerReferences"] {
                        if let Some(v) = meta.get(field) {
                            leaves(v, &mut vec!["metadata".into(), field.into()], &mut out);
                        }
                    }
                }
                false
            }
            (Scope::Main { .. }, _) => true,
        };
        if take {
            leaves(value, &mut vec![key.clone()], &mut out);
        }
    }
    out
}

fn leaves(value: &Value, path: &mut FieldPath, out: &mut FieldSet) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (key, child) in map {
                path.push(key.clone());
                leaves(child, path, out);
                path.pop();
            }
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

/// Whether one path is a prefix of the other: owning one is owning part of the other.
pub(crate) fn overlaps(a: &[String], b: &[String]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// The value at a path.
pub(crate) fn value_at<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(object, |v, key| v.get(key))
}

/// Removes the field at a path; missing fields are fine.
pub(crate) fn remove_at(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = object;
    for key in parents {
        match node.get_mut(key) {
            Some(child) => node = child,
            None => return,
        }
    }
    if let Some(map) = node.as_object_mut() {
        map.remove(last);
    }
}

/// The path as the API server prints it in conflicts: `.spec.replicas`.
pub(crate) fn display(path: &[String]) -> String {
    path.iter().map(|k| format!(".{k}")).collect()
}

/// The `fieldsV1` form: nested `f:<key>` maps, `{}` at leaves, `.` marking a map owned
/// together with some of its fields.
pub(crate) fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for key in path {
            let entry = node
                .entry(format!("f:{key}"))
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            node = entry.as_object_mut().expect("just made a map");
        }
        if !node.is_empty() {
            node.insert(".".into(), Value::Object(Map::new()));
        }
    }
    mark_inner_leaves(&mut root, set, &mut Vec::new());
    Value::Object(root)
}

/// A leaf that later gained children (in another path) keeps its own ownership with `.`.
fn mark_inner_leaves(node: &mut Map<String, Value>, set: &FieldSet, path: &mut FieldPath) {
    for (key, child) in node.iter_mut() {
        let Some(name) = key.strip_prefix("f:") else {
            continue;
        };
        let Some(map) = child.as_object_mut() else {
            continue;
        };
        path.push(name.to_owned());
        let has_children = map.keys().any(|k| k.starts_with("f:"));
        if has_children && set.contains(path) {
            map.insert(".".into(), Value::Object(Map::new()));
        }
        mark_inner_leaves(map, set, path);
        path.pop();
    }
}

/// Reads a `fieldsV1` map back. Item keys of lists (`k:`, `v:`, `i:`), written by a real API
/// server, are read as ownership of the whole list.
pub(crate) fn from_fields_v1(value: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    if let Some(map) = value.as_object() {
        read_node(map, &mut Vec::new(), &mut out);
    }
    out
}

fn read_node(map: &Map<String, Value>, path: &mut FieldPath, out: &mut FieldSet) {
    for (key, child) in map {
        if let Some(name) = key.strip_prefix("f:") {
            path.push(name.to_owned());
            match child.as_object() {
                Some(inner) if !inner.is_empty() => read_node(inner, path, out),
                _ => {
                    out.insert(path.clone());
                }
            }
            path.pop();
        } else if key == "." {
            out.insert(path.clone());
        } else {
            // An item of a list: the list itself is the leaf.
            out.insert(path.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(path: &str) -> FieldPath {
        path.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn leaves_of_maps_and_whole_lists() {
        let object = json!({
            "apiVersion": "v1", "kind": "X",
            "metadata": {"name": "a", "labels": {"app": "web"}, "uid": "u"},
            "spec": {"replicas": 2, "template": {"containers": [{"name": "c"}]}, "empty": {}, "gone": null},
            "status": {"ready": 1}
        });
        let main = fields_of(&object, Scope::Main { skip_status: true });
        let expected: FieldSet = [
            p("metadata.labels.app"),
            p("spec.replicas"),
            p("spec.template.containers"),
        ]
        .into_iter()
        .collect();
        assert_eq!(main, expected);
        let status = fields_of(&object, Scope::Status);
        assert_eq!(status, [p("status.ready")].into_iter().collect());
    }

    #[test]
    fn fields_v1_round_trip() {
        let set: FieldSet = [
            p("spec.a.b"),
            p("spec.a"),
            p("spec.c"),
            p("metadata.labels.x"),
        ]
        .into_iter()
        .collect();
        let v1 = to_fields_v1(&set);
        assert_eq!(
            v1,
            json!({
                "f:metadata": {"f:labels": {"f:x": {}}},
                "f:spec": {"f:a": {".": {}, "f:b": {}}, "f:c": {}}
            })
        );
        assert_eq!(from_fields_v1(&v1), set);
    }

    #[test]
    fn list_items_from_a_real_server_read_as_the_list() {
        let v1 =
            json!({"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}}}}});
        assert_eq!(
            from_fields_v1(&v1),
            [p("spec.containers")].into_iter().collect()
        );
    }

    #[test]
    fn paths() {
        assert!(overlaps(&p("spec.a"), &p("spec.a.b")));
        assert!(!overlaps(&p("spec.a"), &p("spec.b")));
        let mut v = json!({"spec": {"a": 1, "b": 2}});
        remove_at(&mut v, &p("spec.a"));
        assert_eq!(v, json!({"spec": {"b": 2}}));
        assert_eq!(display(&p("spec.b")), ".spec.b");
        assert_eq!(value_at(&v, &p("spec.b")), Some(&json!(2)));
    }
}
