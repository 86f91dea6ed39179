//! Conformance checks: each takes a client and a namespace of its own, and asserts what the
//! Kubernetes API conventions promise. They run against the embedded cluster always, and
//! against a real cluster when `LEPTON_E2E_KUBECONFIG` is set (see `conformance.rs`).

pub mod apply;
pub mod crud;
pub mod lepton;
pub mod lifecycle;
pub mod patch;
pub mod selectors;
pub mod tables;
pub mod watch;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long to wait for asynchronous effects (garbage collection on a real cluster).
pub const WAIT: Duration = Duration::from_secs(60);

/// A ConfigMap with labels and data.
pub fn config_map(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> ConfigMap {
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: (!labels.is_empty()).then(|| map(labels)),
            ..ObjectMeta::default()
        },
        data: (!data.is_empty()).then(|| map(data)),
        ..ConfigMap::default()
    }
}
