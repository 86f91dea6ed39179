//! The sweep scenario of the operator scale benchmark (`operator_scale --sweep-trials N`): one
//! TuningSweep of N trials, `--parallel-trials` at a time, run by one `lepton-operator run`
//! process against the embedded API server. Every trial's pod is `lepton-runner-stub train`
//! with `LEPTON_STUB_RESULTS_FROM_SPEC=1` (set in the template's `runner.env`), so it exits at
//! once with an AUC derived from the trial's learning rate: the sweep has a best trial and a
//! Pareto front, and what is measured is the controllers' overhead.
//!
//! Each reconcile of the TuningSweep controller lists the sweep's trials from the API server,
//! so its cost grows with the trials created. The benchmark reads the controller's histogram
//! every 500 ms and splits the run into windows by trials created (quarters of N), so the
//! growth shows in one run.

use super::*;
use lepton_crds::v1alpha1::TuningSweep;

/// The algorithms the scenario can run.
pub const ALGORITHMS: &[&str] = &["random", "tpe"];
const SWEEP: &str = "scale-sweep";
const SWEEP_CONTROLLER: &str = "tuningsweep";
const POLL: Duration = Duration::from_millis(250);
const METRICS_EVERY: u32 = 2;
/// Windows of the run by trials created: quarters.
const WINDOWS: usize = 4;

/// One look at the operator during the run.
struct Snapshot {
    at: Duration,
    created: i64,
    finished: i64,
    sweep: Option<Histogram>,
    rss_kib: u64,
}

/// Runs the scenario once per algorithm, each against a fresh API server and operator, and
/// writes one result and one document with them all.
pub async fn run(options: &Options) -> Result<(), String> {
    let trials = options.sweep_trials.unwrap_or(1000);
    let mut runs = Vec::new();
    for algorithm in &options.algorithms {
        println!("sweep scenario: {trials} trials, {algorithm}");
        runs.push(run_one(options, trials, algorithm).await?);
    }
    let result = json!({
        "benchmark": "operator-sweep-scale",
        "runs": runs,
    });
    write(
        &options.out,
        &serde_json::to_string_pretty(&result).unwrap(),
    )?;
    write(&options.doc, &markdown(&result))?;
    print!("{}", table(&result));
    println!("written: {}, {}", shown(&options.out), shown(&options.doc));
    Ok(())
}

async fn run_one(options: &Options, trials: usize, algorithm: &str) -> Result<Value, String> {
    let target = profile_dir()?
        .parent()
        .map(Path::to_path_buf)
        .ok_or("no target directory")?;
    let work = target
        .join("bench")
        .join(format!("operator-sweep-{algorithm}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;

    let load_start = load_average();
    // The watch history is sized by the TrainingJobs: one per trial.
    let mut sized = options.clone();
    sized.jobs = trials;
    let stack = start(&sized, &work).await?;
    let measured = match measure(options, trials, algorithm, &stack).await {
        Ok(m) => m,
        Err(message) => {
            let tail = stack.operator.log_tail();
            let _ = stack.stop().await;
            return Err(format!(
                "{message}\n{tail}\nwork directory kept: {}",
                work.display()
            ));
        }
    };
    stack.stop().await?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(report(options, trials, algorithm, measured, load_start))
}

fn sweep_manifest(trials: usize, parallel: usize, algorithm: &str) -> Result<TuningSweep, String> {
    let source = format!(
        "file://{}",
        repo_root().join("examples/data/Default.csv").display()
    );
    serde_json::from_value(json!({
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TuningSweep",
        "metadata": {"name": SWEEP, "namespace": "default"},
        "spec": {
            "objective": {"metric": "auc"},
            "algorithm": {"type": algorithm, "seed": 7},
            "parameters": [
                {"name": "learningRate", "type": "double", "min": 0.0001, "max": 1.0,
                 "scale": "log"},
            ],
            "maxTrials": trials,
            "parallelTrials": parallel.min(trials),
            "template": {"spec": {
                "data": {"source": source, "target": "default"},
                "model": {"family": "mlp"},
                "runner": {"env": [{"name": "LEPTON_STUB_RESULTS_FROM_SPEC", "value": "1"}]},
            }},
        },
    }))
    .map_err(|e| format!("the benchmark's TuningSweep does not parse: {e}"))
}

/// What one run saw, before it is summarised.
struct Measured {
    done: Duration,
    snapshots: Vec<Snapshot>,
    reconciles_at_done: u64,
    metrics: String,
    rss_before_kib: u64,
    hwm_kib: u64,
    rss_idle_kib: u64,
    cpu: Cpu,
    sweep: TuningSweep,
    checks: Value,
}

fn finished(sweep: &TuningSweep) -> i64 {
    sweep.status.as_ref().map_or(0, |s| {
        let t = &s.trials;
        i64::from(t.succeeded + t.failed + t.early_stopped + t.stopped)
    })
}

async fn measure(
    options: &Options,
    trials: usize,
    algorithm: &str,
    stack: &Stack,
) -> Result<Measured, String> {
    let pid = stack.operator.pid();
    let rss_before_kib = proc_status_kib(pid, "VmRSS")?;
    let api: Api<TuningSweep> = Api::namespaced(stack.client.clone(), "default");
    let sweep = sweep_manifest(trials, options.parallel_trials, algorithm)?;
    let cpu_start = Cpu::now(pid)?;
    let started = Instant::now();
    api.create(&PostParams::default(), &sweep)
        .await
        .map_err(|e| format!("creating the TuningSweep: {e}"))?;
    println!(
        "created TuningSweep {SWEEP}: {trials} trials, {} at a time, {algorithm}; the operator \
         is pid {pid}",
        options.parallel_trials.min(trials)
    );

    let mut snapshots = vec![Snapshot {
        at: Duration::ZERO,
        created: 0,
        finished: 0,
        sweep: None,
        rss_kib: rss_before_kib,
    }];
    let mut tick = tokio::time::interval(POLL);
    let mut ticks = 0u32;
    let mut last_report = Instant::now();
    loop {
        tick.tick().await;
        ticks += 1;
        if started.elapsed() > DEADLINE {
            return Err(format!(
                "the sweep did not finish within {} s: {}",
                DEADLINE.as_secs(),
                snapshots
                    .last()
                    .map(|s| format!("{} created, {} finished", s.created, s.finished))
                    .unwrap_or_default()
            ));
        }
        let current = api
            .get(SWEEP)
            .await
            .map_err(|e| format!("reading the TuningSweep: {e}"))?;
        let phase = current.status.as_ref().and_then(|s| s.phase);
        let done = matches!(
            phase,
            Some(
                lepton_crds::v1alpha1::TuningSweepPhase::Succeeded
                    | lepton_crds::v1alpha1::TuningSweepPhase::Failed
            )
        );
        if done || ticks.is_multiple_of(METRICS_EVERY) {
            let metrics = fetch_metrics(&stack.metrics_url).await?;
            snapshots.push(Snapshot {
                at: started.elapsed(),
                created: current
                    .status
                    .as_ref()
                    .map_or(0, |s| i64::from(s.trials.created)),
                finished: finished(&current),
                sweep: histogram(&metrics, HISTOGRAM, SWEEP_CONTROLLER).ok(),
                rss_kib: proc_status_kib(pid, "VmRSS").unwrap_or_default(),
            });
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            if let Some(s) = snapshots.last() {
                println!(
                    "  {:>5.0} s: {} trials created, {} finished, operator RSS {} MiB",
                    started.elapsed().as_secs_f64(),
                    s.created,
                    s.finished,
                    mib(s.rss_kib)
                );
            }
        }
        if done {
            break;
        }
    }
    let done = started.elapsed();
    let cpu = Cpu::now(pid)?.since(cpu_start);
    let reconciles_at_done = counter(&fetch_metrics(&stack.metrics_url).await?, SWEEP_CONTROLLER);

    tokio::time::sleep(IDLE_WAIT).await;
    let rss_idle_kib = proc_status_kib(pid, "VmRSS")?;
    let hwm_kib = proc_status_kib(pid, "VmHWM")?;
    let metrics = fetch_metrics(&stack.metrics_url).await?;
    // The object after the idle wait: any last status write has landed.
    let sweep = api
        .get(SWEEP)
        .await
        .map_err(|e| format!("reading the TuningSweep: {e}"))?;
    let checks = verify(stack, &sweep, trials).await?;
    Ok(Measured {
        done,
        snapshots,
        reconciles_at_done,
        metrics,
        rss_before_kib,
        hwm_kib,
        rss_idle_kib,
        cpu,
        sweep,
        checks,
    })
}

/// The end state the run must reach; the error names what differs.
async fn verify(stack: &Stack, sweep: &TuningSweep, trials: usize) -> Result<Value, String> {
    let status = sweep.status.clone().unwrap_or_default();
    let phase = status.phase.map(|p| format!("{p:?}")).unwrap_or_default();
    let reason = status
        .finish_reason
        .as_ref()
        .and_then(|r| serde_json::to_value(r).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let jobs: Api<TrainingJob> = Api::namespaced(stack.client.clone(), "default");
    let listed = jobs
        .list(&kube::api::ListParams::default().labels(&format!("lepton.ai/tuning-sweep={SWEEP}")))
        .await
        .map_err(|e| format!("listing the trials: {e}"))?
        .items;
    let indices: std::collections::BTreeSet<i64> = listed
        .iter()
        .filter_map(|tj| {
            tj.metadata
                .labels
                .as_ref()?
                .get("lepton.ai/trial-index")?
                .parse()
                .ok()
        })
        .collect();
    let succeeded_jobs = listed
        .iter()
        .filter(|tj| {
            tj.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Succeeded" && c.status == "True")
            })
        })
        .count();
    let expected: std::collections::BTreeSet<i64> = (0..trials as i64).collect();
    let mut problems = Vec::new();
    if phase != "Succeeded" {
        problems.push(format!("phase {phase}, not Succeeded"));
    }
    if reason != "MaxTrialsReached" {
        problems.push(format!("finish reason `{reason}`, not MaxTrialsReached"));
    }
    if status.trials.created as usize != trials {
        problems.push(format!(
            "status.trials.created {}, not {trials}",
            status.trials.created
        ));
    }
    if listed.len() != trials {
        problems.push(format!("{} trial TrainingJobs, not {trials}", listed.len()));
    }
    if indices != expected {
        problems.push(format!(
            "{} distinct trial indices, not exactly 0..{}",
            indices.len(),
            trials - 1
        ));
    }
    if status.best_trial.is_none() {
        problems.push("no best trial".to_owned());
    }
    if !problems.is_empty() {
        return Err(format!(
            "the sweep's end state is wrong: {}",
            problems.join("; ")
        ));
    }
    Ok(json!({
        "phase": phase,
        "finish_reason": reason,
        "status_trials_created": status.trials.created,
        "status_trials_succeeded": status.trials.succeeded,
        "status_trials_failed": status.trials.failed,
        "trial_trainingjobs": listed.len(),
        "distinct_trial_indices": indices.len(),
        "indices_are_0_to_n_minus_1": true,
        "trainingjobs_succeeded": succeeded_jobs,
    }))
}

/// A histogram's observations between two snapshots of it.
fn delta(later: &Histogram, earlier: Option<&Histogram>) -> Histogram {
    let Some(earlier) = earlier else {
        return Histogram {
            buckets: later.buckets.clone(),
            count: later.count,
            sum: later.sum,
        };
    };
    Histogram {
        buckets: later
            .buckets
            .iter()
            .zip(&earlier.buckets)
            .map(|(&(bound, a), &(_, b))| (bound, a - b))
            .collect(),
        count: later.count - earlier.count,
        sum: later.sum - earlier.sum,
    }
}

/// The sweep controller's reconciles in each window of trials created.
fn windows(snapshots: &[Snapshot], trials: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut from = &snapshots[0];
    for w in 1..=WINDOWS {
        let bound = (trials * w).div_ceil(WINDOWS) as i64;
        // The first look at which `bound` trials had been created; the last window runs to
        // the end, through the trials' completion.
        let to = if w == WINDOWS {
            snapshots.last()
        } else {
            snapshots.iter().find(|s| s.created >= bound)
        };
        let Some(to) = to else { break };
        if std::ptr::eq(to, from) {
            continue;
        }
        let Some(later) = to.sweep.as_ref() else {
            continue;
        };
        let h = delta(later, from.sweep.as_ref());
        out.push(json!({
            "trials_created_from": from.created,
            "trials_created_to": to.created,
            "trials_finished_to": to.finished,
            "from_s": round(from.at.as_secs_f64(), 2),
            "to_s": round(to.at.as_secs_f64(), 2),
            "reconciles_per_second": round(
                h.count / (to.at - from.at).as_secs_f64().max(1e-9), 1),
            "reconcile": durations(&h),
        }));
        from = to;
    }
    out
}

fn controller_figures(metrics: &str, controller: &str) -> Value {
    let (errors_total, errors) = reconcile_errors(metrics, controller);
    json!({
        "controller": controller,
        "duration": histogram(metrics, HISTOGRAM, controller)
            .map_or_else(|e| json!({"error": e}), |h| durations(&h)),
        "reconciles_total": counter(metrics, controller),
        "errors_total": errors_total,
        "errors_by_category": errors,
    })
}

fn report(
    options: &Options,
    trials: usize,
    algorithm: &str,
    m: Measured,
    load_start: String,
) -> Value {
    let seconds = m.done.as_secs_f64();
    let status = m.sweep.status.clone().unwrap_or_default();
    let status_bytes = serde_json::to_vec(&status).map_or(0, |v| v.len());
    let object_bytes = serde_json::to_vec(&m.sweep).map_or(0, |v| v.len());
    let best = status.best_trial.as_ref();
    let peak_sampled = m.snapshots.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let mut sweep = controller_figures(&m.metrics, SWEEP_CONTROLLER);
    sweep["reconciles_until_succeeded"] = json!(m.reconciles_at_done);
    sweep["per_trial"] = json!(round(m.reconciles_at_done as f64 / trials as f64, 2));
    sweep["per_second"] = json!(round(m.reconciles_at_done as f64 / seconds, 1));
    sweep["by_trials_created"] = json!(windows(&m.snapshots, trials));
    let mut result = provenance(load_start);
    result.extend(
        match json!({
            "setup": {
                "algorithm": algorithm,
                "max_trials": trials,
                "parallel_trials": options.parallel_trials.min(trials),
                "parameters": "learningRate, double, 1e-4 to 1, log scale",
                "operator_concurrency": CONCURRENCY,
                "pods": "lepton-runner-stub train with LEPTON_STUB_RESULTS_FROM_SPEC=1: exits at \
                         once with an AUC that peaks at learningRate 0.01",
            },
            "completion": {
                "create_to_succeeded_s": round(seconds, 3),
                "trials_per_second": round(trials as f64 / seconds, 2),
            },
            "sweep_controller": sweep,
            "trainingjob_controller": controller_figures(&m.metrics, CONTROLLER),
            "status": {
                "status_json_bytes": status_bytes,
                "object_json_bytes": object_bytes,
                "pareto_front_trials": status.pareto_front.len(),
                "best_trial": best.map(|b| b.name.clone()),
                "best_objective": best.and_then(|b| b.objective).map(|v| round(v, 5)),
                "best_learning_rate": best
                    .and_then(|b| serde_json::to_value(&b.parameters).ok())
                    .and_then(|p| p.get("learningRate").cloned()),
            },
            "checks": m.checks,
            "memory": {
                "rss_before_sweep_mib": mib(m.rss_before_kib),
                "rss_peak_sampled_mib": mib(peak_sampled),
                "vm_hwm_mib": mib(m.hwm_kib),
                "rss_idle_mib": mib(m.rss_idle_kib),
                "idle_after_s": IDLE_WAIT.as_secs(),
            },
            "cpu": {
                "window_s": round(seconds, 2),
                "machine_capacity_s": round(seconds * nproc() as f64, 2),
                "machine_busy_s": round(m.cpu.machine, 2),
                "operator_s": round(m.cpu.operator, 2),
                "benchmark_process_s": round(m.cpu.bench, 2),
            },
        }) {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        },
    );
    Value::Object(result)
}

/// The figures shown for each run, as (label, template): `{a.b}` is the run's field `a.b`.
const ROWS: &[(&str, &str)] = &[
    ("algorithm", "{setup.algorithm}"),
    (
        "maxTrials / parallelTrials",
        "{setup.max_trials} / {setup.parallel_trials}",
    ),
    (
        "create to Succeeded",
        "{completion.create_to_succeeded_s} s",
    ),
    ("trials per second", "{completion.trials_per_second}"),
    (
        "sweep reconciles until Succeeded",
        "{sweep_controller.reconciles_until_succeeded} ({sweep_controller.per_trial} per \
         trial, {sweep_controller.per_second} /s)",
    ),
    (
        "sweep reconcile p50 / p90 / p99",
        "{sweep_controller.duration.p50_ms} / {sweep_controller.duration.p90_ms} / \
         {sweep_controller.duration.p99_ms} ms",
    ),
    (
        "sweep reconcile p99 bucket",
        "{sweep_controller.duration.p99_bucket_ms.0} to \
         {sweep_controller.duration.p99_bucket_ms.1} ms",
    ),
    (
        "sweep reconcile mean",
        "{sweep_controller.duration.mean_ms} ms",
    ),
    ("sweep reconcile errors", "{sweep_controller.errors_total}"),
    (
        "TrainingJob reconciles",
        "{trainingjob_controller.reconciles_total}",
    ),
    (
        "TrainingJob reconcile p50 / p90 / p99",
        "{trainingjob_controller.duration.p50_ms} / {trainingjob_controller.duration.p90_ms} / \
         {trainingjob_controller.duration.p99_ms} ms",
    ),
    (
        "TrainingJob reconcile errors",
        "{trainingjob_controller.errors_total}",
    ),
    (
        "sweep status, JSON",
        "{status.status_json_bytes} bytes (whole object {status.object_json_bytes})",
    ),
    (
        "best trial",
        "{status.best_trial}: AUC {status.best_objective} at learningRate \
         {status.best_learning_rate}",
    ),
    ("Pareto front", "{status.pareto_front_trials} trials"),
    (
        "end state",
        "{checks.phase}, {checks.finish_reason}; trials.created {checks.status_trials_created}; \
         {checks.trial_trainingjobs} TrainingJobs, {checks.distinct_trial_indices} distinct \
         indices",
    ),
    (
        "operator RSS before / peak (VmHWM) / idle",
        "{memory.rss_before_sweep_mib} / {memory.vm_hwm_mib} / {memory.rss_idle_mib} MiB",
    ),
    (
        "CPU: operator / API server, executor and pods",
        "{cpu.operator_s} s / {cpu.benchmark_process_s} s of {cpu.machine_capacity_s} s",
    ),
];

fn runs(r: &Value) -> Vec<&Value> {
    r["runs"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn window_rows(run: &Value) -> Vec<String> {
    run["sweep_controller"]["by_trials_created"]
        .as_array()
        .map(|windows| {
            windows
                .iter()
                .map(|w| {
                    fill(
                        w,
                        "| {trials_created_from} to {trials_created_to} | {from_s} to {to_s} s | \
                         {reconcile.count} ({reconciles_per_second} /s) | {reconcile.p50_ms} / \
                         {reconcile.p90_ms} / {reconcile.p99_ms} ms | {reconcile.mean_ms} ms |",
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn table(r: &Value) -> String {
    let runs = runs(r);
    let width = ROWS.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for run in runs {
        let _ = writeln!(
            out,
            "\nsweep scale, {} build, {} cores, load {} -> {}",
            run["profile"].as_str().unwrap_or(""),
            run["machine"]["nproc"],
            run["machine"]["load_average_start"].as_str().unwrap_or(""),
            run["machine"]["load_average_end"].as_str().unwrap_or(""),
        );
        for (label, template) in ROWS {
            let _ = writeln!(out, "  {label:<width$}  {}", fill(run, template));
        }
        out.push_str("  sweep reconciles by trials created:\n");
        for row in window_rows(run) {
            let _ = writeln!(out, "    {row}");
        }
    }
    out
}

fn markdown(r: &Value) -> String {
    let runs = runs(r);
    let Some(first) = runs.first() else {
        return String::new();
    };
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let commit = text(&first["git_commit"]);
    let commit = &commit[..commit.len().min(12)];
    let changed: Vec<&str> = first["git_uncommitted_changes"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let dirty = if changed.is_empty() {
        String::new()
    } else {
        format!(" with uncommitted changes to {}", changed.join(", "))
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "# TuningSweep scale benchmark

Written by `make bench-sweep-scale` (operator/examples/operator_scale.rs with
`--sweep-trials`) on {date}; do not edit by hand. Raw figures in
bench/results/operator-sweep-scale.json.

One `lepton-operator run` process ({profile} build, `--concurrency {concurrency}`, no leader
election; commit {commit}{dirty}) runs one TuningSweep against the embedded API server
(lepton-embedded-cluster): {trials} trials, {parallel} at a time, over `learningRate` (1e-4 to
1, log scale). Its local executor runs every trial's pod as `lepton-runner-stub train` with
`LEPTON_STUB_RESULTS_FROM_SPEC=1` (set in the template's `runner.env`): the stub exits at once
and writes the runner's results JSON as its termination message, with an AUC that is a smooth
function of the learning rate (0.95 at 0.01) and a latency that falls as the rate grows, so
the sweep has a best trial and a Pareto front. The API server, the executor, the pods and the
operator share one machine: {cpu}, {nproc} cores, load average (1, 5, 15 min) {load_start}
before the first run.

| figure | {heads} |
|---|{dashes}
",
        date = text(&first["date"]),
        profile = text(&first["profile"]),
        concurrency = first["setup"]["operator_concurrency"],
        trials = first["setup"]["max_trials"],
        parallel = first["setup"]["parallel_trials"],
        cpu = text(&first["machine"]["cpu_model"]),
        nproc = first["machine"]["nproc"],
        load_start = text(&first["machine"]["load_average_start"]),
        heads = runs
            .iter()
            .map(|r| text(&r["setup"]["algorithm"]))
            .collect::<Vec<_>>()
            .join(" | "),
        dashes = "---|".repeat(runs.len()),
    );
    for (label, template) in ROWS.iter().skip(1) {
        let cells: Vec<String> = runs.iter().map(|r| fill(r, template)).collect();
        let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
    }
    for run in &runs {
        let _ = write!(
            out,
            "
## Sweep reconciles by trials created: {algorithm}

Each row is the TuningSweep controller's reconciles while the trials created went from the
first figure to the second (read from the operator's histogram every 500 ms); the last row
runs on until the sweep is Succeeded. Every reconcile lists all the trials created so far.

| trials created | time | reconciles | p50 / p90 / p99 | mean |
|---|---|---|---|---|
",
            algorithm = text(&run["setup"]["algorithm"]),
        );
        for row in window_rows(run) {
            let _ = writeln!(out, "{row}");
        }
    }
    out.push_str(
        "
## How to read it

- **Create to Succeeded** runs from the create request of the TuningSweep to the first look
  (every 250 ms) that finds it `Succeeded`. Trials per second is maxTrials over that time.
- **Sweep reconciles** come from the operator's histogram
  `lepton_operator_reconcile_duration_seconds{controller=\"tuningsweep\"}`. One reconcile lists
  the sweep's trials from the API server, decides, creates the trials for the free slots and
  writes the status when it changed. The buckets grow by 1.5x from 0.5 ms, so a percentile is
  a linear interpolation inside its bucket and the true value lies anywhere between the
  bucket's bounds.
- **Reconciles coalesce.** Trials that finish while a reconcile runs queue one more reconcile
  of the sweep, not one each, so there are fewer reconciles than trials, and each one creates
  the trials for every slot freed since the last.
- **By trials created** splits the same histogram at the looks where a quarter, a half and
  three quarters of the trials had been created: the growth of the reconcile time with the
  trials a reconcile lists.
- **Sweep status** is the JSON of `status` (and of the whole object) after the sweep
  finished: counts, the best trial and the Pareto front (at most 32 trials), whatever the
  number of trials.
- **End state** is checked before anything is written: the sweep is `Succeeded` with
  `MaxTrialsReached`, `status.trials.created` is maxTrials, and the trial TrainingJobs are
  exactly maxTrials with the indices 0 to maxTrials - 1 once each. A run that fails a check
  writes nothing.
- **Memory** is the operator's `VmRSS` before the sweep and 5 s after it finished, and
  `VmHWM`, its peak. The TrainingJob controller caches every TrainingJob, so it grows with the
  trials kept.

## What is not measured

- A real API server, kubelets, scheduling, training and the network, as in
  [operator.md](operator.md): the pods exit at once, so the figures are the controllers'
  overhead, and the API server's work of listing the trials is on the same cores.
- Early stopping, ASHA, Hyperband and budgets: every trial runs to completion.
- Several sweeps at once.

## Run it

```
make bench-sweep-scale     # release build, 1,000 trials, 50 at a time, random
target/release/examples/operator_scale --sweep-trials 250 --parallel-trials 50 \\
    --algorithms random,tpe --out target/bench/sweep-250.json --doc target/bench/sweep-250.md
```
",
    );
    out
}
