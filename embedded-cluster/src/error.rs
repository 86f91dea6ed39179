//! The crate's error type.

use std::net::SocketAddr;
use std::path::PathBuf;

/// What can go wrong starting, restarting or driving the embedded cluster or the local
/// executor. Failed API requests are not errors of this crate: the server answers them with
/// a Kubernetes `Status`, which `kube::Client` turns into `kube::Error::Api`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server cannot listen on its address.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The store file cannot be read or written.
    #[error("store file {}: {source}", path.display())]
    Persist {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file the cluster or the executor writes (kubeconfig, logs) cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The generated kubeconfig is refused by `kube`.
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    /// A `kube` client cannot be built or a request of the executor failed.
    #[error("kubernetes client: {0}")]
    Kube(#[from] kube::Error),
}
