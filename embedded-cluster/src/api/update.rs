//! `PUT` of an object or its status, and the steps every update shares: what the main
//! resource and the status subresource may change, admission, finalizer rules, generation,
//! field ownership, no-op detection, and removal when the last finalizer goes.

use serde_json::{Value, json};
use std::sync::Arc;

use super::create::ManagedMode;
use super::{Subresource, Txn, WriteOptions, check_identity, check_type_meta, invalid_field};
use crate::meta;
use crate::resources::ResourceType;
use crate::ssa::fieldset::Scope;
use crate::ssa::managed;
use crate::status_error::StatusError;
use crate::store::ObjectKey;

impl Txn<'_> {
    /// Replaces an object (or its status) with `body`.
    pub fn replace(
        &mut self,
        rt: &ResourceType,
        key: &ObjectKey,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, StatusError> {
        check_type_meta(rt, &body)?;
        check_identity(rt, &body, &key.namespace, Some(&key.name))?;
        let old = self
            .state
            .get(key)
            .ok_or_else(|| StatusError::not_found(rt, &key.name))?;
        let given_rv = meta::meta_str(&body, "resourceVersion").filter(|rv| !rv.is_empty());
        match given_rv {
            Some(rv) if Some(rv) != meta::meta_str(&old, "resourceVersion") => {
                return Err(StatusError::modified(rt, &key.name));
            }
            // Custom resources refuse unconditional updates; built-in kinds allow them.
            None if rt.validator.is_some() => {
                return Err(invalid_field(
                    rt,
                    &key.name,
                    "FieldValueInvalid",
                    "metadata.resourceVersion",
                    "Invalid value: 0x0: must be specified for an update".into(),
                ));
            }
            _ => {}
        }
        let new = merge_for_update(rt, key, &old, body, opts.subresource);
        self.finish_update(rt, key, old, new, opts, ManagedMode::Update)
    }

    /// The common end of every update of `old` into `new`.
    pub fn finish_update(
        &mut self,
        rt: &ResourceType,
        key: &ObjectKey,
        old: Arc<Value>,
        mut new: Value,
        opts: &WriteOptions,
        mode: ManagedMode,
    ) -> Result<Arc<Value>, StatusError> {
        if opts.subresource.is_none() {
            super::builtin::normalize(rt, &mut new);
        }
        if opts.subresource.is_none()
            && opts.admission
            && let Some(validator) = &rt.validator
        {
            let status = new.get("status").cloned();
            let mut admitted = validator
                .lock()
                .map_err(|_| StatusError::internal("admission lock poisoned"))?
                .admit_update(&new, &old)
                .map_err(|r| StatusError::from_rejection(rt, &r))?;
            if let Some(status) = status {
                admitted["status"] = status;
            }
            new = admitted;
        }
        if opts.subresource == Some(Subresource::Status) && opts.admission {
            admit_status(rt, &key.name, &mut new)?;
        }
        if meta::is_deleting(&old) {
            let before = meta::finalizers(&old);
            let added: Vec<String> = meta::finalizers(&new)
                .into_iter()
                .filter(|f| !before.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(invalid_field(
                    rt,
                    &key.name,
                    "FieldValueForbidden",
                    "metadata.finalizers",
                    format!(
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                    ),
                ));
            }
        }
        if rt.generation {
            let mut generation = meta::generation(&old).max(1);
            if meta::spec_changed(&old, &new) {
                generation += 1;
            }
            meta::metadata_mut(&mut new).insert("generation".into(), generation.into());
        }
        if mode == ManagedMode::Update {
            let scope = match opts.subresource {
                Some(Subresource::Status) => Scope::Status,
                None => Scope::Main {
                    skip_status: rt.status,
                },
            };
            managed::record_update(
                Some(&old),
                &mut new,
                &opts.manager,
                opts.subresource_name(),
                scope,
            );
        }
        if managed::same_ignoring_times(&old, &new) {
            return Ok(old);
        }
        if opts.dry_run {
            return Ok(Arc::new(new));
        }
        let stored = self.state.put(key, new);
        if meta::is_deleting(&stored) && meta::finalizers(&stored).is_empty() {
            return Ok(self.state.remove(key).unwrap_or(stored));
        }
        Ok(stored)
    }
}

/// Checks and defaults the status of a Lepton kind against its CRD's status schema.
fn admit_status(rt: &ResourceType, name: &str, object: &mut Value) -> Result<(), StatusError> {
    let (Some(validator), Some(status)) = (&rt.status_validator, object.get("status")) else {
        return Ok(());
    };
    let wrapped = json!({
        "apiVersion": object.get("apiVersion"),
        "kind": object.get("kind"),
        "metadata": {"name": name},
        "spec": status,
    });
    let admitted = validator
        .lock()
        .map_err(|_| StatusError::internal("admission lock poisoned"))?
        .admit_create(&wrapped)
        .map_err(|r| StatusError::from_status_rejection(rt, name, &r))?;
    object["status"] = admitted["spec"].clone();
    Ok(())
}

/// What an update may change: through `/status` only the status; through the main resource
/// everything but the status (for kinds with a status subresource) and the metadata the
/// server manages.
pub(super) fn merge_for_update(
    rt: &ResourceType,
    key: &ObjectKey,
    old: &Value,
    mut new: Value,
    subresource: Option<Subresource>,
) -> Value {
    if subresource == Some(Subresource::Status) {
        let mut out = old.clone();
        if let Some(map) = out.as_object_mut() {
            match new.get("status") {
                Some(status) => {
                    map.insert("status".into(), status.clone());
                }
                None => {
                    map.remove("status");
                }
            }
        }
        return out;
    }
    let old_meta = meta::metadata(old).cloned().unwrap_or_default();
    let fields = meta::metadata_mut(&mut new);
    for server_owned in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "resourceVersion",
        "managedFields",
    ] {
        match old_meta.get(server_owned) {
            Some(value) => {
                fields.insert(server_owned.into(), value.clone());
            }
            None => {
                fields.remove(server_owned);
            }
        }
    }
    fields.remove("selfLink");
    fields.insert("name".into(), key.name.clone().into());
    if rt.namespaced {
        fields.insert("namespace".into(), key.namespace.clone().into());
    } else {
        fields.remove("namespace");
    }
    if rt.status
        && let Some(map) = new.as_object_mut()
    {
        match old.get("status") {
            Some(status) => {
                map.insert("status".into(), status.clone());
            }
            None => {
                map.remove("status");
            }
        }
    }
    new
}
