//! The end of a run: predictions sent to each ready deployment, then what a person wants to
//! see: the resources as `kubectl get tj,ts,md` shows them, each sweep's Pareto front with
//! the deployed trial marked, how to call each model, what failed and where its logs are.

use std::path::PathBuf;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::{Api, ListParams};
use lepton_crds::v1alpha1::{ModelDeployment, TrainingJob, TrialSummary, TuningSweep};
use serde_json::Value;

use super::RunOptions;
use super::outcome::{Observed, Verdict};
use crate::format;
use crate::manifests::{Kind, Manifest};
use crate::predict::{self, Burst};
use crate::session::SessionDir;
use crate::setup;
use crate::table::{self, TableOptions};

/// What was sent to one deployment.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    /// The ModelDeployment.
    pub deployment: String,
    /// Its endpoint.
    pub url: String,
    /// The first row sent, for the curl line.
    pub first_row: Option<Value>,
    /// The model's answer to it.
    pub answer: Option<Value>,
    /// The burst that followed.
    pub burst: Option<Burst>,
    /// Why the deployment could not be called.
    pub error: Option<String>,
    /// Why no traffic was sent (not an error).
    pub note: Option<String>,
}

/// The TrainingJob whose model a deployment serves, from `status.model.source`
/// (`trainingJob/NAME` or `tuningSweep/SWEEP/TRIAL`).
fn served_job<'a>(observed: &'a Observed, md: &ModelDeployment) -> Option<&'a TrainingJob> {
    let source = md.status.as_ref()?.model.as_ref()?.source.as_deref()?;
    let name = source.rsplit('/').next()?;
    observed.jobs.iter().find(|j| j.name_any() == name)
}

/// The traffic planned for one deployment: what was found out so far, and the rows left to
/// send.
pub struct TrafficPlan {
    /// What was sent and answered.
    pub traffic: Traffic,
    rows: Vec<Value>,
}

impl TrafficPlan {
    /// Sends wave `wave` of `waves` (an equal share of the rows, four requests at a time).
    pub async fn send_wave(&mut self, http: &reqwest::Client, wave: usize, waves: usize) {
        if self.traffic.error.is_some() || self.rows.is_empty() {
            return;
        }
        let share = self.rows.len().div_ceil(waves.max(1));
        let start = (wave * share).min(self.rows.len());
        let end = ((wave + 1) * share).min(self.rows.len());
        let t = &self.traffic;
        let burst = predict::burst(http, &t.url, &t.deployment, &self.rows[start..end], 4).await;
        let total = self.traffic.burst.get_or_insert_with(Burst::default);
        total.absorb(burst);
        if let Some(e) = &total.first_error {
            self.traffic.error = Some(format!(
                "{} of {} predictions failed: {e}",
                total.failed,
                total.ok + total.failed
            ));
        }
    }

    /// Whether there is traffic to send.
    pub fn has_rows(&self) -> bool {
        self.traffic.error.is_none() && !self.rows.is_empty()
    }
}

/// Sends one prediction (the first row of the training data, target left out) to every ready
/// deployment, and plans `--predictions` single-row requests to follow it.
pub async fn smoke(
    observed: &Observed,
    manifests: &[Manifest],
    options: &RunOptions,
) -> Vec<TrafficPlan> {
    let http = predict::http();
    let mut all = Vec::new();
    for md in &observed.deployments {
        let name = md.name_any();
        if !manifests
            .iter()
            .any(|m| m.kind == Kind::ModelDeployment && m.name == name)
        {
            continue;
        }
        let status = md.status.clone().unwrap_or_default();
        let ready = status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        let Some(url) = status.url.clone().filter(|_| ready) else {
            continue;
        };
        let mut plan = TrafficPlan {
            traffic: Traffic {
                deployment: name.clone(),
                url: url.clone(),
                ..Traffic::default()
            },
            rows: Vec::new(),
        };
        let traffic = &mut plan.traffic;
        let data = served_job(observed, md)
            .and_then(|job| setup::local_path(&job.spec.data.source, &options.volumes));
        let Some(data) = data else {
            traffic.note = Some(
                "its training data is not on this machine; send rows with `lepton predict`".into(),
            );
            all.push(plan);
            continue;
        };
        let rows = match predict::csv_rows(&data, options.predictions.max(1)) {
            Ok(rows) => rows,
            Err(e) => {
                traffic.note = Some(format!("no rows to send: {e}"));
                all.push(plan);
                continue;
            }
        };
        let inputs = match predict::model_inputs(&http, &url, &name).await {
            Ok(inputs) => inputs,
            Err(e) => {
                traffic.error = Some(e.to_string());
                all.push(plan);
                continue;
            }
        };
        let rows = predict::only_inputs(rows, &inputs);
        traffic.first_row = rows.first().cloned();
        match predict::predict(&http, &url, &name, &rows[..1.min(rows.len())]).await {
            Ok(answer) => traffic.answer = Some(answer),
            Err(e) => traffic.error = Some(e.to_string()),
        }
        if options.predictions > 1 {
            plan.rows = rows;
        }
        all.push(plan);
    }
    all
}

/// Waits (up to 8 s) until each deployment that got traffic reports live figures, so the
/// summary and the report show them.
pub async fn await_live_figures(
    client: &kube::Client,
    namespace: &str,
    observed: &Observed,
    traffic: &[Traffic],
) -> Observed {
    let wanted: Vec<&str> = traffic
        .iter()
        .filter(|t| t.burst.is_some())
        .map(|t| t.deployment.as_str())
        .collect();
    let mut latest = observed.clone();
    if wanted.is_empty() {
        return latest;
    }
    let api = Api::<ModelDeployment>::namespaced(client.clone(), namespace);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Ok(list) = api.list(&ListParams::default()).await {
            latest.deployments = list.items;
        }
        let measured = |name: &str| {
            latest.deployments.iter().any(|md| {
                md.name_any() == name
                    && md
                        .status
                        .as_ref()
                        .and_then(|s| s.metrics.as_ref())
                        .is_some_and(|m| m.requests_per_second.is_some_and(|r| r > 0.0))
            })
        };
        if wanted.iter().all(|n| measured(n)) {
            break;
        }
    }
    latest
}

/// Prints the summary.
#[allow(clippy::too_many_arguments)]
pub async fn print(
    client: &kube::Client,
    session: &SessionDir,
    namespace: &str,
    applied: &[(Kind, String)],
    observed: &Observed,
    verdict: &Verdict,
    traffic: &[Traffic],
    elapsed: Duration,
    timed_out: bool,
    timeout: Duration,
) {
    let mut out = String::new();
    let verb = if verdict.problems.is_empty() {
        "Finished"
    } else {
        "Ended"
    };
    out.push_str(&format!(
        "\n{verb} in {}.\n\n",
        format::clock(elapsed.as_secs())
    ));
    out.push_str(&kubectl_get(client, namespace).await);
    for (_, name) in applied.iter().filter(|(k, _)| *k == Kind::TuningSweep) {
        if let Some(sweep) = observed.sweeps.iter().find(|s| &s.name_any() == name) {
            out.push_str(&pareto_table(sweep, observed));
        }
    }
    for t in traffic {
        out.push_str(&endpoint_block(t, observed));
    }
    if !verdict.problems.is_empty() {
        out.push_str("\nWhat did not succeed:\n");
        if timed_out {
            out.push_str(&format!(
                "  (the run reached --timeout {}s; raise it to wait longer)\n",
                timeout.as_secs()
            ));
        }
        for p in &verdict.problems {
            out.push_str(&format!("  {}  {}: {}\n", p.resource, p.reason, p.message));
            let name = p.resource.split('/').nth(1).unwrap_or_default();
            if let Some(log) = latest_log(session, namespace, name) {
                out.push_str(&format!("      log: {}\n", relative(&log)));
            }
        }
    }
    out.push_str(&format!(
        "\nReport: {}\n",
        relative(&session.report().join("report.html"))
    ));
    print!("{out}");
}

/// After a run with `--keep`: how to reach the session.
pub fn print_keep(session: &SessionDir, observed: &Observed) {
    let serving: Vec<String> = observed
        .deployments
        .iter()
        .filter_map(|md| {
            md.status
                .as_ref()?
                .url
                .clone()
                .map(|u| format!("{} at {u}", md.name_any()))
        })
        .collect();
    println!(
        "\nServing {} until Ctrl-C. In another shell:\n  kubectl --kubeconfig {} get tj,ts,md\n  lepton get lepton    lepton describe md NAME    lepton predict NAME --row '{{...}}'",
        if serving.is_empty() {
            "nothing".to_owned()
        } else {
            serving.join(", ")
        },
        relative(&session.kubeconfig())
    );
}

async fn kubectl_get(client: &kube::Client, namespace: &str) -> String {
    let types = match table::discover(client).await {
        Ok(types) => types,
        Err(e) => return format!("(cannot read the resources: {e})\n"),
    };
    let Ok(wanted) = table::resolve(&types, "tj,ts,md") else {
        return String::new();
    };
    let options = TableOptions {
        with_kind: true,
        ..TableOptions::default()
    };
    let mut blocks = Vec::new();
    for resource in &wanted {
        match table::fetch(client, resource, Some(namespace), None, &options).await {
            Ok(Some(text)) => blocks.push(text),
            Ok(None) => {}
            Err(e) => blocks.push(format!("({}: {e})\n", resource.plural)),
        }
    }
    format!("$ kubectl get tj,ts,md\n{}", blocks.join("\n"))
}

fn pareto_table(sweep: &TuningSweep, observed: &Observed) -> String {
    let Some(status) = &sweep.status else {
        return String::new();
    };
    if status.pareto_front.is_empty() {
        return String::new();
    }
    let metric = format::metric_name(&sweep.spec.objective.metric);
    let name = sweep.name_any();
    let deployed: Vec<(String, String)> = observed
        .deployments
        .iter()
        .filter_map(|md| {
            let source = md.status.as_ref()?.model.as_ref()?.source.clone()?;
            let trial = source
                .strip_prefix(&format!("tuningSweep/{name}/"))?
                .to_owned();
            Some((trial, md.name_any()))
        })
        .collect();
    let best = status.best_trial.as_ref().map(|b| b.name.as_str());
    let mut rows = vec![vec![
        "TRIAL".to_owned(),
        metric.to_uppercase(),
        "COST".into(),
        "LATENCY P50".into(),
        "SIZE".into(),
        "TRAINING".into(),
        "".into(),
        "PARAMETERS".into(),
    ]];
    let maximize = crate::format::maximize(&sweep.spec.objective);
    let mut front = status.pareto_front.clone();
    // A policy such as fastestWithin looks at one secondary objective only, so the deployed
    // trial may be off the front (beaten on cost); it is listed anyway, so the table says what
    // serves.
    let off_front: Vec<TrialSummary> = deployed
        .iter()
        .filter(|(trial, _)| !front.iter().any(|f| &f.name == trial))
        .filter_map(|(trial, _)| observed.jobs.iter().find(|j| &j.name_any() == trial))
        .map(summary_of)
        .collect();
    let off_names: Vec<String> = off_front.iter().map(|t| t.name.clone()).collect();
    front.extend(off_front);
    front.sort_by(|a, b| {
        let (a, b) = (
            a.objective.unwrap_or(f64::NAN),
            b.objective.unwrap_or(f64::NAN),
        );
        if maximize {
            b.total_cmp(&a)
        } else {
            a.total_cmp(&b)
        }
    });
    for trial in &front {
        let mut notes = Vec::new();
        if Some(trial.name.as_str()) == best {
            notes.push("best".to_owned());
        }
        for (t, md) in &deployed {
            if *t == trial.name {
                notes.push(format!("← deployed by md/{md}"));
            }
        }
        if off_names.contains(&trial.name) {
            notes.push("(off the front)".to_owned());
        }
        let job = observed.jobs.iter().find(|j| j.name_any() == trial.name);
        let params = crate::trials::describe(sweep, &trial.parameters, job);
        rows.push(vec![
            trial.name.clone(),
            trial.objective.map_or("-".into(), format::metric),
            trial.cost.map_or("-".into(), |c| format::money(c, None)),
            trial.latency_p50_ms.map_or("-".into(), format::millis),
            trial.model_size_bytes.map_or("-".into(), format::bytes),
            trial.training_seconds.map_or("-".into(), |s| {
                if s < 1.0 {
                    "<1s".into()
                } else {
                    format!("{s:.0}s")
                }
            }),
            notes.join(", "),
            params,
        ]);
    }
    let objectives: Vec<String> = sweep
        .spec
        .pareto_objectives
        .iter()
        .map(|o| {
            serde_json::to_value(o)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect();
    format!(
        "\nPareto front of tuningsweep/{name} ({metric} vs {}): {} of {} trials\n{}",
        objectives.join(", "),
        status.pareto_front.len(),
        status.trials.succeeded,
        format::columns(&rows)
    )
}

/// A trial's figures from its TrainingJob, as the sweep summarises them.
fn summary_of(job: &TrainingJob) -> TrialSummary {
    let status = job.status.clone().unwrap_or_default();
    let model = status.model.clone().unwrap_or_default();
    let training_seconds = match (&status.start_time, &status.completion_time) {
        (Some(start), Some(end)) => Some(end.0.duration_since(start.0).as_secs_f64()),
        _ => None,
    };
    TrialSummary {
        name: job.name_any(),
        parameters: crate::trials::parameters_of(job),
        objective: status.objective.as_ref().map(|o| o.value),
        metrics: status.metrics.clone(),
        cost: status.cost.as_ref().and_then(|c| c.total),
        latency_p50_ms: model.latency_p50_ms,
        model_size_bytes: model.size_bytes,
        training_seconds,
    }
}

fn endpoint_block(t: &Traffic, observed: &Observed) -> String {
    let md = observed
        .deployments
        .iter()
        .find(|m| m.name_any() == t.deployment);
    let mut out = format!("\nmodeldeployment/{} at {}\n", t.deployment, t.url);
    if let Some(source) = md
        .and_then(|m| m.status.as_ref())
        .and_then(|s| s.model.as_ref())
        .and_then(|m| m.source.as_deref())
    {
        let policy = md
            .and_then(|m| m.spec.model.tuning_sweep.as_ref())
            .map(|s| {
                let select = serde_json::to_value(s.select)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                match s.tolerance {
                    Some(tol) => format!(" (select: {select}, tolerance {tol})"),
                    None => format!(" (select: {select})"),
                }
            })
            .unwrap_or_default();
        out.push_str(&format!("  serves     {source}{policy}\n"));
    }
    if let Some(note) = &t.note {
        out.push_str(&format!("  note       {note}\n"));
    }
    if let (Some(row), Some(answer)) = (&t.first_row, &t.answer) {
        out.push_str(&format!("  predicted  {row} -> {answer}\n"));
    }
    if let Some(b) = &t.burst {
        out.push_str(&format!(
            "  sent       {} predictions over {} s ({:.2} s of requests, 4 at a time): {} ok, client p50 {} p99 {}\n",
            b.ok + b.failed,
            super::TRAFFIC_WAVES,
            b.elapsed.as_secs_f64(),
            b.ok,
            b.quantile(0.5).map_or("-".into(), format::millis),
            b.quantile(0.99).map_or("-".into(), format::millis),
        ));
    }
    if let Some(m) = md
        .and_then(|m| m.status.as_ref())
        .and_then(|s| s.metrics.as_ref())
    {
        let mut live = Vec::new();
        if let (Some(p50), Some(p99)) = (m.latency_p50_ms, m.latency_p99_ms) {
            live.push(format!(
                "server p50 {} p99 {}",
                format::millis(p50),
                format::millis(p99)
            ));
        }
        if let Some(rps) = m.requests_per_second {
            live.push(format!("{rps:.0} req/s"));
        }
        if let Some(drift) = m.drift_score {
            let column = m
                .most_drifted_column
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            live.push(format!("drift {drift:.3}{column}"));
        }
        if !live.is_empty() {
            out.push_str(&format!("  live       {}\n", live.join(", ")));
        }
    }
    if let Some(e) = &t.error {
        out.push_str(&format!("  error      {e}\n"));
    }
    if let Some(row) = &t.first_row {
        out.push_str(&format!(
            "  try it:\n    {}\n",
            predict::curl_line(&t.url, &t.deployment, row)
        ));
    }
    out
}

/// The newest log of a pod of `name` (pods are named after their job or deployment).
fn latest_log(session: &SessionDir, namespace: &str, name: &str) -> Option<PathBuf> {
    let dir = session.root.join("pods").join(namespace);
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(name))
        .flat_map(|e| {
            std::fs::read_dir(e.path())
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
        })
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

/// A path relative to the working directory when it lies under it.
pub fn relative(path: &std::path::Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_pareto_table_marks_the_best_and_the_deployed_trial_even_off_the_front() {
        let sweep: TuningSweep = serde_json::from_value(json!({
            "apiVersion": "lepton.ai/v1alpha1", "kind": "TuningSweep",
            "metadata": {"name": "s", "namespace": "default"},
            "spec": {
                "objective": {"metric": "auc"},
                "parameters": [{"name": "learningRate", "type": "double", "min": 0.001, "max": 0.1}],
                "maxTrials": 2,
                "template": {"spec": {"data": {"source": "file:///d.csv", "target": "y"}}},
            },
            "status": {"trials": {"succeeded": 2},
                "bestTrial": {"name": "s-t0", "objective": 0.95},
                "paretoFront": [{"name": "s-t0", "objective": 0.95, "cost": 0.002,
                    "latencyP50Ms": 0.012, "parameters": {"learningRate": "0.01"}}]},
        }))
        .unwrap();
        let job: TrainingJob = serde_json::from_value(json!({
            "apiVersion": "lepton.ai/v1alpha1", "kind": "TrainingJob",
            "metadata": {"name": "s-t1", "namespace": "default",
                "annotations": {"lepton.ai/trial-parameters": "{\"learningRate\":\"0.02\"}"}},
            "spec": {"data": {"source": "file:///d.csv", "target": "y"}},
            "status": {"phase": "Succeeded", "objective": {"metric": "auc", "value": 0.948},
                "cost": {"total": 0.003}, "model": {"latencyP50Ms": 0.011}},
        }))
        .unwrap();
        let md: ModelDeployment = serde_json::from_value(json!({
            "apiVersion": "lepton.ai/v1alpha1", "kind": "ModelDeployment",
            "metadata": {"name": "serve", "namespace": "default"},
            "spec": {"model": {"tuningSweep": {"name": "s", "select": "fastestWithin", "tolerance": 0.005}}},
            "status": {"model": {"source": "tuningSweep/s/s-t1"}},
        }))
        .unwrap();
        let observed = Observed {
            jobs: vec![job],
            sweeps: vec![sweep.clone()],
            deployments: vec![md],
        };
        let table = pareto_table(&sweep, &observed);
        assert!(
            table.contains("(auc vs cost, latency): 1 of 2 trials"),
            "{table}"
        );
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[3].starts_with("s-t0") && lines[3].contains("best"),
            "{table}"
        );
        assert!(
            lines[4].starts_with("s-t1")
                && lines[4].contains("← deployed by md/serve, (off the front)")
                && lines[4].contains("learningRate=0.02"),
            "{table}"
        );
    }
}
