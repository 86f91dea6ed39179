//! Columns of Pods, Jobs and Deployments, worked out from their status as the API server's
//! printers do: a Pod's `STATUS` is the most telling container state, a Job's the condition
//! it ended with, and so on.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::builtin::{int, items, labels, or_none, text};
use super::{Column, Row, age};

fn s(name: &str, description: &str) -> Column {
    Column::new(name, "string", description)
}

/// Pod columns.
pub(super) fn pod_columns() -> Vec<Column> {
    vec![
        Column::name(),
        s(
            "Ready",
            "The aggregate readiness state of this pod for accepting traffic.",
        ),
        s(
            "Status",
            "The aggregate status of the containers in this pod.",
        ),
        s(
            "Restarts",
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        ),
        Column::age(),
        s("IP", "IP address allocated to the pod.").wide(),
        s("Node", "The node the pod is bound to.").wide(),
        s(
            "Nominated Node",
            "The node the scheduler nominated for the pod.",
        )
        .wide(),
        s(
            "Readiness Gates",
            "The readiness gates of the pod and how many are met.",
        )
        .wide(),
    ]
}

/// A Pod's cells: ready containers of all, the most telling status, restarts (with how long
/// ago the last one was), age, then the wide ones.
pub(super) fn pod_row(pod: &Value, now: Timestamp) -> Row {
    let phase = text(pod, "/status/phase");
    let mut reason = match text(pod, "/status/reason") {
        "" => phase.to_owned(),
        r => r.to_owned(),
    };
    let conditions = items(pod, "/status/conditions");
    if conditions
        .iter()
        .any(|c| text(c, "/type") == "PodScheduled" && text(c, "/reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }
    let mut restarts = 0;
    let mut ready = 0;
    let mut last_restart: Option<&Value> = None;
    let mut running = false;
    // Later containers are looked at first, so the first container's state wins.
    for status in items(pod, "/status/containerStatuses").iter().rev() {
        restarts += int(status, "/restartCount");
        if let Some(finished) = status.pointer("/lastState/terminated/finishedAt")
            && age::between(last_restart, Some(finished)).is_none_or(|d| d > 0)
        {
            last_restart = Some(finished);
        }
        let waiting = text(status, "/state/waiting/reason");
        let terminated = status.pointer("/state/terminated");
        if !waiting.is_empty() {
            reason = waiting.to_owned();
        } else if let Some(terminated) = terminated {
            reason = match (text(terminated, "/reason"), int(terminated, "/signal")) {
                ("", 0) => format!("ExitCode:{}", int(terminated, "/exitCode")),
                ("", signal) => format!("Signal:{signal}"),
                (r, _) => r.to_owned(),
            };
        } else if status.get("ready") == Some(&Value::Bool(true))
            && status.pointer("/state/running").is_some()
        {
            running = true;
            ready += 1;
        }
    }
    if reason == "Completed" && running {
        let pod_ready = conditions
            .iter()
            .any(|c| text(c, "/type") == "Ready" && text(c, "/status") == "True");
        reason = if pod_ready { "Running" } else { "NotReady" }.into();
    }
    if crate::meta::is_deleting(pod) && !matches!(phase, "Succeeded" | "Failed") {
        reason = if text(pod, "/status/reason") == "NodeLost" {
            "Unknown"
        } else {
            "Terminating"
        }
        .into();
    }
    let restarts = match last_restart {
        Some(at) if restarts > 0 => format!("{restarts} ({} ago)", age::since(Some(at), now)),
        _ => restarts.to_string(),
    };
    let ip = items(pod, "/status/podIPs")
        .first()
        .map(|p| text(p, "/ip"))
        .unwrap_or_else(|| text(pod, "/status/podIP"));
    let gates = items(pod, "/spec/readinessGates");
    let gates = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let met = gates
            .iter()
            .filter(|g| {
                conditions.iter().any(|c| {
                    text(c, "/type") == text(g, "/conditionType") && text(c, "/status") == "True"
                })
            })
            .count();
        format!("{met}/{}", gates.len())
    };
    let total = items(pod, "/spec/containers").len();
    let row_conditions = match phase {
        "Succeeded" => Some(completed(
            "Succeeded",
            "The pod has completed successfully.",
        )),
        "Failed" => Some(completed("Failed", "The pod failed.")),
        _ => None,
    };
    Row {
        cells: vec![
            crate::meta::name(pod).into(),
            format!("{ready}/{total}").into(),
            reason.into(),
            restarts.into(),
            age::since(pod.pointer("/metadata/creationTimestamp"), now).into(),
            or_none(ip.to_owned()),
            or_none(text(pod, "/spec/nodeName").to_owned()),
            or_none(text(pod, "/status/nominatedNodeName").to_owned()),
            gates.into(),
        ],
        conditions: row_conditions,
    }
}

/// The row condition that tells kubectl a Pod has finished.
fn completed(reason: &str, message: &str) -> Value {
    json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}])
}

fn template_columns() -> [Column; 3] {
    [
        s("Containers", "Names of each container in the template.").wide(),
        s(
            "Images",
            "Images referenced by each container in the template.",
        )
        .wide(),
        s("Selector", "The label selector of the pods.").wide(),
    ]
}

/// The containers, images and selector cells of a workload with a pod template.
fn template_cells(o: &Value) -> [Value; 3] {
    let containers = items(o, "/spec/template/spec/containers");
    let join = |field: &str| {
        containers
            .iter()
            .map(|c| text(c, field))
            .collect::<Vec<_>>()
            .join(",")
    };
    [
        join("/name").into(),
        join("/image").into(),
        or_none(selector(o.pointer("/spec/selector"))),
    ]
}

/// A label selector as the API server writes one: requirements sorted by key, `k=v`,
/// `k in (a,b)`, `k notin (a,b)`, `k`, `!k`.
fn selector(selector: Option<&Value>) -> String {
    let Some(selector) = selector else {
        return String::new();
    };
    let mut requirements: Vec<(String, String)> = labels(selector.get("matchLabels"))
        .split(',')
        .filter(|r| !r.is_empty())
        .map(|r| {
            (
                r.split('=').next().unwrap_or_default().to_owned(),
                r.to_owned(),
            )
        })
        .collect();
    for expression in items(selector, "/matchExpressions") {
        let key = text(expression, "/key");
        let mut values: Vec<&str> = items(expression, "/values")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let values = values.join(",");
        let requirement = match text(expression, "/operator") {
            "In" => format!("{key} in ({values})"),
            "NotIn" => format!("{key} notin ({values})"),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        requirements.push((key.to_owned(), requirement));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    requirements
        .into_iter()
        .map(|(_, r)| r)
        .collect::<Vec<_>>()
        .join(",")
}

/// Job columns.
pub(super) fn job_columns() -> Vec<Column> {
    let mut columns = vec![
        Column::name(),
        s("Status", "Status of the job."),
        s(
            "Completions",
            "The number of pods which reached phase Succeeded, of those the job needs.",
        ),
        s("Duration", "Time required to complete the job."),
        Column::age(),
    ];
    columns.extend(template_columns());
    columns
}

/// A Job's cells: the condition it ended with (or `Running`), successes of those needed, how
/// long it ran (or has been running), age, then its template and selector.
pub(super) fn job_row(job: &Value, now: Timestamp) -> Row {
    let has = |type_: &str| {
        items(job, "/status/conditions")
            .iter()
            .any(|c| text(c, "/type") == type_ && text(c, "/status") == "True")
    };
    let status = if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if crate::meta::is_deleting(job) {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else if has("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let succeeded = int(job, "/status/succeeded");
    let parallelism = job.pointer("/spec/parallelism").and_then(Value::as_i64);
    let completions = match (
        job.pointer("/spec/completions").and_then(Value::as_i64),
        parallelism,
    ) {
        (Some(c), _) => format!("{succeeded}/{c}"),
        // Unset completions mean one success, as the API server defaults them.
        (None, None) => format!("{succeeded}/1"),
        (None, Some(p)) if p > 1 => format!("{succeeded}/1 of {p}"),
        (None, Some(_)) => format!("{succeeded}/1"),
    };
    let start = job.pointer("/status/startTime");
    let duration = match job.pointer("/status/completionTime") {
        _ if start.is_none() => String::new(),
        None => age::since(start, now),
        Some(end) => age::between(start, Some(end))
            .map(age::human)
            .unwrap_or_default(),
    };
    let mut cells = vec![
        crate::meta::name(job).into(),
        status.into(),
        completions.into(),
        duration.into(),
        age::since(job.pointer("/metadata/creationTimestamp"), now).into(),
    ];
    cells.extend(template_cells(job));
    Row::plain(cells)
}

/// Deployment columns.
pub(super) fn deployment_columns() -> Vec<Column> {
    let mut columns = vec![
        Column::name(),
        s("Ready", "Number of the pod with ready state"),
        s(
            "Up-to-date",
            "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
        ),
        s(
            "Available",
            "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
        ),
        Column::age(),
    ];
    columns.extend(template_columns());
    columns
}

/// A Deployment's cells: ready of desired replicas, up-to-date and available ones, age,
/// then its template and selector.
pub(super) fn deployment_row(deployment: &Value, now: Timestamp) -> Row {
    let desired = deployment
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let mut cells = vec![
        crate::meta::name(deployment).into(),
        format!("{}/{desired}", int(deployment, "/status/readyReplicas")).into(),
        int(deployment, "/status/updatedReplicas").into(),
        int(deployment, "/status/availableReplicas").into(),
        age::since(deployment.pointer("/metadata/creationTimestamp"), now).into(),
    ];
    cells.extend(template_cells(deployment));
    Row::plain(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-01-01T01:00:00Z".parse().unwrap()
    }

    fn pod(status: Value) -> Value {
        json!({
            "metadata": {"name": "p", "creationTimestamp": "2024-01-01T00:59:00Z"},
            "spec": {"containers": [{"name": "runner"}]},
            "status": status,
        })
    }

    #[test]
    fn pod_status_comes_from_its_containers() {
        let pending = pod_row(&pod(json!({"phase": "Pending"})), now());
        assert_eq!(
            pending.cells[..5],
            [
                json!("p"),
                json!("0/1"),
                json!("Pending"),
                json!("0"),
                json!("60s")
            ]
        );
        assert_eq!(pending.cells[5], "<none>");
        assert!(pending.conditions.is_none());

        let running = pod_row(
            &pod(
                json!({"phase": "Running", "podIP": "127.0.0.1", "containerStatuses": [{
                    "ready": true, "restartCount": 2, "state": {"running": {}},
                    "lastState": {"terminated": {"finishedAt": "2024-01-01T00:58:00Z"}},
                }]}),
            ),
            now(),
        );
        assert_eq!(
            running.cells[1..4],
            [json!("1/1"), json!("Running"), json!("2 (2m ago)")]
        );
        assert_eq!(running.cells[5], "127.0.0.1");

        let done = pod_row(
            &pod(json!({"phase": "Succeeded", "containerStatuses": [{
                "ready": false, "state": {"terminated": {"reason": "Completed", "exitCode": 0}},
            }]})),
            now(),
        );
        assert_eq!(done.cells[1..3], [json!("0/1"), json!("Completed")]);
        assert_eq!(done.conditions.unwrap()[0]["type"], "Completed");

        let killed = pod_row(
            &pod(json!({"phase": "Failed", "containerStatuses": [{
                "state": {"terminated": {"exitCode": 137, "signal": 9}},
            }]})),
            now(),
        );
        assert_eq!(killed.cells[2], "Signal:9");
        let exited = pod_row(
            &pod(
                json!({"phase": "Failed", "containerStatuses": [{"state": {"terminated": {"exitCode": 3}}}]}),
            ),
            now(),
        );
        assert_eq!(exited.cells[2], "ExitCode:3");
        let waiting = pod_row(
            &pod(
                json!({"phase": "Running", "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
            ),
            now(),
        );
        assert_eq!(waiting.cells[2], "CrashLoopBackOff");
        let mut deleting = pod(json!({"phase": "Running"}));
        deleting["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:59:59Z");
        assert_eq!(pod_row(&deleting, now()).cells[2], "Terminating");
    }

    #[test]
    fn jobs_show_status_completions_and_duration() {
        let job = json!({
            "metadata": {"name": "j", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"template": {"spec": {"containers": [{"name": "runner", "image": "lepton/runner:1"}]}},
                     "selector": {"matchLabels": {"job-name": "j"}}},
            "status": {"succeeded": 1, "startTime": "2024-01-01T00:00:00Z",
                       "completionTime": "2024-01-01T00:00:42Z",
                       "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                      {"type": "Complete", "status": "True"}]},
        });
        let row = job_row(&job, now());
        assert_eq!(row.cells.len(), job_columns().len());
        assert_eq!(
            row.cells,
            [
                json!("j"),
                json!("Complete"),
                json!("1/1"),
                json!("42s"),
                json!("60m"),
                json!("runner"),
                json!("lepton/runner:1"),
                json!("job-name=j")
            ]
        );
        let running = json!({"metadata": {"name": "r"}, "spec": {"completions": 3},
            "status": {"startTime": "2024-01-01T00:59:30Z", "succeeded": 1}});
        let row = job_row(&running, now());
        assert_eq!(
            row.cells[1..4],
            [json!("Running"), json!("1/3"), json!("30s")]
        );
        assert_eq!(row.cells[7], "<none>");
        let parallel = json!({"metadata": {"name": "p"}, "spec": {"parallelism": 2}});
        assert_eq!(
            job_row(&parallel, now()).cells[2..4],
            [json!("0/1 of 2"), json!("")]
        );
    }

    #[test]
    fn deployments_show_ready_of_desired() {
        let deployment = json!({
            "metadata": {"name": "d"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "d"},
                     "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]},
                                          {"key": "canary", "operator": "DoesNotExist"}]}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
        });
        let row = deployment_row(&deployment, now());
        assert_eq!(row.cells.len(), deployment_columns().len());
        assert_eq!(row.cells[1..4], [json!("2/3"), json!(3), json!(2)]);
        assert_eq!(row.cells[7], "app=d,!canary,tier in (api,web)");
    }
}
