//! Columns of the built-in kinds, as the API server prints them. Each kind's cells are
//! derived from the object the same way (`<none>` for empty lists, `Kind/name` references,
//! ages); workloads (Pods, Jobs, Deployments) are in `workloads.rs`, Events in `events.rs`.

use jiff::Timestamp;
use serde_json::Value;

use super::{Column, Row, age, events, workloads};

/// The built-in kinds with columns of their own; `Other` prints `NAME` and `AGE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Pod,
    Job,
    Deployment,
    Service,
    Event,
    EventsV1,
    Namespace,
    ConfigMap,
    Secret,
    ServiceAccount,
    Lease,
    HorizontalPodAutoscaler,
    Role,
    RoleBinding,
    Other,
}

impl Kind {
    /// The printer of a built-in kind.
    pub fn of(group: &str, kind: &str) -> Self {
        match (group, kind) {
            ("", "Pod") => Self::Pod,
            ("batch", "Job") => Self::Job,
            ("apps", "Deployment") => Self::Deployment,
            ("", "Service") => Self::Service,
            ("", "Event") => Self::Event,
            ("events.k8s.io", "Event") => Self::EventsV1,
            ("", "Namespace") => Self::Namespace,
            ("", "ConfigMap") => Self::ConfigMap,
            ("", "Secret") => Self::Secret,
            ("", "ServiceAccount") => Self::ServiceAccount,
            ("coordination.k8s.io", "Lease") => Self::Lease,
            ("autoscaling", "HorizontalPodAutoscaler") => Self::HorizontalPodAutoscaler,
            ("rbac.authorization.k8s.io", "Role") => Self::Role,
            ("rbac.authorization.k8s.io", "RoleBinding") => Self::RoleBinding,
            _ => Self::Other,
        }
    }

    /// The kind's column definitions, wide ones included.
    pub(super) fn columns(self) -> Vec<Column> {
        let s = |name: &str, description: &str| Column::new(name, "string", description);
        let mut columns = vec![Column::name()];
        let rest = match self {
            Self::Pod => return workloads::pod_columns(),
            Self::Job => return workloads::job_columns(),
            Self::Deployment => return workloads::deployment_columns(),
            Self::Event | Self::EventsV1 => return events::columns(),
            Self::Service => vec![
                s("Type", "The type of the service."),
                s("Cluster-IP", "The cluster IP address of the service."),
                s("External-IP", "The external IP addresses of the service."),
                s("Port(s)", "The ports exposed by the service."),
                Column::age(),
                s(
                    "Selector",
                    "Route service traffic to pods with labels matching this selector.",
                )
                .wide(),
            ],
            Self::Namespace => vec![s("Status", "The status of the namespace"), Column::age()],
            Self::ConfigMap => vec![s("Data", "Number of data items"), Column::age()],
            Self::Secret => vec![
                s("Type", "The type of the secret"),
                s("Data", "Number of data items"),
                Column::age(),
            ],
            Self::ServiceAccount => vec![
                s(
                    "Secrets",
                    "Number of secrets referenced by the service account",
                ),
                Column::age(),
            ],
            Self::Lease => vec![s("Holder", "The holder of the lease"), Column::age()],
            Self::HorizontalPodAutoscaler => vec![
                s("Reference", "The object the autoscaler scales"),
                s("Targets", "The current and target values of each metric"),
                s("MinPods", "The lower limit for the number of pods"),
                s("MaxPods", "The upper limit for the number of pods"),
                s("Replicas", "The current number of pods"),
                Column::age(),
            ],
            Self::Role => vec![s("Created At", "The time the role was created")],
            Self::RoleBinding => vec![
                s("Role", "The role bound"),
                Column::age(),
                s("Users", "Users in the binding").wide(),
                s("Groups", "Groups in the binding").wide(),
                s("ServiceAccounts", "Service accounts in the binding").wide(),
            ],
            Self::Other => vec![Column::age()],
        };
        columns.extend(rest);
        columns
    }

    /// One object's cells, one per column (wide ones included: kubectl hides them).
    pub(super) fn row(self, o: &Value, now: Timestamp) -> Row {
        let name = Value::from(crate::meta::name(o));
        let created = Value::from(age::since(o.pointer("/metadata/creationTimestamp"), now));
        let cells = match self {
            Self::Pod => return workloads::pod_row(o, now),
            Self::Job => return workloads::job_row(o, now),
            Self::Deployment => return workloads::deployment_row(o, now),
            Self::Event => return events::row(o, now, &events::CORE),
            Self::EventsV1 => return events::row(o, now, &events::EVENTS_V1),
            Self::Service => service_cells(o, name, created),
            Self::Namespace => vec![name, text(o, "/status/phase").into(), created],
            Self::ConfigMap => {
                let count = len(o, "/data") + len(o, "/binaryData");
                vec![name, count.into(), created]
            }
            Self::Secret => {
                let type_ = text(o, "/type");
                let type_ = if type_.is_empty() { "Opaque" } else { type_ };
                vec![name, type_.into(), len(o, "/data").into(), created]
            }
            Self::ServiceAccount => vec![name, len(o, "/secrets").into(), created],
            Self::Lease => vec![name, text(o, "/spec/holderIdentity").into(), created],
            Self::HorizontalPodAutoscaler => hpa_cells(o, name, created),
            Self::Role => {
                let at = text(o, "/metadata/creationTimestamp");
                vec![name, at.into()]
            }
            Self::RoleBinding => role_binding_cells(o, name, created),
            Self::Other => vec![name, created],
        };
        Row::plain(cells)
    }
}

/// A string field, empty when missing.
pub(super) fn text<'a>(o: &'a Value, pointer: &str) -> &'a str {
    o.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// An integer field, 0 when missing.
pub(super) fn int(o: &Value, pointer: &str) -> i64 {
    o.pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or_default()
}

/// The items of a list field, none when missing.
pub(super) fn items<'a>(o: &'a Value, pointer: &str) -> &'a [Value] {
    o.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// How many entries a map or list field has.
fn len(o: &Value, pointer: &str) -> i64 {
    match o.pointer(pointer) {
        Some(Value::Object(map)) => map.len() as i64,
        Some(Value::Array(list)) => list.len() as i64,
        _ => 0,
    }
}

/// `<none>` for an empty string.
pub(super) fn or_none(text: String) -> Value {
    if text.is_empty() {
        "<none>".into()
    } else {
        text.into()
    }
}

/// A label map as `k=v,k2=v2`, sorted by key.
pub(super) fn labels(map: Option<&Value>) -> String {
    map.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn service_cells(o: &Value, name: Value, created: Value) -> Vec<Value> {
    let type_ = match text(o, "/spec/type") {
        "" => "ClusterIP",
        other => other,
    };
    let cluster_ip = items(o, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .unwrap_or_else(|| text(o, "/spec/clusterIP"));
    let external: Vec<&str> = items(o, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let balancers: Vec<&str> = items(o, "/status/loadBalancer/ingress")
        .iter()
        .filter_map(|i| i.get("ip").or(i.get("hostname")).and_then(Value::as_str))
        .collect();
    let external_ip = match type_ {
        "ExternalName" => text(o, "/spec/externalName").to_owned(),
        "LoadBalancer" if balancers.is_empty() && external.is_empty() => "<pending>".into(),
        "LoadBalancer" => [balancers, external].concat().join(","),
        "ClusterIP" | "NodePort" if external.is_empty() => "<none>".into(),
        "ClusterIP" | "NodePort" => external.join(","),
        _ => "<unknown>".into(),
    };
    let ports: Vec<String> = items(o, "/spec/ports")
        .iter()
        .map(|p| {
            let port = int(p, "/port");
            let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match int(p, "/nodePort") {
                0 => format!("{port}/{protocol}"),
                node => format!("{port}:{node}/{protocol}"),
            }
        })
        .collect();
    vec![
        name,
        type_.into(),
        or_none(cluster_ip.to_owned()),
        external_ip.into(),
        or_none(ports.join(",")),
        created,
        or_none(labels(o.pointer("/spec/selector"))),
    ]
}

fn hpa_cells(o: &Value, name: Value, created: Value) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        text(o, "/spec/scaleTargetRef/kind"),
        text(o, "/spec/scaleTargetRef/name")
    );
    let current = items(o, "/status/currentMetrics");
    let targets: Vec<String> = items(o, "/spec/metrics")
        .iter()
        .enumerate()
        .map(|(i, metric)| {
            let resource = text(metric, "/resource/name");
            let now = current.get(i).and_then(|c| c.pointer("/resource/current"));
            match metric.pointer("/resource/target/averageValue") {
                Some(target) => {
                    let now = now
                        .and_then(|c| c.get("averageValue"))
                        .map_or("<unknown>".into(), quantity);
                    format!("{resource}: {now}/{}", quantity(target))
                }
                None => {
                    let percent =
                        |v: Option<&Value>| v.and_then(Value::as_i64).map(|p| format!("{p}%"));
                    let now = percent(now.and_then(|c| c.get("averageUtilization")))
                        .unwrap_or_else(|| "<unknown>".into());
                    let target = percent(metric.pointer("/resource/target/averageUtilization"))
                        .unwrap_or_else(|| "<auto>".into());
                    format!("{resource}: {now}/{target}")
                }
            }
        })
        .collect();
    let min = match o.pointer("/spec/minReplicas").and_then(Value::as_i64) {
        Some(n) => Value::from(n),
        None => "<unset>".into(),
    };
    vec![
        name,
        reference.into(),
        or_none(targets.join(", ")),
        min,
        int(o, "/spec/maxReplicas").into(),
        int(o, "/status/currentReplicas").into(),
        created,
    ]
}

fn quantity(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn role_binding_cells(o: &Value, name: Value, created: Value) -> Vec<Value> {
    let role = format!("{}/{}", text(o, "/roleRef/kind"), text(o, "/roleRef/name"));
    let subjects = |kind: &str| -> Vec<String> {
        items(o, "/subjects")
            .iter()
            .filter(|s| text(s, "/kind") == kind)
            .map(|s| match kind {
                "ServiceAccount" => format!("{}/{}", text(s, "/namespace"), text(s, "/name")),
                _ => text(s, "/name").to_owned(),
            })
            .collect()
    };
    vec![
        name,
        role.into(),
        created,
        subjects("User").join(", ").into(),
        subjects("Group").join(", ").into(),
        subjects("ServiceAccount").join(", ").into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-01-01T01:00:00Z".parse().unwrap()
    }

    fn cells(group: &str, kind: &str, object: Value) -> Vec<Value> {
        let kind = Kind::of(group, kind);
        let row = kind.row(&object, now());
        assert_eq!(row.cells.len(), kind.columns().len(), "one cell per column");
        row.cells
    }

    #[test]
    fn services_show_type_addresses_and_ports() {
        let svc = json!({
            "metadata": {"name": "web", "creationTimestamp": "2024-01-01T00:58:00Z"},
            "spec": {"selector": {"b": "2", "a": "1"},
                     "ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "nodePort": 30053}]},
        });
        assert_eq!(
            cells("", "Service", svc),
            json!([
                "web",
                "ClusterIP",
                "<none>",
                "<none>",
                "80/TCP,53:30053/UDP",
                "2m",
                "a=1,b=2"
            ])
            .as_array()
            .unwrap()
            .clone()
        );
        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer"}});
        let lb = cells("", "Service", lb);
        assert_eq!(
            (&lb[3], &lb[4], &lb[6]),
            (&json!("<pending>"), &json!("<none>"), &json!("<none>"))
        );
    }

    #[test]
    fn simple_kinds() {
        let cm = json!({"metadata": {"name": "c"}, "data": {"a": "1"}, "binaryData": {"b": ""}});
        assert_eq!(cells("", "ConfigMap", cm)[1], 2);
        let secret = json!({"metadata": {"name": "s"}, "data": {"a": "MQ=="}});
        assert_eq!(
            cells("", "Secret", secret)[1..3],
            [json!("Opaque"), json!(1)]
        );
        let ns = json!({"metadata": {"name": "n"}, "status": {"phase": "Active"}});
        assert_eq!(cells("", "Namespace", ns)[1], "Active");
        let lease = json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "op-1"}});
        assert_eq!(cells("coordination.k8s.io", "Lease", lease)[1], "op-1");
        let role = json!({"metadata": {"name": "r", "creationTimestamp": "2024-01-01T00:00:00Z"}});
        assert_eq!(
            cells("rbac.authorization.k8s.io", "Role", role)[1],
            "2024-01-01T00:00:00Z"
        );
        let binding = json!({"metadata": {"name": "b"}, "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "namespace": "ns", "name": "op"}, {"kind": "User", "name": "u"}]});
        let c = cells("rbac.authorization.k8s.io", "RoleBinding", binding);
        assert_eq!(
            (&c[1], &c[3], &c[5]),
            (&json!("Role/r"), &json!("u"), &json!("ns/op"))
        );
        let other = cells("", "Widget", json!({"metadata": {"name": "w"}}));
        assert_eq!(other, [json!("w"), json!("<unknown>")]);
    }

    #[test]
    fn autoscalers_show_their_targets() {
        let hpa = json!({
            "metadata": {"name": "h"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 4,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
                                 {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}}]},
            "status": {"currentReplicas": 2, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 35}}}]},
        });
        let c = cells("autoscaling", "HorizontalPodAutoscaler", hpa);
        assert_eq!(c[1], "Deployment/web");
        assert_eq!(c[2], "cpu: 35%/70%, memory: <unknown>/1Gi");
        assert_eq!(
            (&c[3], &c[4], &c[5]),
            (&json!("<unset>"), &json!(4), &json!(2))
        );
    }
}
