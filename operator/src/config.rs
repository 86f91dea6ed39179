//! The operator's configuration: runner images, default resources, node pools with their
//! scheduling and prices, and the serving settings. It is a YAML file mounted from a ConfigMap;
//! [`watch`] reloads it when its content changes and keeps the last valid one when a new one is
//! wrong.

mod quantity;
mod reload;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::api::core::v1::{Affinity, Toleration};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use lepton_crds::v1alpha1::ImagePullPolicy;
use serde::{Deserialize, Serialize};

pub use quantity::is_quantity;
pub use reload::{ConfigWatch, watch};

/// The GPU resource name a pool uses unless it says otherwise.
pub const DEFAULT_GPU_RESOURCE: &str = "nvidia.com/gpu";

/// Everything the cluster admin configures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperatorConfig {
    /// Images and program of the runner.
    #[serde(default)]
    pub runner: RunnerConfig,
    /// Defaults and settings of training pods.
    #[serde(default)]
    pub training: TrainingConfig,
    /// Defaults and settings of serving pods.
    #[serde(default)]
    pub serving: ServingConfig,
    /// Named node pools a TrainingJob or ModelDeployment can ask for with `resources.nodePool`.
    #[serde(default)]
    pub node_pools: Vec<NodePool>,
    /// The pool used when a resource names none. Default: no constraints and no price (costs
    /// are then reported in hours only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_node_pool: Option<String>,
    /// Currency of every price, for example `USD`.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Prefix under which a TrainingJob without `spec.output` writes its model, as
    /// `<prefix>/<namespace>/<name>/`: `s3://bucket/prefix`, `pvc://claim/path` or `file:///path`.
    #[serde(default = "default_artifact_store")]
    pub artifact_store: String,
    /// Where PersistentVolumeClaims named in `pvc://` locations are mounted in runner pods
    /// (`<root>/<claim>`).
    #[serde(default = "default_pvc_mount_root")]
    pub pvc_mount_root: String,
}

/// Images and program of the runner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunnerConfig {
    /// Image for CPU pods.
    #[serde(default = "default_runner_image")]
    pub image: String,
    /// Image for pods that request GPUs (training with CUDA, serving with the CUDA execution
    /// provider).
    #[serde(default = "default_cuda_image")]
    pub cuda_image: String,
    /// Pull policy of runner containers. Default: Kubernetes' default for the tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<ImagePullPolicy>,
    /// The runner program inside the image.
    #[serde(default = "default_runner_command")]
    pub command: String,
    /// Names of image pull Secrets for runner pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<String>,
}

/// Settings of training pods.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrainingConfig {
    /// CPU request (and limit) when a TrainingJob sets none.
    #[serde(default = "default_training_cpu")]
    pub cpu: Quantity,
    /// Memory request (and limit) when a TrainingJob sets none.
    #[serde(default = "default_training_memory")]
    pub memory: Quantity,
    /// Shortest interval between two progress updates a runner writes to its TrainingJob, in
    /// seconds. Shorter is livelier and costs API-server writes.
    #[serde(default = "default_progress_interval")]
    pub progress_interval_seconds: f64,
}

/// Settings of serving pods and of the live figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServingConfig {
    /// CPU request (and limit) when a ModelDeployment sets none.
    #[serde(default = "default_serving_cpu")]
    pub cpu: Quantity,
    /// Memory request (and limit) when a ModelDeployment sets none.
    #[serde(default = "default_serving_memory")]
    pub memory: Quantity,
    /// Seconds between two reads of the serving pods' live figures (`/lepton/status`).
    #[serde(default = "default_scrape_interval")]
    pub scrape_interval_seconds: f64,
    /// Seconds a stopping server keeps answering before it closes its listener, so that the
    /// Service stops sending it requests first.
    #[serde(default = "default_shutdown_delay")]
    pub shutdown_delay_seconds: f64,
    /// Longest wait for in-flight requests after the listener closes, in seconds.
    #[serde(default = "default_drain_timeout")]
    pub drain_timeout_seconds: f64,
    /// Fraction of failed requests above which a deployment is Degraded (HighErrorRate).
    #[serde(default = "default_error_rate_threshold")]
    pub error_rate_threshold: f64,
}

/// A group of nodes the admin offers, with how to land on it and what it costs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePool {
    /// Name resources use in `resources.nodePool`.
    pub name: String,
    /// Node labels the pods must match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Taints the pods tolerate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Node affinity and pod (anti-)affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Extended resource name of the pool's GPUs.
    #[serde(default = "default_gpu_resource")]
    pub gpu_resource: String,
    /// GPU model, for display and cost reports (for example `H100`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_type: Option<String>,
    /// Price of one node for one hour; pods are charged as whole nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_node_hour: Option<f64>,
    /// Price of one GPU for one hour; pods are charged per GPU they request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_gpu_hour: Option<f64>,
}

/// How a pool charges.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Price {
    /// Per node-hour: a pod costs its hours times this.
    PerNodeHour(f64),
    /// Per GPU-hour: a pod costs its GPU-hours times this.
    PerGpuHour(f64),
}

impl NodePool {
    /// The pool's price, if it has one.
    pub fn price(&self) -> Option<Price> {
        match (self.price_per_gpu_hour, self.price_per_node_hour) {
            (Some(p), _) => Some(Price::PerGpuHour(p)),
            (None, Some(p)) => Some(Price::PerNodeHour(p)),
            (None, None) => None,
        }
    }

    /// The pool used when none is configured: no constraints, no price.
    fn unconstrained() -> NodePool {
        NodePool {
            name: "default".to_owned(),
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            affinity: None,
            gpu_resource: default_gpu_resource(),
            gpu_type: None,
            price_per_node_hour: None,
            price_per_gpu_hour: None,
        }
    }
}

/// A resource named a pool the configuration does not define.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownPool {
    /// The name asked for.
    pub requested: String,
    /// The pools that exist.
    pub known: Vec<String>,
}

impl fmt::Display for UnknownPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.known.is_empty() {
            write!(
                f,
                "resources.nodePool `{}` is not defined: the operator's configuration has no node \
                 pools; remove resources.nodePool or ask the cluster admin to define the pool",
                self.requested
            )
        } else {
            write!(
                f,
                "resources.nodePool `{}` is not defined; the pools are: {}. Use one of them or ask \
                 the cluster admin to define it",
                self.requested,
                self.known.join(", ")
            )
        }
    }
}

impl OperatorConfig {
    /// Reads and checks a configuration file's text (YAML or JSON). An empty text is the
    /// default configuration.
    pub fn parse(text: &str) -> Result<OperatorConfig, String> {
        let config: OperatorConfig = if text.trim().is_empty() {
            OperatorConfig::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?
        };
        config.validate()?;
        Ok(config)
    }

    /// The pool a resource asked for (or the default pool).
    pub fn pool(&self, requested: Option<&str>) -> Result<NodePool, UnknownPool> {
        let name = requested.or(self.default_node_pool.as_deref());
        match name {
            None => Ok(NodePool::unconstrained()),
            Some(name) => self
                .node_pools
                .iter()
                .find(|p| p.name == name)
                .cloned()
                .ok_or_else(|| UnknownPool {
                    requested: name.to_owned(),
                    known: self.node_pools.iter().map(|p| p.name.clone()).collect(),
                }),
        }
    }

    /// Checks every field; the error names the first wrong one and says what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        let mut names = BTreeSet::new();
        for (i, pool) in self.node_pools.iter().enumerate() {
            let at = format!("nodePools[{i}]");
            if !is_dns_label(&pool.name) {
                return Err(format!(
                    "{at}.name: `{}` must be a DNS label (lower-case letters, digits and '-', at \
                     most 63 characters)",
                    pool.name
                ));
            }
            if !names.insert(pool.name.as_str()) {
                return Err(format!("{at}.name: `{}` is defined twice", pool.name));
            }
            if pool.price_per_gpu_hour.is_some() && pool.price_per_node_hour.is_some() {
                return Err(format!(
                    "{at}: set pricePerGpuHour or pricePerNodeHour, not both"
                ));
            }
            for (field, price) in [
                ("pricePerGpuHour", pool.price_per_gpu_hour),
                ("pricePerNodeHour", pool.price_per_node_hour),
            ] {
                if let Some(p) = price
                    && !(p.is_finite() && p >= 0.0)
                {
                    return Err(format!("{at}.{field}: must be a number >= 0, not {p}"));
                }
            }
            if pool.gpu_resource.trim().is_empty()
                || pool.gpu_resource.contains(char::is_whitespace)
            {
                return Err(format!(
                    "{at}.gpuResource: `{}` is not a resource name (for example nvidia.com/gpu)",
                    pool.gpu_resource
                ));
            }
        }
        if let Some(default) = &self.default_node_pool
            && !names.contains(default.as_str())
        {
            return Err(format!(
                "defaultNodePool: `{default}` is not one of nodePools ({})",
                names.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        for (field, image) in [
            ("runner.image", &self.runner.image),
            ("runner.cudaImage", &self.runner.cuda_image),
            ("runner.command", &self.runner.command),
        ] {
            if image.trim().is_empty() {
                return Err(format!("{field}: must not be empty"));
            }
        }
        for (field, q) in [
            ("training.cpu", &self.training.cpu),
            ("training.memory", &self.training.memory),
            ("serving.cpu", &self.serving.cpu),
            ("serving.memory", &self.serving.memory),
        ] {
            if !is_quantity(&q.0) {
                return Err(format!(
                    "{field}: `{}` is not a Kubernetes quantity (for example 500m, 2 or 4Gi)",
                    q.0
                ));
            }
        }
        for (field, seconds, min) in [
            (
                "training.progressIntervalSeconds",
                self.training.progress_interval_seconds,
                0.05,
            ),
            (
                "serving.scrapeIntervalSeconds",
                self.serving.scrape_interval_seconds,
                0.1,
            ),
            (
                "serving.shutdownDelaySeconds",
                self.serving.shutdown_delay_seconds,
                0.0,
            ),
            (
                "serving.drainTimeoutSeconds",
                self.serving.drain_timeout_seconds,
                0.0,
            ),
        ] {
            if !(seconds.is_finite() && seconds >= min && seconds <= 86_400.0) {
                return Err(format!(
                    "{field}: must be between {min} and 86400 seconds, not {seconds}"
                ));
            }
        }
        let rate = self.serving.error_rate_threshold;
        if !(rate > 0.0 && rate <= 1.0) {
            return Err(format!(
                "serving.errorRateThreshold: must be in (0, 1], not {rate}"
            ));
        }
        if !["s3://", "pvc://", "file://"]
            .iter()
            .any(|s| self.artifact_store.starts_with(s))
        {
            return Err(format!(
                "artifactStore: `{}` must start with s3://, pvc:// or file://",
                self.artifact_store
            ));
        }
        if !self.pvc_mount_root.starts_with('/') {
            return Err(format!(
                "pvcMountRoot: `{}` must be an absolute path",
                self.pvc_mount_root
            ));
        }
        if self.currency.trim().is_empty() {
            return Err("currency: must not be empty".to_owned());
        }
        Ok(())
    }
}

impl Default for OperatorConfig {
    fn default() -> Self {
        OperatorConfig {
            runner: RunnerConfig::default(),
            training: TrainingConfig::default(),
            serving: ServingConfig::default(),
            node_pools: Vec::new(),
            default_node_pool: None,
            currency: default_currency(),
            artifact_store: default_artifact_store(),
            pvc_mount_root: default_pvc_mount_root(),
        }
    }
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            image: default_runner_image(),
            cuda_image: default_cuda_image(),
            image_pull_policy: None,
            command: default_runner_command(),
            image_pull_secrets: Vec::new(),
        }
    }
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            cpu: default_training_cpu(),
            memory: default_training_memory(),
            progress_interval_seconds: default_progress_interval(),
        }
    }
}

impl Default for ServingConfig {
    fn default() -> Self {
        ServingConfig {
            cpu: default_serving_cpu(),
            memory: default_serving_memory(),
            scrape_interval_seconds: default_scrape_interval(),
            shutdown_delay_seconds: default_shutdown_delay(),
            drain_timeout_seconds: default_drain_timeout(),
            error_rate_threshold: default_error_rate_threshold(),
        }
    }
}

/// Whether `name` is a DNS-1123 label.
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn default_currency() -> String {
    "USD".to_owned()
}
fn default_artifact_store() -> String {
    "pvc://lepton-artifacts/models".to_owned()
}
fn default_pvc_mount_root() -> String {
    "/mnt/lepton/pvc".to_owned()
}
fn default_runner_image() -> String {
    format!(
        "ghcr.io/lepton-ai/lepton-runner:{}",
        env!("CARGO_PKG_VERSION")
    )
}
fn default_cuda_image() -> String {
    format!(
        "ghcr.io/lepton-ai/lepton-runner:{}-cuda",
        env!("CARGO_PKG_VERSION")
    )
}
fn default_runner_command() -> String {
    "lepton-runner".to_owned()
}
fn default_training_cpu() -> Quantity {
    Quantity("2".to_owned())
}
fn default_training_memory() -> Quantity {
    Quantity("4Gi".to_owned())
}
// Five seconds keeps 1,000 running jobs at 200 status writes per second in the worst case,
// well within an API server's default limits, while a person watching still sees each epoch
// of all but the fastest models.
fn default_progress_interval() -> f64 {
    5.0
}
fn default_serving_cpu() -> Quantity {
    Quantity("1".to_owned())
}
fn default_serving_memory() -> Quantity {
    Quantity("1Gi".to_owned())
}
// The server's figures cover a sliding window (`monitoring.windowSeconds`, at least 10 s,
// 300 s by default); reading them every 15 s (Prometheus' usual scrape interval) shows a
// change within a fraction of the window while costing one small GET per pod and at most one
// status write per deployment in that time.
fn default_scrape_interval() -> f64 {
    15.0
}
fn default_shutdown_delay() -> f64 {
    5.0
}
fn default_drain_timeout() -> f64 {
    30.0
}
fn default_error_rate_threshold() -> f64 {
    0.05
}
fn default_gpu_resource() -> String {
    DEFAULT_GPU_RESOURCE.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_is_the_default_configuration() {
        let config = OperatorConfig::parse("").unwrap();
        assert_eq!(config, OperatorConfig::default());
        assert_eq!(config.pool(None).unwrap().name, "default");
        assert_eq!(config.pool(None).unwrap().price(), None);
    }

    const POOLS: &str = "
currency: EUR
defaultNodePool: cpu
nodePools:
  - name: cpu
    nodeSelector: {pool: cpu}
    pricePerNodeHour: 0.4
  - name: h100
    nodeSelector: {pool: gpu}
    tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
    gpuType: H100
    pricePerGpuHour: 2.5
";

    #[test]
    fn pools_resolve_by_name_with_their_price() {
        let config = OperatorConfig::parse(POOLS).unwrap();
        assert_eq!(config.pool(None).unwrap().name, "cpu");
        let gpu = config.pool(Some("h100")).unwrap();
        assert_eq!(gpu.price(), Some(Price::PerGpuHour(2.5)));
        assert_eq!(gpu.gpu_resource, DEFAULT_GPU_RESOURCE);
        assert_eq!(gpu.tolerations.len(), 1);
        assert_eq!(
            config.pool(Some("cpu")).unwrap().price(),
            Some(Price::PerNodeHour(0.4))
        );
    }

    #[test]
    fn an_unknown_pool_names_the_known_ones() {
        let config = OperatorConfig::parse(POOLS).unwrap();
        let err = config.pool(Some("a100")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`a100`") && text.contains("cpu, h100"),
            "{text}"
        );
        let none = OperatorConfig::default().pool(Some("x")).unwrap_err();
        assert!(none.to_string().contains("no node pools"), "{none}");
    }

    #[test]
    fn bad_configurations_name_the_field() {
        for (text, field) in [
            ("nodePools: [{name: Bad_Name}]", "nodePools[0].name"),
            ("nodePools: [{name: a}, {name: a}]", "defined twice"),
            (
                "nodePools: [{name: a, pricePerGpuHour: 1, pricePerNodeHour: 1}]",
                "not both",
            ),
            (
                "nodePools: [{name: a, pricePerGpuHour: -1}]",
                "nodePools[0].pricePerGpuHour",
            ),
            ("nodePools: [{name: a, gpuResource: ' '}]", "gpuResource"),
            ("defaultNodePool: x", "defaultNodePool"),
            ("runner: {image: ''}", "runner.image"),
            ("training: {cpu: lots}", "training.cpu"),
            ("serving: {memory: 1GB}", "serving.memory"),
            (
                "serving: {scrapeIntervalSeconds: 0}",
                "serving.scrapeIntervalSeconds",
            ),
            (
                "serving: {errorRateThreshold: 2}",
                "serving.errorRateThreshold",
            ),
            ("artifactStore: /data", "artifactStore"),
            ("pvcMountRoot: mnt", "pvcMountRoot"),
            ("nodePool: []", "unknown field `nodePool`"),
            ("currency: ' '", "currency"),
        ] {
            let err = OperatorConfig::parse(text).unwrap_err();
            assert!(err.contains(field), "{text}: {err}");
        }
    }

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("gpu-h100"));
        for bad in ["", "-a", "a-", "A", "a.b", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
    }
}
