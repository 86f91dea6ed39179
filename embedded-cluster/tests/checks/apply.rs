//! Server-side apply: field managers, conflicts naming the manager and field, `force`,
//! removal of fields a manager stops applying, no-op applies, and apply to `/status`.

use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use crate::support::status_of;

fn cm(data: Value, labels: Value) -> Value {
    let mut object = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ssa", "labels": labels},
    });
    if !data.is_null() {
        object["data"] = data;
    }
    object
}

fn managers(c: &ConfigMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = c
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

pub async fn apply_tracks_managers_and_conflicts(client: Client, ns: String) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let alpha = PatchParams::apply("alpha");
    let beta = PatchParams::apply("beta");

    let created = api
        .patch(
            "ssa",
            &alpha,
            &Patch::Apply(cm(json!({"x": "1", "y": "1"}), json!({}))),
        )
        .await
        .expect("apply creates");
    assert_eq!(
        managers(&created),
        [("alpha".to_owned(), "Apply".to_owned())]
    );

    let conflict = status_of(
        api.patch(
            "ssa",
            &beta,
            &Patch::Apply(cm(json!({"x": "2"}), json!({}))),
        )
        .await,
    );
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert!(
        conflict.message.starts_with("Apply failed with 1 conflict"),
        "{}",
        conflict.message
    );
    let causes = conflict.details.expect("details").causes;
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].field, ".data.x");
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    assert!(
        causes[0].message.contains("\"alpha\""),
        "{}",
        causes[0].message
    );

    // Applying the value already there shares the field instead of conflicting.
    api.patch(
        "ssa",
        &beta,
        &Patch::Apply(cm(json!({"x": "1"}), json!({}))),
    )
    .await
    .expect("same value, no conflict");

    let forced = api
        .patch(
            "ssa",
            &beta.clone().force(),
            &Patch::Apply(cm(json!({"x": "2"}), json!({}))),
        )
        .await
        .expect("forced apply");
    assert_eq!(forced.data.as_ref().unwrap()["x"], "2");

    // alpha stops applying data: y (its alone) goes, x (now beta's) stays.
    let dropped = api
        .patch(
            "ssa",
            &alpha,
            &Patch::Apply(cm(Value::Null, json!({"owner": "alpha"}))),
        )
        .await
        .expect("apply without data");
    let data = dropped.data.clone().unwrap_or_default();
    assert_eq!(data.get("x").map(String::as_str), Some("2"));
    assert!(!data.contains_key("y"), "{data:?}");
    assert_eq!(dropped.metadata.labels.unwrap()["owner"], "alpha");

    // Applying the same configuration again changes nothing.
    let again = api
        .patch(
            "ssa",
            &beta,
            &Patch::Apply(cm(json!({"x": "2"}), json!({}))),
        )
        .await
        .expect("repeat apply");
    assert_eq!(
        again.metadata.resource_version,
        dropped.metadata.resource_version
    );

    // A non-apply write takes the fields it changes; applying them back conflicts with it.
    api.patch(
        "ssa",
        &PatchParams {
            field_manager: Some("editor".into()),
            ..PatchParams::default()
        },
        &Patch::Merge(json!({"data": {"x": "3"}})),
    )
    .await
    .expect("merge patch by another manager");
    let conflict = status_of(
        api.patch(
            "ssa",
            &beta,
            &Patch::Apply(cm(json!({"x": "2"}), json!({}))),
        )
        .await,
    );
    let causes = conflict.details.expect("details").causes;
    assert!(
        causes[0].message.contains("\"editor\""),
        "{}",
        causes[0].message
    );
}

pub async fn apply_to_status_leaves_spec_alone(client: Client, ns: String) {
    let api: Api<Service> = Api::namespaced(client, &ns);
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "ssa-status"},
        "spec": {"ports": [{"port": 80}], "selector": {"app": "x"}},
    });
    api.patch(
        "ssa-status",
        &PatchParams::apply("owner"),
        &Patch::Apply(&service),
    )
    .await
    .expect("apply service");
    let status = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "ssa-status"},
        "spec": {"ports": [{"port": 99}]},
        "status": {"conditions": [{
            "type": "Ready", "status": "True", "reason": "Applied", "message": "",
            "lastTransitionTime": "2024-01-01T00:00:00Z"
        }]},
    });
    let updated = api
        .patch_status(
            "ssa-status",
            &PatchParams::apply("status-writer"),
            &Patch::Apply(&status),
        )
        .await
        .expect("apply status");
    assert_eq!(updated.spec.unwrap().ports.unwrap()[0].port, 80);
    assert_eq!(
        updated.status.unwrap().conditions.unwrap()[0].reason,
        "Applied"
    );
}
