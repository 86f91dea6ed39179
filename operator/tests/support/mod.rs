//! Tier 2 harness: the embedded API server, the local executor running the real
//! `lepton-runner`, and the operator's own `runtime::run`, all in one test process.

#![allow(dead_code)]

#[path = "../../../runner/tests/common/mod.rs"]
pub mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};
use lepton_embedded_cluster::EmbeddedCluster;
use lepton_embedded_cluster::executor::{ExecutorConfig, LocalExecutor};
use lepton_operator::config::{self, ConfigWatch, OperatorConfig};
use lepton_operator::leader::LeaseSettings;
use lepton_operator::runtime::{self, Settings};
use lepton_operator::telemetry::Metrics;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use common::TempDir;

/// The runner binary the executor starts: built next to this test's own directory.
pub fn runner_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>/deps");
    let runner = dir.join("lepton-runner");
    assert!(
        runner.exists(),
        "{} is missing: build it first (`cargo build -p lepton-runner`; `make test` does)",
        runner.display()
    );
    runner
}

/// A running operator.
pub struct Operator {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), String>>,
    /// Its metrics.
    pub metrics: Arc<Metrics>,
}

impl Operator {
    /// Stops it and waits until its controllers have finished.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let result = tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the operator stops within 30 s")
            .expect("the operator task does not panic");
        result.expect("the operator ran without error");
    }

    /// Stops it at once, as a crash would (no lease release, reconciles cut).
    pub fn kill(self) {
        self.task.abort();
    }
}

/// The whole local stack.
pub struct Harness {
    /// The API server.
    pub cluster: EmbeddedCluster,
    /// A client of it with short timeouts, so injected delays turn into timeouts.
    pub client: kube::Client,
    /// Scratch space: pod logs, artifacts, the kubeconfig.
    pub work: TempDir,
    executor: Option<LocalExecutor>,
    /// The configuration the operators get.
    pub config: ConfigWatch,
}

/// The configuration of the tests: a priced default pool, artifacts under the work directory,
/// and short intervals.
pub fn test_config(work: &TempDir) -> String {
    format!(
        "currency: USD
defaultNodePool: cpu
nodePools:
  - name: cpu
    pricePerNodeHour: 0.5
  - name: gpu
    nodeSelector: {{pool: gpu}}
    pricePerGpuHour: 3.0
artifactStore: file://{}/artifacts
training:
  progressIntervalSeconds: 0.2
serving:
  scrapeIntervalSeconds: 0.5
  shutdownDelaySeconds: 1
  drainTimeoutSeconds: 5
",
        work.0.display()
    )
}

impl Harness {
    /// Starts the cluster and the executor (no operator yet).
    pub async fn start() -> Harness {
        let work = TempDir::new("operator");
        let config = OperatorConfig::parse(&test_config(&work)).expect("the test config is valid");
        Self::start_with(work, ConfigWatch::fixed(config)).await
    }

    /// Starts the cluster and the executor with `config`.
    pub async fn start_with(work: TempDir, config: ConfigWatch) -> Harness {
        let cluster = EmbeddedCluster::start()
            .await
            .expect("the embedded cluster starts");
        let kubeconfig = work.0.join("kubeconfig");
        cluster
            .write_kubeconfig(&kubeconfig)
            .expect("kubeconfig written");
        let mut client_config = kube::Config::from_custom_kubeconfig(
            cluster.kubeconfig(),
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .expect("kubeconfig loads");
        client_config.read_timeout = Some(Duration::from_secs(3));
        let client = kube::Client::try_from(client_config).expect("client");
        let mut executor = ExecutorConfig::new(runner_binary());
        executor.work_dir = work.0.join("local");
        executor.pod_kubeconfig = Some(kubeconfig);
        executor.job_backoff = Duration::from_millis(200);
        let executor = LocalExecutor::start(cluster.client().await.expect("client"), executor);
        Harness {
            cluster,
            client,
            work,
            executor: Some(executor),
            config,
        }
    }

    /// Starts an operator without leader election.
    pub fn operator(&self) -> Operator {
        self.operator_with(Settings {
            concurrency: 4,
            ..Settings::default()
        })
    }

    /// Starts an operator with `settings`.
    pub fn operator_with(&self, settings: Settings) -> Operator {
        let (stop, shutdown) = watch::channel(false);
        let metrics = Arc::new(Metrics::new());
        let task = tokio::spawn(runtime::run(
            self.client.clone(),
            self.config.clone(),
            metrics.clone(),
            settings,
            shutdown,
        ));
        Operator {
            stop,
            task,
            metrics,
        }
    }

    /// An operator electing a leader with short leases.
    pub fn elected_operator(&self, identity: &str) -> Operator {
        let mut lease = LeaseSettings::new("default", identity);
        lease.lease_duration = Duration::from_secs(2);
        lease.renew_period = Duration::from_millis(300);
        self.operator_with(Settings {
            leader_election: Some(lease),
            concurrency: 4,
            ..Settings::default()
        })
    }

    /// Creates `object` in namespace `default`.
    pub async fn create<K>(&self, object: &K) -> K
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        Api::<K>::namespaced(self.client.clone(), "default")
            .create(&PostParams::default(), object)
            .await
            .expect("created")
    }

    /// Waits until `check` holds for the object `name` in `default`, up to `timeout`; on
    /// timeout the panic shows the object.
    pub async fn wait_for<K>(&self, name: &str, timeout: Duration, check: impl Fn(&K) -> bool) -> K
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        let api = Api::<K>::namespaced(self.client.clone(), "default");
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last = None;
        while tokio::time::Instant::now() < deadline {
            if let Ok(Some(object)) = api.get_opt(name).await {
                if check(&object) {
                    return object;
                }
                last = Some(object);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{name} did not get there within {timeout:?}; last seen:\n{}\npod logs under {}",
            serde_json::to_string_pretty(&last).unwrap_or_default(),
            self.work.0.join("local/pods").display()
        );
    }

    /// Stops the executor's processes and the cluster.
    pub async fn shutdown(mut self) {
        if let Some(executor) = self.executor.take() {
            executor.shutdown().await;
        }
        let _ = self.cluster.shutdown().await;
    }
}

/// The events about `name` in `default` once `found` holds for them (an event is recorded just
/// after the write that caused it, so a test that saw the write may be ahead of it), or as
/// they are after 10 s.
pub async fn events_about(
    client: &kube::Client,
    name: &str,
    found: impl Fn(&[k8s_openapi::api::events::v1::Event]) -> bool,
) -> Vec<k8s_openapi::api::events::v1::Event> {
    let api = Api::<k8s_openapi::api::events::v1::Event>::namespaced(client.clone(), "default");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let events: Vec<_> = api
            .list(&kube::api::ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .collect();
        if found(&events) || tokio::time::Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether a condition of `type_` is True, exactly as `kubectl wait --for=condition=TYPE`
/// checks it.
pub fn condition_true(
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    type_: &str,
) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == "True")
}

/// A TrainingJob on ISLP's Default.csv, with `extra` (YAML) merged into its spec.
pub fn training_job(name: &str, extra: &str) -> lepton_crds::v1alpha1::TrainingJob {
    let ort = common::ort_library();
    let mut spec: serde_json::Value = serde_json::json!({
        "data": {"source": common::example_data("Default.csv"), "target": "default"},
        "model": {"family": "linear", "hyperparameters": {"epochs": 5}},
        "runner": {"env": [{"name": "LEPTON_ORT_LIB", "value": ort.display().to_string()}]},
    });
    if !extra.is_empty() {
        let extra: serde_json::Value = serde_yaml_ng::from_str(extra).expect("valid YAML");
        merge(&mut spec, extra);
    }
    serde_json::from_value(serde_json::json!({
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }))
    .expect("a valid TrainingJob")
}

fn merge(base: &mut serde_json::Value, extra: serde_json::Value) {
    match (base, extra) {
        (serde_json::Value::Object(b), serde_json::Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (b, e) => *b = e,
    }
}

/// The configuration file behind a reloadable [`ConfigWatch`].
pub async fn reloadable_config(work: &TempDir, text: &str) -> (PathBuf, ConfigWatch) {
    let path = work.0.join("operator-config.yaml");
    std::fs::write(&path, text).expect("config written");
    let watch = config::watch(Some(path.clone()), Duration::from_millis(100), |_| {})
        .await
        .expect("config loads");
    (path, watch)
}

/// The name of a resource, for messages.
pub fn name_of(object: &impl ResourceExt) -> String {
    object.name_any()
}
