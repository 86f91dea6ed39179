//! The local cluster both `lepton run` and `lepton up` start: the embedded API server, the
//! operator's controllers and the executor that runs pods as processes of the runner.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lepton_embedded_cluster::EmbeddedCluster;
use lepton_embedded_cluster::executor::{ExecutorConfig, LocalExecutor};
use lepton_operator::config::{ConfigWatch, OperatorConfig};
use lepton_operator::runtime::{self, Settings};
use lepton_operator::telemetry::Metrics;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::CliError;
use crate::session::{SessionDir, SessionInfo};

/// A running local cluster, published in its session directory.
pub struct LocalCluster {
    cluster: EmbeddedCluster,
    /// A client of the embedded API server.
    pub client: kube::Client,
    executor: LocalExecutor,
    operator: JoinHandle<Result<(), String>>,
    stop: watch::Sender<bool>,
}

/// What a local cluster is started with.
pub struct Start<'a> {
    /// Where the kubeconfig, pod logs and `session.json` go.
    pub session: &'a SessionDir,
    /// The operator's configuration.
    pub config: OperatorConfig,
    /// The runner program.
    pub runner: PathBuf,
    /// ONNX Runtime's library, handed to every runner process.
    pub ort: &'a Path,
    /// The API server's port (0: any free one).
    pub port: u16,
    /// The namespace recorded for the session.
    pub namespace: &'a str,
}

impl LocalCluster {
    /// Starts the API server, writes the session's kubeconfig and `session.json`, and starts
    /// the executor and the controllers.
    pub async fn start(start: Start<'_>) -> Result<LocalCluster, CliError> {
        let cluster = EmbeddedCluster::builder()
            .port(start.port)
            .start()
            .await
            .map_err(|e| CliError::Setup(format!("the embedded API server did not start: {e}")))?;
        let kubeconfig = start.session.kubeconfig();
        cluster
            .write_kubeconfig(&kubeconfig)
            .map_err(|e| CliError::Setup(e.to_string()))?;
        start.session.publish(&SessionInfo {
            pid: std::process::id(),
            server: cluster.url(),
            namespace: start.namespace.to_owned(),
            started_at: jiff::Timestamp::now().to_string(),
        })?;
        let client = cluster
            .client()
            .await
            .map_err(|e| CliError::Setup(e.to_string()))?;
        let mut executor_config = ExecutorConfig::new(start.runner);
        executor_config.work_dir = start.session.root.clone();
        executor_config.pod_kubeconfig = Some(kubeconfig);
        executor_config.env = vec![("LEPTON_ORT_LIB".into(), start.ort.display().to_string())];
        let executor = LocalExecutor::start(client.clone(), executor_config);
        let (stop, stopped) = watch::channel(false);
        let operator = tokio::spawn(runtime::run(
            client.clone(),
            ConfigWatch::fixed(start.config),
            Arc::new(Metrics::new()),
            Settings {
                concurrency: 4,
                ..Settings::default()
            },
            stopped,
        ));
        Ok(LocalCluster {
            cluster,
            client,
            executor,
            operator,
            stop,
        })
    }

    /// The API server's URL.
    pub fn url(&self) -> String {
        self.cluster.url()
    }

    /// Stops the controllers, terminates every process the executor started and stops the
    /// API server.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.operator).await;
        self.executor.shutdown().await;
        let _ = self.cluster.shutdown().await;
    }
}
