//! JSON merge patch, JSON patch (with `test`) and strategic merge patch.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use super::config_map;
use crate::support::status_of;

fn data(c: &ConfigMap) -> Vec<(String, String)> {
    c.data.clone().unwrap_or_default().into_iter().collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub async fn merge_patch_sets_and_removes_fields(client: Client, ns: String) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    api.create(
        &PostParams::default(),
        &config_map("m", &[], &[("a", "1"), ("b", "2")]),
    )
    .await
    .unwrap();
    let patch = json!({"metadata": {"labels": {"l": "x"}}, "data": {"a": null, "c": "3"}});
    let patched = api
        .patch("m", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("merge patch");
    assert_eq!(data(&patched), pairs(&[("b", "2"), ("c", "3")]));
    assert_eq!(patched.metadata.labels.unwrap()["l"], "x");

    let strategic = json!({"data": {"d": "4"}});
    let patched = api
        .patch("m", &PatchParams::default(), &Patch::Strategic(&strategic))
        .await
        .expect("strategic merge patch");
    assert_eq!(data(&patched), pairs(&[("b", "2"), ("c", "3"), ("d", "4")]));

    let missing = status_of(
        api.patch("absent", &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    );
    assert_eq!(missing.code, 404);
}

pub async fn json_patch_applies_all_or_nothing(client: Client, ns: String) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    api.create(&PostParams::default(), &config_map("j", &[], &[("a", "1")]))
        .await
        .unwrap();
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "9"},
        {"op": "add", "path": "/data/b", "value": "2"},
    ]))
    .unwrap();
    let patched = api
        .patch("j", &PatchParams::default(), &Patch::<()>::Json(ops))
        .await
        .expect("json patch");
    assert_eq!(data(&patched), pairs(&[("a", "9"), ("b", "2")]));

    let failing: json_patch::Patch = serde_json::from_value(json!([
        {"op": "replace", "path": "/data/b", "value": "changed"},
        {"op": "test", "path": "/data/a", "value": "1"},
    ]))
    .unwrap();
    let refused = status_of(
        api.patch("j", &PatchParams::default(), &Patch::<()>::Json(failing))
            .await,
    );
    assert_eq!(refused.code, 422);
    let unchanged = api.get("j").await.unwrap();
    assert_eq!(data(&unchanged), pairs(&[("a", "9"), ("b", "2")]));
    assert_eq!(
        unchanged.metadata.resource_version,
        patched.metadata.resource_version
    );
}
