//! Running the operator: the startup check that the CRDs are installed, the probes and metrics
//! listener, leader election, and the controllers of every kind, in every watched namespace,
//! sharing one [`Context`]. Local mode runs the same [`run`] against the embedded cluster.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use futures::{StreamExt, future::BoxFuture};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use lepton_crds::v1alpha1::{ModelDeployment, ModelSource, TrainingJob, TuningSweep};
use tokio::sync::watch;

use crate::config::ConfigWatch;
use crate::context::Context;
use crate::error::Result;
use crate::leader::{self, LeaseSettings};
use crate::names::{
    MODEL_DEPLOYMENT_LABEL, OWNER_ANNOTATION, TRAINING_JOB_LABEL, TUNING_SWEEP_LABEL,
};
use crate::telemetry::{self, Health, Metrics};
use crate::{model_deployment, training_job, tuning_sweep};

/// How the operator runs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Namespaces to watch; empty watches all.
    pub namespaces: Vec<String>,
    /// Leader election; `None` runs the controllers at once (a single replica, local mode).
    pub leader_election: Option<LeaseSettings>,
    /// Where `/metrics`, `/livez` and `/readyz` listen; `None` serves nothing.
    pub metrics_addr: Option<SocketAddr>,
    /// Reconciles of one kind that may run at once.
    pub concurrency: u16,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            namespaces: Vec::new(),
            leader_election: None,
            metrics_addr: None,
            concurrency: 16,
        }
    }
}

/// Checks that the Lepton CRDs are installed and served, with a message that says how to
/// install them.
pub async fn check_crds(client: &kube::Client) -> std::result::Result<(), String> {
    const HOW: &str = "install them with `lepton-operator crd | kubectl apply --server-side -f -` or the Helm chart";
    let resources = client
        .list_api_group_resources("lepton.ai/v1alpha1")
        .await
        .map_err(|error| match &error {
            kube::Error::Api(status) if status.code == 404 => {
                format!("the Lepton CRDs (group lepton.ai, version v1alpha1) are not installed in this cluster; {HOW}")
            }
            _ => format!("cannot ask the API server which Lepton kinds it serves: {error}"),
        })?;
    let missing: Vec<&str> = ["trainingjobs", "tuningsweeps", "modeldeployments"]
        .into_iter()
        .filter(|plural| !resources.resources.iter().any(|r| r.name == *plural))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the API server does not serve lepton.ai/v1alpha1 {}; {HOW}",
            missing.join(", ")
        ))
    }
}

/// Runs the operator until `shutdown` turns true: checks the CRDs, serves the probes, waits for
/// the lease when leader election is on, and runs the controllers while it leads. The error is
/// a message for the user (the CRDs are missing, the metrics port is taken).
pub async fn run(
    client: kube::Client,
    config: ConfigWatch,
    metrics: Arc<Metrics>,
    settings: Settings,
    shutdown: watch::Receiver<bool>,
) -> std::result::Result<(), String> {
    let health = Arc::new(Health::default());
    let server = match settings.metrics_addr {
        Some(addr) => {
            let (local, task) = telemetry::serve(addr, metrics.clone(), health.clone())
                .await
                .map_err(|e| format!("cannot listen on {addr} for metrics and probes: {e}"))?;
            tracing::info!(%local, "serving /metrics, /livez and /readyz");
            Some(task)
        }
        None => None,
    };
    check_crds(&client).await?;
    health.set_ready(true);

    let instance = settings
        .leader_election
        .as_ref()
        .map(|l| l.identity.clone());
    let ctx = Arc::new(Context::new(
        client.clone(),
        config,
        metrics.clone(),
        instance,
    ));
    match settings.leader_election.clone() {
        Some(lease) => {
            let api: Api<Lease> = Api::namespaced(client, &lease.namespace);
            let leader_metrics = metrics.clone();
            leader::run_while_leading(
                api,
                lease,
                || run_controllers(ctx.clone(), &settings, shutdown.clone()),
                shutdown.clone(),
                move |leading| leader_metrics.set_leader(leading),
            )
            .await;
        }
        None => {
            metrics.set_leader(true);
            run_controllers(ctx, &settings, shutdown).await;
        }
    }
    if let Some(server) = server {
        server.abort();
    }
    Ok(())
}

/// Every controller in every watched namespace, until `shutdown` turns true (each finishes the
/// reconciles it has started).
pub fn run_controllers(
    ctx: Arc<Context>,
    settings: &Settings,
    shutdown: watch::Receiver<bool>,
) -> BoxFuture<'static, ()> {
    let scopes: Vec<Option<String>> = if settings.namespaces.is_empty() {
        vec![None]
    } else {
        settings.namespaces.iter().cloned().map(Some).collect()
    };
    let config = ControllerConfig::default().concurrency(settings.concurrency);
    let mut controllers: Vec<BoxFuture<'static, ()>> = Vec::new();
    for scope in scopes {
        controllers.push(training_jobs(
            ctx.clone(),
            scope.as_deref(),
            config.clone(),
            shutdown.clone(),
        ));
        controllers.push(tuning_sweeps(
            ctx.clone(),
            scope.as_deref(),
            config.clone(),
            shutdown.clone(),
        ));
        controllers.push(model_deployments(
            ctx.clone(),
            scope.as_deref(),
            config.clone(),
            shutdown.clone(),
        ));
    }
    Box::pin(async move {
        futures::future::join_all(controllers).await;
    })
}

fn api<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

async fn stop_on(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn training_jobs(
    ctx: Arc<Context>,
    namespace: Option<&str>,
    config: ControllerConfig,
    shutdown: watch::Receiver<bool>,
) -> BoxFuture<'static, ()> {
    let client = ctx.client.clone();
    let controller = Controller::new(
        api::<TrainingJob>(&client, namespace),
        watcher::Config::default(),
    )
    .with_config(config)
    .owns(
        api::<Job>(&client, namespace),
        watcher::Config::default().labels(TRAINING_JOB_LABEL),
    )
    .watches(
        api::<Pod>(&client, namespace),
        watcher::Config::default().labels(TRAINING_JOB_LABEL),
        |pod| owner_by_label::<TrainingJob>(&pod, TRAINING_JOB_LABEL),
    );
    start(
        controller,
        ctx,
        shutdown,
        "TrainingJob",
        |tj| {
            tj.status
                .as_ref()
                .and_then(|s| s.phase)
                .map(|p| format!("{p:?}"))
        },
        training_job::CONTROLLER,
        training_job::reconcile,
    )
}

fn tuning_sweeps(
    ctx: Arc<Context>,
    namespace: Option<&str>,
    config: ControllerConfig,
    shutdown: watch::Receiver<bool>,
) -> BoxFuture<'static, ()> {
    let client = ctx.client.clone();
    // Every trial's progress and results wake its sweep: the early-stopping rule reads the
    // learning curves as they grow.
    let controller = Controller::new(
        api::<TuningSweep>(&client, namespace),
        watcher::Config::default(),
    )
    .with_config(config)
    .owns(
        api::<TrainingJob>(&client, namespace),
        watcher::Config::default().labels(TUNING_SWEEP_LABEL),
    );
    start(
        controller,
        ctx,
        shutdown,
        "TuningSweep",
        |ts| {
            ts.status
                .as_ref()
                .and_then(|s| s.phase)
                .map(|p| format!("{p:?}"))
        },
        tuning_sweep::CONTROLLER,
        tuning_sweep::reconcile,
    )
}

fn model_deployments(
    ctx: Arc<Context>,
    namespace: Option<&str>,
    config: ControllerConfig,
    shutdown: watch::Receiver<bool>,
) -> BoxFuture<'static, ()> {
    let client = ctx.client.clone();
    let controller = Controller::new(
        api::<ModelDeployment>(&client, namespace),
        watcher::Config::default(),
    )
    .with_config(config)
    .owns(
        api::<k8s_openapi::api::apps::v1::Deployment>(&client, namespace),
        watcher::Config::default().labels(MODEL_DEPLOYMENT_LABEL),
    )
    .owns(
        api::<k8s_openapi::api::core::v1::Service>(&client, namespace),
        watcher::Config::default().labels(MODEL_DEPLOYMENT_LABEL),
    )
    .watches(
        api::<Pod>(&client, namespace),
        watcher::Config::default().labels(MODEL_DEPLOYMENT_LABEL),
        |pod| owner_by_label::<ModelDeployment>(&pod, MODEL_DEPLOYMENT_LABEL),
    );
    // A deployment that serves a TrainingJob's model moves when that job finishes, and one
    // that serves a sweep's choice when the sweep's status changes (which it does whenever a
    // trial finishes), not on every progress write of every trial.
    let deployments_of_job = controller.store();
    let deployments_of_sweep = controller.store();
    let controller = controller
        .watches(
            api::<TrainingJob>(&client, namespace),
            watcher::Config::default(),
            move |tj| {
                let namespace = tj.namespace();
                let name = tj.name_any();
                deployments_of_job
                    .state()
                    .into_iter()
                    .filter(|md| {
                        md.namespace() == namespace
                            && model_sources(md)
                                .any(|source| source.training_job.as_deref() == Some(name.as_str()))
                    })
                    .map(|md| ObjectRef::from_obj(&*md))
                    .collect::<Vec<_>>()
            },
        )
        .watches(
            api::<TuningSweep>(&client, namespace),
            watcher::Config::default(),
            move |sweep| {
                let namespace = sweep.namespace();
                let name = sweep.name_any();
                deployments_of_sweep
                    .state()
                    .into_iter()
                    .filter(|md| {
                        md.namespace() == namespace
                            && model_sources(md).any(|source| {
                                source.tuning_sweep.as_ref().map(|s| s.name.as_str())
                                    == Some(name.as_str())
                            })
                    })
                    .map(|md| ObjectRef::from_obj(&*md))
                    .collect::<Vec<_>>()
            },
        );
    start(
        controller,
        ctx,
        shutdown,
        "ModelDeployment",
        |md| {
            md.status
                .as_ref()
                .and_then(|s| s.phase)
                .map(|p| format!("{p:?}"))
        },
        model_deployment::CONTROLLER,
        model_deployment::reconcile,
    )
}

/// Finishes building `controller` (reconcile everything when the configuration changes, stop
/// on `shutdown`), exports its objects by phase, and runs it.
fn start<K, Fut>(
    controller: Controller<K>,
    ctx: Arc<Context>,
    shutdown: watch::Receiver<bool>,
    kind: &'static str,
    phase: fn(&K) -> Option<String>,
    name: &'static str,
    reconcile: fn(Arc<K>, Arc<Context>) -> Fut,
) -> BoxFuture<'static, ()>
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    Fut: std::future::Future<Output = Result<Action>> + Send + 'static,
{
    let controller = controller
        .reconcile_all_on(ctx.config.changes())
        .graceful_shutdown_on(stop_on(shutdown));
    count_phases(&ctx.metrics, kind, controller.store(), phase);
    drive(controller, name, reconcile, ctx)
}

/// The primary and the canary model sources of a deployment.
fn model_sources(md: &ModelDeployment) -> impl Iterator<Item = &ModelSource> {
    std::iter::once(&md.spec.model).chain(md.spec.canary.as_ref().map(|c| &c.model))
}

/// Exports how many objects of `kind` the controller's cache holds in each phase.
fn count_phases<K>(
    metrics: &Metrics,
    kind: &'static str,
    store: kube::runtime::reflector::Store<K>,
    phase: fn(&K) -> Option<String>,
) where
    K: kube::Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    metrics.count_objects_with(Box::new(move || {
        let mut counts = std::collections::BTreeMap::new();
        for object in store.state() {
            let phase = phase(&object).unwrap_or_else(|| "Pending".to_owned());
            *counts.entry((kind, phase)).or_default() += 1;
        }
        counts
    }));
}

/// The object a pod belongs to: named by its owner annotation (the full name), else by its
/// label, in the pod's namespace.
fn owner_by_label<K>(child: &impl ResourceExt, label: &str) -> Option<ObjectRef<K>>
where
    K: Resource<DynamicType = ()>,
{
    let name = child
        .annotations()
        .get(OWNER_ANNOTATION)
        .or_else(|| child.labels().get(label))?;
    Some(ObjectRef::new(name).within(&child.namespace()?))
}

fn key<K: ResourceExt>(object: &K) -> String {
    format!(
        "{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

/// Runs `controller` with `reconcile` wrapped in metrics, and the back-off of [`Context`] after
/// a failure.
fn drive<K, Fut>(
    controller: Controller<K>,
    name: &'static str,
    reconcile: fn(Arc<K>, Arc<Context>) -> Fut,
    ctx: Arc<Context>,
) -> BoxFuture<'static, ()>
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    Fut: std::future::Future<Output = Result<Action>> + Send + 'static,
{
    let stream = controller.run(
        move |object, ctx: Arc<Context>| {
            instrumented(name, key(&*object), ctx.clone(), reconcile(object, ctx))
        },
        |object, error, ctx| ctx.retry_after_failure(&key(&*object), error),
        ctx,
    );
    Box::pin(stream.for_each(|_| async {}))
}

async fn instrumented(
    controller: &'static str,
    key: String,
    ctx: Arc<Context>,
    reconcile: impl std::future::Future<Output = Result<Action>>,
) -> Result<Action> {
    ctx.metrics.reconcile_started(controller, &key);
    let started = Instant::now();
    let result = reconcile.await;
    let requeued = result.as_ref().is_ok_and(|a| *a != Action::await_change());
    ctx.metrics.reconcile_finished(
        controller,
        &key,
        started.elapsed(),
        result.as_ref().err().map(crate::error::Error::category),
        requeued,
    );
    if result.is_ok() {
        ctx.reconciled(&key);
    }
    result
}
