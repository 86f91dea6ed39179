use super::*;
use serde_json::json;

fn tj_type() -> ResourceType {
    ResourceType {
        group: "lepton.ai".into(),
        version: "v1alpha1".into(),
        plural: "trainingjobs".into(),
        kind: "TrainingJob".into(),
        namespaced: true,
        short_names: vec!["tj".into()],
        categories: vec!["lepton".into()],
        singular: "trainingjob".into(),
    }
}

fn pod_type() -> ResourceType {
    ResourceType {
        group: String::new(),
        version: "v1".into(),
        plural: "pods".into(),
        kind: "Pod".into(),
        namespaced: true,
        short_names: vec!["po".into()],
        categories: vec!["all".into()],
        singular: "pod".into(),
    }
}

#[test]
fn names_short_names_and_categories_resolve() {
    let types = vec![tj_type(), pod_type()];
    let found = resolve(&types, "tj,pods").unwrap();
    assert_eq!(found, vec![tj_type(), pod_type()]);
    assert_eq!(resolve(&types, "lepton").unwrap(), vec![tj_type()]);
    assert_eq!(
        resolve(&types, "trainingjobs.lepton.ai").unwrap(),
        vec![tj_type()]
    );
    let e = resolve(&types, "tj,widgets").unwrap_err().to_string();
    assert!(
        e.contains("\"widgets\"") && e.contains("tj (trainingjobs)"),
        "{e}"
    );
    assert_eq!(
        tj_type().url(Some("default")),
        "/apis/lepton.ai/v1alpha1/namespaces/default/trainingjobs"
    );
    assert_eq!(pod_type().url(None), "/api/v1/pods");
}

#[test]
fn a_server_table_prints_like_kubectl() {
    let table = json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1",
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "priority": 0},
            {"name": "Phase", "type": "string", "priority": 0},
            {"name": "Metric", "type": "number", "priority": 0},
            {"name": "Node Pool", "type": "string", "priority": 1},
            {"name": "Age", "type": "date", "priority": 0},
        ],
        "rows": [
            {"cells": ["credit", "Succeeded", 0.9561, "cpu-small", "2026-01-01T00:00:00Z"],
             "object": {"metadata": {"name": "credit", "namespace": "default"}}},
            {"cells": ["other", "Running", null, null, "2026-01-01T00:04:00Z"],
             "object": {"metadata": {"name": "other", "namespace": "default"}}},
        ],
    });
    let now: jiff::Timestamp = "2026-01-01T00:05:30Z".parse().unwrap();
    let plain = render(&table, &tj_type(), &TableOptions::default(), now).unwrap();
    assert_eq!(
        plain,
        "NAME     PHASE       METRIC   AGE\ncredit   Succeeded   0.9561   5m30s\nother    Running     <none>   90s\n"
    );
    let wide = render(
        &table,
        &tj_type(),
        &TableOptions {
            wide: true,
            with_kind: true,
            with_namespace: true,
        },
        now,
    )
    .unwrap();
    assert!(wide.starts_with("NAMESPACE   NAME"), "{wide}");
    assert!(
        wide.contains("default     trainingjob.lepton.ai/credit"),
        "{wide}"
    );
    assert!(wide.contains("NODE POOL"), "{wide}");
}

#[test]
fn a_plain_list_prints_name_and_age_and_an_empty_one_nothing() {
    let list = json!({"kind": "TrainingJobList", "items": [
        {"metadata": {"name": "a", "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z"}}]});
    let now: jiff::Timestamp = "2026-01-01T00:00:07Z".parse().unwrap();
    let text = render(&list, &tj_type(), &TableOptions::default(), now).unwrap();
    assert_eq!(text, "NAME   AGE\na      7s\n");
    assert!(
        render(
            &json!({"kind": "TrainingJobList", "items": []}),
            &tj_type(),
            &TableOptions::default(),
            now
        )
        .is_none()
    );
}
