//! The local executor: what runs Lepton's pods on this machine in place of the kubelet and
//! the Job, Deployment and Service controllers. It is an ordinary client of the API server
//! (watches, status writes), so it works against the embedded cluster like any controller.
//!
//! - Pods run as processes of Lepton's runner binary (the image is ignored; any other program
//!   fails the pod with a message saying so). Their status carries phase, conditions,
//!   container state, exit code and termination message, as the kubelet writes it.
//! - Jobs get pods and the batch/v1 status and conditions, with `backoffLimit`,
//!   `activeDeadlineSeconds`, `suspend` and `ttlSecondsAfterFinished`.
//! - Deployments get `replicas` serving pods, each on a free loopback port, ready once
//!   their readiness endpoint answers.
//! - Services get a loopback address forwarding to their ready pods, published in the
//!   `lepton.ai/local-address` annotation.

mod deployment;
mod job;
mod kubelet;
mod probe;
mod process;
mod service;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

use kubelet::Kubelet;

/// The annotation holding the `127.0.0.1:PORT` address of a serving pod or of a Service.
pub const LOCAL_ADDRESS: &str = "lepton.ai/local-address";

/// The variable holding the process id of the program that runs the executor. Every process
/// gets it, and the runner exits when its parent is no longer that process, so not even a
/// `kill -9` of the executor's program leaves a model server behind.
pub const PARENT_PID_ENV: &str = "LEPTON_EXIT_WITH_PARENT";

/// Settings of a [`LocalExecutor`].
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// The program run for every pod: Lepton's runner (or a stand-in in tests).
    pub runner_binary: PathBuf,
    /// The names that mean "the runner" in a container's `command[0]` or image (last path
    /// segment, tag and digest ignored). Default: `lepton-runner`.
    pub runner_names: Vec<String>,
    /// Where pod logs and termination logs go:
    /// `WORK_DIR/pods/NAMESPACE/POD/CONTAINER.log` and `.termination-log`.
    pub work_dir: PathBuf,
    /// Only this namespace, or every namespace.
    pub namespace: Option<String>,
    /// The base of the Job retry back-off (doubled per failure, at most 6 min). batch/v1
    /// uses 10 s; the default here is 1 s so local runs do not idle.
    pub job_backoff: Duration,
    /// The base of the restart back-off of `restartPolicy: Always` containers (doubled per
    /// restart, at most 5 min). Default 1 s.
    pub restart_backoff: Duration,
    /// How often a container's readiness endpoint is polled until it answers. Default 100 ms.
    pub readiness_period: Duration,
    /// The readiness path of a container that declares ports but no readiness probe.
    /// Default `/v2/health/ready` (the runner's serving protocol).
    pub readiness_path: String,
    /// The longest a container gets between SIGTERM and SIGKILL, whatever its
    /// `terminationGracePeriodSeconds`. Default 5 s.
    pub max_termination_grace: Duration,
    /// A kubeconfig file passed to pods as `KUBECONFIG`, so the runner can reach the API.
    pub pod_kubeconfig: Option<PathBuf>,
    /// Variables every process gets, under the pod's own (which win): for example where
    /// ONNX Runtime's library is on this machine.
    pub env: Vec<(String, String)>,
}

impl ExecutorConfig {
    /// Settings with defaults, running `runner_binary` for every pod.
    pub fn new(runner_binary: impl Into<PathBuf>) -> Self {
        Self {
            runner_binary: runner_binary.into(),
            runner_names: vec!["lepton-runner".into()],
            work_dir: std::env::temp_dir().join("lepton-local"),
            namespace: None,
            job_backoff: Duration::from_secs(1),
            restart_backoff: Duration::from_secs(1),
            readiness_period: Duration::from_millis(100),
            readiness_path: "/v2/health/ready".into(),
            max_termination_grace: Duration::from_secs(5),
            pod_kubeconfig: None,
            env: Vec::new(),
        }
    }
}

/// The running executor. Dropping it stops its controllers and tells every process to stop;
/// [`LocalExecutor::shutdown`] also waits until they have.
#[derive(Debug)]
pub struct LocalExecutor {
    kubelet: Arc<Kubelet>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Kubelet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kubelet")
    }
}

impl LocalExecutor {
    /// Starts the kubelet, Job, Deployment and Service stand-ins against `client`'s cluster.
    pub fn start(client: kube::Client, config: ExecutorConfig) -> Self {
        let config = Arc::new(config);
        let kubelet = Kubelet::new(client.clone(), config.clone());
        let tasks = vec![
            tokio::spawn(kubelet.clone().run()),
            tokio::spawn(job::run(client.clone(), config.clone())),
            tokio::spawn(deployment::run(client.clone(), config.clone())),
            tokio::spawn(service::run(client, config)),
        ];
        Self { kubelet, tasks }
    }

    /// Stops the controllers and terminates every process (SIGTERM, then SIGKILL).
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        self.kubelet.shutdown().await;
    }
}

impl Drop for LocalExecutor {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.kubelet.stop_all();
    }
}

/// A workload condition whose `lastTransitionTime` stays as it was while the status is unchanged;
/// `stamp` names the refresh timestamp the kind uses (`lastUpdateTime` for Deployments,
/// `lastProbeTime` for Jobs).
fn condition(
    old: &[serde_json::Value],
    stamp: &str,
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
) -> serde_json::Value {
    let since = old
        .iter()
        .find(|c| c["type"] == kind && c["status"] == status)
        .and_then(|c| c["lastTransitionTime"].as_str().map(str::to_owned))
        .unwrap_or_else(crate::meta::now);
    serde_json::json!({
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        stamp: crate::meta::now(),
        "lastTransitionTime": since,
    })
}
