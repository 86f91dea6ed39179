//! `PATCH`: JSON merge patch, JSON patch (RFC 6902, `test` included), strategic merge patch
//! (served as a JSON merge patch: see the README), and server-side apply.

use serde_json::Value;
use std::sync::Arc;

use super::create::ManagedMode;
use super::update::merge_for_update;
use super::{Subresource, Txn, WriteOptions, check_identity, check_type_meta};
use crate::meta;
use crate::resources::ResourceType;
use crate::ssa::apply::apply;
use crate::ssa::fieldset::Scope;
use crate::status_error::StatusError;
use crate::store::ObjectKey;

/// The patch formats, by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchKind {
    Merge,
    StrategicMerge,
    Json,
    Apply { force: bool },
}

impl PatchKind {
    /// The kind a `Content-Type` names (parameters ignored).
    pub fn from_content_type(content_type: &str, force: bool) -> Option<Self> {
        match content_type.split(';').next().unwrap_or_default().trim() {
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::StrategicMerge),
            "application/json-patch+json" => Some(Self::Json),
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                Some(Self::Apply { force })
            }
            _ => None,
        }
    }
}

fn parse_json(body: &[u8]) -> Result<Value, StatusError> {
    serde_json::from_slice(body)
        .map_err(|e| StatusError::bad_request(format!("error decoding patch: {e}")))
}

/// Applies a JSON patch the way the API server's library does: like RFC 6902, except that
/// `test` of a missing path against `null` succeeds (kube's finalizer helper relies on it).
/// The caller applies it to a copy, so a failed operation leaves the object unchanged.
fn apply_json_patch(
    doc: &mut Value,
    ops: &[json_patch::PatchOperation],
) -> Result<(), StatusError> {
    for op in ops {
        if let json_patch::PatchOperation::Test(test) = op
            && test.value.is_null()
            && doc.pointer(test.path.as_str()).is_none()
        {
            continue;
        }
        json_patch::patch(doc, std::slice::from_ref(op)).map_err(|e| {
            StatusError::from_code(
                422,
                format!("the server rejected our request due to an error in our request: {e}"),
            )
        })?;
    }
    Ok(())
}

impl Txn<'_> {
    /// Patches an object (or its status); an apply creates the object when it is missing.
    pub fn patch(
        &mut self,
        rt: &ResourceType,
        key: &ObjectKey,
        kind: PatchKind,
        body: &[u8],
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, StatusError> {
        match kind {
            PatchKind::Apply { force } => self.server_side_apply(rt, key, body, force, opts),
            PatchKind::Json => {
                let patch: json_patch::Patch = serde_json::from_slice(body).map_err(|e| {
                    StatusError::bad_request(format!("error decoding JSON patch: {e}"))
                })?;
                self.patch_with(rt, key, opts, |doc| apply_json_patch(doc, &patch.0))
            }
            PatchKind::Merge | PatchKind::StrategicMerge => {
                let patch = parse_json(body)?;
                if !patch.is_object() {
                    return Err(StatusError::bad_request(
                        "a merge patch must be a JSON object",
                    ));
                }
                self.patch_with(rt, key, opts, |doc| {
                    json_patch::merge(doc, &patch);
                    Ok(())
                })
            }
        }
    }

    fn patch_with(
        &mut self,
        rt: &ResourceType,
        key: &ObjectKey,
        opts: &WriteOptions,
        change: impl FnOnce(&mut Value) -> Result<(), StatusError>,
    ) -> Result<Arc<Value>, StatusError> {
        let old = self
            .state
            .get(key)
            .ok_or_else(|| StatusError::not_found(rt, &key.name))?;
        let mut new = (*old).clone();
        change(&mut new)?;
        check_identity(rt, &new, &key.namespace, Some(&key.name))?;
        if meta::meta_str(&new, "resourceVersion") != meta::meta_str(&old, "resourceVersion") {
            return Err(StatusError::modified(rt, &key.name));
        }
        let new = merge_for_update(rt, key, &old, new, opts.subresource);
        self.finish_update(rt, key, old, new, opts, ManagedMode::Update)
    }

    fn server_side_apply(
        &mut self,
        rt: &ResourceType,
        key: &ObjectKey,
        body: &[u8],
        force: bool,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, StatusError> {
        if opts.manager.is_empty() {
            return Err(StatusError::from_code(
                422,
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        // Apply bodies are YAML; JSON is YAML too, and is what clients send.
        let applied: Value = match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(_) => serde_yaml_ng::from_slice(body)
                .map_err(|e| StatusError::bad_request(format!("error decoding YAML: {e}")))?,
        };
        check_type_meta(rt, &applied)?;
        check_identity(rt, &applied, &key.namespace, Some(&key.name))?;
        let scope = match opts.subresource {
            Some(Subresource::Status) => Scope::Status,
            None => Scope::Main {
                skip_status: rt.status,
            },
        };
        let subresource = opts.subresource_name();
        let conflicts = |c: Vec<(String, String)>| StatusError::apply_conflicts(rt, &key.name, &c);
        let Some(old) = self.state.get(key) else {
            if opts.subresource.is_some() {
                return Err(StatusError::not_found(rt, &key.name));
            }
            let mut new = apply(None, &applied, &opts.manager, force, scope, subresource)
                .map_err(conflicts)?;
            meta::metadata_mut(&mut new).insert("name".into(), key.name.clone().into());
            return self.create(rt, &key.namespace, new, opts, ManagedMode::Preset);
        };
        if let Some(rv) = meta::meta_str(&applied, "resourceVersion").filter(|v| !v.is_empty())
            && Some(rv) != meta::meta_str(&old, "resourceVersion")
        {
            return Err(StatusError::modified(rt, &key.name));
        }
        let applied_result = apply(
            Some(&old),
            &applied,
            &opts.manager,
            force,
            scope,
            subresource,
        )
        .map_err(conflicts)?;
        let managed_fields = meta::metadata(&applied_result)
            .and_then(|m| m.get("managedFields"))
            .cloned();
        let mut new = merge_for_update(rt, key, &old, applied_result, opts.subresource);
        let fields = meta::metadata_mut(&mut new);
        match managed_fields {
            Some(entries) => {
                fields.insert("managedFields".into(), entries);
            }
            None => {
                fields.remove("managedFields");
            }
        }
        self.finish_update(rt, key, old, new, opts, ManagedMode::Preset)
    }
}
