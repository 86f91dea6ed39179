//! Writes, all under the one field manager: server-side apply of children and of status,
//! merge patches of the few mutable fields, and deletes that treat "already gone" as done.

use std::fmt::Debug;

use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::names::FIELD_MANAGER;

/// Server-side applies `object` (named `name`), taking over fields another manager set
/// (the operator is the authority on its children).
pub async fn apply<K>(api: &Api<K>, name: &str, object: &K) -> Result<K>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    Ok(api
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(object),
        )
        .await?)
}

/// Server-side applies a status. `body` carries apiVersion, kind, metadata.name and status.
pub async fn apply_status<K>(api: &Api<K>, name: &str, body: &serde_json::Value) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await?;
    Ok(())
}

/// A JSON merge patch of mutable fields, under the operator's field manager.
pub async fn merge<K>(api: &Api<K>, name: &str, patch: &serde_json::Value) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    api.patch(name, &params, &Patch::Merge(patch)).await?;
    Ok(())
}

/// Creates `object` unless an object of its name exists, which is left exactly as it is: for
/// children that must never change once made (a sweep's trials), where an apply could rewrite
/// a trial created before a restart with different parameters. Returns whether it created.
pub async fn create_once<K>(api: &Api<K>, object: &K) -> Result<bool>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let params = kube::api::PostParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..kube::api::PostParams::default()
    };
    match api.create(&params, object).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(error) => Err(Error::Kube(error)),
    }
}

/// Deletes `name` and its dependents in the background; a missing object is not an error.
pub async fn delete<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(Error::Kube(error)),
    }
}

/// The JSON for a status apply: identity plus `status`.
pub fn status_body<K: Resource<DynamicType = ()>>(
    name: &str,
    status: &impl Serialize,
) -> Result<serde_json::Value> {
    let status = serde_json::to_value(status).map_err(|source| Error::Serialization {
        what: "a status",
        source,
    })?;
    Ok(serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": {"name": name},
        "status": status,
    }))
}
