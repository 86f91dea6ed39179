//! Finalizers and `deletionTimestamp`; ownerReference garbage collection in the background,
//! in the foreground and with orphaning.

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::{WAIT, config_map};
use crate::support::{eventually, status_of};

const HOLD: &str = "lepton.ai/test-hold";

async fn gone(api: &Api<ConfigMap>, name: &str) -> bool {
    matches!(api.get_opt(name).await, Ok(None))
}

pub async fn finalizers_hold_deletion_until_removed(client: Client, ns: String) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let mut held = config_map("held", &[], &[]);
    held.metadata.finalizers = Some(vec![HOLD.into()]);
    api.create(&PostParams::default(), &held).await.unwrap();

    let deleting = api
        .delete("held", &DeleteParams::default())
        .await
        .expect("delete")
        .left()
        .expect("the object is returned while finalizers hold it");
    assert!(deleting.metadata.deletion_timestamp.is_some());
    let still = api.get("held").await.expect("still there");
    assert!(still.metadata.deletion_timestamp.is_some());
    assert_eq!(
        still.metadata.finalizers.as_deref(),
        Some(&[HOLD.to_owned()][..])
    );

    let more = json!({"metadata": {"finalizers": [HOLD, "lepton.ai/another"]}});
    let refused = status_of(
        api.patch("held", &PatchParams::default(), &Patch::Merge(&more))
            .await,
    );
    assert_eq!(refused.code, 422, "{}", refused.message);

    // A second delete changes nothing.
    api.delete("held", &DeleteParams::default())
        .await
        .expect("delete again");

    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("remove the finalizer");
    eventually(WAIT, "the finalized object to go", || async {
        gone(&api, "held").await.then_some(())
    })
    .await;
}

fn owned_by(name: &str, owner: &ConfigMap, block: bool) -> ConfigMap {
    let mut child = config_map(name, &[], &[]);
    child.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: owner.metadata.name.clone().unwrap(),
        uid: owner.metadata.uid.clone().unwrap(),
        block_owner_deletion: Some(block),
        controller: Some(true),
    }]);
    child
}

pub async fn background_deletion_collects_dependents(client: Client, ns: String) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let pp = PostParams::default();
    let owner = api
        .create(&pp, &config_map("bg-owner", &[], &[]))
        .await
        .unwrap();
    api.create(&pp, &owned_by("bg-child", &owner, false))
        .await
        .unwrap();
    api.delete("bg-owner", &DeleteParams::background())
        .await
        .unwrap();
    eventually(WAIT, "the dependent to be collected", || async {
        gone(&api, "bg-child").await.then_some(())
    })
    .await;
}

pub async fn foreground_deletion_waits_for_dependents(client: Client, ns: String) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let pp = PostParams::default();
    let owner = api
        .create(&pp, &config_map("fg-owner", &[], &[]))
        .await
        .unwrap();
    let mut child = owned_by("fg-child", &owner, true);
    child.metadata.finalizers = Some(vec![HOLD.into()]);
    api.create(&pp, &child).await.unwrap();

    let deleting = api
        .delete("fg-owner", &DeleteParams::foreground())
        .await
        .unwrap()
        .left()
        .expect("the owner stays while its dependents go");
    assert!(deleting.metadata.deletion_timestamp.is_some());
    assert!(
        deleting
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == "foregroundDeletion")
    );

    eventually(WAIT, "the dependent to be deleted", || async {
        let child = api.get("fg-child").await.ok()?;
        child.metadata.deletion_timestamp.map(|_| ())
    })
    .await;
    assert!(
        api.get("fg-owner").await.is_ok(),
        "the owner waits for its blocking dependent"
    );

    api.patch(
        "fg-child",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    eventually(WAIT, "dependent and owner to go", || async {
        (gone(&api, "fg-child").await && gone(&api, "fg-owner").await).then_some(())
    })
    .await;
}

pub async fn orphan_deletion_keeps_dependents(client: Client, ns: String) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let pp = PostParams::default();
    let owner = api
        .create(&pp, &config_map("or-owner", &[], &[]))
        .await
        .unwrap();
    api.create(&pp, &owned_by("or-child", &owner, true))
        .await
        .unwrap();
    let orphan = DeleteParams {
        propagation_policy: Some(kube::api::PropagationPolicy::Orphan),
        ..DeleteParams::default()
    };
    api.delete("or-owner", &orphan).await.unwrap();
    eventually(WAIT, "the owner to go", || async {
        gone(&api, "or-owner").await.then_some(())
    })
    .await;
    let child = eventually(WAIT, "the owner reference to be removed", || async {
        let child = api.get("or-child").await.ok()?;
        child.metadata.owner_references.is_none().then_some(child)
    })
    .await;
    assert!(child.metadata.deletion_timestamp.is_none());
}
