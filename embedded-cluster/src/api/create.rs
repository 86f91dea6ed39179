//! `POST` to a collection (and the create half of server-side apply).

use serde_json::{Value, json};
use std::sync::Arc;

use super::{Txn, WriteOptions, check_identity, check_type_meta, invalid_field};
use crate::meta;
use crate::resources::ResourceType;
use crate::ssa::fieldset::Scope;
use crate::ssa::managed;
use crate::status_error::StatusError;
use crate::store::ObjectKey;

/// Whether `managedFields` of a new object are computed (a create) or already set (apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ManagedMode {
    Update,
    Preset,
}

impl Txn<'_> {
    /// Creates an object in `namespace` (ignored for cluster-scoped kinds).
    pub fn create(
        &mut self,
        rt: &ResourceType,
        namespace: &str,
        mut object: Value,
        opts: &WriteOptions,
        mode: ManagedMode,
    ) -> Result<Arc<Value>, StatusError> {
        check_type_meta(rt, &object)?;
        check_identity(rt, &object, namespace, None)?;
        let namespace = if rt.namespaced { namespace } else { "" };
        let preset = meta::metadata(&object)
            .and_then(|m| m.get("managedFields"))
            .cloned();
        let fields = meta::metadata_mut(&mut object);
        if fields
            .get("resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|rv| !rv.is_empty())
        {
            return Err(StatusError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        for server_owned in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "selfLink",
            "managedFields",
            "resourceVersion",
        ] {
            fields.remove(server_owned);
        }
        if rt.namespaced {
            fields.insert("namespace".into(), namespace.into());
        } else {
            fields.remove("namespace");
        }
        let name = self.choose_name(rt, namespace, fields)?;
        fields.insert("name".into(), name.clone().into());
        fields.insert("uid".into(), meta::new_uid().into());
        fields.insert("creationTimestamp".into(), meta::now().into());
        if rt.generation {
            fields.insert("generation".into(), 1.into());
        }
        if rt.status {
            if let Some(map) = object.as_object_mut() {
                map.remove("status");
            }
            if let Some(initial) = initial_status(rt) {
                object["status"] = initial;
            }
        }
        super::builtin::normalize(rt, &mut object);
        if opts.admission
            && let Some(validator) = &rt.validator
        {
            let admitted = validator
                .lock()
                .map_err(|_| StatusError::internal("admission lock poisoned"))?
                .admit_create(&object)
                .map_err(|r| StatusError::from_rejection(rt, &r))?;
            object = admitted;
        }
        match mode {
            ManagedMode::Update => {
                let scope = Scope::Main {
                    skip_status: rt.status,
                };
                managed::record_update(None, &mut object, &opts.manager, None, scope);
            }
            ManagedMode::Preset => {
                if let Some(entries) = preset {
                    meta::metadata_mut(&mut object).insert("managedFields".into(), entries);
                }
            }
        }
        let key = ObjectKey::new(&rt.group_resource(), namespace, &name);
        if self.state.get(&key).is_some() {
            return Err(StatusError::already_exists(rt, &name));
        }
        if opts.dry_run {
            return Ok(Arc::new(object));
        }
        Ok(self.state.put(&key, object))
    }

    fn choose_name(
        &self,
        rt: &ResourceType,
        namespace: &str,
        meta: &serde_json::Map<String, Value>,
    ) -> Result<String, StatusError> {
        let given = meta.get("name").and_then(Value::as_str).unwrap_or_default();
        let name = if given.is_empty() {
            let Some(prefix) = meta.get("generateName").and_then(Value::as_str) else {
                return Err(invalid_field(
                    rt,
                    "",
                    "FieldValueRequired",
                    "metadata.name",
                    "Required value: name or generateName is required".into(),
                ));
            };
            // Like the API server, cut the prefix so the name stays within 63 characters.
            let prefix: String = prefix.chars().take(58).collect();
            let mut name = format!("{prefix}{}", meta::random_suffix(5));
            for _ in 0..8 {
                let key = ObjectKey::new(&rt.group_resource(), namespace, &name);
                if self.state.get(&key).is_none() {
                    break;
                }
                name = format!("{prefix}{}", meta::random_suffix(5));
            }
            name
        } else {
            given.to_owned()
        };
        if let Err(why) = check_name(rt, &name) {
            return Err(invalid_field(
                rt,
                &name,
                "FieldValueInvalid",
                "metadata.name",
                format!("Invalid value: {name:?}: {why}"),
            ));
        }
        Ok(name)
    }
}

/// Checks a name the way the API server does for the kind.
fn check_name(rt: &ResourceType, name: &str) -> Result<(), &'static str> {
    let label = |n: &str| {
        !n.is_empty()
            && n.len() <= 63
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !n.starts_with('-')
            && !n.ends_with('-')
    };
    match rt.plural.as_str() {
        "roles" | "rolebindings" => {
            if name == "." || name == ".." || name.contains(['/', '%']) || name.is_empty() {
                Err("may not be '.' or '..' and may not contain '/' or '%'")
            } else {
                Ok(())
            }
        }
        "namespaces" if !label(name) => Err(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        ),
        "services" if !(label(name) && name.starts_with(|c: char| c.is_ascii_lowercase())) => Err(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
        ),
        _ if !lepton_crds::admission::is_dns_subdomain(name) => Err(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        ),
        _ => Ok(()),
    }
}

/// The status the API server gives a new object of some built-in kinds.
fn initial_status(rt: &ResourceType) -> Option<Value> {
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "pods") => Some(json!({"phase": "Pending"})),
        ("", "namespaces") => Some(json!({"phase": "Active"})),
        _ => None,
    }
}
