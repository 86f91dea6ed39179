//! `lepton-operator`: Lepton's Kubernetes operator. One module per controller
//! ([`training_job`], [`model_deployment`]), each a thin reconcile around pure decision
//! functions; [`runtime`] runs them with leader election, metrics and probes.

pub mod apply;
pub mod cli;
pub mod config;
pub mod context;
pub mod error;
pub mod events;
pub mod leader;
pub mod model_deployment;
pub mod names;
pub mod pod_spec;
pub mod rbac;
pub mod runtime;
pub mod telemetry;
pub mod training_job;
pub mod tuning_sweep;

#[cfg(test)]
pub(crate) mod test_support {
    /// `base` with `yaml` merged in, key by key at every depth.
    pub fn merged(mut base: serde_json::Value, yaml: &str) -> serde_json::Value {
        if !yaml.is_empty() {
            merge(
                &mut base,
                serde_yaml_ng::from_str(yaml).expect("valid YAML"),
            );
        }
        base
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

    /// Metadata of an object in namespace `ml` at generation 1.
    pub fn meta(name: &str) -> kube::api::ObjectMeta {
        kube::api::ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ml".into()),
            uid: Some(format!("uid-{name}")),
            generation: Some(1),
            ..kube::api::ObjectMeta::default()
        }
    }
}
