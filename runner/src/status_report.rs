//! Progress and final results pushed to the job's own TrainingJob status, so that `kubectl get`
//! shows how far training is while it runs.
//!
//! The operator turns this on with `LEPTON_STATUS_REPORTING=kubernetes` and gives the pod a Role
//! that may only `get` and `patch` `trainingjobs/status` of this one job, so the runner touches
//! nothing else. Every write is a server-side apply (field manager `lepton-runner`) of all the
//! fields the runner owns: `status.progress`, and after a successful run `status.objective`,
//! `status.metrics`, `status.data` and `status.model`. Phase, conditions, cost, attempts and times
//! belong to the operator.
//!
//! Writes happen on a background thread: training never waits for the API server. Events are
//! coalesced, at most one progress write per interval carrying the latest state, and the final
//! write is flushed within [`FLUSH_BUDGET`]. A failed write never fails training (the results are
//! also in the termination message); each kind of failure is logged once.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use lepton_crds::v1alpha1::{
    ConcreteModelFamily, CurvePoint, ModelArtifact, TrainingJob, TrainingJobStatus,
    TrainingProgress,
};
use serde_json::{Value, json};

use crate::progress::{Progress, Reporter};
use crate::results::RunResults;
use crate::spec::ObjectRef;

/// Environment variable that turns status reporting on; `kubernetes` is the one accepted value.
pub const REPORTING_ENV: &str = "LEPTON_STATUS_REPORTING";
/// The value of [`REPORTING_ENV`] that reports to the API server.
pub const REPORTING_KUBERNETES: &str = "kubernetes";
/// Environment variable with the least time between two progress writes, in milliseconds.
pub const INTERVAL_ENV: &str = "LEPTON_STATUS_INTERVAL_MS";
/// Least time between two progress writes when [`INTERVAL_ENV`] is unset.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(5000);
/// Field manager of every status write; `metadata.managedFields` shows it.
pub const FIELD_MANAGER: &str = "lepton-runner";
/// Longest the end of a run waits for the final status write, retries included.
pub const FLUSH_BUDGET: Duration = Duration::from_secs(10);

/// One request may take this long; a hung API server must not eat the whole flush budget.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How status reporting is configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusSettings {
    /// Least time between two progress writes.
    pub interval: Duration,
}

impl StatusSettings {
    /// Reads [`REPORTING_ENV`] and [`INTERVAL_ENV`]: `None` when reporting is off, an error
    /// message naming the variable when one is malformed.
    pub fn from_env() -> Result<Option<Self>, String> {
        let read = |name: &str| match std::env::var(name) {
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
        };
        Self::parse(
            read(REPORTING_ENV)?.as_deref(),
            read(INTERVAL_ENV)?.as_deref(),
        )
    }

    /// [`StatusSettings::from_env`] on given values. The interval is checked even when reporting
    /// is off, so that a typo shows at once rather than when reporting is turned on.
    pub fn parse(reporting: Option<&str>, interval: Option<&str>) -> Result<Option<Self>, String> {
        let interval = match interval.map(str::trim).filter(|v| !v.is_empty()) {
            None => DEFAULT_INTERVAL,
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis)
                .ok_or_else(|| {
                    format!(
                        "{INTERVAL_ENV} takes a positive whole number of milliseconds (default {}), not `{text}`",
                        DEFAULT_INTERVAL.as_millis()
                    )
                })?,
        };
        match reporting.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(REPORTING_KUBERNETES) => Ok(Some(Self { interval })),
            Some(other) => Err(format!(
                "{REPORTING_ENV} accepts only `{REPORTING_KUBERNETES}` (report progress to the TrainingJob's status), not `{other}`; unset it to turn reporting off"
            )),
        }
    }
}

/// The progress the runner last heard of, merged from events: stage events without a family
/// keep what the last training event said.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Snapshot {
    family: Option<ConcreteModelFamily>,
    step: Option<u64>,
    total_steps: Option<u64>,
    metrics: BTreeMap<String, f64>,
    curve: Curve,
}

/// The objective's learning curve, thinned to a bounded number of points.
#[derive(Clone, Debug, Default, PartialEq)]
struct Curve {
    kept: Vec<CurvePoint>,
    latest: Option<CurvePoint>,
    /// Points seen so far.
    seen: u64,
    /// Every `stride`-th point is kept.
    stride: u64,
}

/// Most points of `status.progress.objectiveCurve` (the schema's limit).
pub(crate) const MAX_CURVE_POINTS: usize = 64;

impl Snapshot {
    /// Folds in one event.
    pub(crate) fn update(&mut self, progress: &Progress) {
        if let Some(name) = progress.family {
            // The crate's own names, so a family the API does not know is simply left out.
            let family = serde_json::from_value(Value::String(name.into())).ok();
            if family != self.family {
                // A new `auto` candidate starts from step zero with no metrics yet.
                *self = Self {
                    family,
                    ..Self::default()
                };
            }
        }
        if progress.step.is_some() {
            self.step = progress.step;
        }
        if progress.total_steps.is_some() {
            self.total_steps = progress.total_steps;
        }
        if !progress.metrics.is_empty() {
            self.metrics = finite(&progress.metrics);
        }
        if let (Some(name), Some(step)) = (progress.objective, progress.step)
            && let Some(value) = self.metrics.get(name)
            && let Ok(step) = i64::try_from(step)
        {
            self.record(CurvePoint {
                step,
                value: *value,
            });
        }
    }

    /// Adds a point. Every `stride`-th point is kept; when the kept ones fill the curve every
    /// other one goes and the stride doubles, so a long run keeps an even picture of its whole
    /// history in a bounded status. The latest point is always shown.
    fn record(&mut self, point: CurvePoint) {
        if self
            .curve
            .latest
            .is_some_and(|latest| latest.step >= point.step)
        {
            // The same step again: its newer value wins.
            if self.curve.kept.last().is_some_and(|p| p.step >= point.step) {
                self.curve.kept.pop();
                self.curve.kept.push(point);
            }
            self.curve.latest = Some(point);
            return;
        }
        let stride = self.curve.stride.max(1);
        if self.curve.seen.is_multiple_of(stride) {
            self.curve.kept.push(point);
            if self.curve.kept.len() >= MAX_CURVE_POINTS {
                self.curve.kept = self.curve.kept.iter().copied().step_by(2).collect();
                self.curve.stride = stride * 2;
            }
        }
        self.curve.seen += 1;
        self.curve.latest = Some(point);
    }

    /// The curve as the status shows it: the kept points and the latest one.
    fn curve_points(&self) -> Vec<CurvePoint> {
        let mut points = self.curve.kept.clone();
        if let Some(latest) = self.curve.latest
            && points.last().is_none_or(|p| p.step < latest.step)
        {
            points.push(latest);
        }
        points
    }

    /// `status.progress` as of `now`.
    pub(crate) fn to_status(&self, now: jiff::Timestamp) -> TrainingProgress {
        TrainingProgress {
            family: self.family,
            step: self.step.and_then(|s| i64::try_from(s).ok()),
            total_steps: self.total_steps.and_then(|s| i64::try_from(s).ok()),
            metrics: self.metrics.clone(),
            objective_curve: self.curve_points(),
            updated_at: Some(Time(now)),
        }
    }
}

/// The metrics the status schema can hold: JSON has no NaN or infinity.
fn finite(metrics: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    metrics
        .iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// When the next progress write may go: at most one per interval, and only when something
/// changed since the last one. Time is passed in, so the rule is testable without waiting.
#[derive(Clone, Debug)]
pub(crate) struct Throttle {
    interval: Duration,
    last_write: Option<Instant>,
    unsent: bool,
}

impl Throttle {
    /// No write yet and nothing to send.
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            last_write: None,
            unsent: false,
        }
    }

    /// The state changed; the next write carries it.
    pub(crate) fn changed(&mut self) {
        self.unsent = true;
    }

    /// `None` when there is nothing to send, otherwise how long until a write may start
    /// (zero: now).
    pub(crate) fn wait(&self, now: Instant) -> Option<Duration> {
        if !self.unsent {
            return None;
        }
        Some(self.last_write.map_or(Duration::ZERO, |last| {
            (last + self.interval).saturating_duration_since(now)
        }))
    }

    /// A write of the latest state starts at `now`.
    pub(crate) fn wrote(&mut self, now: Instant) {
        self.last_write = Some(now);
        self.unsent = false;
    }
}

/// The apply body: identity plus every status field the runner owns. `results` are added only by
/// the final write; the failed-run fields (`reason`, `message`) are the operator's to surface
/// through its conditions, and `durationSeconds` has no status field.
pub(crate) fn status_body(
    name: &str,
    namespace: &str,
    progress: TrainingProgress,
    results: Option<&RunResults>,
) -> Value {
    let mut status = TrainingJobStatus {
        progress: Some(progress),
        ..TrainingJobStatus::default()
    };
    if let Some(results) = results {
        status.objective = results
            .objective
            .clone()
            .filter(|objective| objective.value.is_finite());
        status.metrics = finite(&results.metrics);
        status.data = results.data.clone();
        status.model = results.model.clone().map(|model| ModelArtifact {
            latency_p50_ms: model.latency_p50_ms.filter(|v| v.is_finite()),
            latency_p99_ms: model.latency_p99_ms.filter(|v| v.is_finite()),
            ..model
        });
    }
    json!({
        "apiVersion": TrainingJob::api_version(&()),
        "kind": TrainingJob::kind(&()),
        "metadata": {"name": name, "namespace": namespace},
        "status": status,
    })
}

/// Why one write failed, reduced to what decides retrying and logging.
#[derive(Clone, Debug, PartialEq, Eq)]
enum WriteError {
    /// The API server answered with an error status.
    Api { code: u16, message: String },
    /// No answer within the attempt's time.
    TimedOut,
    /// The request did not get through (connection refused, TLS, ...).
    Transport(String),
}

impl WriteError {
    fn from_kube(error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => Self::Api {
                code: status.code,
                message: status.message,
            },
            other => Self::Transport(other.to_string()),
        }
    }

    /// Conflicts, throttling, server errors and lost requests may pass on a second try; a
    /// missing object or a refused permission will not.
    fn retryable(&self) -> bool {
        match self {
            Self::Api { code, .. } => matches!(code, 409 | 429 | 500..=599),
            Self::TimedOut | Self::Transport(_) => true,
        }
    }

    /// What "the same failure" means for logging it once.
    fn kind(&self) -> String {
        match self {
            Self::Api { code, .. } => format!("http {code}"),
            Self::TimedOut => "timeout".into(),
            Self::Transport(_) => "transport".into(),
        }
    }

    /// What to check, for the warning.
    fn hint(&self) -> &'static str {
        match self {
            Self::Api { code: 404, .. } => "the TrainingJob does not exist (was it deleted?)",
            Self::Api {
                code: 401 | 403, ..
            } => {
                "the pod's service account may not patch this TrainingJob's status: check the Role and RoleBinding the operator creates for the job"
            }
            Self::Api { code: 422, .. } => {
                "the API server refused the status as invalid: the runner and the installed CRD may be of different versions"
            }
            Self::Api { .. } => "the API server refused the write",
            Self::TimedOut => "the API server did not answer in time",
            Self::Transport(_) => "the API server could not be reached",
        }
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Api { code, message } => write!(f, "HTTP {code}: {message}"),
            Self::TimedOut => write!(f, "no answer within {}s", ATTEMPT_TIMEOUT.as_secs()),
            Self::Transport(message) => f.write_str(message),
        }
    }
}

/// The end of the run, as handed to the background thread.
struct Final {
    results: RunResults,
    deadline: Instant,
}

/// What the training thread and the writer share.
struct State {
    snapshot: Snapshot,
    throttle: Throttle,
    finish: Option<Box<Final>>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Reports progress and final results to the TrainingJob's status subresource from a background
/// thread; see the module documentation for the contract.
pub struct StatusReporter {
    shared: Arc<Shared>,
    /// Disconnects when the writer thread ends, which is what [`Reporter::finish`] waits for.
    done: Mutex<Option<mpsc::Receiver<()>>>,
}

impl StatusReporter {
    /// Starts the writer thread for `object`. Connecting happens on that thread, so a slow or
    /// missing API server delays nothing here.
    pub fn start(settings: StatusSettings, object: ObjectRef) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                snapshot: Snapshot::default(),
                throttle: Throttle::new(settings.interval),
                finish: None,
            }),
            wake: Condvar::new(),
        });
        let (done_tx, done_rx) = mpsc::channel();
        let writer_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("status-report".into())
            .spawn(move || {
                Writer::new(object).run(&writer_shared);
                drop(done_tx);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "status reporting is off: could not start its thread");
        }
        Self {
            shared,
            done: Mutex::new(Some(done_rx)),
        }
    }
}

impl Reporter for StatusReporter {
    fn report(&self, progress: &Progress) {
        let mut state = self.shared.lock();
        state.snapshot.update(progress);
        state.throttle.changed();
        drop(state);
        self.shared.wake.notify_all();
    }

    fn finish(&self, results: &RunResults) {
        let Some(done) = self
            .done
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
        else {
            return;
        };
        let deadline = Instant::now() + FLUSH_BUDGET;
        self.shared.lock().finish = Some(Box::new(Final {
            results: results.clone(),
            deadline,
        }));
        self.shared.wake.notify_all();
        // The writer keeps to the deadline itself; this bound holds even if a request hangs.
        let _ = done.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    }
}

/// What the writer thread does with the shared state next.
enum Job {
    Progress(Snapshot),
    Final(Snapshot, Box<Final>),
}

/// The background side: one connection, and the failures already logged.
struct Writer {
    object: ObjectRef,
    warned: HashSet<String>,
}

/// A connected client for the job's status.
struct Target {
    api: Api<TrainingJob>,
    name: String,
    namespace: String,
}

impl Writer {
    fn new(object: ObjectRef) -> Self {
        Self {
            object,
            warned: HashSet::new(),
        }
    }

    fn run(self, shared: &Shared) {
        // kube logs every failed request as an error; this thread logs each kind of failure
        // once instead, so kube's copies are dropped here (and only here).
        let quiet = tracing::dispatcher::get_default(|global| {
            tracing::Dispatch::new(WithoutKubeErrors(
                global.clone(),
                tracing::level_filters::LevelFilter::current(),
            ))
        });
        tracing::dispatcher::with_default(&quiet, || self.write_until_finished(shared));
    }

    fn write_until_finished(mut self, shared: &Shared) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                tracing::warn!(error = %e, "status reporting is off: could not start its runtime");
                return;
            }
        };
        let target = match runtime.block_on(self.connect()) {
            Ok(target) => target,
            Err(message) => {
                tracing::warn!(
                    "status reporting is off: {message}; training goes on and its results are in the termination message"
                );
                return;
            }
        };
        loop {
            match next_job(shared) {
                Job::Progress(snapshot) => {
                    let body = status_body(
                        &target.name,
                        &target.namespace,
                        snapshot.to_status(jiff::Timestamp::now()),
                        None,
                    );
                    if let Err(e) = runtime.block_on(apply(&target, &body, ATTEMPT_TIMEOUT)) {
                        self.warn_once(&target, &e);
                    }
                }
                Job::Final(snapshot, end) => {
                    runtime.block_on(self.write_final(&target, &snapshot, &end));
                    return;
                }
            }
        }
    }

    async fn connect(&self) -> Result<Target, String> {
        // kube's TLS stack needs a process-wide crypto provider; ring is the one this build
        // links. Another part of the runner may have installed it already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut config = kube::Config::infer().await.map_err(|e| {
            format!(
                "no Kubernetes credentials (in-cluster service account or KUBECONFIG) were found: {e}"
            )
        })?;
        // kube's own retries wait up to minutes; the final write must fit its flush budget,
        // so retries are done here, against a deadline.
        config.default_retry = false;
        let client = kube::Client::try_from(config)
            .map_err(|e| format!("could not build a Kubernetes client: {e}"))?;
        let namespace = self
            .object
            .namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_string());
        Ok(Target {
            api: Api::namespaced(client, &namespace),
            name: self.object.name.clone(),
            namespace,
        })
    }

    /// The final apply, retried with back-off until it lands, fails for good, or the flush
    /// budget is spent.
    async fn write_final(&mut self, target: &Target, snapshot: &Snapshot, end: &Final) {
        let mut backoff = FIRST_BACKOFF;
        let mut attempts = 0;
        loop {
            let left = end.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::info!(
                    attempts,
                    "the final status was not written within {}s; the results are in the termination message",
                    FLUSH_BUDGET.as_secs()
                );
                return;
            }
            attempts += 1;
            let body = status_body(
                &target.name,
                &target.namespace,
                snapshot.to_status(jiff::Timestamp::now()),
                Some(&end.results),
            );
            match apply(target, &body, left.min(ATTEMPT_TIMEOUT)).await {
                Ok(()) => {
                    tracing::info!(
                        trainingjob = %format!("{}/{}", target.namespace, target.name),
                        "wrote the final status"
                    );
                    return;
                }
                Err(e) => {
                    self.warn_once(target, &e);
                    let left = end.deadline.saturating_duration_since(Instant::now());
                    if !e.retryable() || left <= backoff {
                        tracing::info!(
                            attempts,
                            error = %e,
                            "gave up writing the final status; the results are in the termination message"
                        );
                        return;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn warn_once(&mut self, target: &Target, error: &WriteError) {
        if self.warned.insert(error.kind()) {
            tracing::warn!(
                trainingjob = %format!("{}/{}", target.namespace, target.name),
                error = %error,
                "could not write the TrainingJob's status: {}; training goes on, later writes are tried but this failure is not logged again, and the results are in the termination message",
                error.hint()
            );
        }
    }
}

/// Passes every log event and span to the process's subscriber except kube's per-request
/// error events.
/// The second field is the process's most verbose level when it was made, so that this
/// subscriber enables no level the process had turned off.
struct WithoutKubeErrors(tracing::Dispatch, tracing::level_filters::LevelFilter);

impl WithoutKubeErrors {
    fn dropped(metadata: &tracing::Metadata<'_>) -> bool {
        metadata.is_event()
            && *metadata.level() == tracing::Level::ERROR
            && metadata.target().starts_with("kube_client")
    }
}

impl tracing::Subscriber for WithoutKubeErrors {
    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if Self::dropped(metadata) {
            tracing::subscriber::Interest::never()
        } else {
            self.0.register_callsite(metadata)
        }
    }

    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        !Self::dropped(metadata) && self.0.enabled(metadata)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(self.1)
    }

    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        self.0.new_span(span)
    }

    fn record(&self, span: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        self.0.record(span, values);
    }

    fn record_follows_from(&self, span: &tracing::span::Id, follows: &tracing::span::Id) {
        self.0.record_follows_from(span, follows);
    }

    fn event(&self, event: &tracing::Event<'_>) {
        self.0.event(event);
    }

    fn enter(&self, span: &tracing::span::Id) {
        self.0.enter(span);
    }

    fn exit(&self, span: &tracing::span::Id) {
        self.0.exit(span);
    }

    fn clone_span(&self, id: &tracing::span::Id) -> tracing::span::Id {
        self.0.clone_span(id)
    }

    fn try_close(&self, id: tracing::span::Id) -> bool {
        self.0.try_close(id)
    }
}

/// Waits until there is something to write: the end of the run, or progress whose interval has
/// passed.
fn next_job(shared: &Shared) -> Job {
    let mut state = shared.lock();
    loop {
        if let Some(end) = state.finish.take() {
            return Job::Final(state.snapshot.clone(), end);
        }
        let now = Instant::now();
        state = match state.throttle.wait(now) {
            Some(wait) if wait.is_zero() => {
                state.throttle.wrote(now);
                return Job::Progress(state.snapshot.clone());
            }
            Some(wait) => {
                shared
                    .wake
                    .wait_timeout(state, wait)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0
            }
            None => shared
                .wake
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        };
    }
}

async fn apply(target: &Target, body: &Value, timeout: Duration) -> Result<(), WriteError> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let patch = Patch::Apply(body);
    match tokio::time::timeout(
        timeout,
        target.api.patch_status(&target.name, &params, &patch),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(WriteError::from_kube(e)),
        Err(_) => Err(WriteError::TimedOut),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Stage;
    use lepton_crds::v1alpha1::{DataSummary, Metric, ObjectiveValue, Task};

    fn epoch(family: &'static str, step: u64, auc: f64) -> Progress {
        Progress {
            stage: Stage::Training,
            family: Some(family),
            step: Some(step),
            total_steps: Some(50),
            metrics: BTreeMap::from([("auc".to_string(), auc)]),
            objective: Some("auc"),
            message: None,
        }
    }

    #[test]
    fn settings_accept_kubernetes_and_name_the_variable_otherwise() {
        assert_eq!(StatusSettings::parse(None, None), Ok(None));
        assert_eq!(StatusSettings::parse(Some(""), Some("")), Ok(None));
        assert_eq!(
            StatusSettings::parse(Some("kubernetes"), None),
            Ok(Some(StatusSettings {
                interval: DEFAULT_INTERVAL
            }))
        );
        assert_eq!(
            StatusSettings::parse(Some("kubernetes"), Some("250")),
            Ok(Some(StatusSettings {
                interval: Duration::from_millis(250)
            }))
        );
        let err = StatusSettings::parse(Some("stdout"), None).unwrap_err();
        assert!(
            err.contains(REPORTING_ENV) && err.contains("`kubernetes`"),
            "{err}"
        );
        for bad in ["soon", "-5", "0", "1.5"] {
            let err = StatusSettings::parse(Some("kubernetes"), Some(bad)).unwrap_err();
            assert!(err.contains(INTERVAL_ENV) && err.contains(bad), "{err}");
        }
        // A typo is caught before anyone turns reporting on.
        assert!(StatusSettings::parse(None, Some("x")).is_err());
    }

    #[test]
    fn the_throttle_writes_at_most_once_per_interval_and_only_when_something_changed() {
        let interval = Duration::from_millis(100);
        let t0 = Instant::now();
        let mut throttle = Throttle::new(interval);
        assert_eq!(throttle.wait(t0), None, "nothing to send yet");
        throttle.changed();
        assert_eq!(
            throttle.wait(t0),
            Some(Duration::ZERO),
            "the first write goes at once"
        );
        throttle.wrote(t0);
        assert_eq!(throttle.wait(t0), None);
        // Many events within one interval make one write, when the interval is over.
        for ms in [1, 10, 50, 99] {
            throttle.changed();
            assert_eq!(
                throttle.wait(t0 + Duration::from_millis(ms)),
                Some(Duration::from_millis(100 - ms))
            );
        }
        assert_eq!(throttle.wait(t0 + interval), Some(Duration::ZERO));
        throttle.wrote(t0 + Duration::from_millis(130));
        throttle.changed();
        assert_eq!(
            throttle.wait(t0 + Duration::from_millis(200)),
            Some(Duration::from_millis(30)),
            "the interval counts from the last write, not from the schedule"
        );
        // After a quiet spell the next change goes at once.
        assert_eq!(
            throttle.wait(t0 + Duration::from_secs(10)),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn the_snapshot_keeps_the_latest_step_and_resets_for_a_new_family() {
        let mut snapshot = Snapshot::default();
        snapshot.update(&Progress::stage(Stage::Loading, "reading"));
        assert_eq!(snapshot, Snapshot::default());
        for step in 1..=5 {
            snapshot.update(&epoch("linear", step, step as f64 / 10.0));
        }
        snapshot.update(&Progress::stage(Stage::Exporting, "writing"));
        assert_eq!(snapshot.family, Some(ConcreteModelFamily::Linear));
        assert_eq!(snapshot.step, Some(5));
        assert_eq!(snapshot.metrics["auc"], 0.5);
        // `auto` moves on to the next candidate: nothing of the last one's steps is kept.
        snapshot.update(&Progress {
            family: Some("gbdt"),
            ..Progress::stage(Stage::Training, "training gbdt")
        });
        assert_eq!(
            snapshot,
            Snapshot {
                family: Some(ConcreteModelFamily::Gbdt),
                ..Snapshot::default()
            }
        );
        snapshot.update(&epoch("gbdt", 10, f64::NAN));
        assert!(
            snapshot.metrics.is_empty(),
            "NaN is not valid in the status"
        );
        assert!(
            snapshot.curve_points().is_empty(),
            "NaN is not a curve point"
        );
    }

    #[test]
    fn the_learning_curve_is_bounded_and_keeps_the_whole_run() {
        let mut snapshot = Snapshot::default();
        for step in 1..=1000u64 {
            snapshot.update(&epoch("mlp", step, 1.0 - 1.0 / step as f64));
            assert!(snapshot.curve_points().len() <= MAX_CURVE_POINTS);
        }
        let curve = snapshot.curve_points();
        let steps: Vec<i64> = curve.iter().map(|p| p.step).collect();
        assert_eq!(steps.first(), Some(&1), "the start of the run is kept");
        assert_eq!(steps.last(), Some(&1000), "the latest step is kept");
        assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
        assert!(steps.len() >= MAX_CURVE_POINTS / 2, "{steps:?}");
        // Evenly thinned: every gap but the last (to the latest step) is the same.
        let gaps: Vec<i64> = steps.windows(2).map(|w| w[1] - w[0]).collect();
        let inner = &gaps[..gaps.len() - 1];
        assert!(inner.iter().all(|g| *g == inner[0]), "{gaps:?}");
        assert!(gaps[gaps.len() - 1] <= inner[0], "{gaps:?}");
        let point = curve.last().unwrap();
        assert!((point.value - 0.999).abs() < 1e-12);
        // A repeated step replaces its point instead of adding one.
        snapshot.update(&epoch("mlp", 1000, 0.5));
        let again = snapshot.curve_points();
        assert_eq!(again.last().unwrap().value, 0.5);
        assert_eq!(again.len(), steps.len());
    }

    fn succeeded() -> RunResults {
        RunResults {
            phase: "Succeeded".into(),
            reason: None,
            message: None,
            objective: Some(ObjectiveValue {
                metric: Metric::Auc,
                value: 0.95,
            }),
            metrics: BTreeMap::from([
                ("auc".to_string(), 0.95),
                ("logLoss".to_string(), f64::INFINITY),
                ("f1".to_string(), f64::NAN),
            ]),
            data: Some(DataSummary {
                rows_read: Some(100),
                training_rows: Some(80),
                validation_rows: Some(20),
                features: Some(4),
                task: Some(Task::Binary),
            }),
            model: Some(ModelArtifact {
                uri: Some("file:///out/model.onnx".into()),
                sha256: Some("ab".repeat(32)),
                size_bytes: Some(1234),
                family: Some(ConcreteModelFamily::Linear),
                latency_p50_ms: Some(0.01),
                latency_p99_ms: Some(f64::NAN),
                input_columns: Some(3),
                input_schema: Some("a:double".into()),
            }),
            duration_seconds: 2.0,
        }
    }

    #[test]
    fn the_body_has_the_crd_field_names_and_only_finite_numbers() {
        let mut snapshot = Snapshot::default();
        snapshot.update(&epoch("mlp", 7, 0.9));
        let now: jiff::Timestamp = "2025-01-02T03:04:05Z".parse().unwrap();
        let body = status_body("credit", "ml", snapshot.to_status(now), Some(&succeeded()));
        assert_eq!(body["apiVersion"], "lepton.ai/v1alpha1");
        assert_eq!(body["kind"], "TrainingJob");
        assert_eq!(
            body["metadata"],
            json!({"name": "credit", "namespace": "ml"})
        );
        let status = &body["status"];
        let keys: Vec<&str> = status
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["data", "metrics", "model", "objective", "progress"]);
        assert_eq!(
            status["progress"],
            json!({"family": "mlp", "step": 7, "totalSteps": 50, "metrics": {"auc": 0.9}, "objectiveCurve": [{"step": 7, "value": 0.9}], "updatedAt": "2025-01-02T03:04:05Z"})
        );
        assert_eq!(status["objective"], json!({"metric": "auc", "value": 0.95}));
        assert_eq!(status["metrics"], json!({"auc": 0.95}));
        assert_eq!(status["data"]["trainingRows"], 80);
        assert_eq!(status["model"]["latencyP50Ms"], 0.01);
        assert!(status["model"].get("latencyP99Ms").is_none());
        assert_eq!(status["model"]["sha256"], "ab".repeat(32));
        // The body reads back as the API type, so no name can drift from the CRD.
        let back: TrainingJobStatus = serde_json::from_value(status.clone()).unwrap();
        assert_eq!(back.progress.unwrap().step, Some(7));

        let mut nan_objective = succeeded();
        nan_objective.objective.as_mut().unwrap().value = f64::NAN;
        let body = status_body(
            "credit",
            "ml",
            snapshot.to_status(now),
            Some(&nan_objective),
        );
        assert!(body["status"].get("objective").is_none());
    }

    #[test]
    fn progress_writes_carry_only_progress_and_never_the_operators_fields() {
        let body = status_body(
            "credit",
            "ml",
            Snapshot::default().to_status(jiff::Timestamp::UNIX_EPOCH),
            None,
        );
        assert_eq!(
            body["status"],
            json!({"progress": {"updatedAt": "1970-01-01T00:00:00Z"}})
        );
        let failed = RunResults::failed("TooFewRows", "few".into(), 1.0);
        let body = status_body(
            "credit",
            "ml",
            Snapshot::default().to_status(jiff::Timestamp::UNIX_EPOCH),
            Some(&failed),
        );
        assert_eq!(
            body["status"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["progress"]
        );
    }

    #[test]
    fn only_passing_failures_are_retried_and_each_kind_is_one_key() {
        let api = |code| WriteError::Api {
            code,
            message: String::new(),
        };
        for code in [409, 429, 500, 503, 504] {
            assert!(api(code).retryable(), "{code}");
        }
        for code in [400, 403, 404, 422] {
            assert!(!api(code).retryable(), "{code}");
        }
        assert!(WriteError::TimedOut.retryable());
        assert_eq!(api(500).kind(), api(500).kind());
        assert_ne!(api(500).kind(), api(404).kind());
        assert!(api(403).hint().contains("Role"));
    }
}
