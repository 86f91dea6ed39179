//! The embedded cluster: the API server on a loopback port, its store, and the handles tests
//! and local mode use (kubeconfig, client, faults, restart).

use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

use crate::Error;
use crate::faults::Faults;
use crate::resources::Registry;
use crate::server::{Listener, Shared};
use crate::store::State;

/// The name of the cluster, user and context in the generated kubeconfig.
pub const CONTEXT_NAME: &str = "lepton-embedded";

/// Settings of an [`EmbeddedCluster`].
#[derive(Debug, Clone)]
pub struct EmbeddedClusterBuilder {
    store_file: Option<PathBuf>,
    history_limit: usize,
    bookmark_interval: Duration,
    port: u16,
}

impl Default for EmbeddedClusterBuilder {
    fn default() -> Self {
        Self {
            store_file: None,
            history_limit: 10_000,
            bookmark_interval: Duration::from_secs(1),
            port: 0,
        }
    }
}

impl EmbeddedClusterBuilder {
    /// Keeps the store in `path` (JSON lines): objects written by an earlier run there are
    /// loaded, and every change is appended, so a run can be inspected after it ends. Without
    /// it the store lives in memory only.
    pub fn store_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.store_file = Some(path.into());
        self
    }

    /// How many events per kind watches can resume from (default 10,000); a watch from an
    /// older version gets `410 Gone` and must relist.
    pub fn history_limit(mut self, events: usize) -> Self {
        self.history_limit = events;
        self
    }

    /// How often an idle watch that asked for bookmarks gets one (default 1 s; the API
    /// server sends one about every minute).
    pub fn bookmark_interval(mut self, interval: Duration) -> Self {
        self.bookmark_interval = interval;
        self
    }

    /// Listens on this loopback port instead of a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Starts the server.
    pub async fn start(self) -> Result<EmbeddedCluster, Error> {
        let state = match &self.store_file {
            Some(path) => State::open(self.history_limit, path)?,
            None => State::new(self.history_limit),
        };
        let shared = Arc::new(Shared::new(
            Registry::lepton(),
            state,
            self.bookmark_interval,
        ));
        let wanted = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let (listener, addr) = Listener::start(shared.clone(), wanted).await?;
        Ok(EmbeddedCluster {
            shared,
            addr,
            listener: Mutex::new(Some(listener)),
        })
    }
}

/// An in-process, Kubernetes-compatible API server on `127.0.0.1`.
///
/// Dropping it stops the server; [`EmbeddedCluster::shutdown`] also waits for open
/// connections to close and flushes the store file.
#[derive(Debug)]
pub struct EmbeddedCluster {
    shared: Arc<Shared>,
    addr: SocketAddr,
    listener: Mutex<Option<Listener>>,
}

impl EmbeddedCluster {
    /// Settings for a new cluster.
    pub fn builder() -> EmbeddedClusterBuilder {
        EmbeddedClusterBuilder::default()
    }

    /// Starts a cluster with an in-memory store on a free port.
    pub async fn start() -> Result<Self, Error> {
        Self::builder().start().await
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig for the server: one cluster, user and context named
    /// [`CONTEXT_NAME`], default namespace `default`, no credentials.
    pub fn kubeconfig(&self) -> Kubeconfig {
        serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT_NAME, "cluster": {"server": self.url()}}],
            "users": [{"name": CONTEXT_NAME, "user": {}}],
            "contexts": [{
                "name": CONTEXT_NAME,
                "context": {"cluster": CONTEXT_NAME, "user": CONTEXT_NAME, "namespace": "default"}
            }],
            "current-context": CONTEXT_NAME,
        }))
        .expect("a fixed kubeconfig deserializes")
    }

    /// Writes [`EmbeddedCluster::kubeconfig`] to `path` (as JSON, which is YAML), for kubectl.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(&self.kubeconfig()).unwrap_or_default();
        std::fs::write(path, text).map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// An unmodified `kube::Client` built from [`EmbeddedCluster::kubeconfig`].
    pub async fn client(&self) -> Result<kube::Client, Error> {
        let config =
            kube::Config::from_custom_kubeconfig(self.kubeconfig(), &KubeConfigOptions::default())
                .await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// The fault injection of this server.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// The latest `resourceVersion` of the store.
    pub fn resource_version(&self) -> u64 {
        self.shared.state().rv()
    }

    /// Forgets the watch history, as etcd compaction does: any watch or continue token from
    /// an earlier version gets `410 Gone`.
    pub fn compact_history(&self) {
        self.shared.state().compact();
    }

    /// Stops serving: the port is closed and every connection (watches included) is cut.
    /// The state is kept; [`EmbeddedCluster::resume`] serves it again on the same port.
    pub async fn pause(&self) {
        if let Some(listener) = self.listener.lock().await.take() {
            listener.stop().await;
        }
    }

    /// Serves again after [`EmbeddedCluster::pause`], on the same port. Does nothing when
    /// already serving.
    pub async fn resume(&self) -> Result<(), Error> {
        let mut slot = self.listener.lock().await;
        if slot.is_none() {
            let (listener, _) = Listener::start(self.shared.clone(), self.addr).await?;
            *slot = Some(listener);
        }
        Ok(())
    }

    /// Restarts the server keeping its state (objects, versions and watch history), as an
    /// API server restart over the same etcd does: connections are cut, and clients
    /// reconnect to the same port.
    pub async fn restart(&self) -> Result<(), Error> {
        self.restart_after(Duration::ZERO).await
    }

    /// Like [`EmbeddedCluster::restart`], with the port closed for `down` in between.
    pub async fn restart_after(&self, down: Duration) -> Result<(), Error> {
        self.pause().await;
        tokio::time::sleep(down).await;
        self.resume().await
    }

    /// Stops the server and flushes the store file.
    pub async fn shutdown(self) -> Result<(), Error> {
        self.pause().await;
        self.shared.state().flush()
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        if let Ok(slot) = self.listener.try_lock()
            && let Some(listener) = slot.as_ref()
        {
            listener.abort();
        }
    }
}
