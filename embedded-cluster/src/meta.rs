//! Reading and writing `metadata` of objects kept as JSON, plus the server's clocks and ids.

use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The current time as Kubernetes writes `metav1.Time`: RFC 3339, whole seconds, UTC.
pub(crate) fn now() -> String {
    format_time(jiff::Timestamp::now())
}

/// A timestamp as Kubernetes writes `metav1.Time`.
pub(crate) fn format_time(at: jiff::Timestamp) -> String {
    let seconds = at.as_second();
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| at.to_string())
}

/// A pseudo-random 64-bit number: unique per call within the process and different between
/// processes. Names and uids only need to be unlikely to collide, not to be secret.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    splitmix(nanos ^ splitmix(n ^ u64::from(std::process::id())))
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A random version-4 UUID, the form of `metadata.uid`.
pub(crate) fn new_uid() -> String {
    let a = random_u64();
    let b = random_u64();
    let hi = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
    let lo = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// The random suffix of `generateName`, from the same alphabet as the API server's (no vowels,
/// no confusable characters).
pub(crate) fn random_suffix(len: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut bits = random_u64();
    (0..len)
        .map(|i| {
            if i % 12 == 11 {
                bits = random_u64();
            }
            let c = ALPHABET[(bits % ALPHABET.len() as u64) as usize];
            bits /= ALPHABET.len() as u64;
            char::from(c)
        })
        .collect()
}

/// `metadata` of an object, when it is a JSON object.
pub(crate) fn metadata(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata").and_then(Value::as_object)
}

/// `metadata` of an object, created when missing. Callers check first that `object` is a JSON
/// object; anything else is replaced by an empty object.
pub(crate) fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = Value::Object(Map::new());
    }
    let map = object.as_object_mut().expect("just made an object");
    let entry = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut().expect("just made an object")
}

/// A string field of `metadata`.
pub(crate) fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    metadata(object)?.get(field)?.as_str()
}

/// `metadata.name`, empty when missing.
pub(crate) fn name(object: &Value) -> &str {
    meta_str(object, "name").unwrap_or_default()
}

/// `metadata.namespace`, empty when missing.
pub(crate) fn namespace(object: &Value) -> &str {
    meta_str(object, "namespace").unwrap_or_default()
}

/// `metadata.uid`, empty when missing.
pub(crate) fn uid(object: &Value) -> &str {
    meta_str(object, "uid").unwrap_or_default()
}

/// A label's value.
pub(crate) fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    metadata(object)?.get("labels")?.get(key)?.as_str()
}

/// `metadata.finalizers`.
pub(crate) fn finalizers(object: &Value) -> Vec<String> {
    metadata(object)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_owned))
        .collect()
}

/// Replaces `metadata.finalizers`, dropping the field when the list is empty as the API server
/// does.
pub(crate) fn set_finalizers(object: &mut Value, finalizers: &[String]) {
    let meta = metadata_mut(object);
    if finalizers.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert("finalizers".into(), Value::from(finalizers.to_vec()));
    }
}

/// Whether `metadata.deletionTimestamp` is set.
pub(crate) fn is_deleting(object: &Value) -> bool {
    meta_str(object, "deletionTimestamp").is_some()
}

/// One entry of `metadata.ownerReferences`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OwnerRef {
    pub uid: String,
    pub block_owner_deletion: bool,
}

/// `metadata.ownerReferences`, the entries that carry a uid.
pub(crate) fn owner_refs(object: &Value) -> Vec<OwnerRef> {
    metadata(object)
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some(OwnerRef {
                uid: r.get("uid")?.as_str()?.to_owned(),
                block_owner_deletion: r.get("blockOwnerDeletion") == Some(&Value::Bool(true)),
            })
        })
        .collect()
}

/// Removes the owner references to `owner_uid`, dropping the field when none is left.
pub(crate) fn remove_owner_ref(object: &mut Value, owner_uid: &str) {
    let meta = metadata_mut(object);
    if let Some(Value::Array(refs)) = meta.get_mut("ownerReferences") {
        refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(owner_uid));
        if refs.is_empty() {
            meta.remove("ownerReferences");
        }
    }
}

/// `metadata.generation`, 0 when missing.
pub(crate) fn generation(object: &Value) -> i64 {
    metadata(object)
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64)
        .unwrap_or_default()
}

/// Whether two objects differ outside `metadata` and `status`: what bumps `generation`.
pub(crate) fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Map<String, Value> {
        v.as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    strip(old) != strip(new)
}

/// A field of an object by a dotted path such as `status.phase`, as a field selector reads
/// it: strings as they are, numbers and booleans in their JSON form.
pub(crate) fn field_string(object: &Value, path: &str) -> Option<String> {
    let mut value = object;
    for part in path.split('.') {
        value = value.get(part)?;
    }
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uids_look_like_uuids_and_differ() {
        let a = new_uid();
        let b = new_uid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn suffixes_use_the_api_server_alphabet() {
        let s = random_suffix(5);
        assert_eq!(s.len(), 5);
        assert!(s.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
    }

    #[test]
    fn times_are_whole_seconds() {
        let t = now();
        assert!(t.ends_with('Z') && !t.contains('.'), "{t}");
        assert!(t.parse::<jiff::Timestamp>().is_ok());
    }

    #[test]
    fn spec_change_ignores_metadata_and_status() {
        let a = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"x": 1}, "status": {"y": 1}});
        let b = json!({"metadata": {"labels": {"a": "2"}}, "spec": {"x": 1}, "status": {"y": 2}});
        let c = json!({"metadata": {}, "spec": {"x": 2}});
        assert!(!spec_changed(&a, &b));
        assert!(spec_changed(&a, &c));
    }
}
