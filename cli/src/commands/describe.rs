//! `lepton describe`: one resource in the detail a person debugging it wants: the spec as
//! written, the status figures, the conditions, a learning curve drawn in text, a sweep's
//! trials, and the events about it.

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use lepton_crds::v1alpha1::{ModelDeployment, TrainingJob, TuningSweep};
use serde_json::Value;

use lepton_operator::names::TUNING_SWEEP_LABEL;

use crate::error::CliError;
use crate::format;
use crate::manifests::Kind;

/// The names of every object of `kind` in `namespace`, sorted.
pub async fn names(
    client: &kube::Client,
    namespace: &str,
    kind: &str,
) -> Result<Vec<String>, CliError> {
    let mut names = match kind_of(kind)? {
        Kind::TrainingJob => names_of::<TrainingJob>(client, namespace).await?,
        Kind::TuningSweep => names_of::<TuningSweep>(client, namespace).await?,
        Kind::ModelDeployment => names_of::<ModelDeployment>(client, namespace).await?,
    };
    names.sort();
    Ok(names)
}

async fn names_of<K>(client: &kube::Client, namespace: &str) -> Result<Vec<String>, CliError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let list = Api::<K>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await?;
    Ok(list.items.iter().map(ResourceExt::name_any).collect())
}

/// The Lepton kind a word names (`tj`, `trainingjob`, `trainingjobs`, ...).
fn kind_of(word: &str) -> Result<Kind, CliError> {
    match word.to_lowercase().as_str() {
        "tj" | "trainingjob" | "trainingjobs" => Ok(Kind::TrainingJob),
        "ts" | "tuningsweep" | "tuningsweeps" => Ok(Kind::TuningSweep),
        "md" | "modeldeployment" | "modeldeployments" => Ok(Kind::ModelDeployment),
        other => Err(unsupported(other)),
    }
}

fn unsupported(kind: &str) -> CliError {
    CliError::usage(format!(
        "lepton describe shows tj, ts and md, not {kind:?}; for other objects use kubectl --kubeconfig .lepton/kubeconfig describe"
    ))
}

/// Describes `kind/name` in `namespace`.
pub async fn describe(
    client: &kube::Client,
    namespace: &str,
    kind: &str,
    name: &str,
) -> Result<String, CliError> {
    let missing = |k: &str| CliError::Input(format!("no {k} {name:?} in namespace {namespace}"));
    let mut out = String::new();
    match kind_of(kind)? {
        Kind::TrainingJob => {
            let tj = Api::<TrainingJob>::namespaced(client.clone(), namespace)
                .get_opt(name)
                .await?
                .ok_or_else(|| missing("TrainingJob"))?;
            out.push_str(&header(&tj, "TrainingJob"));
            out.push_str(&section(
                "Spec",
                &serde_json::to_value(&tj.spec).unwrap_or_default(),
            ));
            if let Some(status) = &tj.status {
                let mut figures = serde_json::to_value(status).unwrap_or_default();
                strip(&mut figures, &["conditions"]);
                if let Some(p) = figures.get_mut("progress").and_then(Value::as_object_mut) {
                    p.remove("objectiveCurve");
                }
                out.push_str(&section("Status", &figures));
                if let Some(progress) = &status.progress
                    && !progress.objective_curve.is_empty()
                {
                    let values: Vec<f64> =
                        progress.objective_curve.iter().map(|p| p.value).collect();
                    out.push_str(&format!(
                        "Learning curve:  {}  ({} → {}, steps {}–{})\n",
                        sparkline(&values),
                        format::metric(values[0]),
                        format::metric(values[values.len() - 1]),
                        progress.objective_curve[0].step,
                        progress.objective_curve[values.len() - 1].step,
                    ));
                }
                out.push_str(&conditions(&status.conditions));
            }
        }
        Kind::TuningSweep => {
            let ts = Api::<TuningSweep>::namespaced(client.clone(), namespace)
                .get_opt(name)
                .await?
                .ok_or_else(|| missing("TuningSweep"))?;
            out.push_str(&header(&ts, "TuningSweep"));
            out.push_str(&section(
                "Spec",
                &serde_json::to_value(&ts.spec).unwrap_or_default(),
            ));
            if let Some(status) = &ts.status {
                let mut figures = serde_json::to_value(status).unwrap_or_default();
                strip(&mut figures, &["conditions", "paretoFront"]);
                out.push_str(&section("Status", &figures));
                out.push_str(&conditions(&status.conditions));
            }
            out.push_str(&trials(client, namespace, &ts).await?);
        }
        Kind::ModelDeployment => {
            let md = Api::<ModelDeployment>::namespaced(client.clone(), namespace)
                .get_opt(name)
                .await?
                .ok_or_else(|| missing("ModelDeployment"))?;
            out.push_str(&header(&md, "ModelDeployment"));
            out.push_str(&section(
                "Spec",
                &serde_json::to_value(&md.spec).unwrap_or_default(),
            ));
            if let Some(status) = &md.status {
                let mut figures = serde_json::to_value(status).unwrap_or_default();
                strip(&mut figures, &["conditions"]);
                out.push_str(&section("Status", &figures));
                out.push_str(&conditions(&status.conditions));
            }
        }
    }
    out.push_str(&events(client, namespace, name).await);
    Ok(out)
}

fn header(object: &impl ResourceExt, kind: &str) -> String {
    let created = object
        .meta()
        .creation_timestamp
        .as_ref()
        .map(|t| {
            let age = jiff::Timestamp::now().duration_since(t.0).as_secs();
            format!("{} ({} ago)", t.0, format::age(age))
        })
        .unwrap_or_default();
    let labels: Vec<String> = object
        .labels()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "Name:       {}\nNamespace:  {}\nKind:       {kind}\nCreated:    {created}\nLabels:     {}\n",
        object.name_any(),
        object.namespace().unwrap_or_default(),
        if labels.is_empty() {
            "<none>".into()
        } else {
            labels.join(", ")
        }
    )
}

fn strip(value: &mut Value, keys: &[&str]) {
    if let Some(map) = value.as_object_mut() {
        for key in keys {
            map.remove(*key);
        }
    }
}

fn section(title: &str, value: &Value) -> String {
    let yaml = serde_yaml_ng::to_string(value).unwrap_or_default();
    let body: String = yaml.lines().map(|l| format!("  {l}\n")).collect();
    format!("{title}:\n{body}")
}

fn conditions(conditions: &[Condition]) -> String {
    if conditions.is_empty() {
        return "Conditions: <none>\n".into();
    }
    let now = jiff::Timestamp::now();
    let mut rows = vec![vec![
        "TYPE".to_owned(),
        "STATUS".into(),
        "REASON".into(),
        "AGE".into(),
        "MESSAGE".into(),
    ]];
    for c in conditions {
        rows.push(vec![
            c.type_.clone(),
            c.status.clone(),
            c.reason.clone(),
            format::age(now.duration_since(c.last_transition_time.0).as_secs()),
            c.message.clone(),
        ]);
    }
    indent("Conditions", &format::columns(&rows))
}

fn indent(title: &str, table: &str) -> String {
    let body: String = table.lines().map(|l| format!("  {l}\n")).collect();
    format!("{title}:\n{body}")
}

async fn trials(
    client: &kube::Client,
    namespace: &str,
    ts: &TuningSweep,
) -> Result<String, CliError> {
    let name = ts.name_any();
    let params = ListParams::default().labels(&format!("{TUNING_SWEEP_LABEL}={name}"));
    let mut trials = Api::<TrainingJob>::namespaced(client.clone(), namespace)
        .list(&params)
        .await?
        .items;
    if trials.is_empty() {
        return Ok("Trials: <none>\n".into());
    }
    let maximize = crate::format::maximize(&ts.spec.objective);
    let objective = |t: &TrainingJob| {
        t.status
            .as_ref()
            .and_then(|s| s.objective.as_ref())
            .map(|o| o.value)
    };
    trials.sort_by(|a, b| {
        let (a, b) = (objective(a), objective(b));
        match (a, b) {
            (Some(a), Some(b)) if maximize => b.total_cmp(&a),
            (Some(a), Some(b)) => a.total_cmp(&b),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
    });
    let front: Vec<String> = ts
        .status
        .as_ref()
        .map(|s| s.pareto_front.iter().map(|t| t.name.clone()).collect())
        .unwrap_or_default();
    let metric = format::metric_name(&ts.spec.objective.metric).to_uppercase();
    let mut rows = vec![vec![
        "TRIAL".to_owned(),
        "PHASE".into(),
        metric,
        "COST".into(),
        "LATENCY P50".into(),
        "CURVE".into(),
        "PARAMETERS".into(),
        "FRONT".into(),
    ]];
    for t in &trials {
        let status = t.status.clone().unwrap_or_default();
        let params = crate::trials::describe(ts, &crate::trials::parameters_of(t), Some(t));
        let curve: Vec<f64> = status
            .progress
            .as_ref()
            .map(|p| p.objective_curve.iter().map(|c| c.value).collect())
            .unwrap_or_default();
        rows.push(vec![
            t.name_any(),
            status.phase.map_or("Pending".into(), |p| format!("{p:?}")),
            objective(t).map_or("-".into(), format::metric),
            status
                .cost
                .and_then(|c| c.total)
                .map_or("-".into(), |c| format::money(c, None)),
            status
                .model
                .and_then(|m| m.latency_p50_ms)
                .map_or("-".into(), format::millis),
            sparkline(&curve),
            params,
            if front.contains(&t.name_any()) {
                "*".into()
            } else {
                String::new()
            },
        ]);
    }
    Ok(indent("Trials", &format::columns(&rows)))
}

async fn events(client: &kube::Client, namespace: &str, name: &str) -> String {
    let params = ListParams::default().fields(&format!("involvedObject.name={name}"));
    let Ok(list) = Api::<Event>::namespaced(client.clone(), namespace)
        .list(&params)
        .await
    else {
        return "Events: <unavailable>\n".into();
    };
    let mut events: Vec<Event> = list
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .collect();
    if events.is_empty() {
        return "Events: <none>\n".into();
    }
    let when = |e: &Event| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or_else(|| e.event_time.as_ref().map(|t| t.0))
            .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
    };
    events.sort_by_key(|e| when(e));
    let now = jiff::Timestamp::now();
    let mut rows = vec![vec![
        "TYPE".to_owned(),
        "REASON".into(),
        "AGE".into(),
        "MESSAGE".into(),
    ]];
    for e in &events {
        rows.push(vec![
            e.type_.clone().unwrap_or_default(),
            e.reason.clone().unwrap_or_default(),
            when(e).map_or("-".into(), |t| format::age(now.duration_since(t).as_secs())),
            e.message.clone().unwrap_or_default(),
        ]);
    }
    indent("Events", &format::columns(&rows))
}

/// A curve in eight levels of block characters (at most 32 wide).
pub fn sparkline(values: &[f64]) -> String {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return String::new();
    }
    let step = finite.len().div_ceil(32);
    let points: Vec<f64> = finite
        .chunks(step)
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect();
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    points
        .iter()
        .map(|v| {
            let level = if hi > lo {
                ((v - lo) / (hi - lo) * 7.0).round() as usize
            } else {
                3
            };
            LEVELS[level.min(7)]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_range() {
        assert_eq!(sparkline(&[0.0, 0.5, 1.0]), "▁▅█");
        assert_eq!(sparkline(&[2.0, 2.0]), "▄▄");
        assert_eq!(sparkline(&[f64::NAN]), "");
        assert_eq!(
            sparkline(&(0..100).map(f64::from).collect::<Vec<_>>())
                .chars()
                .count(),
            25
        );
    }
}
