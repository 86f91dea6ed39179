//! Operator scale benchmark (`make bench-operator`): one `lepton-operator run` process
//! reconciles N TrainingJobs (default 1,000) against the embedded API server, whose local
//! executor runs every training pod as `lepton-runner-stub train`, which exits 0 at once.
//!
//! It measures the reconcile duration (the operator's own histogram, read from `/metrics`), the
//! reconcile errors and rate, the operator's resident memory (sampled from `/proc`) and the time
//! until every TrainingJob is Succeeded, then writes `bench/results/operator-scale.json` and
//! `docs/benchmarks/operator.md`. The API server, the executor and its pods run in this process
//! and its children, on the same machine as the operator: the figures are the operator's
//! overhead next to an in-memory API server, not a real cluster's.
//!
//! With `--sweep-trials N` it runs the sweep scenario instead (see `operator_scale/sweep.rs`):
//! one TuningSweep of N trials, run by the same operator, whose trials' pods report results
//! derived from their learning rate (`lepton-runner-stub train --results-from-spec`). It
//! writes `bench/results/operator-sweep-scale.json` and `docs/benchmarks/sweep-scale.md`.
//!
//! ```text
//! operator_scale [--jobs N] [--in-flight N] [--out FILE] [--doc FILE]
//!                [--operator PATH] [--runner PATH]
//! operator_scale --sweep-trials N [--parallel-trials N] [--algorithms random,tpe]
//!                [--out FILE] [--doc FILE] [--operator PATH] [--runner PATH]
//! ```

#[path = "operator_scale/sweep.rs"]
mod sweep;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use kube::api::{Api, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use lepton_crds::v1alpha1::TrainingJob;
use lepton_embedded_cluster::EmbeddedCluster;
use lepton_embedded_cluster::executor::{ExecutorConfig, LocalExecutor};
use serde_json::{Value, json};

const USAGE: &str = "usage: operator_scale [--jobs N] [--in-flight N] [--out FILE] [--doc FILE] \
                     [--operator PATH] [--runner PATH]\n       \
                     operator_scale --sweep-trials N [--parallel-trials N] \
                     [--algorithms random,tpe] [--out FILE] [--doc FILE] [--operator PATH] \
                     [--runner PATH]";
/// The operator's reconciles of one kind at once (its default).
const CONCURRENCY: u16 = 16;
/// How long every TrainingJob gets to succeed before the run fails.
const DEADLINE: Duration = Duration::from_secs(15 * 60);
const RSS_PERIOD: Duration = Duration::from_millis(200);
/// The wait after the last Succeeded before the idle memory is read: the operator's requeues
/// and the executor's last status writes settle by then.
const IDLE_WAIT: Duration = Duration::from_secs(5);
const HISTOGRAM: &str = "lepton_operator_reconcile_duration_seconds";
const CONTROLLER: &str = "trainingjob";

#[derive(Clone)]
struct Options {
    jobs: usize,
    in_flight: usize,
    /// The sweep scenario: its trials (`None`: the TrainingJob scenario).
    sweep_trials: Option<usize>,
    parallel_trials: usize,
    algorithms: Vec<String>,
    out: PathBuf,
    doc: PathBuf,
    operator: PathBuf,
    runner: PathBuf,
}

/// The repository root, where the default output paths and the example data are.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the operator crate is inside the repository")
        .to_path_buf()
}

/// `target/<profile>`, the directory above this example's `examples/`.
fn profile_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{} is not in target/<profile>/examples", exe.display()))
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let root = repo_root();
    let profile = profile_dir()?;
    let mut options = Options {
        jobs: 1000,
        in_flight: 16,
        sweep_trials: None,
        parallel_trials: 50,
        algorithms: vec!["random".to_owned()],
        out: root.join("bench/results/operator-scale.json"),
        doc: root.join("docs/benchmarks/operator.md"),
        operator: profile.join("lepton-operator"),
        runner: profile.join("lepton-runner-stub"),
    };
    let (mut out_given, mut doc_given) = (false, false);
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let count = || {
            value
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{flag} takes a positive number, not `{value}`"))
        };
        match flag.as_str() {
            "--jobs" => options.jobs = count()?,
            "--in-flight" => options.in_flight = count()?,
            "--sweep-trials" => options.sweep_trials = Some(count()?),
            "--parallel-trials" => options.parallel_trials = count()?,
            "--algorithms" => {
                options.algorithms = value.split(',').map(str::to_owned).collect();
                if let Some(bad) = options
                    .algorithms
                    .iter()
                    .find(|a| !sweep::ALGORITHMS.contains(&a.as_str()))
                {
                    return Err(format!(
                        "--algorithms takes a comma-separated list of {}, not `{bad}`",
                        sweep::ALGORITHMS.join(", ")
                    ));
                }
            }
            "--out" => {
                options.out = PathBuf::from(value);
                out_given = true;
            }
            "--doc" => {
                options.doc = PathBuf::from(value);
                doc_given = true;
            }
            "--operator" => options.operator = PathBuf::from(value),
            "--runner" => options.runner = PathBuf::from(value),
            other => return Err(format!("unknown option `{other}`\n{USAGE}")),
        }
    }
    if options.sweep_trials.is_some() {
        if !out_given {
            options.out = root.join("bench/results/operator-sweep-scale.json");
        }
        if !doc_given {
            options.doc = root.join("docs/benchmarks/sweep-scale.md");
        }
    }
    for (what, path) in [("operator", &options.operator), ("runner", &options.runner)] {
        if !path.is_file() {
            return Err(format!(
                "the {what} binary {} is missing: build it first (`make bench-operator` does), \
                 or pass --{what} PATH",
                path.display()
            ));
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match parse_options(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("operator_scale: {message}");
            return ExitCode::from(2);
        }
    };
    let outcome = if options.sweep_trials.is_some() {
        sweep::run(&options).await
    } else {
        run(&options).await
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("operator_scale: FAILED: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The operator process. Dropping it stops it, so that no early return leaves it running.
struct OperatorProcess {
    child: Child,
    log: PathBuf,
}

impl OperatorProcess {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to 30 s for a clean exit; the error says how it ended.
    async fn stop(&mut self) -> Result<(), String> {
        if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("the operator had already exited ({status})"));
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("the operator exited with {status} after SIGTERM"))
                };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err("the operator did not stop within 30 s of SIGTERM (killed)".to_owned())
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("operator log {} (last lines):\n{tail}", self.log.display())
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The API server, the executor and the operator.
struct Stack {
    cluster: EmbeddedCluster,
    executor: LocalExecutor,
    operator: OperatorProcess,
    client: kube::Client,
    metrics_url: String,
}

impl Stack {
    /// Stops the operator (SIGTERM), then the executor's processes and the API server; the
    /// error says how the operator ended, with the end of its log.
    async fn stop(mut self) -> Result<(), String> {
        let stopped = self.operator.stop().await;
        let tail = self.operator.log_tail();
        self.executor.shutdown().await;
        let _ = self.cluster.shutdown().await;
        stopped.map_err(|e| format!("{e}\n{tail}"))
    }
}

async fn run(options: &Options) -> Result<(), String> {
    let target = profile_dir()?
        .parent()
        .map(Path::to_path_buf)
        .ok_or("no target directory")?;
    let work = target
        .join("bench")
        .join(format!("operator-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;

    let load_start = load_average();
    let stack = start(options, &work).await?;
    let measured = match measure(options, &stack).await {
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

    let result = report(options, measured, load_start);
    write(
        &options.out,
        &serde_json::to_string_pretty(&result).unwrap(),
    )?;
    write(&options.doc, &markdown(&result))?;
    print!("{}", table(&result));
    println!("written: {}, {}", shown(&options.out), shown(&options.doc));
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, format!("{}\n", text.trim_end()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A path relative to the repository when it is inside it.
fn shown(path: &Path) -> String {
    let root = repo_root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

async fn start(options: &Options, work: &Path) -> Result<Stack, String> {
    // The default history (10,000 events per kind) holds fewer than 1,000 jobs' worth of status
    // writes; a watch resumed from an older version would get 410 and relist, which is not
    // what is being measured.
    let cluster = EmbeddedCluster::builder()
        .history_limit(200 * options.jobs.max(1000))
        .start()
        .await
        .map_err(|e| format!("the embedded cluster did not start: {e}"))?;
    let kubeconfig = work.join("kubeconfig");
    cluster
        .write_kubeconfig(&kubeconfig)
        .map_err(|e| format!("cannot write the kubeconfig: {e}"))?;
    let client = cluster
        .client()
        .await
        .map_err(|e| format!("no client for the embedded cluster: {e}"))?;

    let mut executor = ExecutorConfig::new(&options.runner);
    executor.work_dir = work.join("local");
    executor.pod_kubeconfig = Some(kubeconfig.clone());
    executor.job_backoff = Duration::from_millis(200);
    let executor = LocalExecutor::start(client.clone(), executor);

    let config = work.join("operator-config.yaml");
    write(
        &config,
        &format!(
            "currency: USD\ndefaultNodePool: cpu\nnodePools:\n  - name: cpu\n    \
             pricePerNodeHour: 0.5\nartifactStore: file://{}/artifacts\n",
            work.display()
        ),
    )?;
    let port = free_port()?;
    let log = work.join("operator.log");
    let stderr = File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let stdout = stderr.try_clone().map_err(|e| e.to_string())?;
    let child = Command::new(&options.operator)
        .arg("run")
        .arg("--config")
        .arg(&config)
        .args(["--leader-elect", "false"])
        .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
        .args(["--log-format", "text"])
        .args(["--concurrency", &CONCURRENCY.to_string()])
        .env("KUBECONFIG", &kubeconfig)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", options.operator.display()))?;
    let mut operator = OperatorProcess { child, log };
    let metrics_url = format!("http://127.0.0.1:{port}");
    if let Err(message) = wait_ready(&mut operator, &metrics_url).await {
        let tail = operator.log_tail();
        drop(operator);
        executor.shutdown().await;
        let _ = cluster.shutdown().await;
        return Err(format!("{message}\n{tail}"));
    }
    Ok(Stack {
        cluster,
        executor,
        operator,
        client,
        metrics_url,
    })
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

async fn wait_ready(operator: &mut OperatorProcess, url: &str) -> Result<(), String> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = operator.child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("the operator exited during startup ({status})"));
        }
        if let Ok(response) = http.get(format!("{url}/readyz")).send().await
            && response.status() == 200
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("the operator's /readyz did not answer 200 within 30 s".to_owned())
}

/// What one run saw, before it is summarised.
struct Measured {
    created_in: Duration,
    create_latencies: Vec<Duration>,
    all_succeeded: Duration,
    job_latencies: Vec<Duration>,
    reconciles_at_done: u64,
    metrics: String,
    rss_before_kib: u64,
    rss_samples_kib: Vec<u64>,
    hwm_kib: u64,
    rss_idle_kib: u64,
    window: Duration,
    cpu: Cpu,
}

async fn measure(options: &Options, stack: &Stack) -> Result<Measured, String> {
    let pid = stack.operator.pid();
    let rss_before_kib = proc_status_kib(pid, "VmRSS")?;
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = tokio::spawn({
        let samples = samples.clone();
        async move {
            let mut tick = tokio::time::interval(RSS_PERIOD);
            loop {
                tick.tick().await;
                if let Ok(kib) = proc_status_kib(pid, "VmRSS") {
                    samples.lock().unwrap_or_else(|e| e.into_inner()).push(kib);
                }
            }
        }
    });
    let cpu_start = Cpu::now(pid)?;
    let window_start = Instant::now();
    let outcome = drive(options, stack).await;
    let cpu = Cpu::now(pid)?.since(cpu_start);
    let window = window_start.elapsed();
    sampler.abort();
    let (created_in, create_latencies, all_succeeded, job_latencies) = outcome?;
    let reconciles_at_done = counter(&fetch_metrics(&stack.metrics_url).await?, CONTROLLER);

    tokio::time::sleep(IDLE_WAIT).await;
    let rss_idle_kib = proc_status_kib(pid, "VmRSS")?;
    let hwm_kib = proc_status_kib(pid, "VmHWM")?;
    let metrics = fetch_metrics(&stack.metrics_url).await?;
    let rss_samples_kib = std::mem::take(&mut *samples.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(Measured {
        created_in,
        create_latencies,
        all_succeeded,
        job_latencies,
        reconciles_at_done,
        metrics,
        rss_before_kib,
        rss_samples_kib,
        hwm_kib,
        rss_idle_kib,
        window,
        cpu,
    })
}

fn training_job(name: &str, source: &str) -> Result<TrainingJob, String> {
    serde_json::from_value(json!({
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"data": {"source": source, "target": "default"}},
    }))
    .map_err(|e| format!("the benchmark's TrainingJob does not parse: {e}"))
}

/// Where each TrainingJob stands, as the benchmark's own watch sees it.
#[derive(Default)]
struct Progress {
    phases: HashMap<String, String>,
    succeeded_at: HashMap<String, Instant>,
}

impl Progress {
    /// Records `tj`; the error is the first TrainingJob to fail, which can never succeed.
    fn see(&mut self, tj: &TrainingJob) -> Result<(), String> {
        let name = tj.metadata.name.clone().unwrap_or_default();
        let status = tj.status.as_ref();
        let phase = status
            .and_then(|s| s.phase)
            .map_or_else(|| "(none)".to_owned(), |p| format!("{p:?}"));
        let condition = |type_: &str| {
            status.and_then(|s| {
                s.conditions
                    .iter()
                    .find(|c| c.type_ == type_ && c.status == "True")
            })
        };
        if let Some(failed) = condition("Failed") {
            return Err(format!(
                "TrainingJob {name} failed: {}: {}",
                failed.reason, failed.message
            ));
        }
        if condition("Succeeded").is_some() {
            self.succeeded_at
                .entry(name.clone())
                .or_insert_with(Instant::now);
        }
        self.phases.insert(name, phase);
        Ok(())
    }

    fn summary(&self, jobs: usize) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for phase in self.phases.values() {
            *counts.entry(phase.as_str()).or_default() += 1;
        }
        let mut text: Vec<String> = counts.iter().map(|(p, n)| format!("{p} {n}")).collect();
        if self.phases.len() < jobs {
            text.push(format!("not seen {}", jobs - self.phases.len()));
        }
        text.join(", ")
    }
}

type Timings = (Duration, Vec<Duration>, Duration, Vec<Duration>);

/// Creates the TrainingJobs and waits until all have succeeded.
async fn drive(options: &Options, stack: &Stack) -> Result<Timings, String> {
    let api: Api<TrainingJob> = Api::namespaced(stack.client.clone(), "default");
    // Watching before the first create, so that no Succeeded goes unseen.
    let mut events = watcher::watcher(api.clone(), watcher::Config::default())
        .default_backoff()
        .boxed();
    let source = format!(
        "file://{}",
        repo_root().join("examples/data/Default.csv").display()
    );
    let names: Vec<String> = (0..options.jobs).map(|i| format!("scale-{i:05}")).collect();
    let jobs = names
        .iter()
        .map(|n| training_job(n, &source))
        .collect::<Result<Vec<_>, _>>()?;

    println!(
        "creating {} TrainingJobs, {} at a time; the operator is pid {}",
        options.jobs,
        options.in_flight,
        stack.operator.pid()
    );
    let started = Instant::now();
    let in_flight = options.in_flight;
    let mut creating = Some(tokio::spawn({
        let api = api.clone();
        async move {
            let created: Vec<(Instant, Duration)> = stream::iter(jobs)
                .map(|tj| {
                    let api = api.clone();
                    async move {
                        let sent = Instant::now();
                        api.create(&PostParams::default(), &tj)
                            .await
                            .map(|_| (sent, sent.elapsed()))
                            .map_err(|e| {
                                format!("creating {}: {e}", tj.metadata.name.unwrap_or_default())
                            })
                    }
                })
                .buffered(in_flight)
                .try_collect()
                .await?;
            Ok::<_, String>((started.elapsed(), created))
        }
    }));
    let mut created = None;

    let mut progress = Progress::default();
    let mut last_report = Instant::now();
    while progress.succeeded_at.len() < options.jobs || created.is_none() {
        if creating.as_ref().is_some_and(|task| task.is_finished())
            && let Some(task) = creating.take()
        {
            created = Some(
                task.await
                    .map_err(|e| format!("the creating task failed: {e}"))??,
            );
            continue;
        }
        if started.elapsed() > DEADLINE {
            return Err(format!(
                "not every TrainingJob succeeded within {} s: {} of {} Succeeded; phases: {}",
                DEADLINE.as_secs(),
                progress.succeeded_at.len(),
                options.jobs,
                progress.summary(options.jobs)
            ));
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            println!(
                "  {:>5.0} s: {} Succeeded; phases: {}",
                started.elapsed().as_secs_f64(),
                progress.succeeded_at.len(),
                progress.summary(options.jobs)
            );
        }
        let wait = if progress.succeeded_at.len() < options.jobs {
            Duration::from_secs(1)
        } else {
            // Every job is done; only the creating task's result is awaited.
            Duration::from_millis(10)
        };
        match tokio::time::timeout(wait, events.next()).await {
            Err(_) => {}
            Ok(None) => return Err("the benchmark's watch of TrainingJobs ended".to_owned()),
            Ok(Some(Err(error))) => eprintln!("  watch error (retrying): {error}"),
            Ok(Some(Ok(Event::Apply(tj) | Event::InitApply(tj)))) => progress.see(&tj)?,
            Ok(Some(Ok(Event::Delete(tj)))) => {
                return Err(format!(
                    "TrainingJob {} was deleted during the run",
                    tj.metadata.name.unwrap_or_default()
                ));
            }
            Ok(Some(Ok(Event::Init | Event::InitDone))) => {}
        }
    }
    let all_succeeded = progress
        .succeeded_at
        .values()
        .max()
        .map_or(Duration::ZERO, |last| last.duration_since(started));
    let (created_in, created) = created.unwrap_or_default();
    let create_latencies = created.iter().map(|(_, latency)| *latency).collect();
    let job_latencies = names
        .iter()
        .zip(&created)
        .map(|(name, (sent, _))| progress.succeeded_at[name].duration_since(*sent))
        .collect();
    Ok((created_in, create_latencies, all_succeeded, job_latencies))
}

/// A `kB` field of `/proc/<pid>/status`, in KiB.
fn proc_status_kib(pid: u32, field: &str) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in {path}"))
}

/// CPU seconds spent so far, read at the start and at the end of the run.
#[derive(Clone, Copy)]
struct Cpu {
    /// Every core's busy time (`/proc/stat`), whoever used it.
    machine: f64,
    /// The operator process.
    operator: f64,
    /// This process (API server, executor, watch) and the pod processes it has reaped.
    bench: f64,
}

impl Cpu {
    fn now(operator: u32) -> Result<Cpu, String> {
        let per_second = command_output("getconf", &["CLK_TCK"])
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(100.0);
        let stat = std::fs::read_to_string("/proc/stat")
            .map_err(|e| format!("cannot read /proc/stat: {e}"))?;
        let all: Vec<f64> = stat
            .lines()
            .find_map(|l| l.strip_prefix("cpu "))
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|v| v.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
        let busy: f64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| all.get(i)).sum();
        Ok(Cpu {
            machine: busy / per_second,
            operator: process_ticks(&format!("/proc/{operator}/stat"), false)? / per_second,
            bench: process_ticks("/proc/self/stat", true)? / per_second,
        })
    }

    fn since(self, start: Cpu) -> Cpu {
        Cpu {
            machine: self.machine - start.machine,
            operator: self.operator - start.operator,
            bench: self.bench - start.bench,
        }
    }
}

/// User plus system clock ticks of a process (and of its reaped children).
fn process_ticks(path: &str, children: bool) -> Result<f64, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    // The command name (field 2) may hold spaces; the fields after it do not. utime, stime,
    // cutime and cstime are fields 14 to 17 of the line: 11 to 14 after the name.
    let after_name = text.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<f64> = after_name
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    let count = if children { 4 } else { 2 };
    fields
        .get(11..11 + count)
        .map(|f| f.iter().sum())
        .ok_or_else(|| format!("{path} has no CPU times"))
}

async fn fetch_metrics(url: &str) -> Result<String, String> {
    let response = reqwest::get(format!("{url}/metrics"))
        .await
        .map_err(|e| format!("cannot read the operator's /metrics: {e}"))?;
    if response.status() != 200 {
        return Err(format!(
            "the operator's /metrics answered {}",
            response.status()
        ));
    }
    response
        .text()
        .await
        .map_err(|e| format!("cannot read the operator's /metrics: {e}"))
}

/// One sample of the OpenMetrics text: name, labels, value.
struct Sample<'a> {
    name: &'a str,
    labels: Vec<(&'a str, &'a str)>,
    value: f64,
}

impl Sample<'_> {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// The samples of a metrics page. Label values here are controller names, categories and
/// bucket bounds, none with escaped quotes or commas, so a plain split is enough.
fn samples(text: &str) -> Vec<Sample<'_>> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let value = value.parse().ok()?;
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    Some((k.trim(), v.trim().trim_matches('"')))
                })
                .collect();
            Some(Sample {
                name,
                labels,
                value,
            })
        })
        .collect()
}

fn counter(metrics: &str, controller: &str) -> u64 {
    samples(metrics)
        .iter()
        .filter(|s| s.name == "lepton_operator_reconciles_total")
        .filter(|s| s.label("controller") == Some(controller))
        .map(|s| s.value as u64)
        .sum()
}

/// A histogram's cumulative buckets (upper bound, count), its count and its sum.
struct Histogram {
    buckets: Vec<(f64, f64)>,
    count: f64,
    sum: f64,
}

fn histogram(metrics: &str, name: &str, controller: &str) -> Result<Histogram, String> {
    let samples = samples(metrics);
    let mine = |suffix: &str| {
        let full = format!("{name}{suffix}");
        samples
            .iter()
            .filter(move |s| s.name == full && s.label("controller") == Some(controller))
            .collect::<Vec<_>>()
    };
    let mut buckets: Vec<(f64, f64)> = mine("_bucket")
        .iter()
        .filter_map(|s| {
            let le = s.label("le")?;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((bound, s.value))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let one = |suffix: &str| mine(suffix).first().map(|s| s.value);
    match (buckets.is_empty(), one("_count"), one("_sum")) {
        (false, Some(count), Some(sum)) if count > 0.0 => Ok(Histogram {
            buckets,
            count,
            sum,
        }),
        _ => Err(format!(
            "/metrics has no {name} observations for controller=\"{controller}\""
        )),
    }
}

impl Histogram {
    /// The `q` quantile, interpolated linearly inside its bucket as Prometheus'
    /// `histogram_quantile` does, with that bucket's bounds. A quantile in the `+Inf` bucket is
    /// the highest finite bound (a floor).
    fn quantile(&self, q: f64) -> (f64, f64, f64) {
        let rank = q * self.count;
        let mut lower = (0.0, 0.0);
        for &(bound, cumulative) in &self.buckets {
            if cumulative >= rank {
                if bound.is_infinite() {
                    return (lower.0, lower.0, f64::INFINITY);
                }
                let inside = cumulative - lower.1;
                let fraction = if inside > 0.0 {
                    (rank - lower.1) / inside
                } else {
                    1.0
                };
                return (lower.0 + (bound - lower.0) * fraction, lower.0, bound);
            }
            lower = (bound, cumulative);
        }
        (lower.0, lower.0, f64::INFINITY)
    }
}

/// The `q` quantile of sorted values, by nearest rank.
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// p50, p99 and max of durations, in `unit` seconds (1e-3 for milliseconds).
fn spread(values: &[Duration], unit: f64) -> Value {
    let mut v: Vec<f64> = values.iter().map(|d| d.as_secs_f64() / unit).collect();
    v.sort_by(f64::total_cmp);
    json!({
        "p50": round(nearest_rank(&v, 0.50), 3),
        "p99": round(nearest_rank(&v, 0.99), 3),
        "max": round(v.last().copied().unwrap_or(f64::NAN), 3),
    })
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

fn mib(kib: u64) -> f64 {
    round(kib as f64 / 1024.0, 1)
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned())
}

/// Where and from what a result was measured: date, commit, uncommitted files, build profile
/// and machine. Both scenarios' results start with these fields.
fn provenance(load_start: String) -> serde_json::Map<String, Value> {
    let root = repo_root();
    let root = root.to_string_lossy();
    let git = |args: &[&str]| {
        let mut all = vec!["-C", &root];
        all.extend_from_slice(args);
        command_output("git", &all)
    };
    // The binaries are built from the working tree: name what differs from the commit.
    let changed: Vec<String> = git(&["status", "--porcelain", "--untracked-files=no"])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(str::to_owned))
        .collect();
    let profile = profile_dir()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let fields = json!({
        "date": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "git_commit": git(&["rev-parse", "HEAD"]).unwrap_or_default(),
        "git_uncommitted_changes": changed,
        "profile": profile,
        "machine": {
            "nproc": nproc(),
            "cpu_model": cpu_model(),
            "load_average_start": load_start,
            "load_average_end": load_average(),
        },
    });
    match fields {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

fn nproc() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

/// `controller`'s reconcile errors from `/metrics`: the total and the counts by category.
fn reconcile_errors(metrics: &str, controller: &str) -> (u64, BTreeMap<String, u64>) {
    let mut errors = BTreeMap::new();
    for s in samples(metrics) {
        if s.name == "lepton_operator_reconcile_errors_total"
            && s.label("controller") == Some(controller)
        {
            *errors
                .entry(s.label("category").unwrap_or("").to_owned())
                .or_insert(0) += s.value as u64;
        }
    }
    (errors.values().sum(), errors)
}

/// The reconcile duration histogram's count, sum, mean and quantiles, in milliseconds.
fn durations(h: &Histogram) -> Value {
    if h.count <= 0.0 {
        return json!({"count": 0});
    }
    let ms = |x: f64| round(x * 1e3, 3);
    let (p50, _, _) = h.quantile(0.50);
    let (p90, _, _) = h.quantile(0.90);
    let (p99, lo, hi) = h.quantile(0.99);
    json!({
        "count": h.count as u64,
        "sum_s": round(h.sum, 3),
        "mean_ms": ms(h.sum / h.count),
        "p50_ms": ms(p50),
        "p90_ms": ms(p90),
        "p99_ms": ms(p99),
        "p99_bucket_ms": [ms(lo), if hi.is_finite() { json!(ms(hi)) } else { json!("+Inf") }],
    })
}

fn report(options: &Options, m: Measured, load_start: String) -> Value {
    let nproc = nproc();
    let jobs = options.jobs as f64;
    let seconds = m.all_succeeded.as_secs_f64();
    let (errors_total, errors) = reconcile_errors(&m.metrics, CONTROLLER);
    let reconciles = counter(&m.metrics, CONTROLLER);
    let reconcile = match histogram(&m.metrics, HISTOGRAM, CONTROLLER) {
        Ok(h) => {
            let mut figures = durations(&h);
            figures["quantiles"] = json!(
                "linear interpolation inside the histogram bucket (as Prometheus' \
                 histogram_quantile); buckets grow by 1.5x from 0.5 ms"
            );
            figures
        }
        Err(message) => json!({ "error": message }),
    };
    let peak_sampled = m.rss_samples_kib.iter().copied().max().unwrap_or_default();
    let mut result = serde_json::Map::new();
    result.insert("benchmark".into(), json!("operator-scale"));
    result.extend(provenance(load_start));
    result.extend(match json!({
        "setup": {
            "jobs": options.jobs,
            "in_flight_creates": options.in_flight,
            "operator_concurrency": CONCURRENCY,
            "api_server": "lepton-embedded-cluster, in the benchmark process on the same machine \
                           (in memory, loopback HTTP)",
            "pods": "local executor processes running lepton-runner-stub train (exits 0 at once)",
        },
        "create": {
            "first_to_last_s": round(m.created_in.as_secs_f64(), 3),
            "per_second": round(jobs / m.created_in.as_secs_f64(), 1),
            "request_ms": spread(&m.create_latencies, 1e-3),
        },
        "completion": {
            "all_succeeded_s": round(seconds, 3),
            "after_last_create_s": round(seconds - m.created_in.as_secs_f64(), 3),
            "create_to_succeeded_s": spread(&m.job_latencies, 1.0),
        },
        "reconcile": {
            "controller": CONTROLLER,
            "duration": reconcile,
            "reconciles_total": reconciles,
            "reconciles_until_all_succeeded": m.reconciles_at_done,
            "per_job": round(m.reconciles_at_done as f64 / jobs, 2),
            "per_second": round(m.reconciles_at_done as f64 / seconds, 1),
            "errors_total": errors_total,
            "errors_by_category": errors,
        },
        "memory": {
            "rss_before_jobs_mib": mib(m.rss_before_kib),
            "rss_peak_sampled_mib": mib(peak_sampled),
            "vm_hwm_mib": mib(m.hwm_kib),
            "rss_idle_mib": mib(m.rss_idle_kib),
            "idle_after_s": IDLE_WAIT.as_secs(),
            "samples": m.rss_samples_kib.len(),
            "sample_interval_ms": RSS_PERIOD.as_millis() as u64,
        },
        "cpu": {
            "window": "from the first create to the last Succeeded",
            "window_s": round(m.window.as_secs_f64(), 2),
            "machine_capacity_s": round(m.window.as_secs_f64() * nproc as f64, 2),
            "machine_busy_s": round(m.cpu.machine, 2),
            "operator_s": round(m.cpu.operator, 2),
            "benchmark_process_s": round(m.cpu.bench, 2),
            "benchmark_process_holds": "the API server, the local executor, the benchmark's watch \
                                        and the pod processes it has reaped",
            "other_processes_s": round((m.cpu.machine - m.cpu.operator - m.cpu.bench).max(0.0), 2),
        },
    }) {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    });
    Value::Object(result)
}

/// The figures shown, as (label, template): `{a.b}` stands for the result's field `a.b`.
const ROWS: &[(&str, &str)] = &[
    ("TrainingJobs", "{setup.jobs}"),
    (
        "created, first to last",
        "{create.first_to_last_s} s ({create.per_second} /s, {setup.in_flight_creates} at a time)",
    ),
    (
        "create request p50 / p99",
        "{create.request_ms.p50} / {create.request_ms.p99} ms",
    ),
    (
        "all Succeeded, from the first create",
        "{completion.all_succeeded_s} s",
    ),
    (
        "create to Succeeded, per job p50 / p99",
        "{completion.create_to_succeeded_s.p50} / {completion.create_to_succeeded_s.p99} s",
    ),
    (
        "reconciles until all Succeeded",
        "{reconcile.reconciles_until_all_succeeded} ({reconcile.per_job} per job, \
         {reconcile.per_second} /s)",
    ),
    (
        "reconcile p50 / p90 / p99",
        "{reconcile.duration.p50_ms} / {reconcile.duration.p90_ms} / \
         {reconcile.duration.p99_ms} ms",
    ),
    (
        "reconcile p99 bucket",
        "{reconcile.duration.p99_bucket_ms.0} to {reconcile.duration.p99_bucket_ms.1} ms",
    ),
    ("reconcile mean", "{reconcile.duration.mean_ms} ms"),
    ("reconcile errors", "{reconcile.errors_total}"),
    (
        "operator RSS before the first job",
        "{memory.rss_before_jobs_mib} MiB",
    ),
    (
        "operator RSS peak (VmHWM)",
        "{memory.vm_hwm_mib} MiB (sampled every {memory.sample_interval_ms} ms: \
         {memory.rss_peak_sampled_mib} MiB)",
    ),
    (
        "operator RSS idle, after the last Succeeded",
        "{memory.rss_idle_mib} MiB ({memory.idle_after_s} s later)",
    ),
    (
        "CPU time until all Succeeded: operator",
        "{cpu.operator_s} s of {cpu.machine_capacity_s} s available ({machine.nproc} cores x \
         {cpu.window_s} s)",
    ),
    (
        "CPU: API server, executor and pods",
        "{cpu.benchmark_process_s} s",
    ),
    (
        "CPU: other processes on the machine",
        "{cpu.other_processes_s} s",
    ),
    (
        "CPU: machine busy, all processes",
        "{cpu.machine_busy_s} s of {cpu.machine_capacity_s} s",
    ),
];

/// A value as the tables show it; `-` where the result has none (a histogram that could not
/// be read).
fn shown_value(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The figures as (label, value) rows, shared by the terminal table and the Markdown.
/// `template` with each `{a.b}` replaced by the result's field `a.b`.
fn fill(r: &Value, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        let (field, after) = after.split_once('}').unwrap_or((after, ""));
        out.push_str(before);
        out.push_str(&shown_value(
            r.pointer(&format!("/{}", field.replace('.', "/"))),
        ));
        rest = after;
    }
    out + rest
}

fn rows(r: &Value) -> Vec<(&'static str, String)> {
    let fill = |template: &str| fill(r, template);
    ROWS.iter()
        .map(|&(label, template)| {
            let mut value = fill(template);
            if label == "reconcile errors"
                && let Some(by) = r["reconcile"]["errors_by_category"].as_object()
                && !by.is_empty()
            {
                let by: Vec<String> = by
                    .iter()
                    .map(|(category, n)| format!("{category} {n}"))
                    .collect();
                value = format!("{value} ({})", by.join(", "));
            }
            if label == "reconcile p50 / p90 / p99"
                && let Some(error) = r["reconcile"]["duration"]["error"].as_str()
            {
                value = error.to_owned();
            }
            (label, value)
        })
        .collect()
}

fn table(r: &Value) -> String {
    let rows = rows(r);
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = format!(
        "\noperator scale, {} build, {} cores, load {} -> {} (the API server runs on the same \
         machine)\n",
        r["profile"].as_str().unwrap_or(""),
        r["machine"]["nproc"],
        r["machine"]["load_average_start"].as_str().unwrap_or(""),
        r["machine"]["load_average_end"].as_str().unwrap_or(""),
    );
    for (label, value) in rows {
        let _ = writeln!(out, "  {label:<width$}  {value}");
    }
    out
}

fn markdown(r: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let commit = text(&r["git_commit"]);
    let commit = &commit[..commit.len().min(12)];
    let changed: Vec<&str> = r["git_uncommitted_changes"]
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
        "# Operator benchmark

Written by `make bench-operator` (operator/examples/operator_scale.rs) on {date};
do not edit by hand. Raw figures in bench/results/operator-scale.json.

One `lepton-operator run` process ({profile} build, `--concurrency {concurrency}`, no leader
election; commit {commit}{dirty}) reconciles {jobs} TrainingJobs, created {in_flight} at a
time, against the embedded API server (lepton-embedded-cluster). Its local executor runs every training
pod as a process of `lepton-runner-stub train`, which exits 0 at once, so every TrainingJob ends
Succeeded with no results (the stub writes no termination message). The API server, the
executor, the pods and the operator share one machine: {cpu}, {nproc} cores, load average
(1, 5, 15 min) {load_start} before the run and {load_end} after it.

| figure | value |
|---|---|
",
        date = text(&r["date"]),
        profile = text(&r["profile"]),
        concurrency = r["setup"]["operator_concurrency"],
        jobs = r["setup"]["jobs"],
        in_flight = r["setup"]["in_flight_creates"],
        cpu = text(&r["machine"]["cpu_model"]),
        nproc = r["machine"]["nproc"],
        load_start = text(&r["machine"]["load_average_start"]),
        load_end = text(&r["machine"]["load_average_end"]),
    );
    for (label, value) in rows(r) {
        let _ = writeln!(out, "| {label} | {value} |");
    }
    out.push_str(
        "
## How to read it

- **Reconcile percentiles** come from the operator's own histogram
  `lepton_operator_reconcile_duration_seconds{controller=\"trainingjob\"}`, read from `/metrics`
  after the run. A reconcile is one call of the TrainingJob reconciler, its API requests
  included. The buckets grow by a factor of 1.5 from 0.5 ms, so a percentile is only known to
  lie in its bucket: the figure is a linear interpolation inside that bucket (as Prometheus'
  `histogram_quantile` computes it), and the true value can be anywhere between the bucket's
  bounds (the p99 bucket row), which are 1.5x apart. Two runs whose p99s fall in the same bucket
  are not different.
- **Reconciles per job**: a TrainingJob is reconciled when it is created, when its Job or its pod
  changes, and when its own status changes; the executor writes each pod's status several times
  (running, then finished). The rate is reconciles divided by the time from the first create
  to the last Succeeded.
- **Create to Succeeded** is per job, from its create request to the benchmark's own watch seeing
  the `Succeeded` condition: the operator's queue, the Job, the pod process and the status writes
  in between. With 1,000 jobs created in a burst it is mostly queueing.
- **Memory** is the operator process's resident set: `VmRSS` from `/proc/<pid>/status` before
  the first TrainingJob and a few seconds after the last one succeeded, and `VmHWM`, the
  kernel's record of its peak. The TrainingJob controller keeps every TrainingJob in its cache,
  so the idle figure grows with the number of TrainingJobs kept.
- **CPU time** is user plus system time from the first create to the last Succeeded: of the
  operator process; of the benchmark process, which holds the API server, the executor and a
  watch of every TrainingJob, with the pod processes it has reaped; and of everything else on
  the machine (busy time in `/proc/stat` less those two), which says how quiet the machine was.
  When the machine is busy nearly all the time, reconciles also wait for a core, and their
  durations include that wait.

## What is not measured

- A real API server: the embedded one answers from memory over loopback HTTP, with no etcd, TLS,
  authentication, admission webhooks or API priority and fairness. A real API server's latency
  adds to every reconcile, which makes a few API requests.
- Real kubelets, scheduling, image pulls and training: the pods are local processes that exit at
  once, so the figures are the operator's overhead, not a training throughput.
- The network: everything is on loopback.
- The API server shares the machine: CPU it spends serving the operator, the executor and the
  benchmark's watch is CPU the operator does not get. On a small machine this inflates the
  reconcile durations and the time to Succeeded.
- Several operator replicas, leader election, TuningSweeps and ModelDeployments.

## Run it

```
make bench-operator        # release build, 1,000 TrainingJobs
target/release/examples/operator_scale --jobs 200 --in-flight 32 \\
    --out target/bench/operator-200.json --doc target/bench/operator-200.md
```

It fails, with the count of TrainingJobs in each phase, if they have not all succeeded within 15
minutes, and stops at the first TrainingJob that fails.
",
    );
    out
}
