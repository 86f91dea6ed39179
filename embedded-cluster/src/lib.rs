//! An in-process, Kubernetes-compatible API server and a local executor: the substrate of
//! Lepton's local mode and of its controller tests.
//!
//! [`EmbeddedCluster`] serves, on a loopback port, the kinds Lepton's controllers use (the
//! Lepton kinds from their generated CRDs and the built-in kinds they create) with the API
//! semantics controllers rely on: resource versions and conflicts, watches with bookmarks
//! and `410 Gone`, the status subresource, merge and JSON patches, server-side apply with
//! field managers, finalizers and owner-reference garbage collection. An unmodified
//! `kube::Client` talks to it through [`EmbeddedCluster::client`]. [`Faults`] injects
//! failures, delays and cut watches; [`EmbeddedCluster::restart`] restarts the server with
//! its state.
//!
//! [`executor::LocalExecutor`] runs the pods Lepton creates as local processes of its
//! runner, in place of the kubelet and the Job, Deployment and Service controllers.
//!
//! The crate's README lists every supported and unsupported behaviour.

#![deny(missing_docs)]

mod api;
mod cluster;
mod error;
pub mod executor;
mod faults;
mod gc;
mod meta;
mod resources;
mod selectors;
mod server;
mod ssa;
mod status_error;
mod store;
mod table;

pub use cluster::{CONTEXT_NAME, EmbeddedCluster, EmbeddedClusterBuilder};
pub use error::Error;
pub use faults::{Faults, RequestMatcher};
