//! `DELETE`: preconditions, propagation policy, finalizers and `deletionTimestamp`.

use serde_json::Value;
use std::sync::Arc;

use super::Txn;
use crate::gc::{FOREGROUND, ORPHAN};
use crate::meta;
use crate::resources::{Propagation, ResourceType};
use crate::status_error::StatusError;
use crate::store::ObjectKey;

/// `DeleteOptions` of a request.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOptions {
    pub propagation: Option<Propagation>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    /// Reads a `DeleteOptions` body; query parameters already read win.
    pub fn merge_body(&mut self, body: &Value) -> Result<(), StatusError> {
        if let Some(policy) = body.get("propagationPolicy").and_then(Value::as_str)
            && self.propagation.is_none()
        {
            self.propagation = Some(Propagation::parse(policy).ok_or_else(|| {
                StatusError::bad_request(format!("unknown propagationPolicy {policy:?}"))
            })?);
        }
        if let Some(orphan) = body.get("orphanDependents").and_then(Value::as_bool)
            && self.propagation.is_none()
        {
            self.propagation = Some(if orphan {
                Propagation::Orphan
            } else {
                Propagation::Background
            });
        }
        let preconditions = body.get("preconditions");
        let text = |field: &str| {
            preconditions
                .and_then(|p| p.get(field))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        self.precondition_uid = self.precondition_uid.take().or_else(|| text("uid"));
        self.precondition_rv = self
            .precondition_rv
            .take()
            .or_else(|| text("resourceVersion"));
        if let Some(Value::Array(modes)) = body.get("dryRun") {
            self.dry_run |= modes.iter().any(|m| m == "All");
        }
        Ok(())
    }
}

impl Txn<'_> {
    /// Deletes an object: at once when nothing holds it, otherwise by setting
    /// `deletionTimestamp` and leaving the rest to its finalizers (and the garbage collector's
    /// `foregroundDeletion` and `orphan`).
    pub fn delete(
        &mut self,
        rt: &ResourceType,
        key: &ObjectKey,
        opts: &DeleteOptions,
    ) -> Result<Arc<Value>, StatusError> {
        let old = self
            .state
            .get(key)
            .ok_or_else(|| StatusError::not_found(rt, &key.name))?;
        if let Some(uid) = &opts.precondition_uid
            && uid != meta::uid(&old)
        {
            return Err(StatusError::conflict(
                rt,
                &key.name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta::uid(&old)
                ),
            ));
        }
        if let Some(rv) = &opts.precondition_rv {
            let current = meta::meta_str(&old, "resourceVersion").unwrap_or_default();
            if rv != current {
                return Err(StatusError::conflict(
                    rt,
                    &key.name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {current}"
                    ),
                ));
            }
        }
        if meta::is_deleting(&old) {
            return Ok(old);
        }
        let mut finalizers = meta::finalizers(&old);
        finalizers.retain(|f| f != FOREGROUND && f != ORPHAN);
        match opts.propagation.unwrap_or(rt.default_propagation) {
            Propagation::Foreground => finalizers.push(FOREGROUND.to_owned()),
            Propagation::Orphan => finalizers.push(ORPHAN.to_owned()),
            Propagation::Background => {}
        }
        if finalizers.is_empty() {
            if opts.dry_run {
                return Ok(old);
            }
            return self
                .state
                .remove(key)
                .ok_or_else(|| StatusError::not_found(rt, &key.name));
        }
        let mut new = (*old).clone();
        meta::set_finalizers(&mut new, &finalizers);
        let fields = meta::metadata_mut(&mut new);
        fields.insert("deletionTimestamp".into(), meta::now().into());
        fields.insert("deletionGracePeriodSeconds".into(), 0.into());
        if rt.generation {
            let generation = meta::generation(&old).max(1) + 1;
            fields.insert("generation".into(), generation.into());
        }
        if opts.dry_run {
            return Ok(Arc::new(new));
        }
        Ok(self.state.put(key, new))
    }
}
