//! `lepton run -f FILE_OR_DIR`: the manifests a user would `kubectl apply`, run on this
//! machine. The embedded API server, the operator's own controllers and the local executor
//! (which runs pods as processes of the runner) start together; the manifests are applied;
//! progress is shown until every resource has settled; each ready deployment gets a
//! prediction and a short burst of traffic; the final state is printed as `kubectl get` would,
//! with the sweeps' Pareto fronts and how to call the models; and a report is written.
//! Ctrl-C (or SIGTERM) at any point stops every process the run started.

pub mod local;
pub mod outcome;
pub mod progress;
pub(crate) mod signals;
mod summary;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kube::api::{Api, ListParams, Patch, PatchParams};
use lepton_crds::v1alpha1::{ModelDeployment, TrainingJob, TuningSweep};
use lepton_operator::config::OperatorConfig;
use lepton_report::{RunRecord, ServingSample};
use tokio::sync::watch;

use crate::args::{self, Spec};
use crate::error::CliError;
use crate::manifests::{self, Kind, Manifest};
use crate::session::SessionDir;
use crate::setup::{self, Volume};
use local::{LocalCluster, Start};
use outcome::{Observed, Verdict};
use progress::{Display, Mode};

/// The field manager of everything `lepton run` applies.
const MANAGER: &str = "lepton-run";
/// How often the resources are read.
const POLL: Duration = Duration::from_millis(500);
/// How many one-second waves the predictions after a run are sent in.
pub(crate) const TRAFFIC_WAVES: usize = 5;
/// How long a deployment may take to turn Ready once training has settled.
const DEPLOY_GRACE: Duration = Duration::from_secs(120);

/// The usage text of `lepton run`.
pub const USAGE: &str = "usage: lepton run -f FILE_OR_DIR [options]

Runs TrainingJob, TuningSweep and ModelDeployment manifests on this machine: an embedded API
server, Lepton's controllers and a local executor that runs the pods as processes.

options:
  -f, --filename PATH     a manifest file or a directory of them (repeatable)
  --volume CLAIM=DIR      the local directory behind pvc://CLAIM/... (repeatable)
  --keep                  keep serving after the run, until Ctrl-C
  --config FILE           operator configuration (node pools, prices); default: local pools
  -n, --namespace NS      namespace of manifests that name none (default: default)
  --session-dir DIR       where the session's files go (default: .lepton)
  --timeout DURATION      give up after this long (default: 30m)
  --predictions N         requests sent to each ready deployment (default: 200)
  --progress MODE         live, plain or quiet (default: live on a terminal, else plain)
  --port PORT             the API server's port (default: a free one)
  --runner PATH           the runner program (default: lepton-runner beside lepton)
  --ort-lib PATH          ONNX Runtime's library (default: LEPTON_ORT_LIB, or the
                          onnxruntime package of ./.venv or python3)";

/// What `lepton run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Manifest files or directories.
    pub files: Vec<PathBuf>,
    /// Keep serving until interrupted.
    pub keep: bool,
    /// The session directory.
    pub session_dir: PathBuf,
    /// `--volume` mappings.
    pub volumes: Vec<Volume>,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--runner`.
    pub runner: Option<String>,
    /// `--ort-lib`.
    pub ort_lib: Option<String>,
    /// The default namespace.
    pub namespace: String,
    /// The longest the run may take.
    pub timeout: Duration,
    /// Requests sent to each ready deployment.
    pub predictions: usize,
    /// How progress is shown.
    pub progress: Mode,
    /// The API server's port (0: any).
    pub port: u16,
}

/// Parses the arguments of `lepton run`.
pub fn parse(args: &[String]) -> Result<RunOptions, CliError> {
    let parsed = args::parse(
        args,
        &Spec {
            valued: &[
                "-f",
                "--filename",
                "--volume",
                "--config",
                "-n",
                "--namespace",
                "--session-dir",
                "--timeout",
                "--predictions",
                "--progress",
                "--port",
                "--runner",
                "--ort-lib",
            ],
            switches: &["--keep"],
        },
    )?;
    if let Some(extra) = parsed.positional.first() {
        return Err(CliError::usage(format!(
            "unexpected argument {extra:?}: give manifests with -f"
        )));
    }
    let files: Vec<PathBuf> = parsed
        .values(&["-f", "--filename"])
        .into_iter()
        .map(PathBuf::from)
        .collect();
    if files.is_empty() {
        return Err(CliError::usage(
            "-f FILE_OR_DIR is required: the manifests to run, for example -f examples/credit-default/",
        ));
    }
    let volumes = parsed
        .values(&["--volume"])
        .iter()
        .map(|v| setup::parse_volume(v))
        .collect::<Result<Vec<_>, _>>()?;
    let number = |flag: &str, default: u64| -> Result<u64, CliError> {
        parsed.value(&[flag]).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| CliError::usage(format!("{flag} {v:?} is not a whole number")))
        })
    };
    let progress = match parsed.value(&["--progress"]).as_deref() {
        None => Mode::detect(),
        Some("live") => Mode::Live,
        Some("plain") => Mode::Plain,
        Some("quiet") => Mode::Quiet,
        Some(other) => {
            return Err(CliError::usage(format!(
                "--progress {other:?}: write live, plain or quiet"
            )));
        }
    };
    Ok(RunOptions {
        files,
        keep: parsed.has(&["--keep"]),
        session_dir: parsed
            .value(&["--session-dir"])
            .map_or_else(|| PathBuf::from(crate::session::DEFAULT_DIR), PathBuf::from),
        volumes,
        config: parsed.value(&["--config"]).map(PathBuf::from),
        runner: parsed.value(&["--runner"]),
        ort_lib: parsed.value(&["--ort-lib"]),
        namespace: parsed
            .value(&["-n", "--namespace"])
            .unwrap_or_else(|| "default".into()),
        timeout: match parsed.value(&["--timeout"]) {
            Some(t) => args::duration("--timeout", &t)?,
            None => Duration::from_secs(30 * 60),
        },
        predictions: number("--predictions", 200)? as usize,
        progress,
        port: u16::try_from(number("--port", 0)?)
            .map_err(|_| CliError::usage("--port must be below 65536"))?,
    })
}

/// Everything checked before anything starts.
struct Prepared {
    manifests: Vec<Manifest>,
    local: PreparedLocal,
}

fn prepare(options: &RunOptions) -> Result<Prepared, CliError> {
    let manifests = manifests::load(&options.files, &options.namespace)?;
    setup::check_data(&manifests, &options.volumes)?;
    let local = prepare_local(&LocalOptions {
        session_dir: &options.session_dir,
        config: options.config.as_deref(),
        volumes: &options.volumes,
        runner: options.runner.as_deref(),
        ort_lib: options.ort_lib.as_deref(),
    })?;
    Ok(Prepared { manifests, local })
}

/// The options of a local cluster, shared by `lepton run` and `lepton up`.
pub(crate) struct LocalOptions<'a> {
    /// `--session-dir`.
    pub session_dir: &'a Path,
    /// `--config`: a cluster's operator configuration instead of the local pools.
    pub config: Option<&'a Path>,
    /// `--volume` mappings.
    pub volumes: &'a [Volume],
    /// `--runner`.
    pub runner: Option<&'a str>,
    /// `--ort-lib`.
    pub ort_lib: Option<&'a str>,
}

/// What a local cluster needs, checked and set up in its session directory.
pub(crate) struct PreparedLocal {
    /// The runner program.
    pub runner: PathBuf,
    /// ONNX Runtime's shared library.
    pub ort: PathBuf,
    /// The session directory, prepared.
    pub session: SessionDir,
    /// The operator configuration the controllers run with.
    pub config: OperatorConfig,
}

/// Finds the runner and ONNX Runtime, reads the operator configuration, and prepares the
/// session directory with its volumes; nothing starts.
pub(crate) fn prepare_local(options: &LocalOptions<'_>) -> Result<PreparedLocal, CliError> {
    let runner = setup::runner_binary(options.runner)?;
    let ort = setup::ort_library(options.ort_lib)?;
    let session = SessionDir::at(options.session_dir);
    let config = match options.config {
        Some(file) => setup::operator_config_from(&session, file)?,
        None => OperatorConfig::parse(&setup::default_operator_config(&session))
            .map_err(CliError::Setup)?,
    };
    session.prepare()?;
    setup::mount(&session, options.volumes)?;
    let text = serde_yaml_ng::to_string(&config).unwrap_or_default();
    std::fs::write(session.operator_config(), text)
        .map_err(|e| CliError::Setup(format!("{}: {e}", session.operator_config().display())))?;
    Ok(PreparedLocal {
        runner,
        ort,
        session,
        config,
    })
}

/// Runs `lepton run`.
pub fn command(args: &[String]) -> Result<(), CliError> {
    let options = parse(args)?;
    let prepared = prepare(&options)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Setup(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(execute(options, prepared))
}

async fn execute(options: RunOptions, prepared: Prepared) -> Result<(), CliError> {
    let interrupt = signals::listen();
    let Prepared {
        manifests,
        local:
            PreparedLocal {
                runner,
                ort,
                session,
                config,
            },
    } = prepared;
    let local = LocalCluster::start(Start {
        session: &session,
        config,
        runner,
        ort: &ort,
        port: options.port,
        namespace: &options.namespace,
    })
    .await?;
    if options.progress != Mode::Quiet {
        let kinds = |k: Kind| manifests.iter().filter(|m| m.kind == k).count();
        eprintln!(
            "lepton run: {} TrainingJob(s), {} TuningSweep(s), {} ModelDeployment(s); API server {}, kubeconfig {}",
            kinds(Kind::TrainingJob),
            kinds(Kind::TuningSweep),
            kinds(Kind::ModelDeployment),
            local.url(),
            summary::relative(&session.kubeconfig()),
        );
    }
    let client = local.client.clone();

    let mut interrupted = interrupt.clone();
    // With --keep, Ctrl-C after the run is how a user ends serving: the pipeline handles it
    // (a last report) and the run's own outcome decides the exit status.
    let keeping = AtomicBool::new(false);
    let cut_short = async {
        let _ = interrupted.wait_for(|i| *i).await;
        if keeping.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        result = pipeline(&client, &session, &manifests, &options, interrupt, &keeping) => result,
        () = cut_short => Err(CliError::Interrupted),
    };

    if matches!(result, Err(CliError::Interrupted)) {
        eprintln!("\nstopping: every process this run started is being terminated");
    }
    local.stop().await;
    session.retire();
    result
}

/// Applies the manifests and follows them to the end.
async fn pipeline(
    client: &kube::Client,
    session: &SessionDir,
    manifests: &[Manifest],
    options: &RunOptions,
    mut interrupt: watch::Receiver<bool>,
    keeping: &AtomicBool,
) -> Result<(), CliError> {
    let started = Instant::now();
    for manifest in manifests {
        apply(client, manifest).await?;
    }
    let applied: Vec<(Kind, String)> = manifests.iter().map(|m| (m.kind, m.name.clone())).collect();
    let namespace = &options.namespace;
    let mut display = Display::new(options.progress);
    let mut samples = Samples::default();
    let mut training_settled_at: Option<Instant> = None;
    let mut timed_out = false;
    let (observed, verdict) = loop {
        let observed = read(client, namespace).await;
        display.show(
            started.elapsed().as_secs(),
            &progress::lines(&applied, &observed),
        );
        samples.record(&observed, started);
        if outcome::training_settled(&applied, &observed) {
            training_settled_at.get_or_insert_with(Instant::now);
        }
        let waited_out = training_settled_at.is_some_and(|t| t.elapsed() > DEPLOY_GRACE);
        let verdict = if started.elapsed() > options.timeout {
            timed_out = true;
            outcome::assess_at_deadline(&applied, &observed)
        } else {
            outcome::assess(&applied, &observed, waited_out)
        };
        if verdict.settled {
            break (observed, verdict);
        }
        tokio::time::sleep(POLL).await;
    };
    display.finish();

    // The traffic is spread over a few seconds, so that the operator's scrapes (once a
    // second here) give the report a latency and drift series, not a single point.
    let mut plans = summary::smoke(&observed, manifests, options).await;
    if plans.iter().any(summary::TrafficPlan::has_rows) {
        let http = crate::predict::http();
        for wave in 0..TRAFFIC_WAVES {
            for plan in &mut plans {
                plan.send_wave(&http, wave, TRAFFIC_WAVES).await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            samples.record(&read(client, namespace).await, started);
        }
    }
    let traffic: Vec<summary::Traffic> = plans.into_iter().map(|p| p.traffic).collect();
    let observed = summary::await_live_figures(client, namespace, &observed, &traffic).await;
    samples.record(&observed, started);
    let elapsed = started.elapsed();
    summary::print(
        client,
        session,
        namespace,
        &applied,
        &observed,
        &verdict,
        &traffic,
        elapsed,
        timed_out,
        options.timeout,
    )
    .await;
    let record = samples.record_of(&observed, &options.files);
    write_record(session, &record);

    if options.keep {
        keeping.store(true, Ordering::SeqCst);
        summary::print_keep(session, &observed);
        let mut last = Instant::now();
        while !*interrupt.borrow() {
            tokio::select! {
                _ = interrupt.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {
                    let observed = read(client, namespace).await;
                    samples.record(&observed, started);
                    if last.elapsed() > Duration::from_secs(30) {
                        write_record(session, &samples.record_of(&observed, &options.files));
                        last = Instant::now();
                    }
                }
            }
        }
        let observed = read(client, namespace).await;
        write_record(session, &samples.record_of(&observed, &options.files));
    }
    failed(&verdict, &traffic)
}

fn failed(verdict: &Verdict, traffic: &[summary::Traffic]) -> Result<(), CliError> {
    let broken = traffic.iter().filter(|t| t.error.is_some()).count();
    match (verdict.problems.len(), broken) {
        (0, 0) => Ok(()),
        (n, 0) => Err(CliError::Failed(format!(
            "{n} resource{} did not succeed (see above)",
            if n == 1 { "" } else { "s" }
        ))),
        (_, b) => Err(CliError::Failed(format!(
            "{b} deployment{} did not answer predictions (see above)",
            if b == 1 { "" } else { "s" }
        ))),
    }
}

async fn apply(client: &kube::Client, manifest: &Manifest) -> Result<(), CliError> {
    let namespace = manifest.object["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    let params = PatchParams::apply(MANAGER).force();
    let result = match manifest.kind {
        Kind::TrainingJob => Api::<TrainingJob>::namespaced(client.clone(), namespace)
            .patch(&manifest.name, &params, &Patch::Apply(&manifest.object))
            .await
            .map(drop),
        Kind::TuningSweep => Api::<TuningSweep>::namespaced(client.clone(), namespace)
            .patch(&manifest.name, &params, &Patch::Apply(&manifest.object))
            .await
            .map(drop),
        Kind::ModelDeployment => Api::<ModelDeployment>::namespaced(client.clone(), namespace)
            .patch(&manifest.name, &params, &Patch::Apply(&manifest.object))
            .await
            .map(drop),
    };
    result.map_err(|e| {
        CliError::Input(format!(
            "{}: the API server refused the {} {:?}: {}",
            manifest.origin,
            manifest.kind.name(),
            manifest.name,
            CliError::from(e)
        ))
    })
}

/// The run's namespace as it is now; a failed read leaves that kind empty until the next.
async fn read(client: &kube::Client, namespace: &str) -> Observed {
    let params = ListParams::default();
    let jobs = Api::<TrainingJob>::namespaced(client.clone(), namespace);
    let sweeps = Api::<TuningSweep>::namespaced(client.clone(), namespace);
    let deployments = Api::<ModelDeployment>::namespaced(client.clone(), namespace);
    let (jobs, sweeps, deployments) = tokio::join!(
        jobs.list(&params),
        sweeps.list(&params),
        deployments.list(&params)
    );
    Observed {
        jobs: jobs.map(|l| l.items).unwrap_or_default(),
        sweeps: sweeps.map(|l| l.items).unwrap_or_default(),
        deployments: deployments.map(|l| l.items).unwrap_or_default(),
    }
}

/// The serving figures seen over the run, one sample per new reading.
#[derive(Default)]
struct Samples {
    taken: Vec<ServingSample>,
}

impl Samples {
    fn record(&mut self, observed: &Observed, started: Instant) {
        use kube::ResourceExt;
        for md in &observed.deployments {
            let Some(metrics) = md.status.as_ref().and_then(|s| s.metrics.clone()) else {
                continue;
            };
            let name = md.name_any();
            let seen = self
                .taken
                .iter()
                .rev()
                .find(|s| s.deployment == name)
                .is_some_and(|s| s.metrics.updated_at == metrics.updated_at);
            if !seen {
                self.taken.push(ServingSample {
                    deployment: name,
                    seconds: started.elapsed().as_secs_f64(),
                    metrics,
                });
            }
        }
    }

    fn record_of(&self, observed: &Observed, files: &[PathBuf]) -> RunRecord {
        let title = files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        RunRecord {
            title,
            generated_at: jiff::Timestamp::now().to_string(),
            training_jobs: observed.jobs.clone(),
            tuning_sweeps: observed.sweeps.clone(),
            model_deployments: observed.deployments.clone(),
            serving_samples: self.taken.clone(),
        }
    }
}

/// Saves the record and draws the report from it; a failure is reported, not fatal.
fn write_record(session: &SessionDir, record: &RunRecord) {
    let text = serde_json::to_string(record).unwrap_or_default();
    if let Err(e) = std::fs::write(session.record(), text) {
        eprintln!("warning: cannot write {}: {e}", session.record().display());
    }
    if let Err(e) = crate::report::write(record, &session.report()) {
        eprintln!("warning: the report was not written: {e}");
    }
}
