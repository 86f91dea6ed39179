//! Create, get, list, replace, delete; `generateName`; resource versions and conflicts;
//! generation; the status subresource; `Status` error bodies.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec, ServiceStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;
use std::collections::BTreeMap;

use super::config_map;
use crate::support::status_of;

pub async fn create_get_list_replace_delete(client: Client, ns: String) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let pp = PostParams::default();
    let created = api
        .create(&pp, &config_map("crud", &[("app", "crud")], &[("a", "1")]))
        .await
        .expect("create");
    let meta = &created.metadata;
    assert_eq!(meta.namespace.as_deref(), Some(ns.as_str()));
    assert!(meta.uid.as_deref().is_some_and(|u| !u.is_empty()));
    assert!(
        meta.resource_version
            .as_deref()
            .is_some_and(|v| !v.is_empty())
    );
    assert!(meta.creation_timestamp.is_some());

    let got = api.get("crud").await.expect("get");
    assert_eq!(got.data, created.data);
    assert_eq!(got.metadata.uid, created.metadata.uid);

    let again = status_of(api.create(&pp, &config_map("crud", &[], &[])).await);
    assert_eq!((again.code, again.reason.as_str()), (409, "AlreadyExists"));
    let details = again.details.expect("details");
    assert_eq!(
        (details.name.as_str(), details.kind.as_str()),
        ("crud", "configmaps")
    );

    let mut changed = got.clone();
    changed.data = Some(BTreeMap::from([("a".to_owned(), "2".to_owned())]));
    let replaced = api.replace("crud", &pp, &changed).await.expect("replace");
    assert_eq!(replaced.data.as_ref().unwrap()["a"], "2");
    assert_ne!(
        replaced.metadata.resource_version,
        got.metadata.resource_version
    );
    assert_eq!(replaced.metadata.uid, got.metadata.uid);

    let list = api
        .list(&ListParams::default().labels("app=crud"))
        .await
        .expect("list");
    assert_eq!(list.items.len(), 1);
    assert!(
        list.metadata
            .resource_version
            .is_some_and(|v| !v.is_empty())
    );

    api.delete("crud", &DeleteParams::default())
        .await
        .expect("delete");
    let missing = status_of(api.get("crud").await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    assert!(
        missing.message.contains("configmaps \"crud\" not found"),
        "{}",
        missing.message
    );
    assert_eq!(missing.details.expect("details").name, "crud");
    let missing = status_of(api.delete("crud", &DeleteParams::default()).await);
    assert_eq!(missing.code, 404);
    let missing = status_of(api.replace("crud", &pp, &changed).await);
    assert_eq!(missing.code, 404);
}

pub async fn generate_name_and_invalid_names(client: Client, ns: String) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let mut generated = config_map("", &[], &[]);
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("gen-".into());
    let created = api
        .create(&PostParams::default(), &generated)
        .await
        .expect("create with generateName");
    let name = created.metadata.name.expect("a name");
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let planned = api
        .create(&dry_run, &config_map("dry", &[], &[("a", "1")]))
        .await
        .expect("dry-run create");
    assert_eq!(planned.metadata.name.as_deref(), Some("dry"));
    assert!(
        api.get_opt("dry").await.unwrap().is_none(),
        "a dry run stores nothing"
    );

    let invalid = status_of(
        api.create(&PostParams::default(), &config_map("Not_Valid", &[], &[]))
            .await,
    );
    assert_eq!((invalid.code, invalid.reason.as_str()), (422, "Invalid"));
    let causes = invalid.details.expect("details").causes;
    assert_eq!(causes[0].field, "metadata.name");
}

pub async fn stale_resource_version_conflicts(client: Client, ns: String) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let pp = PostParams::default();
    api.create(&pp, &config_map("occ", &[], &[("n", "0")]))
        .await
        .expect("create");
    let first = api.get("occ").await.unwrap();
    let second = api.get("occ").await.unwrap();
    let mut a = first.clone();
    a.data = Some(BTreeMap::from([("n".to_owned(), "1".to_owned())]));
    api.replace("occ", &pp, &a)
        .await
        .expect("first writer wins");
    let mut b = second.clone();
    b.data = Some(BTreeMap::from([("n".to_owned(), "2".to_owned())]));
    let conflict = status_of(api.replace("occ", &pp, &b).await);
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert!(
        conflict.message.contains("the object has been modified"),
        "{}",
        conflict.message
    );
    assert_eq!(api.get("occ").await.unwrap().data.unwrap()["n"], "1");

    // A patch carrying a stale version is refused too.
    let stale = json!({"metadata": {"resourceVersion": second.metadata.resource_version}, "data": {"n": "3"}});
    let conflict = status_of(
        api.patch("occ", &PatchParams::default(), &Patch::Merge(&stale))
            .await,
    );
    assert_eq!(conflict.code, 409);

    // Built-in kinds accept an update without a version (last write wins).
    b.metadata.resource_version = None;
    let unconditional = api
        .replace("occ", &pp, &b)
        .await
        .expect("unconditional update");
    assert_eq!(unconditional.data.unwrap()["n"], "2");
}

fn deployment(name: &str) -> Deployment {
    let labels = BTreeMap::from([("app".to_owned(), name.to_owned())]);
    Deployment {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: DeploymentSpec {
            replicas: Some(0),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![k8s_openapi::api::core::v1::Container {
                        name: "main".into(),
                        image: Some("registry.invalid/none:1".into()),
                        ..Default::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    }
}

pub async fn generation_tracks_spec_changes_only(client: Client, ns: String) {
    let api: Api<Deployment> = Api::namespaced(client, &ns);
    let pp = PostParams::default();
    let created = api.create(&pp, &deployment("gen")).await.expect("create");
    assert_eq!(created.metadata.generation, Some(1));

    let mut labelled = api.get("gen").await.unwrap();
    labelled
        .metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert("touched".into(), "yes".into());
    let labelled = api
        .replace("gen", &pp, &labelled)
        .await
        .expect("label change");
    assert_eq!(
        labelled.metadata.generation,
        Some(1),
        "metadata changes keep the generation"
    );

    let patch = json!({"spec": {"template": {"metadata": {"annotations": {"rev": "2"}}}}});
    let changed = api
        .patch("gen", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("spec change");
    assert_eq!(changed.metadata.generation, Some(2));
}

fn service(name: &str) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(BTreeMap::from([("app".to_owned(), name.to_owned())])),
            ports: Some(vec![ServicePort {
                port: 80,
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn ready_condition(reason: &str) -> Condition {
    Condition {
        type_: "Ready".into(),
        status: "True".into(),
        reason: reason.into(),
        message: "set by a test".into(),
        last_transition_time: Time(jiff::Timestamp::from_second(1_700_000_000).unwrap()),
        observed_generation: None,
    }
}

pub async fn status_subresource_separates_spec_and_status(client: Client, ns: String) {
    let api: Api<Service> = Api::namespaced(client, &ns);
    let pp = PostParams::default();
    let mut with_status = service("st");
    with_status.status = Some(ServiceStatus {
        conditions: Some(vec![ready_condition("OnCreate")]),
        ..ServiceStatus::default()
    });
    let created = api.create(&pp, &with_status).await.expect("create");
    let conditions = |s: &Service| {
        s.status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default()
    };
    assert!(
        conditions(&created).is_empty(),
        "status is ignored on create"
    );

    let mut main = created.clone();
    main.status = Some(ServiceStatus {
        conditions: Some(vec![ready_condition("OnMain")]),
        ..ServiceStatus::default()
    });
    let replaced = api.replace("st", &pp, &main).await.expect("replace main");
    assert!(
        conditions(&replaced).is_empty(),
        "status is ignored on the main resource"
    );

    let mut status = replaced.clone();
    status.status = Some(ServiceStatus {
        conditions: Some(vec![ready_condition("OnStatus")]),
        ..ServiceStatus::default()
    });
    status.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].port = 81;
    let updated = api
        .replace_status("st", &pp, &status)
        .await
        .expect("replace status");
    assert_eq!(conditions(&updated)[0].reason, "OnStatus");
    assert_eq!(
        updated.spec.unwrap().ports.unwrap()[0].port,
        80,
        "spec is ignored on /status"
    );

    let patch = json!({"status": {"conditions": [ready_condition("Patched")]}});
    let patched = api
        .patch_status("st", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch status");
    assert_eq!(conditions(&patched)[0].reason, "Patched");
    let got = api.get_status("st").await.expect("get status");
    assert_eq!(conditions(&got)[0].reason, "Patched");
}
